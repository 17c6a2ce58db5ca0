"""JellyBean workflow serving: exact MILP, heuristic baseline, evaluator, sweep, input checks.

The default exact method (``bnb``) and the published optimizer have their own files
(``test_jellybean_bnb.py``, ``test_jellybean_published.py``); here ``milp`` is named where a
test is about the direct MILP.
"""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import idnopt
from backend_suite import assert_backends_agree
from idnopt.errors import InputError
from idnopt.formulations import jellybean as jb
from idnopt.formulations.jellybean.heuristic import heuristic_plan
from idnopt.formulations.jellybean.milp import plan_start
from idnopt.formulations.jellybean.program import build_program
from idnopt.result import Status

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "instances" / "jellybean").glob("*.yaml"))


# -- helpers ------------------------------------------------------------------------------


def tiny(**changes) -> dict:
    """Two operators, a non-monotone table, cheap but scarce devices and dearer edge servers.

    The heuristic starts from (a1, b1) = 0.80; each single downgrade falls below 0.75, so
    it never reaches (a2, b2) = 0.78, which runs on two devices for 0.2 $/h.
    """
    data = {
        "kind": "jellybean",
        "name": "tiny",
        "target": 0.75,
        "sources": [{"name": "cam", "rate": 10, "tier": "device"}],
        "operators": [
            {
                "name": "A",
                "variants": [
                    {"name": "a1", "accuracy": 0.9, "latency": {"dev": 200, "edge": 20}},
                    {"name": "a2", "accuracy": 0.7, "latency": {"dev": 50, "edge": 10}},
                ],
            },
            {
                "name": "B",
                "variants": [
                    {"name": "b1", "accuracy": 0.9, "latency": {"dev": 100, "edge": 10}},
                    {"name": "b2", "accuracy": 0.7, "latency": {"dev": 50, "edge": 5}},
                ],
            },
        ],
        "edges": [
            {"source": "cam", "target": "A", "size": "1 MB"},
            {"source": "A", "target": "B", "size": "0.1 MB"},
        ],
        "workers": [
            {"name": "dev", "tier": "device", "price": 0.1, "count": 2},
            {"name": "edge", "tier": "edge", "price": 1.0, "count": 2},
        ],
        "accuracy": {
            "rows": [["a1", "b1", 0.80], ["a1", "b2", 0.70], ["a2", "b1", 0.65], ["a2", "b2", 0.78]]
        },
        "network": {"default": "0.05 $/GB"},
    }
    data.update(changes)
    return data


def load(data: dict) -> jb.JellyBeanInstance:
    return idnopt.from_dict(data)


def devices_only(count: int, **changes) -> dict:
    """``tiny`` without the edge servers (and their latencies)."""
    data = tiny(**changes)
    data["workers"] = [{"name": "dev", "tier": "device", "price": 0.1, "count": count}]
    for op in data["operators"]:
        for variant in op["variants"]:
            variant["latency"].pop("edge")
    return data


def independent_violations(instance: jb.JellyBeanInstance, result) -> list[str]:
    """Tier order, capacity, one operator per worker and rates, checked from the raw instance."""
    tiers = {}
    for worker in instance.workers:
        rank = (
            idnopt.instance.TIERS.index(worker.tier)
            if isinstance(worker.tier, str)
            else worker.tier
        )
        for name in worker.members:
            tiers[name] = (rank, worker)
    variants = {(op.name, v.name): v for op in instance.operators for v in op.variants}
    problems = []
    hosts: dict[str, str] = {}
    by_op: dict[str, list] = {}
    for row in result.tables["plan"]:
        rank, worker = tiers[row["worker"]]
        variant = variants[(row["operator"], row["variant"])]
        latency = variant.latency.get(row["worker"], variant.latency.get(worker.name))
        if latency is None and worker.hardware is not None:
            latency = variant.latency.get(worker.hardware)
        if latency is None or row["share"] > 1000.0 / latency * (1 + 1e-6):
            problems.append(f"capacity {row}")
        if hosts.setdefault(row["worker"], row["operator"]) != row["operator"]:
            problems.append(f"two operators on {row['worker']}")
        by_op.setdefault(row["operator"], []).append((rank, row["share"]))
    for edge in instance.edges:
        if edge.source in by_op and edge.target in by_op:
            if max(r for r, _ in by_op[edge.source]) > min(r for r, _ in by_op[edge.target]):
                problems.append(f"tier order {edge.source}->{edge.target}")
    rates = {row["operator"]: row["rate"] for row in result.tables["combination"]}
    for op, rate in rates.items():
        total = sum(share for _, share in by_op.get(op, []))
        if abs(total - rate) > 1e-6 * max(1.0, rate):
            problems.append(f"rate of {op}: {total} != {rate}")
    return problems


