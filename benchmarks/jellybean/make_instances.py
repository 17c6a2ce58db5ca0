"""Write the bundled JellyBean instances (instances/jellybean/*.yaml).

Measured inputs (copied here as plain numbers, NVIDIA H100 80GB reference profiles):

* torchvision classifiers: batch-1 latency, median of CUDA-graph replay (fp32), GFLOPs and
  ImageNet top-1 from the weights' metadata;
* GPT-2 small: per-block latency at sequence length 128 (eager, fp32, batch 1), output
  1 x 128 x 768 fp32 activations (393,216 bytes).

Derived inputs (stated, not measured): latency on other hardware follows the project's
hardware model (``idnopt.formulations.idn.catalog.HARDWARE_SPEED``:
``a * L_h100 + GFLOPs / c``, with t4 a=4, c=2; orin a=11, c=0.45; orin-nano a=20,
c=0.12); end-to-end accuracies of the
variant combinations are illustrative numbers built from the models' top-1 accuracies
with interaction terms (some of them deliberately non-monotone), not measurements.

Run ``python benchmarks/jellybean/make_instances.py`` from the repository root.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

# name: (H100 fp32 batch-1 latency ms, GFLOPs, ImageNet top-1)
VISION = {
    "mobilenet_v3_large": (0.5320, 0.217, 0.75274),
    "shufflenet_v2_x1_0": (0.4626, 0.145, 0.69362),
    "mobilenet_v2": (0.4522, 0.301, 0.72154),
    "resnet18": (0.4797, 1.814, 0.69758),
    "resnet50": (0.9232, 4.089, 0.80858),
    "efficientnet_b3": (1.5320, 1.827, 0.82008),
    "efficientnet_v2_s": (1.7927, 8.366, 0.84228),
    "swin_t": (1.8520, 4.491, 0.81474),
    "vit_b_16": (3.1010, 17.564, 0.81886),
    "vit_l_16": (7.3436, 61.555, 0.85146),
}
GPT2_EMBED_MS = 0.1017
GPT2_BLOCK_MS = [
    0.5716,
    0.5768,
    0.5686,
    0.5646,
    0.5623,
    0.5424,
    0.5585,
    0.5608,
    0.5459,
    0.5662,
    0.5649,
    0.5575,
]
GPT2_BLOCK_GFLOPS = 2 * 7_087_872 * 128 / 1e9  # 2 x parameters x tokens
GPT2_OUTPUT_MB = 393_216 / 1e6

SPEED = {"t4": (4.0, 2.0), "orin": (11.0, 0.45), "orin-nano": (20.0, 0.12)}


def latency(h100_ms: float, gflops: float, hardware: str) -> float:
    if hardware == "h100":
        return round(h100_ms, 4)
    a, c = SPEED[hardware]
    return round(a * h100_ms + gflops / c, 3)


def vision_variant(name: str, label: str, hardware: list[str]) -> dict:
    ms, gflops, top1 = VISION[name]
    return {
        "name": label,
        "latency": {hw: latency(ms, gflops, hw) for hw in hardware},
        "accuracy": top1,
    }


def gpt2_variant(label: str, blocks: int, hardware: list[str], top: float) -> dict:
    ms = GPT2_EMBED_MS + sum(GPT2_BLOCK_MS[:blocks])
    gflops = blocks * GPT2_BLOCK_GFLOPS
    return {
        "name": label,
        "latency": {hw: latency(ms, gflops, hw) for hw in hardware},
        "accuracy": top,
    }


class _Dumper(yaml.SafeDumper):
    pass


def _represent_list(dumper, data):
    flow = all(not isinstance(item, (dict, list)) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


HEADER = (
    __doc__.split("Run ``")[0].rstrip()
    + "\n\nRegenerate with: python benchmarks/jellybean/make_instances.py"
)


def write(path: Path, header: str, data: dict) -> None:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    body = "".join(f"# {line}\n" if line else "#\n" for line in header.strip().splitlines())
    path.write_text(body + text, encoding="utf-8")


def vehicle_tracking() -> None:
    hw = ["orin", "t4", "h100"]
    detectors = [
        ("mobilenet_v3_large", "det-mnv3"),
        ("resnet50", "det-r50"),
        ("efficientnet_v2_s", "det-effv2s"),
    ]
    trackers = [
        ("shufflenet_v2_x1_0", "trk-shuffle"),
        ("mobilenet_v2", "trk-mnv2"),
        ("resnet18", "trk-r18"),
    ]
    reids = [("resnet50", "reid-r50"), ("swin_t", "reid-swin"), ("vit_b_16", "reid-vitb")]
    # end-to-end tracking accuracy (IDF1-like), illustrative: detector quality dominates,
    # the high-resolution detector feeds small boxes that the weakest tracker mismatches
    base = {"det-mnv3": 0.58, "det-r50": 0.66, "det-effv2s": 0.71}
    trk = {"trk-shuffle": 0.00, "trk-mnv2": 0.02, "trk-r18": 0.015}
    reid = {"reid-r50": 0.00, "reid-swin": 0.025, "reid-vitb": 0.02}
    bonus = {
        ("det-effv2s", "trk-shuffle"): -0.06,
        ("det-r50", "reid-vitb"): 0.015,
        ("det-mnv3", "trk-r18"): -0.01,
    }
    rows = []
    for (_, d), (_, t), (_, r) in itertools.product(detectors, trackers, reids):
        value = base[d] + trk[t] + reid[r] + bonus.get((d, t), 0.0) + bonus.get((d, r), 0.0)
        rows.append([d, t, r, round(value, 3)])
    data = {
        "kind": "jellybean",
        "name": "vehicle-tracking",
        "description": (
            "Vehicle tracking over 8 cameras at 15 frames/s: detector -> tracker -> "
            "re-identification. Variants are torchvision backbones with H100 latencies "
            "(CUDA-graph replay, batch 1, fp32); orin and t4 latencies derived with the "
            "project's hardware model; end-to-end accuracies illustrative."
        ),
        "target": 0.70,
        "sources": [{"name": "cameras", "rate": "120 req/s", "tier": "device"}],
        "operators": [
            {
                "name": "detector",
                "variants": [vision_variant(n, label, hw) for n, label in detectors],
            },
            {
                "name": "tracker",
                "variants": [vision_variant(n, label, hw) for n, label in trackers],
            },
            {"name": "reid", "variants": [vision_variant(n, label, hw) for n, label in reids]},
        ],
        "edges": [
            {
                "source": "cameras",
                "target": "detector",
                "size": "0.15 MB",
                "sizes": [{"target_variant": "det-effv2s", "size": "0.35 MB"}],
            },
            {"source": "detector", "target": "tracker", "size": "0.04 MB"},
            {"source": "tracker", "target": "reid", "ratio": 1.5, "size": "0.02 MB"},
        ],
        "workers": [
            {
                "name": "site-orin",
                "tier": "device",
                "hardware": "orin",
                "price": "0.08 $/h",
                "count": 4,
            },
            {"name": "edge-t4", "tier": "edge", "hardware": "t4", "price": "0.70 $/h", "count": 3},
            {
                "name": "cloud-t4",
                "tier": "cloud",
                "hardware": "t4",
                "price": "0.526 $/h",
                "count": 8,
            },
            {
                "name": "cloud-h100",
                "tier": "cloud",
                "hardware": "h100",
                "price": "3.00 $/h",
                "count": 2,
            },
        ],
        "accuracy": {"columns": ["detector", "tracker", "reid"], "rows": rows},
        "network": {
            "default": "0.09 $/GB",
            "prices": [
                {"source": "device", "target": "edge", "price": "0.01 $/GB"},
                {"source": "edge", "target": "cloud", "price": "0.05 $/GB"},
                {"source": "device", "target": "cloud", "price": "0.09 $/GB"},
            ],
        },
    }
    header = HEADER
    write(ROOT / "instances" / "jellybean" / "vehicle_tracking.yaml", header, data)


def vqa() -> None:
    hw = ["orin-nano", "t4", "h100"]
    images = [
        ("resnet50", "img-r50"),
        ("efficientnet_b3", "img-effb3"),
        ("swin_t", "img-swin"),
        ("vit_b_16", "img-vitb"),
        ("vit_l_16", "img-vitl"),
    ]
    texts = [("txt-gpt2-4", 4), ("txt-gpt2-8", 8), ("txt-gpt2-12", 12)]
    answers = [("ans-fuse2", 2), ("ans-fuse6", 6)]
    # VQA accuracy, illustrative: attention-grid image features help the larger fusion model,
    # the 12-block text encoder over-fits short questions with the small fusion model
    img = {
        "img-r50": 0.560,
        "img-effb3": 0.575,
        "img-swin": 0.600,
        "img-vitb": 0.615,
        "img-vitl": 0.640,
    }
    txt = {"txt-gpt2-4": 0.0, "txt-gpt2-8": 0.025, "txt-gpt2-12": 0.035}
    ans = {"ans-fuse2": 0.0, "ans-fuse6": 0.03}
    bonus = {
        ("txt-gpt2-12", "ans-fuse2"): -0.03,
        ("img-vitl", "ans-fuse2"): -0.035,
        ("img-swin", "ans-fuse6"): 0.01,
    }
    rows = []
    for (_, i), (t, _), (a, _) in itertools.product(images, texts, answers):
        value = img[i] + txt[t] + ans[a] + bonus.get((t, a), 0.0) + bonus.get((i, a), 0.0)
        rows.append([i, t, a, round(value, 3)])
    feature_mb = {  # output of the image encoder sent to the answer model (fp32)
        "img-r50": 2048 * 4 / 1e6,
        "img-effb3": 1536 * 4 / 1e6,
        "img-swin": 49 * 768 * 4 / 1e6,
        "img-vitb": 197 * 768 * 4 / 1e6,
        "img-vitl": 197 * 1024 * 4 / 1e6,
    }
    data = {
        "kind": "jellybean",
        "name": "visual-question-answering",
        "description": (
            "Visual question answering at 40 questions/s: image encoder and text encoder -> "
            "answer model. Image encoders are torchvision backbones (H100 CUDA-graph, batch 1, "
            "fp32); text encoders and fusion models are GPT-2 small block stacks (H100 eager "
            "fp32, sequence 128); orin-nano and t4 latencies derived with the project's "
            "hardware model; end-to-end accuracies illustrative."
        ),
        "target": 0.62,
        "sources": [
            {"name": "images", "rate": "40 req/s", "tier": "device"},
            {"name": "questions", "rate": "40 req/s", "tier": "device"},
        ],
        "operators": [
            {
                "name": "image_encoder",
                "variants": [vision_variant(n, label, hw) for n, label in images],
            },
            {
                "name": "text_encoder",
                "variants": [gpt2_variant(label, blocks, hw, 0.0) for label, blocks in texts],
            },
            {
                "name": "answer",
                "variants": [gpt2_variant(label, blocks, hw, 0.0) for label, blocks in answers],
            },
        ],
        "edges": [
            {"source": "images", "target": "image_encoder", "size": "0.25 MB"},
            {"source": "questions", "target": "text_encoder", "size": "0.002 MB"},
            {
                "source": "image_encoder",
                "target": "answer",
                "size": "0.0082 MB",
                "sizes": [
                    {"source_variant": name, "size": f"{round(mb, 4)} MB"}
                    for name, mb in feature_mb.items()
                ],
            },
            {"source": "text_encoder", "target": "answer", "size": f"{GPT2_OUTPUT_MB:.4f} MB"},
        ],
        "workers": [
            {
                "name": "kiosk-nano",
                "tier": "device",
                "hardware": "orin-nano",
                "price": "0.03 $/h",
                "count": 6,
            },
            {"name": "edge-t4", "tier": "edge", "hardware": "t4", "price": "0.70 $/h", "count": 4},
            {
                "name": "cloud-t4",
                "tier": "cloud",
                "hardware": "t4",
                "price": "0.526 $/h",
                "count": 8,
            },
            {
                "name": "cloud-h100",
                "tier": "cloud",
                "hardware": "h100",
                "price": "3.00 $/h",
                "count": 2,
            },
        ],
        "accuracy": {"columns": ["image_encoder", "text_encoder", "answer"], "rows": rows},
        "network": {
            "default": "0.09 $/GB",
            "prices": [
                {"source": "device", "target": "edge", "price": "0.01 $/GB"},
                {"source": "edge", "target": "cloud", "price": "0.05 $/GB"},
                {"source": "device", "target": "cloud", "price": "0.09 $/GB"},
            ],
        },
    }
    for op in data["operators"][1:]:
        for variant in op["variants"]:
            del variant["accuracy"]
    header = HEADER
    write(ROOT / "instances" / "jellybean" / "vqa.yaml", header, data)


if __name__ == "__main__":
    vehicle_tracking()
    vqa()
