"""Convert the measured H100 reference data into idnopt profile files.

Usage::

    python benchmarks/profiling/convert_reference.py ../shared/reference \\
        [--out instances/profiles/h100.json]

Reads ``h100_models.json``, ``h100_layers_resnet50.json`` and
``h100_layers_gpt2.json`` from the reference folder and writes one profile
with two hardware entries:

* ``h100`` - CUDA-graph replay latencies (the device's time; the main figures);
* ``h100-eager`` - eager launches timed with CUDA events (what a Python serving
  loop without graphs sees), with the ResNet-50 per-stage-block and GPT-2
  per-transformer-block layer profiles, which were timed eagerly.

Model metadata is that of torchvision's ``DEFAULT`` weights, matching what
``idnopt profile`` records. The reference recorded the last weights listed for
each architecture instead, which differ for regnet_y_16gf, vit_b_16, vit_l_16
(SWAG linear-probe weights) and vgg16 (feature-extractor weights without an
accuracy); their accuracies are taken from the reference's own per-weights table.
The package never reads the reference folder; only this script does.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))

from idnopt.profiling.format import (  # noqa: E402
    Block,
    Hardware,
    LayerProfile,
    Measurement,
    ModelProfile,
    Profile,
    save_profile,
)

RESNET50_STAGE_DEPTHS = (3, 4, 6, 3)


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), digits)


def _key(text: str) -> tuple[str, int]:
    """Parse ``"fp16/bs16"`` into ``("fp16", 16)``."""
    precision, batch = text.split("/")
    return precision, int(batch.removeprefix("bs"))


def _default_weights(name: str) -> dict[str, Any] | None:
    """torchvision's DEFAULT weights metadata for ``name``, or None without torchvision."""
    try:
        from idnopt.profiling.models import model_metadata
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return None
    try:
        metadata = model_metadata(name)
    except ImportError:  # pragma: no cover
        return None
    return {
        "weights": metadata.weights,
        "params": metadata.params,
        "gflops": metadata.gflops,
        "file_mb": metadata.file_mb,
    }


def _model_metadata(name: str, meta: dict[str, Any]) -> dict[str, Any]:
    default = _default_weights(name)
    if default is None or default["weights"] not in meta.get("all_weights", {}):
        accuracy = meta.get("acc1")
        return {
            "weights": meta.get("weights"),
            "accuracy": None if accuracy is None or math.isnan(accuracy) else accuracy / 100,
            "params": meta.get("params"),
            "gflops": meta.get("gflops"),
            "file_mb": meta.get("file_mb"),
        }
    accuracy = meta["all_weights"][default["weights"]]
    same_weights = default["weights"] == meta.get("weights")
    return {
        "weights": default["weights"],
        "accuracy": None if math.isnan(accuracy) else round(accuracy / 100, 6),
        "params": meta["params"] if same_weights else default["params"],
        "gflops": meta["gflops"] if same_weights else default["gflops"],
        "file_mb": meta["file_mb"] if same_weights else default["file_mb"],
    }


def _measurements(
    latencies: dict[str, dict[str, float]],
    memory_from: dict[str, dict[str, float]],
    repetitions: int | None,
    warmup: int | None,
) -> list[Measurement]:
    entries = []
    for key, figures in latencies.items():
        precision, batch = _key(key)
        peak = memory_from.get(key, {}).get("peak_mem_mb")
        entries.append(
            Measurement(
                batch=batch,
                precision=precision,
                median_ms=_rounded(figures["median_ms"]),
                p95_ms=_rounded(figures["p95_ms"]),
                min_ms=_rounded(figures["min_ms"]),
                repetitions=repetitions,
                warmup=warmup,
                peak_memory_mb=_rounded(peak, 3),
            )
        )
    return sorted(entries, key=lambda m: ({"fp32": 0, "fp16": 1, "bf16": 2}[m.precision], m.batch))


def _resnet50_block_names() -> list[str]:
    blocks = [
        f"layer{stage + 1}.{index}"
        for stage, depth in enumerate(RESNET50_STAGE_DEPTHS)
        for index in range(depth)
    ]
    return ["stem", *blocks, "head"]


def _layer_profile(
    document: dict[str, Any], names: list[str] | None, total_ms: float | None
) -> LayerProfile:
    layers = sorted(document["layers"], key=lambda layer: layer["index"])
    if names is not None and len(names) != len(layers):
        raise SystemExit(
            f"expected {len(names)} layers for {document['model']}, found {len(layers)}"
        )
    blocks = [
        Block(
            name=layer.get("name") or names[position],
            median_ms=_rounded(layer["median_ms"]),
            p95_ms=_rounded(layer["p95_ms"]),
            min_ms=_rounded(layer["min_ms"]),
            output_shape=layer.get("out_shape"),
            output_bytes=layer["out_bytes_fp32"],
            params=layer.get("params"),
        )
        for position, layer in enumerate(layers)
    ]
    return LayerProfile(
        batch=1,
        precision="fp32",
        method="cuda-events",
        granularity=document.get("granularity"),
        total_ms=_rounded(total_ms),
        blocks=blocks,
    )


