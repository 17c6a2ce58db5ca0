"""CPU profiling on a shared machine: thread count, unreliable figures, partial saves.

Tiny modules built in code (no downloads); the machine's load is faked where a
test needs a busy machine.
"""

from __future__ import annotations

import pytest

from idnopt.profiling import StoppingRule, load_profile

FAST_RULE = StoppingRule(
    warmup=1,
    warmup_seconds=0.2,
    min_repetitions=3,
    max_repetitions=15,
    max_seconds=0.4,
    relative_tolerance=0.05,
    round_size=4,
)


def test_default_threads_are_the_free_cores(tmp_path, monkeypatch) -> None:
    from idnopt.profiling import environment

    assert environment.default_threads(16, 0.2, ceiling=8) == 8
    assert environment.default_threads(8, 2.4) == 6
    assert environment.default_threads(2, 3.5) == 1  # a loaded machine: one thread
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert environment._cgroup_quota(str(tmp_path)) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert environment._cgroup_quota(str(tmp_path)) is None
    monkeypatch.setattr(environment, "_cgroup_quota", lambda: 1.5)
    assert environment.available_cores() == 1  # a container's quota, not the host's cores


class _Jittery:
    """A module whose every fourth call is slow: a figure with a wide spread."""

    def __new__(cls):
        torch = pytest.importorskip("torch")

        class Jittery(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.linear = torch.nn.Linear(8, 8)
                self.calls = 0

            def forward(self, x):
                import time

                self.calls += 1
                if self.calls % 4 == 0:
                    time.sleep(0.004)
                return self.linear(x)

        return Jittery()


def _busy(monkeypatch, load: float) -> None:
    from idnopt.profiling import environment, profiler

    monkeypatch.setattr(environment, "machine_load", lambda: load)
    monkeypatch.setattr(profiler, "machine_load", lambda: load)


def test_cpu_profile_picks_threads_and_flags_unreliable_figures(monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    from idnopt.profiling import profile_models

    _busy(monkeypatch, 64.0)  # far more runnable threads than cores
    rule = StoppingRule(warmup=1, min_repetitions=20, max_repetitions=20, max_seconds=5)
    finished: list[tuple[str, int, int, list[str]]] = []
    profile = profile_models(
        {"jittery": _Jittery(), "steady": torch.nn.Linear(8, 8)},
        rule=rule,
        inputs={"jittery": (8,), "steady": (8,)},
        measure_memory=False,
        on_model=lambda name, partial, done, total: finished.append(
            (name, done, total, list(partial.hardware["cpu"].models))
        ),
    )
    hardware = profile.hardware["cpu"]
    assert hardware.environment["threads"] == 1  # the default on a busy machine
    assert hardware.environment["load_at_start"] == 64.0
    assert finished == [("jittery", 1, 2, ["jittery"]), ("steady", 2, 2, ["jittery", "steady"])]
    jittery = hardware.models["jittery"].measurements[0]
    assert jittery.p95_ms > 1.5 * jittery.median_ms and "unreliable" in jittery.note
    assert any(note.startswith("jittery fp32 batch 1: unreliable") for note in hardware.notes)
    assert any("the machine was busy" in note for note in hardware.notes)

    again = profile_models(
        {"steady": torch.nn.Linear(8, 8)},
        rule=FAST_RULE,
        threads=3,
        inputs={"steady": (8,)},
        measure_memory=False,
    )
    assert any("3 threads on 1 free core" in note for note in again.hardware["cpu"].notes)


def test_cli_saves_every_finished_model_and_keeps_them_on_ctrl_c(tmp_path, monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    from click.testing import CliRunner

    from idnopt.cli.profile import profile_command
    from idnopt.profiling import profile_models, profiler

    measured = profile_models(
        {"a": torch.nn.Linear(4, 4), "b": torch.nn.Linear(4, 2)},
        rule=FAST_RULE,
        threads=1,
        inputs={"a": (4,), "b": (4,)},
        measure_memory=False,
    )

    def interrupted(models, *, on_model, progress, **options):
        hardware = measured.hardware["cpu"]
        for done, name in enumerate(["a", "b"], start=1):
            kept = {k: v for k, v in hardware.models.items() if k in ["a", "b"][:done]}
            partial = measured.model_copy(
                update={"hardware": {"cpu": hardware.model_copy(update={"models": kept})}}
            )
            on_model(name, partial, done, 3)
        raise KeyboardInterrupt

    monkeypatch.setattr(profiler, "profile_models", interrupted)
    output = tmp_path / "partial.json"
    result = CliRunner().invoke(profile_command, ["--models", "a,b,c", "-o", str(output)])
    assert result.exit_code == 130, result.output
    assert "[1/3] a: fp32 batch 1" in result.output and "[2/3] b: fp32 batch 1" in result.output
    assert f"interrupted: 2 finished models saved in {output}" in result.output
    assert load_profile(output).model_names("cpu") == ["a", "b"]
    assert not [p for p in tmp_path.iterdir() if p.name != "partial.json"]  # no temporary left
