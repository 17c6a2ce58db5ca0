"""Step 2 of the published JellyBean optimizer: greedy worker assignment over tiers.

The ``multiple-tiers`` strategy with ``greedy`` tier allocation of the published
code (``optimizer/worker_assignment.py``), operator by operator along up to
``orders`` topological orders of sources and operators, keeping the
``best_states`` cheapest partial states; see
:mod:`~idnopt.formulations.jellybean.published` and ``THEORY.md``. The
arithmetic follows the published code operation by operation, so that ties are
met and broken as it meets and breaks them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from idnopt.formulations.jellybean.compiled import MB_PER_S_TO_GB_PER_H, CompiledWorkflow
from idnopt.formulations.jellybean.schema import JellyBeanInstance


@dataclass
class State:
    """A partial worker assignment of the multiple-tiers greedy strategy.

    Attributes
    ----------
    overall, compute : float
        The greedy's own running cost estimate (compute + traffic) and compute cost ($/h).
    tier : dict
        Highest tier used by each placed node (``("source", s)`` or ``("operator", v)``).
    assigned : dict of int to list
        ``(worker, share)`` of each placed operator, in pick order.
    used : list of bool
        Workers already taken.
    """

    overall: float
    compute: float
    tier: dict[tuple[str, int], int]
    assigned: dict[int, list[tuple[int, float]]]
    used: list[bool] = field(default_factory=list)


def topological_orders(
    instance: JellyBeanInstance, workflow: CompiledWorkflow, count: int
) -> list[list[tuple[str, int]]]:
    """The first ``count`` topological orders of sources and operators (file order of edges).

    Nodes are ``("source", s)`` and ``("operator", v)``.
    """
    import networkx as nx

    source_index = {name: s for s, name in enumerate(workflow.sources)}

    def node(name: str) -> tuple[str, int]:
        if name in source_index:
            return ("source", source_index[name])
        return ("operator", workflow.operator_index[name])

    graph = nx.DiGraph([(node(e.source), node(e.target)) for e in instance.edges])
    return [list(order) for order in itertools.islice(nx.all_topological_sorts(graph), count)]


def assign_workers(
    workflow: CompiledWorkflow,
    combo: Sequence[int],
    orders: list[list[tuple[str, int]]],
    best_states: int,
) -> list[State]:
    """Step 2: the ``best_states`` cheapest complete assignments over the given orders.

    Parameters
    ----------
    workflow : CompiledWorkflow
        The compiled instance.
    combo : sequence of int
        Variant of every operator.
    orders : list of list
        Topological orders of sources and operators (:func:`topological_orders`).
    best_states : int
        Partial states kept per step and complete ones kept across orders
        (``WORKER_ASSIGNMENT.BEST_K_ASSIGNMENTS``).

    Returns
    -------
    list
        States, cheapest first by the greedy's own cost estimate.
    """
    context = _Context(workflow, combo)
    best: list[State] = []
    for order in orders:
        states = [State(0.0, 0.0, {}, {}, [False] * workflow.num_workers)]
        for kind, index in order:
            grown: list[State] = []
            for state in states:
                if kind == "source":
                    tier = dict(state.tier)
                    tier[(kind, index)] = context.source_floor[index]
                    grown.append(
                        State(state.overall, state.compute, tier, dict(state.assigned), state.used)
                    )
                else:
                    grown += context.place(state, index)
            grown.sort(key=lambda s: s.overall)
            states = grown[:best_states]
        best += states
        best.sort(key=lambda s: s.overall)
        best = best[:best_states]
    return best


class _Context:
    """Per-combination numbers of the greedy (plain lists: the loops are small and scalar)."""

    def __init__(self, workflow: CompiledWorkflow, combo: Sequence[int]) -> None:
        self.workflow = workflow
        self.rate = [float(r) for r in workflow.rate]
        self.tier = [int(k) for k in workflow.worker_tier]
        self.price = [float(p) for p in workflow.worker_price]
        self.num_tiers = workflow.num_tiers
        self.capacity = [
            [float(c) for c in workflow.capacity[workflow.flat_variant(v, combo[v])]]
            for v in range(workflow.num_operators)
        ]
        self.allowed = workflow.tier_allowed.tolist()
        self.network = workflow.network_price.tolist()
        self.source_price = workflow.source_network_price.tolist()
        tier_ranks = np.array(workflow.tier_ranks)
        # a source on the lowest tier is "below every tier" (-1 in the published code)
        self.source_floor = [
            -1 if rank <= tier_ranks[0] else int(np.searchsorted(tier_ranks, rank))
            for rank in workflow.source_tier_rank
        ]
        self.inputs: dict[int, list[tuple[str, int, float]]] = {
            v: [] for v in range(workflow.num_operators)
        }
        for s, v, _, sizes in workflow.source_edges:
            self.inputs[v].append(("source", s, float(sizes[combo[v]])))
        for u, v, _, sizes in workflow.operator_edges:
            self.inputs[v].append(("operator", u, float(sizes[combo[u], combo[v]])))

    def _incoming(self, state: State, v: int, x: int, mode: str, amount: float) -> float:
        """Estimated $ of the traffic worker ``x`` would receive for ``v`` (three published forms).

        ``mode`` ``"whole"``: ``x`` takes the whole rate; ``"part"``: ``x`` takes
        ``amount`` (its capacity); ``"rest"``: ``x`` takes the remainder
        ``amount`` (the published code then charges operator inputs in full).
        """
        rate = self.rate[v]
        cost = 0.0
        for kind, u, size in self.inputs[v]:
            if kind == "source":
                bandwidth = (rate if mode == "whole" else amount) * size
                cost += self.source_price[u][x] * bandwidth * MB_PER_S_TO_GB_PER_H
                continue
            total = rate * size
            for a, share in state.assigned[u]:
                sent = share * total / self.rate[u]
                if mode == "part":
                    sent = sent * amount / rate
                cost += self.network[a][x] * sent * MB_PER_S_TO_GB_PER_H
        return cost

    def place(self, state: State, v: int) -> list[State]:
        """Every candidate placement of operator ``v`` from ``state`` (one per top tier)."""
        rate = self.rate[v]
        capacity = self.capacity[v]
        floor = max(max(state.tier[(kind, u)] for kind, u, _ in self.inputs[v]), 0)
        grown = []
        for top in range(floor, self.num_tiers):
            available = [
                x
                for x in range(len(capacity))
                if floor <= self.tier[x] <= top
                and not state.used[x]
                and capacity[x] > 0
                and self.allowed[v][x]
            ]
            lowest = min((self.tier[x] for x in available), default=0)
            alone = [x for x in available if self.tier[x] == lowest and capacity[x] >= rate]
            if alone:
                ranked = [
                    (x, self.price[x] + self._incoming(state, v, x, "whole", rate)) for x in alone
                ]
                ranked.sort(key=lambda item: (item[1], capacity[item[0]]))
            else:
                ranked = []
                for x in available:
                    total = self.price[x] + self._incoming(state, v, x, "part", capacity[x])
                    ranked.append((x, total / capacity[x], total))
                ranked.sort(key=lambda item: (item[1], item[2]))
            picked: list[tuple[int, float]] = []
            filled = 0.0
            while filled < rate:
                if not ranked:
                    break
                x = ranked.pop(0)[0]
                share = rate - filled if filled + capacity[x] > rate else capacity[x]
                picked.append((x, share))
                filled += share
                if filled < rate:
                    rest = rate - filled
                    lowest = min((self.tier[item[0]] for item in ranked), default=0)
                    alone = [
                        item[0]
                        for item in ranked
                        if self.tier[item[0]] == lowest and capacity[item[0]] > rest
                    ]
                    if alone:
                        ranked = [
                            (y, self.price[y] + self._incoming(state, v, y, "rest", rest))
                            for y in alone
                        ]
                        ranked.sort(key=lambda item: (item[1], capacity[item[0]]))
            if filled >= rate:
                grown.append(self._extend(state, v, picked))
        return grown

    def _extend(self, state: State, v: int, picked: list[tuple[int, float]]) -> State:
        """The state with ``v`` placed on ``picked``, its cost as the published code adds it."""
        rate = self.rate[v]
        compute = sum(self.price[x] for x, _ in picked)
        network = 0.0
        for kind, u, size in self.inputs[v]:
            total = rate * size
            if kind == "source":
                for x, share in picked:
                    received = share * total / rate
                    network += self.source_price[u][x] * received * MB_PER_S_TO_GB_PER_H
                continue
            for a, sent_share in state.assigned[u]:
                sent = sent_share * total / self.rate[u]
                for b, share in picked:
                    received = share * total / rate
                    link = sent * (received / total) if total > 0 else 0.0
                    network += self.network[a][b] * link * MB_PER_S_TO_GB_PER_H
        tier = dict(state.tier)
        tier[("operator", v)] = max(self.tier[x] for x, _ in picked)
        used = list(state.used)
        for x, _ in picked:
            used[x] = True
        return State(
            state.overall + compute + network,
            state.compute + compute,
            tier,
            {**state.assigned, v: list(picked)},
            used,
        )


def proportional_network(workflow: CompiledWorkflow, combo: Sequence[int], state: State) -> float:
    """Network $/h of a complete state, summed as the published evaluator does.

    Sources, then operator edges, in file order; only upward crossings are charged.
    """
    tier, price = workflow.worker_tier, workflow.network_price
    total = 0.0
    for s, v, _, sizes in workflow.source_edges:
        received = state.assigned.get(v, [])
        throughput = sum(share for _, share in received)
        bandwidth = throughput * float(sizes[combo[v]])
        for x, share in received:
            rx = share * bandwidth / throughput
            total += float(workflow.source_network_price[s, x]) * rx * MB_PER_S_TO_GB_PER_H
    for u, v, _, sizes in workflow.operator_edges:
        senders, receivers = state.assigned.get(u, []), state.assigned.get(v, [])
        sent_total = sum(share for _, share in senders)
        received_total = sum(share for _, share in receivers)
        bandwidth = received_total * float(sizes[combo[u], combo[v]])
        if bandwidth <= 0:
            continue
        for a, sent_share in senders:
            tx = sent_share * bandwidth / sent_total
            for b, share in receivers:
                if tier[b] > tier[a]:
                    rx = share * bandwidth / received_total
                    link = tx * (rx / bandwidth)
                    total += float(price[a, b]) * link * MB_PER_S_TO_GB_PER_H
    return total
