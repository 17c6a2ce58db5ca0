"""Splits that do not solve the delay model: the per-hop rule and the published baselines.

* :func:`local_split` - every source computes its whole chain on its own device.
* :func:`ar_mdi_split` - AR-MDI: priority- and load-agnostic; the chain is cut so
  that each worker's share of the work is proportional to its processing rate
  (speed), workers visited nearest first, shares capped by weight memory.
* :func:`mdi_llm_split` - MDI-LLM-style fixed splits: the source's device holds the
  first layer (embeddings) and receives the result (head); the remaining blocks
  are split 5/7 over two devices or 2/5/5 over three (GPT-2: 6/7 and 3/5/5 of
  its 13 layers).
* :func:`per_hop_split` - the PA-MDI per-hop rule applied to the modelled
  (expected) state: hop by hop, the next partition goes to the device ``j`` among
  the current one and its neighbours minimising
  ``(transfer n -> j + task age + partition work / speed_j + wait_j) / (gamma * alpha)``,
  with ``wait_j`` the modelled wait of the source's priority class at ``j``.
  Task age, ``gamma`` and ``alpha`` are the same for every candidate of one
  decision, so the argmin is that of ``transfer + work + wait``; priority enters
  through ``wait_j`` (a class only waits behind its own and higher classes) and
  through the order in which sources are placed. With ``priorities=False`` (the
  MS-MDI baseline) every source waits in FIFO queues and sources are placed by
  rate. In this static version a device that keeps the next partition extends
  its segment (one job, no second wait); the online rule of
  :mod:`idnopt.formulations.pamdi.online` queues every partition.
"""

from __future__ import annotations

import numpy as np

from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import Split, waiting_times

MDI_LLM_PATTERNS = {2: (5, 7), 3: (2, 5, 5)}
"""Block counts of the MDI-LLM splits of GPT-2's 12 transformer blocks."""


def local_split(compiled: Compiled) -> Split:
    """Every layer of every source on the source's own device."""
    return tuple(
        np.full(chain.length, compiled.origin[source], dtype=np.int64)
        for source, chain in enumerate(compiled.chains)
    )


def nearest_devices(compiled: Compiled, device: int, count: int | None = None) -> list[int]:
    """``device`` followed by the devices it reaches, nearest first (network latency).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    device : int
        Where the list starts.
    count : int, optional
        Keep at most this many devices (default: every reachable one).

    Returns
    -------
    list of int
        Device indices.
    """
    distance = compiled.latency[device]
    reachable = [d for d in np.argsort(distance, kind="stable") if np.isfinite(distance[d])]
    ordered = [device] + [int(d) for d in reachable if d != device]
    return ordered if count is None else ordered[:count]


def _tour(compiled: Compiled, start: int, workers: list[int]) -> list[int]:
    """Nearest-neighbour order of ``workers`` starting at ``start``."""
    latency = compiled.latency
    order, left, here = [start], [w for w in workers if w != start], start
    while left:
        here = min(left, key=lambda w: (latency[here, w], w))
        order.append(here)
        left.remove(here)
    return order


