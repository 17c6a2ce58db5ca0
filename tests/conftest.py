import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTANCES = ROOT / "instances"


@pytest.fixture
def tree_text() -> str:
    return (INSTANCES / "idn" / "tree.yaml").read_text()


@pytest.fixture
def instance_copy(tmp_path):
    """Copy a bundled instance (and the profiles folder beside it) into tmp_path."""

    def copy(relative: str) -> Path:
        source = INSTANCES / relative
        target = tmp_path / "instances" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        profiles = INSTANCES / "profiles"
        if profiles.is_dir() and not (tmp_path / "instances" / "profiles").exists():
            shutil.copytree(profiles, tmp_path / "instances" / "profiles")
        return target

    return copy
