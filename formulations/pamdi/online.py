r"""The online PA-MDI rule: per-hop decisions with a request/clear-to-compute handshake.

Every request is cut into partitions of ``partition`` layers. When partition
``p`` ends on device ``n`` (or the request arrives, with ``n`` the source's
device), ``n`` sends partition ``p + 1`` to the device ``j`` among itself and its
neighbours that minimises

.. math:: \frac{c_{n \to j} + \text{age} + w_{p+1} / v_j + B_j(k)}{\gamma_s \alpha_s}

with :math:`c_{n \to j}` the transfer time of the cut (0 for ``j = n``),
:math:`w_{p+1} / v_j` the partition's compute time at ``j`` (its FLOPs times the
time per FLOP there), :math:`B_j(k)` the backlog that ``j`` reports for the
request's priority class ``k`` (the residual of the job in service plus queued
and announced work that would be served first) and :math:`\gamma_s` the
source's priority weight (:math:`\alpha_s = 1`). A device left by a request is
not chosen again (its layers stay contiguous). Partition boundaries are
preemption points: a device that keeps the next partition runs it at once
unless work of a strictly higher class waits (then the partition queues
behind it), so for ``j = n`` the backlog counts only that higher-class work.

Where priority acts. For one decision, the age and the divisor
:math:`\gamma_s \alpha_s` are the same for every candidate, so they do not
change the argmin. Priority acts where requests compete: (1) the queue of
every device serves higher classes first (non-preemptive, at every partition
boundary); (2) :math:`B_j(k)` only counts work of class ``k`` or higher, so a
time-sensitive request sees short queues where a best-effort one sees long
ones and goes elsewhere; (3) the handshake grants a contended device to the
request of highest priority (then the oldest).

Handshake. ``n`` sends a request-to-compute (RTC) to ``j`` (one link latency);
``j`` collects the RTCs that arrive within ``window`` ms of the first, answers
clear-to-compute (CTC) to one of them and busy to the others (one latency
back), and counts the granted partition in its backlog until it arrives. A
refused sender decides again without ``j``; after ``attempts`` refusals it
keeps the partition. Without priorities (MS-MDI) queues are FIFO, backlogs
count all work and the handshake favours the oldest request.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.sim import Network, Server, Simulator, service_factor


@dataclass
class RuleOptions:
    """Options of the online rule.

    Attributes
    ----------
    partition : int
        Layers per partition.
    priorities : bool
        PA-MDI (True) or MS-MDI (False).
    handshake : bool
        Use RTC/CTC before offloading.
    window : float
        Handshake collection window in ms.
    attempts : int
        Refusals after which a partition stays where it is.
    """

    partition: int = 1
    priorities: bool = True
    handshake: bool = True
    window: float = 1.0
    attempts: int = 3


@dataclass
class _Contender:
    priority: float
    age: float
    order: int
    answer: object = field(repr=False)


class Handshake:
    """The RTC/CTC arbiter of one device."""

    def __init__(self, simulator: Simulator, window: float, priorities: bool) -> None:
        self.env = simulator.env
        self.window = window
        self.priorities = priorities
        self._waiting: list[_Contender] = []
        self._order = itertools.count()
        self.granted = 0
        self.refused = 0

    def request(self, priority: float, arrival: float):
        """Register an RTC; the returned event fires with True (CTC) or False (busy)."""
        answer = self.env.event()
        self._waiting.append(_Contender(priority, arrival, next(self._order), answer))
        if len(self._waiting) == 1:
            self.env.process(self._close())
        return answer

    def _close(self):
        yield self.env.timeout(self.window)
        contenders, self._waiting = self._waiting, []
        if self.priorities:
            winner = min(contenders, key=lambda c: (-c.priority, c.age, c.order))
        else:
            winner = min(contenders, key=lambda c: (c.age, c.order))
        for contender in contenders:
            contender.answer.succeed(contender is winner)
        self.granted += 1
        self.refused += len(contenders) - 1


class PerHopRule:
    """Run requests through the online rule on a simulated topology.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    simulator : Simulator
        Event loop and random streams.
    servers : list of Server
        One per device.
    network : Network
        The links.
    options : RuleOptions
        See :class:`RuleOptions`.
    """

    def __init__(
        self,
        compiled: Compiled,
        simulator: Simulator,
        servers: list[Server],
        network: Network,
        options: RuleOptions,
    ) -> None:
        self.compiled = compiled
        self.simulator = simulator
        self.env = simulator.env
        self.servers = servers
        self.network = network
        self.options = options
        self.handshakes = [
            Handshake(simulator, options.window, options.priorities)
            for _ in range(compiled.num_devices)
        ]
        self.offloads = 0

    def rank(self, source: int) -> int:
        """Queue rank of a source's partitions."""
        return int(self.compiled.klass[source]) if self.options.priorities else 0

    def score(
        self, source: int, here: int, device: int, layer: int, stop: int, running: bool
    ) -> float:
        """Transfer + compute + backlog of sending layers ``layer .. stop - 1`` to ``device``.

        ``running``: the request's previous partition just ended on ``here``, which
        can continue with this one (only higher-class work goes first).
        """
        chain = self.compiled.chains[source]
        work = chain.work[layer:stop].sum() / self.compiled.speed[device]
        server = self.servers[device]
        if device == here and running:
            return float(work + server.backlog_above(self.rank(source)))
        transfer = 0.0 if device == here else chain.transfer[layer, here, device]
        rank = self.rank(source) if self.options.priorities else None
        return float(transfer + work + server.backlog(rank))

    def request(self, source: int, arrival: float, rng: np.random.Generator):
        """Process of one request; returns its total wait and transfer time (ms)."""
        compiled = self.compiled
        chain = compiled.chains[source]
        here, layer = int(compiled.origin[source]), 0
        left: set[int] = set()
        waits = transfers = 0.0
        while layer < chain.length:
            stop = min(layer + self.options.partition, chain.length)
            excluded: set[int] = set()
            target = here
            for _ in range(self.options.attempts + 1):
                candidates = [here] + [
                    int(d) for d in compiled.neighbours(here) if d not in left | excluded
                ]
                scores = [self.score(source, here, d, layer, stop, layer > 0) for d in candidates]
                target = candidates[int(np.argmin(scores))]
                if target == here or not self.options.handshake:
                    break
                latency = compiled.latency[here, target]
                yield self.env.timeout(latency)
                granted = yield self.handshakes[target].request(
                    compiled.priority[source] if self.options.priorities else 0.0, arrival
                )
                yield self.env.timeout(latency)
                if granted:
                    break
                excluded.add(target)
                target = here
            work = chain.work[layer:stop].sum() / compiled.speed[target]
            work *= service_factor(rng, compiled.instance.compute_cv)
            if target != here:
                token = self.servers[target].reserve(work, self.rank(source))
                started = self.env.now
                yield from self.network.send(chain.sizes[layer], here, target)
                transfers += self.env.now - started
                self.servers[target].release(token)
                left.add(here)
                self.offloads += 1
            server, rank = self.servers[target], self.rank(source)
            keep = target == here and layer > 0 and server.backlog_above(rank) == 0
            job = yield server.submit(work, rank, source, first=keep)
            waits += job.wait
            here, layer = target, stop
        origin = int(compiled.origin[source])
        if here != origin:
            started = self.env.now
            yield from self.network.send(chain.sizes[chain.length], here, origin)
            transfers += self.env.now - started
        return {"wait": waits, "transfer": transfers}
