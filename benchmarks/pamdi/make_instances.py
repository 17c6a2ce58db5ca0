"""Write the bundled PA-MDI instances (instances/pamdi/*.yaml).

Usage::

    python benchmarks/pamdi/make_instances.py

The three published set-ups (Li & Seferoglu, arXiv 2412.12371) as far as the
abstract and DESIGN.md give them, each with ResNet-50 and GPT-2 small and two
source classes (time-sensitive, priority 4; best-effort, priority 1):

* five Jetson AGX Xavier on a fully connected Wi-Fi mesh (20 Mbit/s, 2 ms);
* three Xavier and three Jetson Nano on a multi-hop Wi-Fi network
  (nano-i - xavier-i, xavier-1 - xavier-2 - xavier-3; 20 Mbit/s, 3 ms per hop),
  once with the two classes on different Nanos (``multihop-*``) and once with a
  time-sensitive and a best-effort source sharing each of two Nanos
  (``multihop-shared-*``: the abstract does not say where its sources sat, and
  priority can only act where the classes share a device);
* five CPU-only Xeon servers on an emulated 10 GbE network (0.1 ms).

Layer times come from the H100 eager per-layer profiles
(instances/profiles/pamdi_layers.json); device speeds relative to them are
assumptions, chosen so that ResNet-50 takes about 49 ms on a Xavier, 165 ms on
a Nano and 62 ms on a Xeon server (GPT-2: 68, 228 and 86 ms). Sizes: the
ResNet-50 input is its fp32 tensor (3 x 224 x 224), its result 1000 fp32
logits; GPT-2's input is 128 token ids (int32), its result the last position's
hidden state (768 fp32; the head runs at the source). Rates load each source's
device to about 0.5-0.6 when it computes alone. ``compute_cv`` 0.1.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

FOLDER = Path(__file__).resolve().parents[2] / "instances" / "pamdi"
PROFILES = {"h100-eager": {"file": "../profiles/pamdi_layers.json"}}
MODELS = {
    "resnet50": {
        "name": "resnet50",
        "layers": {"profile": "h100-eager"},
        "input": "602112 B",
        "result": "4000 B",
    },
    "gpt2": {
        "name": "gpt2",
        "layers": {"profile": "h100-eager"},
        "input": "512 B",
        "result": "3072 B",
    },
}
URGENT = {"priority": 4, "label": "time-sensitive"}
BULK = {"priority": 1, "label": "best-effort"}
TAG = {"time-sensitive": "urgent", "best-effort": "bulk"}
"""Short class names in source names."""


def mesh(names: list[str], latency: str, bandwidth: str) -> list[dict]:
    """Links between every pair of ``names``."""
    return [
        {"source": a, "target": b, "latency": latency, "bandwidth": bandwidth}
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]


def source(name: str, device: str, model: str, rate: str, klass: dict) -> dict:
    """One source entry."""
    return {"name": name, "device": device, "model": model, "rate": rate, **klass}


def write(name: str, description: str, devices, links, model: str, sources) -> Path:
    """Write one instance with its description as a comment header."""
    data = {
        "kind": "pamdi",
        "name": name,
        "description": description,
        "queueing": "priority",
        "compute_cv": 0.1,
        "max_load": 0.95,
        "profiles": PROFILES,
        "devices": devices,
        "links": links,
        "models": [MODELS[model]],
        "sources": sources,
    }
    header = textwrap.fill(description, width=96, initial_indent="# ", subsequent_indent="# ")
    header += "\n# Written by benchmarks/pamdi/make_instances.py.\n"
    path = FOLDER / f"{name}.yaml"
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")
    return path


def main() -> int:
    """Write the eight instances."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    xaviers = [f"xavier-{i}" for i in range(1, 6)]
    for model, (urgent, bulk) in {
        "resnet50": ("4 req/s", "8 req/s"),
        "gpt2": ("3 req/s", "5 req/s"),
    }.items():
        write(
            f"xavier-mesh-{model}",
            f"Five Jetson AGX Xavier (speed 0.1 of the H100 eager profile) on a fully "
            f"connected Wi-Fi mesh (20 Mbit/s, 2 ms); {model}; a time-sensitive and a "
            "best-effort camera on each of xavier-1 and xavier-2.",
            [{"name": n, "speed": 0.1, "memory": "32 GB"} for n in xaviers],
            mesh(xaviers, "2 ms", "20 Mbit/s"),
            model,
            [
                source("cam-1-urgent", "xavier-1", model, urgent, URGENT),
                source("cam-1-bulk", "xavier-1", model, bulk, BULK),
                source("cam-2-urgent", "xavier-2", model, urgent, URGENT),
                source("cam-2-bulk", "xavier-2", model, bulk, BULK),
            ],
        )
    devices = [{"name": f"xavier-{i}", "speed": 0.1, "memory": "32 GB"} for i in (1, 2, 3)]
    devices += [{"name": f"nano-{i}", "speed": 0.03, "memory": "4 GB"} for i in (1, 2, 3)]
    hop = {"latency": "3 ms", "bandwidth": "20 Mbit/s"}
    links = [
        {"source": "xavier-1", "target": "xavier-2", **hop},
        {"source": "xavier-2", "target": "xavier-3", **hop},
        *({"source": f"nano-{i}", "target": f"xavier-{i}", **hop} for i in (1, 2, 3)),
    ]
    # rates of (time-sensitive, best-effort) sources on a Nano and of the best-effort Xavier
    apart = {
        "resnet50": ("2 req/s", "2 req/s", "4 req/s"),
        "gpt2": ("2 req/s", "2 req/s", "3 req/s"),
    }
    shared = {
        "resnet50": ("1.5 req/s", "2 req/s", "4 req/s"),
        "gpt2": ("1 req/s", "1.5 req/s", "3 req/s"),
    }
    network = (
        "Three Jetson AGX Xavier (speed 0.1) and three Jetson Nano (speed 0.03) on a "
        "multi-hop Wi-Fi network (20 Mbit/s, 3 ms per hop: nano-i - xavier-i, "
        "xavier-1 - xavier-2 - xavier-3)"
    )
    for model in ("resnet50", "gpt2"):
        placements = {
            "multihop": (
                "time-sensitive sources on nano-1 and nano-3, best-effort ones on nano-2 and "
                "xavier-2",
                [("nano-1", URGENT), ("nano-2", BULK), ("nano-3", URGENT)],
                apart[model],
            ),
            "multihop-shared": (
                "the two classes share devices: a time-sensitive and a best-effort source on "
                "each of nano-1 and nano-3, a best-effort one on xavier-2",
                [(f"nano-{i}", klass) for i in (1, 3) for klass in (URGENT, BULK)],
                shared[model],
            ),
        }
        for prefix, (where, nanos, rates) in placements.items():
            write(
                f"{prefix}-{model}",
                f"{network}; {model}; {where}.",
                devices,
                links,
                model,
                [
                    *(
                        source(
                            f"{device}-{TAG[klass['label']]}",
                            device,
                            model,
                            rates[0 if klass is URGENT else 1],
                            klass,
                        )
                        for device, klass in nanos
                    ),
                    source("xavier-2-bulk", "xavier-2", model, rates[2], BULK),
                ],
            )
    servers = [f"server-{i}" for i in range(1, 6)]
    for model, (urgent, bulk) in {
        "resnet50": ("5 req/s", "6 req/s"),
        "gpt2": ("4 req/s", "4 req/s"),
    }.items():
        write(
            f"xeon-10gbe-{model}",
            f"Five CPU-only Xeon servers (speed 0.08 of the H100 eager profile) on an "
            f"emulated 10 GbE network (0.1 ms); {model}; a time-sensitive and a best-effort "
            "source on server-1.",
            [{"name": n, "speed": 0.08, "memory": "64 GB"} for n in servers],
            mesh(servers, "0.1 ms", "10 Gbit/s"),
            model,
            [
                source("app-urgent", "server-1", model, urgent, URGENT),
                source("app-bulk", "server-1", model, bulk, BULK),
            ],
        )
    for path in sorted(FOLDER.glob("*.yaml")):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