def brute_force(instance: jb.JellyBeanInstance, routing: str) -> float:
    """Enumerate table rows x worker maps; optimise shares (and flows) of each by an LP.

    Proportional routing is only enumerated for two tiers with tier-level prices, where the
    product of shares has one factor fixed by the worker map (the sending operator sits on a
    single tier, or the receiving one does).
    """
    m = jb.compile_workflow(instance)
    best = math.inf
    for r in np.flatnonzero(m.table_accuracy >= instance.target - 1e-12):
        combo = m.table_combinations[r]
        for owner in itertools.product(range(-1, m.num_operators), repeat=m.num_workers):
            owner = np.array(owner)
            cost = _best_shares(m, combo, owner, routing)
            best = min(best, cost)
    return best


def _best_shares(m, combo, owner, routing) -> float:
    workers = [np.flatnonzero(owner == v) for v in range(m.num_operators)]
    for v, ws in enumerate(workers):
        cap = m.capacity[m.flat_variant(v, combo[v]), ws]
        if (cap <= 0).any() or (~m.tier_allowed[v, ws]).any() or cap.sum() < m.rate[v] * (1 - 1e-9):
            return math.inf
    for u, v, _, _ in m.operator_edges:
        if workers[u].size and workers[v].size:
            if m.worker_tier_rank[workers[u]].max() > m.worker_tier_rank[workers[v]].min():
                return math.inf
    used = np.flatnonzero(owner >= 0)
    column = {w: k for k, w in enumerate(used)}
    cost = np.zeros(used.size)
    flows = []  # (u, v, ratio, a, b, price per message)
    for s, v, _, sizes in m.source_edges:
        for b in workers[v]:
            cost[column[b]] += 3.6 * m.source_network_price[s, b] * sizes[combo[v]]
    for u, v, ratio, sizes in m.operator_edges:
        size = sizes[combo[u], combo[v]]
        if m.rate[u] <= 0 or not workers[u].size or not workers[v].size:
            continue
        if routing == "flows":
            flows += [
                (u, v, ratio, a, b, 3.6 * m.network_price[a, b] * size)
                for a in workers[u]
                for b in workers[v]
            ]
        elif len(set(m.worker_tier[workers[u]])) == 1:  # sender on one tier: linear in t_b
            for b in workers[v]:
                cost[column[b]] += 3.6 * m.network_price[workers[u][0], b] * size
        else:  # two tiers: the receiver then sits on the top tier alone
            assert len(set(m.worker_tier[workers[v]])) == 1
            for a in workers[u]:
                cost[column[a]] += (
                    3.6 * m.network_price[a, workers[v][0]] * size * m.rate[v] / m.rate[u]
                )
    n = used.size + len(flows)
    c = np.concatenate([cost, [f[5] for f in flows]])
    a_eq, b_eq, a_ub, b_ub = [], [], [], []
    for v, ws in enumerate(workers):
        row = np.zeros(n)
        row[[column[w] for w in ws]] = 1.0
        a_eq.append(row)
        b_eq.append(m.rate[v])
    for u, v, ratio, _ in m.operator_edges:
        mine = [k for k, f in enumerate(flows) if f[0] == u and f[1] == v]
        for a in workers[u] if mine else []:
            row = np.zeros(n)
            row[[used.size + k for k in mine if flows[k][3] == a]] = 1.0
            row[column[a]] = -ratio
            a_ub.append(row)
            b_ub.append(0.0)
        for b in workers[v] if mine else []:
            row = np.zeros(n)
            row[[used.size + k for k in mine if flows[k][4] == b]] = 1.0
            row[column[b]] = -1.0
            a_eq.append(row)
            b_eq.append(0.0)
    bounds = [(0, m.capacity[m.flat_variant(owner[w], combo[owner[w]]), w]) for w in used]
    bounds += [(0, None)] * len(flows)
    outcome = linprog(
        c,
        A_ub=np.array(a_ub) if a_ub else None,
        b_ub=b_ub or None,
        A_eq=np.array(a_eq),
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
    )
    if outcome.status != 0:
        return math.inf
    return float(outcome.fun + m.worker_price[used].sum())