def convert(reference: Path) -> Profile:
    """Build the profile from the reference folder.

    Parameters
    ----------
    reference : Path
        Folder holding ``h100_models.json`` and the two layer files.

    Returns
    -------
    Profile
        Hardware ``h100`` (CUDA graphs) and ``h100-eager`` (eager, with layers).
    """
    models_document = json.loads((reference / "h100_models.json").read_text())
    resnet_layers = json.loads((reference / "h100_layers_resnet50.json").read_text())
    gpt2_layers = json.loads((reference / "h100_layers_gpt2.json").read_text())
    methods = models_document.get("methods", {})
    environment = {
        "torch": models_document.get("torch"),
        "torchvision": models_document.get("torchvision"),
        "gpu": models_document.get("device"),
    }
    metadata_notes = [
        "Model metadata (weights, accuracy, parameters, GFLOPs, file size) is that of "
        "torchvision's DEFAULT weights; accuracy is ImageNet-1K top-1.",
        "The input resolution was not recorded with the reference measurements.",
    ]
    graph_models: dict[str, ModelProfile] = {}
    eager_models: dict[str, ModelProfile] = {}
    for name, entry in models_document["models"].items():
        metadata = _model_metadata(name, entry["meta"])
        graph_models[name] = ModelProfile(
            **metadata,
            measurements=_measurements(
                entry["latency_graph"], entry["latency_eager"], repetitions=50, warmup=5
            ),
        )
        eager_models[name] = ModelProfile(
            **metadata,
            measurements=_measurements(
                entry["latency_eager"], entry["latency_eager"], repetitions=None, warmup=None
            ),
        )

    resnet_whole = models_document["models"]["resnet50"]["latency_eager"]["fp32/bs1"]
    eager_models["resnet50"] = eager_models["resnet50"].model_copy(
        update={
            "layers": [
                _layer_profile(resnet_layers, _resnet50_block_names(), resnet_whole["median_ms"])
            ]
        }
    )
    seq_len = gpt2_layers.get("seq_len")
    eager_models["gpt2"] = ModelProfile(
        input_shape=[seq_len] if seq_len else None,
        layers=[_layer_profile(gpt2_layers, None, None)],
    )
    hardware = {
        "h100": Hardware(
            device=models_document.get("device", "NVIDIA H100"),
            kind="gpu",
            method="cuda-graph",
            environment={**environment, "warmup": 5, "repetitions": 50},
            notes=[
                f"Timing: {methods.get('graph', 'CUDA-graph replay')}.",
                "peak_memory_mb is that of the eager run at the same model, batch and "
                "precision (the graph run did not record memory).",
                *metadata_notes,
            ],
            models=graph_models,
        ),
        "h100-eager": Hardware(
            device=models_document.get("device", "NVIDIA H100"),
            kind="gpu",
            method="cuda-events",
            environment={**environment, "cudnn_benchmark": False},
            notes=[
                f"Timing: {methods.get('eager', 'eager forward, CUDA events')}.",
                "At small batch sizes eager launches measure the Python launch path "
                "(about 6 ms for any small CNN on the shared virtual machine of the reference), "
                "not the device; "
                "prefer hardware 'h100' for device latency.",
                f"Layer profiles: resnet50 {resnet_layers.get('granularity')}; gpt2 "
                f"{gpt2_layers.get('granularity')}, sequence length {seq_len}, without the "
                "final layer norm and language-model head. output_bytes are fp32 sizes.",
                "resnet50's layer total_ms is the whole-model eager median at batch 1 fp32 "
                "from the model run (a separate run).",
                *metadata_notes,
            ],
            models=eager_models,
        ),
    }
    return Profile(
        source=(
            "NVIDIA H100 80GB reference measurements (torch "
            f"{models_document.get('torch')}), converted by "
            "benchmarks/profiling/convert_reference.py"
        ),
        hardware=hardware,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="folder with the h100_*.json files")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPOSITORY / "instances" / "profiles" / "h100.json",
        help="profile file to write (default: instances/profiles/h100.json)",
    )
    arguments = parser.parse_args(argv)
    profile = convert(arguments.reference)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    save_profile(profile, arguments.out)
    for hardware_name, hardware in profile.hardware.items():
        count = sum(len(model.measurements) for model in hardware.models.values())
        layered = [name for name, model in hardware.models.items() if model.layers]
        print(
            f"{hardware_name}: {len(hardware.models)} models, {count} measurements"
            + (f", layer profiles for {', '.join(layered)}" if layered else "")
        )
    for name in ("resnet50", "gpt2"):
        layer_profile = profile.hardware["h100-eager"].models[name].layers[0]
        total = layer_profile.total_ms
        ratio = (
            f", whole model {total:.3f} ms (ratio {layer_profile.sum_ms / total:.2f})"
            if total
            else ""
        )
        print(
            f"{name} layers: {len(layer_profile.blocks)} blocks, sum "
            f"{layer_profile.sum_ms:.3f} ms{ratio}"
        )
    print(f"wrote {arguments.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
