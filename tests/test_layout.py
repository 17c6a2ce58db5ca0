"""The layout's promises: the core knows no family, families register by entry point."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from idnopt.family import ENTRY_POINT_GROUP, families

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "idnopt"
MAX_MODULE_LINES = 650


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_a_family(path):
    offending = [name for name in _imported_modules(path) if name.startswith("idnopt.formulations")]
    assert not offending, f"{path.relative_to(ROOT)} imports {offending}"
    assert "idnopt.formulations" not in path.read_text(encoding="utf-8")


def test_core_never_imports_the_command_line():
    for path in CORE.rglob("*.py"):
        offending = [name for name in _imported_modules(path) if name.startswith("idnopt.cli")]
        assert not offending, f"{path.relative_to(ROOT)} imports {offending}"


def test_modules_stay_small():
    too_long = {}
    for folder in ("idnopt", "formulations", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                too_long[str(path.relative_to(ROOT))] = lines
    assert not too_long, too_long


def test_every_family_is_an_entry_point():
    declared = {point.name for point in entry_points(group=ENTRY_POINT_GROUP)}
    assert {"idn", "jellybean"} <= declared
    loaded = families()
    for kind in declared:
        family = loaded[kind]
        assert family.kind == kind
        assert family.methods, kind
        assert len({method.name for method in family.methods}) == len(family.methods)