# -- exactness -----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    operators=st.integers(2, 3),
    tiers=st.sampled_from([2, 3]),
    routing=st.sampled_from(jb.ROUTINGS),
)
def test_milp_equals_brute_force(seed, operators, tiers, routing):
    if tiers == 3 and routing == "proportional":
        routing = "flows"  # proportional is linear per worker map only with two tiers
    instance = jb.random_instance(
        seed, operators=operators, variants=2, workers=4, tiers=tiers, rate=(20, 150)
    )
    exact = jb.solve(instance, routing=routing, method="milp")
    expected = brute_force(instance, routing)
    if math.isinf(expected):
        assert exact.status == Status.INFEASIBLE
        assert "accuracy" in exact.message
        return
    assert exact.status == Status.OPTIMAL, exact.message
    assert exact.objective == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert exact.metrics["exact"] is True
    assert independent_violations(instance, exact) == []
    priced = jb.evaluate(instance, exact, routing)
    assert priced.feasible, priced.violations
    assert priced.cost_per_hour == pytest.approx(exact.objective, rel=1e-6, abs=1e-7)
    heuristic = jb.solve(instance, routing=routing, method="heuristic")
    if heuristic.has_solution:
        assert heuristic.objective >= exact.objective - 1e-7
        assert independent_violations(instance, heuristic) == []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
@pytest.mark.parametrize("routing", jb.ROUTINGS)
def test_bundled_instances(path, routing):
    instance = idnopt.load(path)
    exact = idnopt.solve(instance, routing=routing)
    assert exact.status == Status.OPTIMAL, exact.message
    assert exact.metrics["routing"] == routing
    assert exact.metrics["accuracy"] >= instance.target
    assert independent_violations(instance, exact) == []
    priced = jb.evaluate(instance, exact, routing)
    assert priced.feasible and priced.cost_per_hour == pytest.approx(exact.objective, rel=1e-6)
    breakdown = sum(row["cost_per_hour"] for row in exact.tables["cost"])
    assert breakdown == pytest.approx(exact.metrics["cost_per_hour"], rel=1e-12)
    assert breakdown == pytest.approx(exact.objective, rel=1e-6)
    heuristic = idnopt.solve(instance, routing=routing, method="heuristic")
    assert heuristic.status == Status.FEASIBLE
    assert heuristic.objective >= exact.objective - 1e-9
    assert independent_violations(instance, heuristic) == []


def test_non_monotone_table_defeats_the_heuristic_not_the_milp():
    instance = load(tiny())
    exact = jb.solve(instance)
    heuristic = jb.solve(instance, method="heuristic")
    assert exact.metrics["combination"] == "A=a2, B=b2"
    assert exact.objective == pytest.approx(0.2)
    assert heuristic.metrics["combination"] == "A=a1, B=b1"  # monotone pruning missed (a2, b2)
    assert heuristic.objective > exact.objective + 1.0


def test_heuristic_gives_up_where_the_milp_finds_a_plan():
    rows = [["a1", "b1", 0.70], ["a1", "b2", 0.60], ["a2", "b1", 0.65], ["a2", "b2", 0.78]]
    instance = load(tiny(accuracy={"rows": rows}))
    heuristic = jb.solve(instance, method="heuristic")
    assert heuristic.status == Status.INFEASIBLE
    assert "no combination" in heuristic.message
    assert jb.solve(instance).status == Status.OPTIMAL


