"""Shared conformance checks for online policies: a policy is tested by registering it.

Each :class:`PolicyCase` makes a fresh policy; :func:`check_policy` plays it
on a problem and a trace and asserts the contract of :mod:`idnopt.online`:

* scikit-learn conventions: parameters stored unchanged by ``__init__``,
  ``get_params``/``set_params``/``clone``/``repr`` agree, ``reset`` adds only
  attributes ending with ``_`` and replaces the previous run's state;
* deterministic under a seed (same seed, same trajectory and decisions);
* no peeking: decisions up to slot ``t`` do not change when later demand changes;
* a feasible decision in every slot (served and fractional);
* regret within the bound at every slot where the policy states one.

Families add their policies to :data:`POLICY_CASES` (or call
:func:`check_policy` with their own problem and trace).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from idnopt.online import OnlineProblem, Policy, Trace, run
from idnopt.online.runner import FEASIBILITY_TOLERANCE


@dataclass
class PolicyCase:
    name: str
    make: Callable[[], Policy]
    states_bound: bool
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


POLICY_CASES: list[PolicyCase] = []


def register_case(name: str, cls: type[Policy], states_bound: bool, **params: Any) -> PolicyCase:
    case = PolicyCase(name, lambda: cls(**params), states_bound, params)
    POLICY_CASES.append(case)
    return case


def play(policy: Policy, problem: OnlineProblem, trace: Trace, seed: int) -> list[Any]:
    """Decisions of every slot (copies), playing the trace's demand."""
    policy.reset(problem, np.random.default_rng(seed))
    decisions = []
    for slot, demand in enumerate(trace.demand):
        decision = policy.act(slot)
        decisions.append(decision)
        policy.observe(slot, demand, problem.gain(decision.served, demand))
    return decisions


def check_conventions(case: PolicyCase, problem: OnlineProblem) -> None:
    policy = case.make()
    params = policy.get_params()
    for name, value in case.params.items():
        assert params[name] == value, (case.name, name)
    clone = policy.clone()
    assert type(clone) is type(policy) and clone.get_params() == params
    assert not clone.learned_state()
    assert repr(policy).startswith(type(policy).__name__ + "(")
    before = set(vars(policy))
    policy.reset(problem, np.random.default_rng(0))
    added = set(vars(policy)) - before
    assert added, f"{case.name}: reset set no learned state"
    assert all(name.endswith("_") for name in added), (case.name, sorted(added))
    assert policy.get_params() == params, "reset must not change parameters"
    policy.set_params(**params)
    assert policy.get_params() == params


def check_policy(
    case: PolicyCase,
    problem: OnlineProblem,
    trace: Trace,
    *,
    seed: int = 3,
    hindsight: Any = True,
) -> Any:
    """Play one case and assert the contract; returns the run."""
    check_conventions(case, problem)
    policy = case.make()
    first = run(policy, problem, trace, seed=seed, hindsight=hindsight)
    again = run(policy, problem, trace, seed=seed, hindsight=first.hindsight)  # same object
    fresh = run(case.make(), problem, trace, seed=seed, hindsight=first.hindsight)
    for other in (again, fresh):
        for column in ("gain", "fractional_gain", "messages"):
            np.testing.assert_array_equal(
                first.trajectory[column], other.trajectory[column], err_msg=f"{case}: {column}"
            )
    violation = first.trajectory["violation"]
    assert np.all(violation <= FEASIBILITY_TOLERANCE), (case.name, float(violation.max()))
    assert str(first.status) == "feasible"
    check = first.check_regret_bound()
    if case.states_bound:
        assert first.regret_statement is not None
        assert check.passed, f"{case.name}: {check}"
    else:
        assert check.passed is None and first.regret_statement is None

    # no peeking: changing the demand after slot `cut` leaves decisions up to `cut` alone
    cut = trace.slots // 2
    changed = trace.demand.copy()
    changed[cut + 1 :] = changed[cut + 1 :][::-1] * 2 + 1
    altered = Trace(changed, trace.classes, kind="altered")
    original = play(case.make(), problem, trace, seed)
    modified = play(case.make(), problem, altered, seed)
    for slot in range(cut + 1):
        np.testing.assert_array_equal(original[slot].served, modified[slot].served)
        if original[slot].fractional is not None:
            np.testing.assert_array_equal(original[slot].fractional, modified[slot].fractional)
    return first
