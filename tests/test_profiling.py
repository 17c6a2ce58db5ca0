"""Latency profiling: profile format, timers, block splits, CPU profiling and the CLI."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from idnopt.errors import InputError
from idnopt.profiling import (
    PROFILE_FORMAT,
    PROFILE_VERSION,
    ModelFigures,
    Profile,
    ProfileReference,
    load_profile,
    load_profile_cached,
    resolve_figures,
    save_profile,
)
from idnopt.profiling.timing import (
    StoppingRule,
    _adaptive_rounds,
    median_confidence_interval,
    time_cpu_many,
)

BUNDLED = Path(__file__).resolve().parents[1] / "instances" / "profiles" / "h100.json"

FAST_RULE = StoppingRule(
    warmup=1,
    warmup_seconds=0.2,
    min_repetitions=3,
    max_repetitions=15,
    max_seconds=0.4,
    relative_tolerance=0.05,
    round_size=4,
)
# Enough repetitions for medians that hold on a busy 2-core machine.
LAYER_RULE = StoppingRule(
    warmup=1,
    warmup_seconds=0.5,
    min_repetitions=9,
    max_repetitions=40,
    max_seconds=1.5,
    relative_tolerance=0.03,
    round_size=5,
)


@pytest.fixture(scope="module")
def bundled() -> Profile:
    return load_profile(BUNDLED)


@pytest.fixture
def bundled_data() -> dict:
    """The bundled profile cut down to resnet50 on h100 (quick to parse for line numbers)."""
    data = json.loads(BUNDLED.read_text())
    h100 = data["hardware"]["h100"]
    h100["models"] = {"resnet50": h100["models"]["resnet50"]}
    data["hardware"] = {"h100": h100}
    return data


# ---------------------------------------------------------------- bundled profile


def test_bundled_profile_holds_the_reference_models(bundled: Profile) -> None:
    assert bundled.format == PROFILE_FORMAT and bundled.version == PROFILE_VERSION
    assert bundled.hardware_names() == ["h100", "h100-eager"]
    assert len(bundled.model_names("h100")) == 18
    for model in bundled.hardware["h100"].models.values():
        keys = {(m.batch, m.precision) for m in model.measurements}
        assert keys == {(b, p) for b in (1, 4, 16, 64) for p in ("fp32", "fp16")}


def test_lookup_returns_graph_figures(bundled: Profile) -> None:
    figures = bundled.lookup("h100", "resnet50", batch=1, precision="fp32")
    assert isinstance(figures, ModelFigures)
    assert figures.latency_ms == pytest.approx(0.923, abs=1e-3)
    assert figures.min_ms <= figures.latency_ms <= figures.p95_ms
    assert figures.throughput_rps == pytest.approx(1000.0 / figures.latency_ms)
    assert figures.accuracy == pytest.approx(0.80858)
    assert figures.params == 25557032 and figures.gflops == pytest.approx(4.089)
    assert figures.file_mb == pytest.approx(97.79)
    assert figures.memory_mb > figures.file_mb  # peak memory of the forward pass
    assert (figures.batch, figures.precision, figures.method) == (1, "fp32", "cuda-graph")
    batch64 = bundled.lookup("h100", "resnet50", batch=64, precision="fp32")
    assert batch64.throughput_rps > figures.throughput_rps
    # vgg16's DEFAULT weights have an accuracy (the reference's feature weights did not).
    assert bundled.lookup("h100", "vgg16").accuracy == pytest.approx(0.71592)


def test_graph_replay_beats_eager_launches_at_batch_one(bundled: Profile) -> None:
    names = bundled.model_names("h100")
    graph = np.array([bundled.lookup("h100", n).latency_ms for n in names])
    eager = np.array([bundled.lookup("h100-eager", n).latency_ms for n in names])
    assert np.all(graph < eager)


def test_bundled_layer_profiles(bundled: Profile) -> None:
    resnet = bundled.layers("h100-eager", "resnet50")
    assert [b.name for b in resnet][:3] == ["stem", "layer1.0", "layer1.1"]
    assert len(resnet) == 18 and resnet[-1].name == "head"
    assert resnet[0].output_bytes == 4 * math.prod(resnet[0].output_shape)
    gpt2 = bundled.layers("h100-eager", "gpt2")
    assert len(gpt2) == 13 and gpt2[0].name == "embed"
    assert all(block.output_bytes == 128 * 768 * 4 for block in gpt2)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("a100", "resnet50"), "no hardware 'a100' in the profile; available: h100, h100-eager"),
        (("h100", "resnet5"), "no model 'resnet5' on hardware 'h100'; available: mobilenet"),
        (("h100", "resnet50", 3), "at batch 3, precision fp32; available: batch 1 fp32"),
        (("h100", "resnet50", 1, "bf16"), "precision bf16; available:"),
    ],
)
def test_lookup_errors_list_what_exists(bundled: Profile, arguments, expected) -> None:
    with pytest.raises(KeyError) as caught:
        bundled.lookup(*arguments)
    assert expected in str(caught.value)


def test_layers_lookup_error(bundled: Profile) -> None:
    with pytest.raises(KeyError, match="no layer profile of 'resnet50' on 'h100'"):
        bundled.layers("h100", "resnet50")


# ---------------------------------------------------------------- schema


def test_round_trip(tmp_path: Path, bundled: Profile) -> None:
    assert Profile.model_validate(bundled.model_dump()) == bundled
    assert Profile.model_validate_json(bundled.model_dump_json()) == bundled
    target = save_profile(bundled, tmp_path / "copy.json")
    assert load_profile(target) == bundled
    assert target.read_text() == bundled.to_json()
    assert not list(tmp_path.glob(".copy.json.*"))  # no temporary file left behind


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data, indent=1))
    return path


def _measurements(data: dict) -> list:
    return data["hardware"]["h100"]["models"]["resnet50"]["measurements"]


@pytest.mark.parametrize(
    ("mutate", "location", "message"),
    [
        (
            lambda d: _measurements(d)[2].update(median_ms=-1.0),
            "hardware.h100.models.resnet50.measurements[2].median_ms",
            "greater than 0",
        ),
        (
            lambda d: _measurements(d)[0].update(median_ms=float("nan")),
            "hardware.h100.models.resnet50.measurements[0].median_ms",
            "finite number",
        ),
        (
            lambda d: _measurements(d)[1].update(precision="fp8"),
            "measurements[1].precision",
            "'fp32', 'fp16' or 'bf16'",
        ),
        (
            lambda d: _measurements(d)[0].update(min_ms=5.0),
            "hardware.h100.models.resnet50.measurements[0]",
            "min_ms <= median_ms <= p95_ms",
        ),
        (
            lambda d: _measurements(d).append(dict(_measurements(d)[0])),
            "hardware.h100.models.resnet50",
            "measurements[8] repeats batch 1, precision fp32",
        ),
        (
            lambda d: _measurements(d)[0].update(latency=1.0),
            "measurements[0].latency",
            "unknown field",
        ),
        (
            lambda d: _measurements(d)[0].pop("median_ms"),
            "measurements[0].median_ms",
            "required field is missing",
        ),
        (
            lambda d: d["hardware"]["h100"]["models"]["resnet50"].update(accuracy=80.9),
            "models.resnet50.accuracy",
            "less than or equal to 1",
        ),
        (
            lambda d: d["hardware"].update({"my gpu": d["hardware"]["h100"]}),
            "hardware",
            "invalid name 'my gpu'",
        ),
        (lambda d: d.update(format="something-else"), "format", "not an idnopt profile"),
        (lambda d: d.update(version=2), "version", "newer than this idnopt reads"),
    ],
)
def test_invalid_profiles_are_located(tmp_path, bundled_data, mutate, location, message) -> None:
    mutate(bundled_data)
    path = _write(tmp_path, bundled_data)
    with pytest.raises(InputError) as caught:
        load_profile(path)
    error = caught.value
    assert error.path == str(path)
    assert location in error.location
    assert message in error.message
    assert error.line is not None and str(path) in str(error)


def test_unreadable_profiles(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_profile(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "idnopt-profile",')
    with pytest.raises(InputError, match="invalid JSON"):
        load_profile(broken)


def test_merge_adds_and_replaces(bundled: Profile) -> None:
    resnet = bundled.hardware["h100"].models["resnet50"]
    faster = resnet.measurements[0].model_copy(update={"median_ms": 0.5, "min_ms": 0.4})
    extra = resnet.measurements[0].model_copy(update={"batch": 2})
    update = Profile(
        hardware={
            "h100": bundled.hardware["h100"].model_copy(
                update={
                    "models": {
                        "resnet50": resnet.model_copy(update={"measurements": [faster, extra]})
                    }
                }
            )
        }
    )
    merged = bundled.merged(update)
    assert merged.lookup("h100", "resnet50").latency_ms == 0.5
    assert merged.lookup("h100", "resnet50", batch=2).latency_ms == resnet.measurements[0].median_ms
    assert merged.lookup("h100", "resnet50", batch=64).latency_ms == pytest.approx(10.941, 1e-3)
    assert len(merged.model_names("h100")) == 18


def test_profile_reference_resolves_relative_paths(tmp_path: Path, bundled: Profile) -> None:
    save_profile(bundled, tmp_path / "h100.json")
    reference = ProfileReference(file="h100.json", hardware="h100", precision="fp16")
    figures = resolve_figures(reference, "resnet50", base_dir=tmp_path)
    assert figures.precision == "fp16" and figures.latency_ms == pytest.approx(1.0333, 1e-3)
    assert load_profile_cached(tmp_path / "h100.json") is load_profile_cached(
        tmp_path / "h100.json"
    )
    with pytest.raises(InputError, match=r"nodes\[2\]\.profile: no model 'resnet9'"):
        resolve_figures(
            reference,
            "resnet9",
            base_dir=tmp_path,
            where=lambda message: InputError(
                message, path="inst.yaml", location="nodes[2].profile"
            ),
        )


# ---------------------------------------------------------------- timing


def test_median_confidence_interval_brackets_the_median() -> None:
    samples = np.arange(1.0, 101.0)
    low, high = median_confidence_interval(samples)
    assert low < np.median(samples) < high
    assert (low, high) == (40.0, 61.0)
    assert median_confidence_interval(np.array([3.0])) == (3.0, 3.0)


def test_stopping_rule_stops_early_when_stable() -> None:
    rule = StoppingRule(min_repetitions=5, max_repetitions=100, max_seconds=10.0)
    samples, early = _adaptive_rounds(lambda count: np.ones((count, 2)), rule)
    assert early and samples.shape == (5, 2)


def test_stopping_rule_runs_to_the_cap_when_noisy() -> None:
    generator = np.random.default_rng(0)
    rule = StoppingRule(
        min_repetitions=5, max_repetitions=40, max_seconds=10.0, relative_tolerance=0.001
    )
    samples, early = _adaptive_rounds(
        lambda count: generator.lognormal(0.0, 1.0, size=(count, 1)), rule
    )
    assert not early and samples.shape == (40, 1)


def test_cpu_timer_interleaves_calls() -> None:
    order: list[str] = []
    stats = time_cpu_many([lambda: order.append("a"), lambda: order.append("b")], FAST_RULE)
    assert len(stats) == 2 and stats[0].repetitions == stats[1].repetitions >= 3
    assert order[:4] == ["a", "b", "a", "b"]
    assert all(s.method == "wall-clock" and s.min_ms <= s.median_ms <= s.p95_ms for s in stats)


def test_stopping_rule_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="max_repetitions"):
        StoppingRule(min_repetitions=10, max_repetitions=5)


# ---------------------------------------------------------------- splits


def _small_vgg(features):
    """A torchvision VGG with a small classifier (the stock one holds 120M parameters)."""
    from torch import nn
    from torchvision.models import VGG

    model = VGG.__new__(VGG)
    nn.Module.__init__(model)
    model.features = features
    model.avgpool = nn.AdaptiveAvgPool2d((7, 7))
    model.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 7 * 7, 10))
    return model


def _small_models():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision.models")
    from torch import nn

    torch.manual_seed(0)
    vgg_features = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )
    return {
        "vit": (
            tv.VisionTransformer(
                image_size=32,
                patch_size=8,
                num_layers=2,
                num_heads=2,
                hidden_dim=16,
                mlp_dim=32,
                num_classes=10,
            ),
            32,
            4,
        ),
        "swin": (
            tv.SwinTransformer(
                patch_size=[4, 4],
                embed_dim=16,
                depths=[1, 1],
                num_heads=[1, 1],
                window_size=[2, 2],
                num_classes=10,
            ),
            32,
            5,
        ),
        "convnext": (
            tv.ConvNeXt(
                [tv.convnext.CNBlockConfig(8, 16, 2), tv.convnext.CNBlockConfig(16, None, 1)],
                num_classes=10,
            ),
            32,
            6,
        ),
        "vgg": (_small_vgg(vgg_features), 32, 3),
        "mobilenet_v3_small": (tv.mobilenet_v3_small(num_classes=10), 32, 14),
        "shufflenet": (tv.shufflenet_v2_x0_5(num_classes=10), 32, 19),
        "regnet": (tv.regnet_y_400mf(num_classes=10), 32, 18),
        "resnet18": (tv.resnet18(num_classes=10), 32, 10),
    }


def test_splits_compose_to_the_model() -> None:
    torch = pytest.importorskip("torch")
    from idnopt.profiling.layers import block_parameters, check_split, split_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, (model, size, expected_blocks) in _small_models().items():
            model.eval()
            blocks = split_model(model)
            assert len(blocks) == expected_blocks, name
            check_split(model, blocks, torch.randn(2, 3, size, size), model_name=name)
            total = sum(block_parameters(block) for _, block in blocks)
            assert total == sum(p.numel() for p in model.parameters()), name
    finally:
        torch.set_num_threads(threads)


def test_wrong_split_is_rejected() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    from idnopt.profiling.layers import check_split, split_model

    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    with pytest.raises(InputError, match="do not compose"):
        check_split(model, [("first", model[0])], torch.randn(1, 4), model_name="mlp")

    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(InputError, match="cannot split a Custom"):
        split_model(Custom())


# ---------------------------------------------------------------- CPU profiling


@pytest.fixture(scope="module")
def cpu_profile() -> Profile:
    pytest.importorskip("torchvision")
    from idnopt.profiling import profile_models

    steps: list[tuple[int, int, str]] = []
    profile = profile_models(
        ["mobilenet_v3_small", "resnet18"],
        batch_sizes=[1],
        precisions=["fp32"],
        layers=True,
        threads=1,
        rule=LAYER_RULE,
        image_size=160,
        progress=lambda done, total, label: steps.append((done, total, label)),
    )
    assert steps[0] == (0, 2, "mobilenet_v3_small fp32 batch 1") and steps[-1] == (2, 2, "done")
    return profile


def test_cpu_profile_measures_sensibly(cpu_profile: Profile) -> None:
    assert cpu_profile.hardware_names() == ["cpu"]
    hardware = cpu_profile.hardware["cpu"]
    assert hardware.kind == "cpu" and hardware.method == "wall-clock"
    assert hardware.environment["threads"] == 1 and hardware.environment["seed"] == 0
    small = cpu_profile.lookup("cpu", "mobilenet_v3_small")
    large = cpu_profile.lookup("cpu", "resnet18")
    for figures in (small, large):
        assert 0 < figures.min_ms <= figures.latency_ms <= figures.p95_ms
        assert figures.memory_mb is not None and figures.memory_mb > figures.file_mb * 0.9
    assert small.latency_ms < large.latency_ms  # 0.06 vs 1.8 GFLOPs
    assert small.params < large.params and small.accuracy == pytest.approx(0.67668)
    measured = hardware.models["resnet18"].measurements[0]
    assert LAYER_RULE.min_repetitions <= measured.repetitions <= LAYER_RULE.max_repetitions
    assert measured.median_ci_ms[0] <= measured.median_ms <= measured.median_ci_ms[1]
    assert hardware.models["resnet18"].input_shape == [3, 160, 160]


def test_cpu_layer_sums_match_the_whole_model(cpu_profile: Profile) -> None:
    from idnopt.profiling.profiler import LAYER_SUM_TOLERANCE

    for name in ("mobilenet_v3_small", "resnet18"):
        model = cpu_profile.hardware["cpu"].models[name]
        layer_profile = model.layers[0]
        # Blocks run in turn take as long as the model (per-repetition sums are additive).
        assert abs(layer_profile.chain_ms / layer_profile.total_ms - 1) <= LAYER_SUM_TOLERANCE
        # The sum of block medians can only fall short of it under CPU interference.
        assert 0.3 < layer_profile.sum_ms / layer_profile.total_ms < 1 + LAYER_SUM_TOLERANCE
        blocks = cpu_profile.layers("cpu", name)
        assert sum(b.params for b in blocks) == model.params
        assert blocks[-1].output_shape == (1, 1000) and blocks[-1].output_bytes == 4000
        assert all(b.output_bytes == 4 * math.prod(b.output_shape) for b in blocks)


def test_cpu_profile_round_trips(tmp_path: Path, cpu_profile: Profile) -> None:
    path = save_profile(cpu_profile, tmp_path / "cpu.json")
    assert load_profile(path) == cpu_profile


def test_user_modules_and_explicit_blocks() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    from idnopt.profiling import profile_models

    class TwoStage(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
            self.out = nn.Linear(32, 4)

        def forward(self, x):
            return self.out(self.body(x))

    sequential = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 7 * 7, 10)
    )
    custom = TwoStage()
    before = copy.deepcopy(custom.state_dict())
    profile = profile_models(
        {"tiny-cnn": sequential, "two-stage": custom},
        batch_sizes=[1, 4],
        layers=True,
        rule=FAST_RULE,
        threads=1,
        hardware="laptop",
        inputs={"tiny-cnn": (3, 16, 16), "two-stage": lambda batch: torch.randn(batch, 16)},
        blocks={"two-stage": [("body", custom.body), ("out", custom.out)]},
    )
    assert [b.name for b in profile.layers("laptop", "tiny-cnn")] == ["0-2", "3-4"]
    assert [b.name for b in profile.layers("laptop", "two-stage", batch=4)] == ["body", "out"]
    assert profile.layers("laptop", "two-stage", batch=4)[-1].output_bytes == 4 * 4 * 4
    figures = profile.lookup("laptop", "two-stage", batch=4)
    assert figures.accuracy is None and figures.params == 16 * 32 + 32 + 32 * 4 + 4
    assert all(torch.equal(before[k], v) for k, v in custom.state_dict().items())


def test_profile_models_rejects_bad_requests() -> None:
    pytest.importorskip("torchvision")
    from idnopt.profiling import profile_models

    with pytest.raises(InputError, match="did you mean resnet50"):
        profile_models(["resnet5O"])
    with pytest.raises(InputError, match="unknown precision fp8"):
        profile_models(["resnet18"], precisions=["fp8"])
    with pytest.raises(InputError, match="at least 224x224"):
        profile_models(["vit_b_16"], image_size=64)


# ---------------------------------------------------------------- CLI


def test_cli_writes_profile_and_table(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    from click.testing import CliRunner

    from idnopt.cli.profile import profile_command

    output = tmp_path / "cpu.json"
    arguments = [
        "--models",
        "mobilenet_v3_small",
        "--batch",
        "1,2",
        "--threads",
        "1",
        "--image-size",
        "96",
        "--warmup",
        "1",
        "--min-reps",
        "3",
        "--max-reps",
        "6",
        "--max-time",
        "0.2",
        "-o",
        str(output),
    ]
    result = CliRunner().invoke(profile_command, arguments)
    assert result.exit_code == 0, result.output
    assert "mobilenet_v3_small" in result.output and "median ms" in result.output
    profile = load_profile(output)
    assert profile.lookup("cpu", "mobilenet_v3_small", batch=2).batch == 2

    again = CliRunner().invoke(
        profile_command,
        [*arguments[:4], "--batch", "3", *arguments[4:], "--merge", "--json", "--layers"],
    )
    assert again.exit_code == 0, again.output
    printed = Profile.model_validate_json(again.stdout)
    merged = load_profile(output)
    assert printed == merged
    assert {m.batch for m in merged.hardware["cpu"].models["mobilenet_v3_small"].measurements} == {
        1,
        2,
        3,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--models", "resnet18", "--precision", "fp8"], "unknown fp8"),
        (["--models", "resnet18", "--batch", "0"], "not a positive integer"),
        (["--models", "resnet18", "--merge"], "--merge needs --output"),
        (["--models", "resnet18", "--image-size", "big"], "neither a positive integer"),
    ],
)
def test_cli_usage_errors(arguments: list[str], message: str) -> None:
    from click.testing import CliRunner

    from idnopt.cli.profile import profile_command

    result = CliRunner().invoke(profile_command, arguments)
    assert result.exit_code == 2 and message in result.output


def test_cli_input_errors() -> None:
    torch = pytest.importorskip("torch")
    from click.testing import CliRunner

    from idnopt.cli.profile import profile_command

    result = CliRunner().invoke(profile_command, ["--models", "resnet5O"])
    assert isinstance(result.exception, InputError) and "did you mean" in str(result.exception)
    if not torch.cuda.is_available():
        result = CliRunner().invoke(profile_command, ["--models", "resnet18", "--device", "cuda"])
        assert isinstance(result.exception, InputError)
        assert "CUDA is not available" in str(result.exception)
