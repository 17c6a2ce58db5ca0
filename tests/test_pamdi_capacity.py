"""PA-MDI capacity-aware bound: never above the optimum, exact for one visitor."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pamdi import brute_force, small_instance

from idnopt.formulations.pamdi import compile_instance, evaluate_split
from idnopt.formulations.pamdi.capacity import CapacityBound, capacity_bound
from idnopt.formulations.pamdi.delay import segments

PRIORITIES = st.sampled_from([(1.0,), (1.0, 2.0), (2.0, 2.0), (1.0, 2.0, 2.0)])


def group_loads(bound: CapacityBound, compiled, split) -> np.ndarray:
    """``(D, groups)`` loads of each group at each device under ``split``."""
    loads = np.zeros((compiled.num_devices, bound.coefficient.size))
    for s, devices in enumerate(split):
        for device, first, last in segments(devices):
            time = bound.times[s][first, last + 1, device]
            loads[device, bound.group[s]] += compiled.rate[s] * time
    return loads


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    priorities=PRIORITIES,
    queueing=st.sampled_from(["priority", "fifo"]),
    scale=st.floats(0.5, 4.0),
)
def test_the_capacity_bound_never_exceeds_the_optimum(seed, priorities, queueing, scale):
    instance = small_instance(seed, 3, 3, priorities, queueing, rate_scale=scale)
    compiled = compile_instance(instance)
    best = brute_force(compiled)
    if best is None:
        return
    bound = CapacityBound(compiled, grid=40)
    rng = np.random.default_rng(seed)
    for _ in range(3):  # every multiplier gives a bound
        theta = rng.uniform(0, 1, compiled.num_devices)
        price = rng.normal(0, 3, (bound.coefficient.size, compiled.num_devices))
        assert bound.dual(theta, price)[0] <= best.objective * (1 + 1e-9)
    # the ascent aimed at the optimum itself stays below it
    assert capacity_bound(compiled, best.objective, iterations=40) <= best.objective * (1 + 1e-9)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    priorities=PRIORITIES,
    queueing=st.sampled_from(["priority", "fifo"]),
)
def test_phi_is_below_every_devices_weighted_wait(seed, priorities, queueing):
    instance = small_instance(seed, 3, 4, priorities, queueing)
    compiled = compile_instance(instance)
    bound = CapacityBound(compiled, grid=10)
    rng = np.random.default_rng(seed)
    split = tuple(
        rng.integers(compiled.num_devices, size=compiled.chains[s].length)
        for s in range(compiled.num_sources)
    )
    split = tuple(np.sort(devices) for devices in split)  # contiguous runs
    evaluation = evaluate_split(compiled, split)
    if not evaluation.feasible:
        return
    waits = (compiled.weight[:, None] * evaluation.wait).sum(axis=0)
    phi = bound.phi(group_loads(bound, compiled, split))
    assert np.all(phi <= waits * (1 + 1e-9) + 1e-12)


def test_phi_is_the_wait_of_a_lone_visitor():
    compiled = compile_instance(small_instance(4, 2, 3, (1.0, 2.0)))
    bound = CapacityBound(compiled, grid=10)
    split = (np.array([0, 0, 0]), np.array([1, 1, 1]))
    evaluation = evaluate_split(compiled, split)
    waits = (compiled.weight[:, None] * evaluation.wait).sum(axis=0)
    phi = bound.phi(group_loads(bound, compiled, split))
    np.testing.assert_allclose(phi, waits, rtol=1e-12)
