"""The PA-MDI simulation against the delay model (Cobham, Pollaczek-Khinchine) and its policies.

Stated tolerance for the analytic comparisons: the simulated mean latency of a
source lies within three batch-means 95 % half-widths plus 2 % of the modelled
mean. Where a request visits one device the model is exact (Poisson arrivals);
later segments are fed by departures, not Poisson arrivals, and the model
overestimates their wait - checked here with a looser one-sided bound.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import idnopt
from idnopt.errors import InputError
from idnopt.family import get_family
from idnopt.sim import latency_samples

ROOT = Path(__file__).resolve().parents[1]
SIMULATION = get_family("pamdi").simulation


def one_device(cv: float, rates=(20.0, 30.0), priorities=(4.0, 1.0)):
    return idnopt.from_dict(
        {
            "kind": "pamdi",
            "compute_cv": cv,
            "devices": [{"name": "d", "speed": 1.0}],
            "models": [
                {
                    "name": "m",
                    "input": 0.001,
                    "layers": [
                        {"name": "a", "time": 4.0, "output": 0.01},
                        {"name": "b", "time": 6.0, "output": 0.01},
                    ],
                }
            ],
            "sources": [
                {
                    "name": f"s{i}",
                    "device": "d",
                    "model": "m",
                    "rate": rate,
                    "priority": p,
                    "label": label,
                }
                for i, (rate, p, label) in enumerate(
                    zip(rates, priorities, ("time-sensitive", "best-effort"))
                )
            ],
        }
    )


def agrees(row: dict) -> bool:
    return abs(row["mean_ms"] - row["model_ms"]) <= 3 * row["ci95_ms"] + 0.02 * row["model_ms"]


@pytest.mark.parametrize("cv", [0.0, 1.0])
@pytest.mark.parametrize("discipline", ["priority", "fifo"])
def test_one_device_matches_cobham_and_pollaczek_khinchine(cv, discipline):
    instance = one_device(cv)
    result = SIMULATION.simulate(instance, "local", duration=500, seed=11, discipline=discipline)
    rows = result.tables["sources"]
    assert all(agrees(row) for row in rows), rows
    utilisation = result.tables["devices"][0]["utilisation"]
    assert utilisation == pytest.approx(0.5, rel=0.03)
    if discipline == "priority":
        assert rows[0]["mean_ms"] < rows[1]["mean_ms"]


def test_later_segments_wait_no_longer_than_modelled():
    instance = idnopt.from_dict(
        {
            "kind": "pamdi",
            "compute_cv": 0.5,
            "devices": [{"name": "a"}, {"name": "b"}],
            "links": [{"source": "a", "target": "b", "latency": 1.0, "bandwidth": 1000.0}],
            "models": [
                {
                    "name": "m",
                    "input": 0.001,
                    "layers": [
                        {"name": "x", "time": 5.0, "output": 0.01},
                        {"name": "y", "time": 5.0, "output": 0.01},
                    ],
                }
            ],
            "sources": [{"name": "s", "device": "a", "model": "m", "rate": 60.0}],
        }
    )
    result = SIMULATION.simulate(instance, "ar-mdi", duration=400, seed=5)
    row = result.tables["sources"][0]
    assert row["mean_ms"] <= row["model_ms"] + 3 * row["ci95_ms"]
    assert row["mean_ms"] >= 0.9 * row["model_ms"]


def test_online_rule_conserves_requests_and_is_reproducible():
    instance = idnopt.load(ROOT / "instances" / "pamdi" / "multihop-gpt2.yaml")
    first = SIMULATION.simulate(instance, "pa-mdi", duration=40, seed=3)
    again = SIMULATION.simulate(instance, "pa-mdi", duration=40, seed=3)
    assert first.objective == again.objective
    assert first.tables["sources"] == again.tables["sources"]
    samples = latency_samples(first)
    assert sum(len(v) for v in samples.values()) == first.metrics["requests"] > 0
    assert first.metrics["offloads"] > 0
    other = SIMULATION.simulate(instance, "pa-mdi", duration=40, seed=4)
    assert other.objective != first.objective


def test_priorities_act_in_the_online_rule():
    instance = one_device(0.5, rates=(25.0, 40.0))
    aware = SIMULATION.simulate(instance, "pa-mdi", duration=200, seed=2)
    blind = SIMULATION.simulate(instance, "ms-mdi", duration=200, seed=2)
    urgent_aware = aware.tables["classes"][0]["mean_ms"]
    urgent_blind = blind.tables["classes"][0]["mean_ms"]
    assert aware.metrics["discipline"] == "priority" and blind.metrics["discipline"] == "fifo"
    assert urgent_aware < urgent_blind
    assert aware.tables["classes"][0]["mean_ms"] < aware.tables["classes"][1]["mean_ms"]


def test_static_policies_report_the_model_next_to_the_measurement():
    instance = idnopt.load(ROOT / "instances" / "pamdi" / "xavier-mesh-gpt2.yaml")
    result = SIMULATION.simulate(instance, "exact", duration=60, seed=1)
    assert {"model_ms", "error"} <= set(result.tables["sources"][0])
    assert result.metrics["model_weighted_ms"] == pytest.approx(
        idnopt.solve(instance).objective, rel=1e-9
    )
    assert result.metrics["policy"] == "exact"


def test_bad_simulation_options_are_one_located_error():
    instance = one_device(0.0)
    with pytest.raises(InputError, match="unknown policy 'fastest'"):
        SIMULATION.simulate(instance, "fastest")
    with pytest.raises(InputError, match="option 'duration'"):
        SIMULATION.simulate(instance, "local", duration=-1)
    with pytest.raises(InputError, match="unknown option 'speed'"):
        SIMULATION.simulate(instance, "local", speed=2)


def test_progress_is_reported_up_to_the_end():
    seen: list[float] = []
    SIMULATION.simulate(one_device(0.0), "local", duration=5, progress=seen.append)
    assert seen[-1] == 1.0 and np.all(np.diff(seen) >= 0)
