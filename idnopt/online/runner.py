"""Playing a policy over a trace: the per-slot loop, the trajectory and the regret check.

:func:`run` plays ``policy`` on ``problem`` slot by slot (``act``, then the
slot's demand is revealed, then ``observe``), evaluates every decision with
the problem's gain, solves the best static decision in hindsight and returns
a :class:`Run`: the project's :class:`~idnopt.result.Result` with the
per-slot :class:`Trajectory` (also in ``tables["trajectory"]``), the regret
against the hindsight optimum, the policy's bound and the seeds used.
:meth:`Run.check_regret_bound` compares regret and bound at every slot.

Regret is measured on the learner's state: the fractional allocation for
policies that keep one (the quantity their bounds speak about), the served
decision otherwise; ``integral_regret`` uses the served decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from idnopt.errors import InputError
from idnopt.online.policy import Policy
from idnopt.online.problem import Hindsight, OnlineProblem
from idnopt.online.regret import BoundCheck, RegretBound, check_bound
from idnopt.online.trace import Trace
from idnopt.result import Result, Status

FEASIBILITY_TOLERANCE = 1e-6
"""Largest constraint violation (relative to the constraint's size) counted as feasible."""

BASE_COLUMNS = (
    "slot",
    "demand",
    "gain",
    "fractional_gain",
    "hindsight_gain",
    "regret",
    "integral_regret",
    "bound",
    "messages",
    "violation",
    "seconds",
)


@dataclass(eq=False)
class Trajectory:
    """Per-slot figures of a run, as columns of equal length.

    Attributes
    ----------
    columns : dict of str to numpy.ndarray
        ``slot``; ``demand`` (total of the slot); ``gain`` (of the served
        decision); ``fractional_gain`` (of the learner's state);
        ``hindsight_gain`` (of the best static decision); ``regret`` and
        ``integral_regret`` (cumulative, on the learner's state and on the
        served decision); ``bound`` (the policy's bound after the slot, NaN
        when it states none); ``messages``; ``violation`` (largest constraint
        violation of the slot's decisions); ``seconds`` (policy time:
        ``act`` + ``observe``); and any figure the policy reported.
    """

    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.columns["slot"].size)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def names(self) -> list[str]:
        """Column names, base columns first."""
        return list(self.columns)

    def time_averaged(self, name: str = "gain") -> np.ndarray:
        """Running mean of a column (e.g. the time-averaged gain after each slot)."""
        values = self.columns[name]
        return np.cumsum(values) / np.arange(1, values.size + 1)

    def to_rows(self) -> list[dict[str, Any]]:
        """One plain dict per slot."""
        names = self.names
        data = [self.columns[name].tolist() for name in names]
        return [dict(zip(names, values)) for values in zip(*data)]

    def to_frame(self):
        """The trajectory as a pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame({name: values for name, values in self.columns.items()})


@dataclass(repr=False)
class Run(Result):
    """A :class:`~idnopt.result.Result` of playing a policy over a trace.

    ``objective`` is the total gain of the served decisions; ``metrics`` holds
    the summary figures and ``tables["trajectory"]`` one row per slot.

    Attributes
    ----------
    trajectory : Trajectory
        Per-slot figures.
    hindsight : Hindsight or None
        Best static (fractional) decision for the trace; ``None`` when skipped.
    integral_hindsight : Hindsight or None
        Best static integral decision, when asked for.
    regret_statement : RegretBound or None
        The policy's stated bound (``None`` when it states none).
    seeds : dict
        ``policy`` (the run's seed) and ``trace`` (the trace generator's seed, if any).
    policy : str
        The policy's ``repr`` (class and non-default parameters).
    trace : dict
        The trace's identity (kind, parameters, digest).
    """

    trajectory: Trajectory | None = None
    hindsight: Hindsight | None = None
    integral_hindsight: Hindsight | None = None
    regret_statement: RegretBound | None = None
    seeds: dict[str, Any] = field(default_factory=dict)
    policy: str = ""
    trace: dict[str, Any] = field(default_factory=dict)

    def check_regret_bound(self) -> BoundCheck:
        """Whether the cumulative regret stayed within the policy's bound at every slot.

        Returns
        -------
        BoundCheck
            ``passed`` is ``None`` when the policy states no bound or the
            hindsight optimum was not computed.
        """
        if self.trajectory is None or self.hindsight is None:
            return BoundCheck(passed=None, kind="none", regret=float("nan"))
        bound = self.trajectory["bound"]
        statement = self.regret_statement
        if statement is None or np.isnan(bound).all():
            return check_bound(self.trajectory["regret"], None, kind="none")
        return check_bound(
            self.trajectory["regret"], bound, kind=statement.kind, scale=self.hindsight.value
        )

    def __repr__(self) -> str:
        ratio = self.metrics.get("gain_ratio")
        return (
            f"Run({self.policy}, {self.metrics.get('slots', 0)} slots, gain {self.objective!r}, "
            f"ratio to hindsight {ratio!r})"
        )

    def to_dict(self, values: bool = False, **options: Any) -> dict[str, Any]:
        """Plain-data form: the Result's fields (options as for Result.to_dict), then the run's."""
        data = super().to_dict(values=values, **options)
        data["online"] = {
            "policy": self.policy,
            "seeds": dict(self.seeds),
            "trace": dict(self.trace),
            "regret_bound": None
            if self.regret_statement is None
            else self.regret_statement.to_dict(),
            "bound_check": self.check_regret_bound().to_dict(),
            "hindsight": _hindsight_dict(self.hindsight),
            "integral_hindsight": _hindsight_dict(self.integral_hindsight),
        }
        return _plain(data)


def _hindsight_dict(hindsight: Hindsight | None) -> dict[str, Any] | None:
    if hindsight is None:
        return None
    return {
        "value": hindsight.value,
        "integral": hindsight.integral,
        "status": hindsight.status,
        "bound": hindsight.bound,
        "seconds": hindsight.seconds,
        "details": dict(hindsight.details),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else str(value)
    return value


def run(
    policy: Policy,
    problem: Any,
    trace: Trace,
    *,
    seed: int = 0,
    hindsight: Hindsight | bool = True,
    integral_hindsight: Hindsight | bool = False,
    hindsight_options: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Run:
    """Play ``policy`` on ``problem`` over ``trace`` and measure it.

    Parameters
    ----------
    policy : Policy
        The policy; it is reset (its learned state replaced) first.
    problem : OnlineProblem or Instance
        The online problem, or an instance of a family with online support
        (its problem is made for ``trace`` through :func:`idnopt.online.make_problem`).
    trace : Trace
        Demand per slot; its classes must be the problem's, in the same order.
    seed : int
        Seed of the policy's random generator.
    hindsight : Hindsight or bool
        ``True``: solve the best static fractional decision (regret needs it);
        ``False``: skip it (regret columns are NaN); or a precomputed one.
    integral_hindsight : Hindsight or bool
        Also solve (or use) the best static integral decision.
    hindsight_options : mapping, optional
        Passed to ``problem.hindsight`` (``time_limit``…).
    progress : callable, optional
        Called with the number of slots played after every slot.

    Returns
    -------
    Run

    Raises
    ------
    InputError
        When the trace's classes are not the problem's.
    """
    if not isinstance(problem, OnlineProblem):
        from idnopt.online.registry import make_problem

        problem = make_problem(problem, trace)
    if tuple(trace.classes) != tuple(problem.classes):
        raise InputError(
            f"the trace has {trace.num_classes} request classes that are not the problem's "
            f"{len(problem.classes)} (first difference: "
            f"{_first_difference(trace.classes, problem.classes)})"
        )
    slots = trace.slots
    started = time.perf_counter()
    policy.reset(problem, np.random.default_rng(seed))
    statement = policy.regret_bound()
    gain = np.zeros(slots)
    fractional_gain = np.zeros(slots)
    bound = np.full(slots, np.nan)
    messages = np.zeros(slots)
    violation = np.zeros(slots)
    seconds = np.zeros(slots)
    extra: dict[str, np.ndarray] = {}
    evaluation_seconds = 0.0
    for slot in range(slots):
        demand = trace.demand[slot]
        clock = time.perf_counter()
        decision = policy.act(slot)
        acted = time.perf_counter()
        served_gain = problem.gain(decision.served, demand)
        gain[slot] = served_gain
        worst = problem.violation(decision.served)
        if decision.fractional is None:
            fractional_gain[slot] = served_gain
        else:
            fractional_gain[slot] = problem.gain(decision.fractional, demand)
            worst = max(worst, problem.violation(decision.fractional))
        violation[slot] = worst
        evaluated = time.perf_counter()
        figures = policy.observe(slot, demand, served_gain) or {}
        observed = time.perf_counter()
        seconds[slot] = (acted - clock) + (observed - evaluated)
        evaluation_seconds += evaluated - acted
        for name, value in figures.items():
            if name == "messages":
                messages[slot] = value
                continue
            if name not in extra:
                extra[name] = np.full(slots, np.nan)
            extra[name][slot] = value
        value = policy.bound_after(slot + 1)
        if value is not None:
            bound[slot] = value
        if progress is not None:
            progress(slot + 1)
    played = time.perf_counter()

    options = dict(hindsight_options or {})
    best = _hindsight(problem, trace, hindsight, integral=False, options=options)
    best_integral = _hindsight(problem, trace, integral_hindsight, integral=True, options=options)
    if best is not None:
        comparator = np.asarray(best.per_slot, dtype=float)
        regret = np.cumsum(comparator - fractional_gain)
        integral_regret = np.cumsum(comparator - gain)
    else:
        comparator = regret = integral_regret = np.full(slots, np.nan)
    columns = {
        "slot": np.arange(slots),
        "demand": trace.totals,
        "gain": gain,
        "fractional_gain": fractional_gain,
        "hindsight_gain": comparator,
        "regret": regret,
        "integral_regret": integral_regret,
        "bound": bound,
        "messages": messages,
        "violation": violation,
        "seconds": seconds,
    }
    columns.update(extra)
    trajectory = Trajectory(columns)
    feasible = violation <= FEASIBILITY_TOLERANCE
    total = float(gain.sum())
    metrics: dict[str, Any] = {
        "slots": slots,
        "gain": total,
        "fractional_gain": float(fractional_gain.sum()),
        "time_averaged_gain": total / slots if slots else 0.0,
        "feasible_slots": int(feasible.sum()),
        "largest_violation": float(violation.max()) if slots else 0.0,
        "messages": float(messages.sum()),
        "messages_per_slot": float(messages.mean()) if slots else 0.0,
        "policy_seconds_per_slot": float(np.median(seconds)) if slots else 0.0,
        "evaluation_seconds": evaluation_seconds,
    }
    if best is not None:
        metrics.update(
            {
                "hindsight": best.value,
                "hindsight_status": best.status,
                "gain_ratio": total / best.value if best.value > 0 else 1.0,
                "fractional_ratio": float(fractional_gain.sum()) / best.value
                if best.value > 0
                else 1.0,
                "regret": float(regret[-1]) if slots else 0.0,
                "integral_regret": float(integral_regret[-1]) if slots else 0.0,
                "hindsight_seconds": best.seconds,
            }
        )
    if best_integral is not None:
        metrics["hindsight_integral"] = best_integral.value
        metrics["hindsight_integral_status"] = best_integral.status
        metrics["gain_ratio_integral"] = (
            total / best_integral.value if best_integral.value > 0 else 1.0
        )
    result = Run(
        status=Status.FEASIBLE if feasible.all() else Status.ERROR,
        objective=total,
        solver="online",
        method=policy.name or type(policy).__name__,
        build_seconds=0.0,
        solve_seconds=played - started,
        message=""
        if feasible.all()
        else f"infeasible decision at slot {int(np.argmin(feasible))} "
        f"(violation {violation.max():.3g})",
        metrics=metrics,
        tables={"trajectory": trajectory.to_rows()},
        trajectory=trajectory,
        hindsight=best,
        integral_hindsight=best_integral,
        regret_statement=statement,
        seeds={"policy": seed, "trace": trace.params.get("seed")},
        policy=repr(policy),
        trace=trace.identity(),
    )
    check = result.check_regret_bound()
    metrics.update(
        {
            "bound": check.bound,
            "bound_kind": check.kind,
            "bound_passed": check.passed,
            "bound_margin": check.margin,
        }
    )
    if statement is not None:
        metrics["step"] = statement.step
    return result


def _hindsight(
    problem: OnlineProblem,
    trace: Trace,
    given: Hindsight | bool,
    *,
    integral: bool,
    options: Mapping[str, Any],
) -> Hindsight | None:
    if isinstance(given, Hindsight):
        if given.per_slot.shape != (trace.slots,):
            raise InputError(
                f"the hindsight decision has {given.per_slot.shape[0]} slot gains "
                f"for a trace of {trace.slots} slots"
            )
        return given
    if not given:
        return None
    return problem.hindsight(trace, integral=integral, **options)


def _first_difference(left: tuple[str, ...], right: tuple[str, ...]) -> str:
    for index, (a, b) in enumerate(zip(left, right)):
        if a != b:
            return f"column {index}: {a!r} vs {b!r}"
    return f"{len(left)} vs {len(right)} columns"