def test_flows_never_dearer_than_proportional():
    for seed in range(6):
        instance = jb.random_instance(seed, operators=3, workers=6, tiers=2, rate=(20, 120))
        flows = jb.solve(instance, routing="flows")
        proportional = jb.solve(instance, routing="proportional")
        assert flows.status == proportional.status
        if flows.has_solution:
            assert flows.objective <= proportional.objective + 1e-7
            same_plan = jb.evaluate(instance, proportional, "flows")
            assert same_plan.cost_per_hour <= proportional.objective + 1e-7


def test_three_tier_proportional_reports_a_bound():
    for seed in range(4):
        instance = jb.random_instance(seed, operators=3, workers=7, tiers=3, rate=(20, 120))
        result = jb.solve(instance, routing="proportional", method="milp")
        if not result.has_solution:
            continue
        assert result.metrics["exact"] is False
        assert result.bound <= result.objective + 1e-9
        assert result.status in (Status.OPTIMAL, Status.FEASIBLE)
        assert "lower bound" in result.message or "optimal" in result.message
        priced = jb.evaluate(instance, result, "proportional")
        assert priced.cost_per_hour == pytest.approx(result.objective, rel=1e-9)
        heuristic = jb.solve(instance, routing="proportional", method="heuristic")
        if heuristic.has_solution:
            assert result.objective <= heuristic.objective + 1e-9


def test_additive_prices_make_three_tier_proportional_exact():
    data = idnopt.load(ROOT / "instances" / "jellybean" / "vehicle_tracking.yaml").model_dump()
    data["network"]["prices"][2]["price"] = 0.06  # device->cloud = device->edge + edge->cloud
    data["target"] = 0.72
    instance = load(data)
    proportional = jb.solve(instance, routing="proportional")
    flows = jb.solve(instance, routing="flows")
    assert proportional.metrics["exact"] is True
    assert proportional.status == Status.OPTIMAL
    assert proportional.objective == pytest.approx(flows.objective, rel=1e-6)
    for plan in (flows, jb.solve(instance, method="heuristic")):
        by_flows = jb.evaluate(instance, plan, "flows").cost_per_hour
        assert jb.evaluate(instance, plan, "proportional").cost_per_hour == pytest.approx(by_flows)


def test_rules_without_table_match_enumeration():
    data = tiny(accuracy={"rule": "product"}, target=0.6)
    instance = load(data)
    result = jb.solve(instance)
    products = {("a1", "b1"): 0.81, ("a1", "b2"): 0.63, ("a2", "b1"): 0.63, ("a2", "b2"): 0.49}
    assert result.metrics["accuracy"] == pytest.approx(
        products[tuple(row["variant"] for row in result.tables["combination"])]
    )
    rows = [[a, b, acc] for (a, b), acc in products.items()]
    as_table = jb.solve(load(tiny(accuracy={"rows": rows}, target=0.6)))
    assert result.objective == pytest.approx(as_table.objective)
    minimum = jb.solve(load(tiny(accuracy={"rule": "minimum"}, target=0.8)))
    assert minimum.metrics["combination"] == "A=a1, B=b1"


# -- infeasible targets --------------------------------------------------------------------


def test_unreachable_target_names_the_best_accuracy():
    instance = load(tiny(target=0.9))
    result = jb.solve(instance)
    assert result.status == Status.INFEASIBLE
    assert "best reachable accuracy is 0.8" in result.message
    assert result.metrics["best_reachable_accuracy"] == pytest.approx(0.80)
    heuristic = jb.solve(instance, method="heuristic")  # no crash either
    assert heuristic.status == Status.INFEASIBLE


def test_capacity_limits_the_reachable_accuracy():
    instance = load(devices_only(2, target=0.79))
    result = jb.solve(instance)
    assert result.status == Status.INFEASIBLE
    assert "best reachable accuracy is 0.78" in result.message
    assert "needs more capacity" in result.message
    assert jb.best_reachable_accuracy(instance) == (pytest.approx(0.78), {"A": "a2", "B": "b2"})


