"""Write the per-layer profiles of the PA-MDI instances: instances/profiles/pamdi_layers.json.

Usage::

    python benchmarks/pamdi/make_profiles.py ../shared/reference          # H100 layers only
    python benchmarks/pamdi/make_profiles.py ../shared/reference --resnet56

* Hardware ``h100-eager``: the measured ResNet-50 per-stage-block (stem, 16
  bottleneck blocks, head) and GPT-2 small per-block (embedding, 12
  transformer blocks, sequence length 128) layer profiles of an NVIDIA H100
  (eager launches timed with CUDA events, batch 1, fp32), read from
  ``h100_layers_resnet50.json`` and ``h100_layers_gpt2.json`` of the reference
  folder given as argument. Block names follow ``idnopt profile --layers``.
* Hardware ``cpu`` (with ``--resnet56``): ResNet-56 for CIFAR-10
  (``idnopt.formulations.pamdi.cifar``) profiled on this machine's CPU by
  ``idnopt.profiling.profile_models(..., layers=True)``, one thread, inputs
  3 x 32 x 32. An existing ``cpu`` entry is kept when the flag is absent.

The package, the tests and the README read only the written file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))

from idnopt.profiling.format import (  # noqa: E402
    Block,
    Hardware,
    LayerProfile,
    ModelProfile,
    Profile,
    load_profile,
    save_profile,
)

OUTPUT = REPOSITORY / "instances" / "profiles" / "pamdi_layers.json"
RESNET50_STAGE_DEPTHS = (3, 4, 6, 3)


def _rounded(value: float) -> float:
    return round(float(value), 6)


def _resnet50_names() -> list[str]:
    blocks = [
        f"layer{stage + 1}.{index}"
        for stage, depth in enumerate(RESNET50_STAGE_DEPTHS)
        for index in range(depth)
    ]
    return ["stem", *blocks, "head"]


def layer_profile(document: dict, names: list[str] | None) -> LayerProfile:
    """A reference layer file as a layer profile (batch 1, fp32, CUDA events)."""
    layers = sorted(document["layers"], key=lambda layer: layer["index"])
    if names is not None and len(names) != len(layers):
        raise SystemExit(f"{document['model']}: expected {len(names)} layers, found {len(layers)}")
    blocks = [
        Block(
            name=layer.get("name") or names[position],
            median_ms=_rounded(layer["median_ms"]),
            p95_ms=_rounded(layer["p95_ms"]),
            min_ms=_rounded(layer["min_ms"]),
            output_shape=layer.get("out_shape"),
            output_bytes=int(layer["out_bytes_fp32"]),
            params=layer.get("params"),
        )
        for position, layer in enumerate(layers)
    ]
    return LayerProfile(
        batch=1,
        precision="fp32",
        method="cuda-events",
        granularity=document["granularity"],
        blocks=blocks,
    )


def h100_entry(reference: Path) -> Hardware:
    """Hardware ``h100-eager`` with the ResNet-50 and GPT-2 layer profiles."""
    resnet = json.loads((reference / "h100_layers_resnet50.json").read_text())
    gpt2 = json.loads((reference / "h100_layers_gpt2.json").read_text())
    sum50 = sum(layer["median_ms"] for layer in resnet["layers"])
    sum_gpt2 = sum(layer["median_ms"] for layer in gpt2["layers"])
    return Hardware(
        device=resnet["device"],
        kind="gpu",
        method="cuda-events",
        environment={"sequence_length_gpt2": gpt2.get("seq_len")},
        notes=[
            "Eager launches timed with CUDA events at batch 1, fp32: at this size the "
            "times are dominated by launch overhead (about 0.25 ms per ResNet block).",
            f"Block sums: resnet50 {sum50:.3f} ms, gpt2 {sum_gpt2:.3f} ms.",
            "gpt2: embedding and 12 transformer blocks at sequence length "
            f"{gpt2.get('seq_len')}, without the final layer norm and language-model head.",
            "output_bytes are fp32 activation sizes.",
        ],
        models={
            "resnet50": ModelProfile(
                params=sum(layer.get("params") or 0 for layer in resnet["layers"]),
                input_shape=[3, 224, 224],
                layers=[layer_profile(resnet, _resnet50_names())],
            ),
            "gpt2": ModelProfile(
                params=sum(layer.get("params") or 0 for layer in gpt2["layers"]),
                layers=[layer_profile(gpt2, None)],
            ),
        },
    )


def resnet56_entry() -> Hardware:
    """Hardware ``cpu`` with ResNet-56 profiled here, block by block."""
    from idnopt.formulations.pamdi.cifar import INPUT_SHAPE, resnet56, resnet56_blocks
    from idnopt.profiling import profile_models

    model = resnet56()
    profile = profile_models(
        {"resnet56": model},
        layers=True,
        threads=1,
        inputs={"resnet56": INPUT_SHAPE},
        blocks={"resnet56": resnet56_blocks(model)},
        image_size=None,
        hardware="cpu",
    )
    return profile.hardware["cpu"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="folder with h100_layers_*.json")
    parser.add_argument("--resnet56", action="store_true", help="also profile ResNet-56 here")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="profile file to write")
    arguments = parser.parse_args(argv)
    hardware = {"h100-eager": h100_entry(arguments.reference)}
    if arguments.resnet56:
        hardware["cpu"] = resnet56_entry()
    elif arguments.out.exists():
        previous = load_profile(arguments.out)
        if "cpu" in previous.hardware:
            hardware["cpu"] = previous.hardware["cpu"]
    profile = Profile(
        source="PA-MDI layer profiles, written by benchmarks/pamdi/make_profiles.py",
        hardware=hardware,
    )
    save_profile(profile, arguments.out)
    for name, entry in profile.hardware.items():
        for model, figures in entry.models.items():
            layers = figures.layers[0]
            total = layers.total_ms
            extra = f", whole model {total:.3f} ms" if total and math.isfinite(total) else ""
            print(f"{name}/{model}: {len(layers.blocks)} blocks, sum {layers.sum_ms:.3f} ms{extra}")
    print(f"wrote {arguments.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