def _cuts_by_share(cumulative: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Layer boundaries closest to the cumulative-work fractions given by ``shares``."""
    targets = cumulative[-1] * np.cumsum(shares) / shares.sum()
    cuts = np.searchsorted(cumulative, targets, side="left")
    lower = np.clip(cuts - 1, 0, cumulative.size - 1)
    upper = np.minimum(cuts, cumulative.size - 1)
    closer = np.abs(cumulative[lower] - targets) <= np.abs(cumulative[upper] - targets)
    cuts = np.where(closer, lower, upper)
    cuts[-1] = cumulative.size - 1
    return np.maximum.accumulate(cuts)


def ar_mdi_split(compiled: Compiled, workers: int | None = None) -> Split:
    """AR-MDI: work shares proportional to device speed, nearest workers first.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    workers : int, optional
        Most devices per source, the source's own included (default: all it reaches).

    Returns
    -------
    Split
        One chain per source; a worker whose share would exceed its free
        weight memory keeps what fits and passes the rest on.
    """
    split = []
    used = np.zeros(compiled.num_devices)
    for source, chain in enumerate(compiled.chains):
        origin = int(compiled.origin[source])
        chosen = _tour(compiled, origin, nearest_devices(compiled, origin, workers))
        cuts = _cuts_by_share(chain.cumulative, compiled.speed[chosen])
        devices = np.empty(chain.length, dtype=np.int64)
        start = 0
        for position, device in enumerate(chosen):
            end = max(int(cuts[position]), start)
            if position == len(chosen) - 1:
                end = chain.length
            fits = np.cumsum(chain.memory[start:end]) + used[device] <= compiled.memory[device]
            if position < len(chosen) - 1 and not fits.all():
                end = start + int(np.argmin(fits)) if not fits[0] else start + int(fits.sum())
            devices[start:end] = device
            used[device] += chain.memory[start:end].sum()
            start = end
        split.append(devices)
    return tuple(split)


def mdi_llm_split(compiled: Compiled, nodes: int = 2) -> Split:
    """MDI-LLM-style fixed split over the source's device and its nearest neighbours.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    nodes : {2, 3}
        Devices per source (fewer when the network has fewer).

    Returns
    -------
    Split
        The first layer and the first share of blocks on the source's device,
        the other shares on the next devices.
    """
    pattern = np.asarray(MDI_LLM_PATTERNS[nodes], dtype=float)
    split = []
    for source, chain in enumerate(compiled.chains):
        origin = int(compiled.origin[source])
        chosen = nearest_devices(compiled, origin, nodes)
        shares = pattern[: len(chosen)]
        blocks = chain.length - 1
        exact = blocks * shares / shares.sum()
        counts = np.floor(exact).astype(int)
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[: blocks - counts.sum()]] += 1
        counts[0] += 1
        split.append(np.repeat(np.asarray(chosen, dtype=np.int64), counts))
    return tuple(split)


def per_hop_split(compiled: Compiled, partition: int = 1, priorities: bool = True) -> Split:
    """The per-hop rule on the modelled state (see the module docstring).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    partition : int
        Layers per partition (one decision per partition).
    priorities : bool
        ``False`` gives MS-MDI: FIFO waits, sources placed by rate.

    Returns
    -------
    Split
        One chain per source. When no candidate keeps a device below
        ``max_load`` the rule still picks the lowest score (the split is then
        infeasible and its evaluation says so).
    """
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    queueing = compiled.queueing if priorities else "fifo"
    klass = compiled.klass if priorities else np.zeros(num_sources, dtype=np.int64)
    if priorities:
        order = np.lexsort((np.arange(num_sources), -compiled.rate, -compiled.priority))
    else:
        order = np.lexsort((np.arange(num_sources), -compiled.rate))
    service = np.zeros((num_sources, num_devices))
    memory_used = np.zeros(num_devices)
    hosted: set[tuple[int, int, int]] = set()
    split: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * num_sources
    for source in order:
        chain = compiled.chains[source]
        model = int(compiled.model_of[source])
        devices = np.empty(chain.length, dtype=np.int64)
        here, current, used = int(compiled.origin[source]), -1, set()
        layer = 0
        while layer < chain.length:
            stop = min(layer + partition, chain.length)
            if current < 0:
                candidates = [here, *(int(j) for j in compiled.neighbours(here))]
            else:
                candidates = [here, *(int(j) for j in compiled.neighbours(here) if j not in used)]
            waits = waiting_times(
                service,
                np.ones_like(service, dtype=bool),
                compiled.rate,
                klass,
                compiled.second_moment,
                queueing,
            )[source]
            work = chain.work[layer:stop].sum()
            load = (compiled.rate[:, None] * service).sum(axis=0)
            best, best_score, best_feasible = here, np.inf, False
            for device in candidates:
                seconds = work / compiled.speed[device]
                score = seconds + (0.0 if device == current else waits[device])
                if device != here:
                    score += chain.transfer[layer, here, device]
                new_memory = sum(
                    chain.memory[k] for k in range(layer, stop) if (model, k, device) not in hosted
                )
                feasible = (
                    load[device] + compiled.rate[source] * seconds <= compiled.max_load
                    and memory_used[device] + new_memory <= compiled.memory[device]
                    and np.isfinite(score)
                )
                if (feasible, -score) > (best_feasible, -best_score):
                    best, best_score, best_feasible = device, score, feasible
            devices[layer:stop] = best
            service[source, best] += work / compiled.speed[best]
            for k in range(layer, stop):
                if (model, k, best) not in hosted:
                    hosted.add((model, k, best))
                    memory_used[best] += chain.memory[k]
            used.add(best)
            here, current, layer = best, best, stop
        split[source] = devices
    return tuple(split)