def test_no_capacity_at_all_is_explained():
    result = jb.solve(load(devices_only(1)))
    assert result.status == Status.INFEASIBLE
    assert "cannot sustain the rates" in result.message


def test_sweep_curve_and_plot(tmp_path):
    instance = idnopt.load(ROOT / "instances" / "jellybean" / "vqa.yaml")
    sweep = jb.accuracy_sweep(instance)
    feasible = [row for row in sweep.rows if row["status"] == "optimal"]
    costs = np.array([row["cost_per_hour"] for row in feasible])
    assert (np.diff(costs) >= -1e-9).all()  # a higher target never costs less
    assert sweep.rows[-1]["status"] == "infeasible"
    assert sweep.rows[-1]["target"] > sweep.best_reachable_accuracy
    assert f"{sweep.best_reachable_accuracy:.6g}" in sweep.explanation
    for row in feasible:
        if row["heuristic_cost"] is not None:
            assert row["cost_per_hour"] <= row["heuristic_cost"] + 1e-9
    figure = sweep.plot(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000
    assert figure.axes[0].get_xlabel().startswith("end-to-end accuracy")


# -- evaluator and plans -------------------------------------------------------------------


def test_evaluate_prices_a_hand_made_plan_under_both_rules():
    instance = load(tiny())
    rows = [
        {"operator": "A", "variant": "a2", "worker": "dev-1", "share": 10.0},
        {"operator": "B", "variant": "b2", "worker": "edge-1", "share": 5.0},
        {"operator": "B", "variant": "b2", "worker": "dev-2", "share": 5.0},
    ]
    flows = jb.evaluate(instance, rows, "flows")
    proportional = jb.evaluate(instance, rows, "proportional")
    assert flows.feasible and proportional.feasible
    assert flows.compute_cost == pytest.approx(1.2)
    crossing = 3.6 * 0.05 * 0.1 * 5.0  # half of A's 10 messages/s go up to the edge server
    assert flows.network_by_edge["A->B"] == pytest.approx(crossing)
    assert proportional.network_by_edge["A->B"] == pytest.approx(crossing)
    assert flows.accuracy == pytest.approx(0.78)


def test_evaluate_lists_every_violation():
    instance = load(tiny())
    rows = [
        {"operator": "A", "variant": "a1", "worker": "edge-1", "share": 10.0},
        {"operator": "B", "variant": "b1", "worker": "dev-1", "share": 30.0},
        {"operator": "B", "variant": "b1", "worker": "edge-1", "share": 1.0},
        {"operator": "B", "variant": "b1", "worker": "gpu-9", "share": 1.0},
    ]
    result = jb.evaluate(instance, rows, "flows")
    text = " | ".join(result.violations)
    assert not result.feasible
    assert "capacity" in text  # dev-1 serves 30 req/s of b1 but sustains 10
    assert "hosts two operators" in text
    assert "unknown worker 'gpu-9'" in text
    assert "tier order broken on A -> B" in text
    assert "sum to 31" in text


def test_plan_round_trip_and_worker_pools():
    instance = load(tiny(target=0.5))
    result = jb.solve(instance)
    plan = jb.Plan.from_result(result)
    assert set(plan.combination) == {"A", "B"}
    assert {a.worker for a in plan.assignments} <= {"dev-1", "dev-2", "edge-1", "edge-2"}
    again = jb.evaluate(instance, plan, "flows")
    assert again.cost_per_hour == pytest.approx(result.objective)


# -- backends ------------------------------------------------------------------------------


@pytest.mark.parametrize("routing", jb.ROUTINGS)
def test_all_backends_agree(routing):
    instance = jb.random_instance(4, operators=3, variants=2, workers=5, tiers=2, rate=(20, 120))
    program = jb.build(instance, routing=routing)
    assert_backends_agree(program)
    results = {
        b: jb.solve(instance, routing=routing, backend=b, method="milp")
        for b in ("highs", "pyomo", "cvxpy")
    }
    assert {r.status for r in results.values()} == {Status.OPTIMAL}
    costs = {b: r.metrics["cost_per_hour"] for b, r in results.items()}
    assert max(costs.values()) - min(costs.values()) < 1e-6 * max(1.0, costs["highs"]), costs


def test_time_limit_returns_an_incumbent_or_a_status():
    instance = jb.random_instance(1, operators=6, variants=5, workers=20, tiers=3, rows=200)
    result = jb.solve(instance, time_limit=0.05, method="milp")
    assert result.status in (Status.OPTIMAL, Status.TIME_LIMIT, Status.FEASIBLE, Status.INFEASIBLE)
    if result.has_solution:
        assert jb.evaluate(instance, result, "flows").feasible


# -- compiled data -------------------------------------------------------------------------


def test_rates_sizes_and_price_precedence():
    data = tiny()
    data["sources"].append({"name": "mic", "rate": 4})
    data["edges"].append({"source": "mic", "target": "B", "ratio": 2.0, "size": 0.01})
    data["edges"][1].update(
        ratio=3.0,
        sizes=[
            {"source_variant": "a1", "size": 0.5},
            {"target_variant": "b2", "size": 0.7},
            {"source_variant": "a1", "target_variant": "b2", "size": 0.9},
        ],
    )
    data["network"] = {
        "default": 0.3,
        "prices": [
            {"source": "device", "target": "edge", "price": 0.02},
            {"source": "dev-1", "target": "edge", "price": 0.04},
            {"source": "mic", "target": "edge-2", "price": 0.5},
        ],
    }
    m = jb.compile_workflow(load(data))
    assert m.rate.tolist() == [10.0, 8.0]  # B: min(10 * 3, 4 * 2)
    sizes = m.operator_edges[0][3]
    assert sizes.tolist() == [[0.5, 0.9], [0.1, 0.7]]
    names = m.workers
    assert m.network_price[names.index("dev-1"), names.index("edge-1")] == 0.04
    assert m.network_price[names.index("dev-2"), names.index("edge-1")] == 0.02
    assert m.network_price[names.index("edge-1"), names.index("dev-1")] == 0.0  # downward: free
    assert m.source_network_price[1, names.index("edge-2")] == 0.5
    assert m.source_network_price[1, names.index("edge-1")] == 0.02
    assert m.num_groups == 3  # dev-1 named in a worker price: a group of its own


# -- input errors --------------------------------------------------------------------------


def _mutate(edit) -> dict:
    data = copy.deepcopy(tiny())
    edit(data)
    return data


BAD = [
    (
        lambda d: d["operators"][1]["variants"][1]["latency"].update({"edge-9": 3}),
        "operators[1].variants[1].latency.edge-9",
        "unknown worker 'edge-9'",
    ),
    (
        lambda d: d["edges"].append({"source": "C", "target": "B"}),
        "edges[2].source",
        "unknown source or operator 'C'",
    ),
    (
        lambda d: d["edges"].append({"source": "B", "target": "A"}),
        "edges",
        "cycle",
    ),
    (
        lambda d: d["accuracy"]["rows"].append(["a3", "b1", 0.5]),
        "accuracy.rows[4][0]",
        "unknown variant of 'A' 'a3'",
    ),
    (
        lambda d: d["accuracy"]["rows"].__setitem__(0, ["a1", "b1", 80]),
        "accuracy.rows[0][2]",
        "write 0.8",
    ),
    (
        lambda d: d["accuracy"]["rows"].__setitem__(3, ["a1", "b1", 0.5]),
        "accuracy.rows[3]",
        "duplicate combination",
    ),
    (
        lambda d: d["network"].update(prices=[{"source": "dev", "target": "clod", "price": 1}]),
        "network.prices[0].target",
        "unknown worker, source or tier 'clod'",
    ),
    (
        lambda d: (
            d.update(accuracy={"rule": "product"})
            or d["operators"][0]["variants"][0].pop("accuracy")
        ),
        "operators[0].variants[0].accuracy",
        "needs an accuracy for every variant",
    ),
    (
        lambda d: d["workers"].append({"name": "dev-1", "tier": "edge", "price": 1}),
        "workers[2].name",
        "duplicate worker name 'dev-1'",
    ),
    (
        lambda d: d["workers"][0].update(tier="fog"),
        "workers[0].tier",
        "unknown tier 'fog'",
    ),
    (
        lambda d: d["operators"].append(
            {"name": "C", "variants": [{"name": "c1", "latency": {"dev": 1}}]}
        ),
        "operators[2]",
        "has no input edge",
    ),
]


@pytest.mark.parametrize("edit, location, words", BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_located(edit, location, words):
    with pytest.raises(InputError) as caught:
        idnopt.from_dict(_mutate(edit), source="bad.yaml")
    assert caught.value.location == location, str(caught.value)
    assert words in caught.value.message, str(caught.value)


def test_cross_check_returns_tuples():
    instance = jb.JellyBeanInstance.model_validate(
        _mutate(lambda d: d["operators"][1]["variants"][1]["latency"].update({"edge-9": 3}))
    )
    problems = instance.cross_check()
    assert problems[0][0] == ("operators", 1, "variants", 1, "latency", "edge-9")
    with pytest.raises(InputError):
        jb.solve(instance)


def test_bad_options_are_input_errors():
    instance = load(tiny())
    with pytest.raises(
        InputError, match="option 'routing': Input should be 'flows' or 'proportional'"
    ):
        jb.solve(instance, routing="flow")
    with pytest.raises(
        InputError, match="option 'target': Input should be less than or equal to 1"
    ):
        jb.solve(instance, target=75)
    with pytest.raises(InputError, match="unknown method"):
        jb.solve(instance, method="greedy")


# -- MILP start --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("routing", jb.ROUTINGS)
def test_warm_start_keeps_the_optimum(seed, routing):
    instance = jb.random_instance(seed, operators=3, variants=3, workers=8, tiers=2)
    cold = jb.solve(instance, routing=routing, method="milp")
    warm = jb.solve(instance, routing=routing, warm_start=True, method="milp")
    heuristic = jb.solve(instance, routing=routing, method="heuristic")
    assert warm.status == cold.status
    if not cold.has_solution:
        return
    assert warm.objective == pytest.approx(cold.objective, rel=1e-6, abs=1e-7)
    assert jb.evaluate(instance, warm, routing).feasible
    if heuristic.has_solution:
        assert warm.objective <= heuristic.objective + 1e-7


def test_plan_start_matches_the_heuristic_plan():
    instance = jb.random_instance(3, operators=3, variants=3, workers=8, tiers=2)
    model = jb.compile_workflow(instance)
    program = build_program(model, "flows", instance.target)
    plan, evaluation, _, _ = heuristic_plan(model, instance.target, "flows")
    assert plan is not None
    start = plan_start(model, program, plan, instance.target)
    assert start is not None
    # integer columns and the row choice z are set, shares and flows left to the solver
    given = program.integrality()
    z = program.variables["z"]
    given[z.start : z.start + z.size] = True
    assert not np.isnan(start[given]).any()
    assert np.isnan(start[~given]).all()
    assert start[z.start : z.start + z.size].sum() == 1
    # an almost-zero time limit returns the start itself (HiGHS completes and keeps it)
    from idnopt.backends import solve_program

    result = solve_program(program, time_limit=1e-3, mip_gap=1e-6, initial_values=start)
    assert result.has_solution
    assert result.objective <= evaluation.cost_per_hour + 1e-6


def test_initial_values_must_cover_every_column():
    from idnopt.backends import SolveOptions
    from idnopt.backends.highs import HighsBackend
    from idnopt.errors import UnsupportedError

    instance = jb.random_instance(0, operators=2, variants=2, workers=4, tiers=2)
    program = jb.build(instance)
    with pytest.raises(UnsupportedError, match="columns"):
        HighsBackend().solve(program, SolveOptions(initial_values=np.zeros(3)))
