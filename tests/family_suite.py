"""Conformance checks every registered problem family and method must pass.

Like ``backend_suite.py`` for backends: a family is tested by registering it
(entry point ``idnopt.families``) and shipping instance files under
``instances/<kind>/``. The checks need nothing family-specific:

* the schema round trip: ``to_document`` gives data that loads back equal;
* every method on every bundled instance: a status that makes sense, the
  objective on the right side of the bound (by the family's sense), the
  family's independent evaluator agreeing with the reported objective, and
  timings that add up;
* the budget: a short ``time_limit`` bounds the whole call;
* malformed copies of a bundled file give one located ``InputError``.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import idnopt
from idnopt.errors import InputError
from idnopt.family import Family, families
from idnopt.result import Result, Status

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"
TOLERANCE = 1e-6
BUDGET_SLACK_SECONDS = 0.5
"""Wall time a call may take beyond its time limit (interpreter and decoding noise)."""


def bundled_instances(kind: str) -> list[Path]:
    """Instance files shipped for ``kind`` (``instances/<kind>/*.yaml``)."""
    return sorted((INSTANCES / kind).glob("*.yaml"))


def family_cases() -> list[tuple[str, Path]]:
    """(kind, file) for every registered family and each of its bundled files."""
    return [(kind, path) for kind in families() for path in bundled_instances(kind)]


def method_cases() -> list[tuple[str, str, Path]]:
    """(kind, method, file) for every declared method on every bundled file."""
    return [
        (kind, method.name, path)
        for kind, family in families().items()
        for method in family.methods
        for path in bundled_instances(kind)
    ]


def case_id(case: Any) -> str:
    """Readable pytest ids: paths by their stem."""
    return case.stem if isinstance(case, Path) else str(case)


def check_round_trip(family: Family, path: Path) -> None:
    """``to_document`` gives data that validates back into an equal instance."""
    if family.to_document is None:
        pytest.skip(f"{family.kind} declares no to_document")
    instance = idnopt.load(path)
    data = family.to_document(instance)
    assert data["kind"] == family.kind
    again = idnopt.from_dict(copy.deepcopy(data), source=str(path))
    assert again == instance


def _right_side(family: Family, result: Result) -> None:
    if result.objective is None or result.bound is None:
        return
    slack = TOLERANCE * max(1.0, abs(result.objective))
    if family.sense == "maximize":
        assert result.objective <= result.bound + slack, (result.objective, result.bound)
    else:
        assert result.objective >= result.bound - slack, (result.objective, result.bound)


def check_method(family: Family, method: str, path: Path) -> Result:
    """Run one method on one bundled file and check what any method must satisfy."""
    instance = idnopt.load(path)
    declared = family.method(method)
    result = family.solve(instance, method=method, time_limit=120)
    assert result.method == method
    assert result.status in set(Status), result.status
    assert result.status != Status.ERROR, result.message
    if result.status == Status.INFEASIBLE:
        assert result.message, "an infeasible answer must say why"
        return result
    assert result.has_solution, (result.status, result.message)
    _right_side(family, result)
    if declared.exact and result.status == Status.OPTIMAL:
        assert result.gap is None or result.gap <= 1e-4, result.gap
    if family.evaluate is not None:
        recomputed = family.evaluate(instance, result)
        assert recomputed == pytest.approx(result.objective, rel=1e-6, abs=1e-6)
    assert result.timings["total"] >= max(
        (seconds for phase, seconds in result.timings.items() if phase != "total"), default=0.0
    )
    assert result.build_seconds <= result.timings["total"] + 1e-9
    assert result.to_dict()["timings"]["total"] == pytest.approx(result.timings["total"])
    return result


def check_budget(family: Family, method: str, path: Path, time_limit: float = 0.5) -> None:
    """A method never takes much more than its time limit, and reports that time."""
    instance = idnopt.load(path)
    started = time.perf_counter()
    result = family.solve(instance, method=method, time_limit=time_limit)
    wall = time.perf_counter() - started
    assert wall <= time_limit + BUDGET_SLACK_SECONDS, wall
    assert result.timings["total"] <= wall + 1e-6


def malformed_copies(data: dict[str, Any], family: Family) -> list[tuple[str, dict, str]]:
    """(what, corrupted data, fragment the error must contain) for one document."""
    cases = []
    extra = copy.deepcopy(data)
    extra["no_such_field"] = 1
    cases.append(("unknown top-level field", extra, "no_such_field"))
    required = [
        name
        for name, info in family.instance_type.model_fields.items()
        if info.is_required() and name != "kind" and name in data
    ]
    if required:
        missing = copy.deepcopy(data)
        del missing[required[0]]
        cases.append((f"missing {required[0]}", missing, required[0]))
    for name, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            nested = copy.deepcopy(data)
            nested[name][0]["no_such_key"] = 1
            cases.append((f"unknown key in {name}[0]", nested, f"{name}[0]"))
            break
    wrong_kind = copy.deepcopy(data)
    wrong_kind["kind"] = f"{family.kind}-nope"
    cases.append(("unknown kind", wrong_kind, "unknown kind"))
    return cases


def check_malformed(family: Family, path: Path, folder: Path) -> None:
    """Every malformed copy of ``path`` fails with one located ``InputError``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    copies = folder / family.kind
    copies.mkdir(parents=True, exist_ok=True)
    for reference in (data.get("profiles") or {}).values():
        target = (copies / reference["file"]).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((path.parent / reference["file"]).read_bytes())
    for what, corrupted, fragment in malformed_copies(data, family):
        copy_path = copies / path.name
        copy_path.write_text(yaml.safe_dump(corrupted, sort_keys=False), encoding="utf-8")
        with pytest.raises(InputError) as caught:
            idnopt.load(copy_path)
        message = str(caught.value)
        assert path.name in message, (what, message)
        assert fragment in message, (what, message)
        assert "\n" not in message.strip(), (what, message)
