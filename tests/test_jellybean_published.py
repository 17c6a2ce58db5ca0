"""The published JellyBean optimizer (method ``published``) and JellyBean's shipped VQA example."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

import idnopt
from idnopt.errors import InputError
from idnopt.formulations import jellybean as jb
from idnopt.formulations.jellybean.methods import PublishedParameters
from idnopt.formulations.jellybean.published import (
    beam_profile,
    beam_search,
    published_plan,
    topological_orders,
)
from idnopt.result import Status

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "instances" / "jellybean" / "jellybean_vqa.yaml"
WORKER = "workflow-compute-{}"

# what the published optimizer prints on its shipped example at 56 % (its README shows the same)
PUBLISHED_COMPUTE = 6.242
PUBLISHED_NETWORK = 1.2667783071018048
PUBLISHED_WORKERS = {
    "ExtractImageFeature": {"cpu-1", "cpu-2", "cpu-5"},
    "SpeechRecognition": {"gpu-1", "cpu-3"},
    "VQA": {"cpu-6"},
}


@pytest.fixture(scope="module")
def example() -> jb.JellyBeanInstance:
    return idnopt.load(EXAMPLE)


def workers_by_operator(result) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in result.tables["plan"]:
        found.setdefault(row["operator"], set()).add(
            row["worker"].removeprefix("workflow-compute-")
        )
    return found


def test_the_shipped_example_reads_in_its_own_units(example):
    assert example.target == 0.56
    workflow = jb.compile_workflow(example)
    # 794.03 KiB per image message, 0.1 $/GiB edge -> cloud
    (_, _, _, image_sizes), _ = workflow.source_edges
    assert image_sizes[0] == pytest.approx(794.0348300933838 * 1024 / 1e6, rel=1e-15)
    cloud = workflow.workers.index(WORKER.format("cpu-6"))
    assert workflow.network_price[0, cloud] == pytest.approx(0.1 * 1e9 / 1024**3, rel=1e-15)
    # the table has no column for VQA, which has a single variant
    assert workflow.table_combinations[:, 2].tolist() == [0] * 10
    assert workflow.table_accuracy[1] == pytest.approx(0.5659)


def test_published_output_is_reproduced_exactly(example):
    result = idnopt.solve(example, method="published")
    assert result.status == Status.FEASIBLE
    assert result.metrics["routing"] == "proportional"
    assert result.metrics["combination"] == (
        "ExtractImageFeature=resnet18, SpeechRecognition=wav2vec2-large-960h-lv60-self, VQA=default"
    )
    assert result.metrics["accuracy"] == pytest.approx(0.5659)
    assert workers_by_operator(result) == PUBLISHED_WORKERS
    assert result.metrics["compute_cost"] == pytest.approx(PUBLISHED_COMPUTE, abs=1e-9)
    assert result.metrics["network_cost"] == pytest.approx(PUBLISHED_NETWORK, abs=1e-9)
    assert result.objective == pytest.approx(PUBLISHED_COMPUTE + PUBLISHED_NETWORK, abs=1e-9)
    # shares filled in pick order: each worker to its capacity, the last one the remainder
    shares = {row["worker"].removeprefix("workflow-compute-"): row for row in result.tables["plan"]}
    for full in ("cpu-1", "cpu-2", "gpu-1"):
        assert shares[full]["share"] == pytest.approx(shares[full]["capacity"], rel=1e-12)
    assert shares["cpu-5"]["share"] == pytest.approx(
        40.0 - shares["cpu-1"]["share"] - shares["cpu-2"]["share"], rel=1e-12
    )
    assert jb.evaluate(example, result, "proportional").feasible


def test_published_defaults_are_the_shipped_settings():
    defaults = PublishedParameters()
    assert (defaults.beam_width, defaults.orders, defaults.best_states) == (10, 10, 10)
    assert defaults.sample_limit is None
    assert defaults.routing == "proportional"


def test_beam_keeps_duplicates_and_ranks_by_proxy_cost(example):
    workflow = jb.compile_workflow(example)
    profile = beam_profile(workflow)
    assert profile.sink == workflow.operator_index["VQA"]
    combos = beam_search(workflow, profile, 0.56, beam_width=10)
    image = [workflow.variants[0][c[0]] for c in combos]
    # samples meeting 56 % require large speech models; resnet34/50/101 come back repeatedly
    assert image == ["resnet18", "resnet34", "resnet34"] + ["resnet50"] * 3 + ["resnet101"] * 4
    assert {workflow.variants[1][c[1]] for c in combos} == {"wav2vec2-large-960h-lv60-self"}
    narrow = beam_search(workflow, profile, 0.56, beam_width=1)
    assert narrow == combos[:1]


def test_exact_methods_beat_the_published_optimizer_on_its_example(example):
    published = idnopt.solve(example, method="published")
    for method in ("bnb", "milp"):
        exact = idnopt.solve(example, method=method, routing="proportional")
        assert exact.status == Status.OPTIMAL
        assert exact.objective == pytest.approx(7.485018393756207, rel=1e-9)
        assert exact.objective < published.objective - 0.02


def test_flows_routing_prices_the_same_candidates_by_flows(example):
    result = idnopt.solve(example, method="published", routing="flows")
    assert result.metrics["routing"] == "flows"
    assert jb.evaluate(example, result, "flows").cost_per_hour == pytest.approx(result.objective)
    assert result.objective <= idnopt.solve(example, method="published").objective + 1e-9


def test_unreachable_target_is_reported_not_a_crash(example):
    result = idnopt.solve(example, method="published", target=0.6)
    assert result.status == Status.INFEASIBLE
    assert "no sample of the sink reaches the target 0.6" in result.message


def test_non_monotone_table_skips_combinations_below_the_target(example):
    # 55.8 %: resnet101 + base (55.91) requires resnet >= 93.548, which admits resnet152, whose
    # combination with base is at 55.76 % only (the table is not monotone)
    result = idnopt.solve(example, method="published", target=0.558)
    assert result.status == Status.FEASIBLE
    assert result.metrics["accuracy"] >= 0.558
    workflow = jb.compile_workflow(example)
    combos = beam_search(workflow, beam_profile(workflow), 0.558, beam_width=10)
    below = [c for c in combos if workflow.accuracy_of(c) < 0.558]
    assert below and result.metrics["combinations_skipped"] == len(below)


def test_several_sinks_share_a_virtual_sink_and_product_rules_are_refused():
    instance = jb.random_instance(3, operators=4, variants=2, workers=6, tiers=2, rate=(20, 90))
    workflow = jb.compile_workflow(instance)
    has_successor = {u for u, _, _, _ in workflow.operator_edges}
    assert sum(v not in has_successor for v in range(4)) > 1
    assert beam_profile(workflow).sink == -1
    result = jb.solve(instance, method="published")
    assert result.status in (Status.FEASIBLE, Status.INFEASIBLE)
    data = instance.model_dump(mode="json", exclude_defaults=True)
    data["accuracy"] = {"rule": "product"}
    with pytest.raises(InputError, match="reads an accuracy table"):
        jb.solve(idnopt.from_dict({"kind": "jellybean", **data}), method="published")


def test_topological_orders_are_taken_lazily():
    # twelve independent sources and operators: 24! / 2^12 orders, never listed
    data = {
        "kind": "jellybean",
        "sources": [{"name": f"s{k}", "rate": 5} for k in range(12)],
        "operators": [
            {"name": f"op{k}", "variants": [{"name": "m", "latency": {"w": 10}}]} for k in range(12)
        ],
        "edges": [{"source": f"s{k}", "target": f"op{k}"} for k in range(12)],
        "workers": [{"name": "w", "tier": "edge", "price": 1, "count": 12}],
        "accuracy": {"rows": [["m"] * 12 + [0.9]]},
        "target": 0.5,
    }
    instance = idnopt.from_dict(data)
    orders = topological_orders(instance, jb.compile_workflow(instance), 10)
    assert len(orders) == 10
    result = jb.solve(instance, method="published", orders=3, best_states=2)
    assert result.status == Status.FEASIBLE and result.metrics["workers_used"] == 12


def test_budget_stops_between_assignments(example):
    workflow = jb.compile_workflow(example)
    from idnopt.budget import Budget

    budget = Budget(1e-9)
    outcome = published_plan(example, workflow, 0.56, "proportional", budget=budget)
    assert outcome.stopped and outcome.plan is None
    result = jb.solve(example, method="published", time_limit=1e-6)
    assert result.status == Status.TIME_LIMIT


def test_accuracy_units_and_optional_columns(example):
    data = example.model_dump(mode="json", exclude_defaults=True)
    again = idnopt.from_dict({"kind": "jellybean", **copy.deepcopy(data)})
    assert again == example
    percent = copy.deepcopy(data)
    percent["target"] = "56 %"
    percent["accuracy"]["rows"][0][-1] = "54.02 %"
    assert idnopt.from_dict({"kind": "jellybean", **percent}) == example
    missing = copy.deepcopy(data)
    missing["accuracy"]["columns"] = ["ExtractImageFeature"]
    with pytest.raises(InputError) as caught:
        idnopt.from_dict({"kind": "jellybean", **missing}, source="bad.yaml")
    assert caught.value.location == "accuracy.columns"
    assert "SpeechRecognition (only operators with a single variant" in caught.value.message
    inferred = copy.deepcopy(data)
    del inferred["accuracy"]["columns"]  # rows name the two multi-variant operators only
    table = jb.compile_workflow(idnopt.from_dict({"kind": "jellybean", **inferred}))
    assert (table.table_combinations == jb.compile_workflow(example).table_combinations).all()
    wrong = copy.deepcopy(data)
    wrong["accuracy"]["rows"][2][-1] = "55 %%"
    with pytest.raises(InputError) as caught:
        idnopt.from_dict({"kind": "jellybean", **wrong}, source="bad.yaml")
    assert caught.value.location == "accuracy.rows[2][2]"


def test_units_read_naturally():
    from idnopt.units import parse_quantity

    assert parse_quantity("57 %", "fraction") == 0.57
    assert parse_quantity("0.5", "fraction") == 0.5
    assert parse_quantity("1 $/GiB", "price_per_gb") == pytest.approx(1e9 / 2**30)
    assert parse_quantity("2 KiB", "size") == pytest.approx(2048 / 1e6)
    with pytest.raises(ValueError, match="use one of %, percent"):
        parse_quantity("5 pct", "fraction")


def test_forty_operators_generate_without_enumerating_combinations():
    instance = jb.random_instance(1, operators=40, variants=3, workers=12, tiers=2)
    rows = instance.accuracy.rows
    assert len(rows) == 1000
    assert len({tuple(row[:-1]) for row in rows}) == 1000
    assert all(math.isfinite(row[-1]) for row in rows)
