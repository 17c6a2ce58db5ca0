"""Convert JellyBean's published VQA example into an idnopt instance file.

The JellyBean repository (github.com/libertyeagle/JellyBean, folder
``VQA/examples/optimizer_inputs``) ships one input set for its optimizer: CSV
files, a JSON worker partition and a pickled accuracy profile. Read off into one
JSON document (``example.json``: workflow, tiers, workers, execution profile,
network prices, end-to-end accuracy table, the beam search's per-operator
profiles, the optimizer settings and what the optimizer prints), it converts
here into ``instances/jellybean/jellybean_vqa.yaml`` with the units the example
states: latencies in ms, message sizes in KiB, network prices in $/GiB (after
the repository's price scaling factor), accuracies in percent.

What the conversion keeps and drops, stated in the file's header:

* tier ``0`` of the repository's worker partition becomes ``edge``, tier ``1``
  ``cloud``; sources sit on the lowest tier, as the published code assumes;
* upward prices (worker to worker and source to worker) become tier-level
  entries when every upward pair of two tiers has the same price, otherwise
  worker-level entries; downward prices are dropped: data never flows down
  under the tier order (the published code prices such traffic as infinite);
* the end-to-end table needs no column for the single-variant ``VQA``;
* each image and speech variant's profiled output accuracy (top-1 %, negative
  word error rate) and every variant's ``beam_search_cost`` become the
  variants' ``output_accuracy`` and ``beam_cost``: the published beam search's
  inputs (its sink samples are the end-to-end table itself);
* the accuracy target is the shipped threshold, 56 %.

Usage (from the repository root; the input is not shipped with the package)::

    python benchmarks/jellybean/convert_published.py PATH/TO/example.json \\
        -o instances/jellybean/jellybean_vqa.yaml
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

import idnopt
from idnopt.documents import write_atomic

TIER_NAMES = ("edge", "cloud", "regional")
"""Names given to the repository's tiers 0, 1, 2 (lowest first)."""


def number(value: float) -> float | int:
    """A float as YAML writes it back exactly (whole numbers without a fraction)."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def quantity(value: float, unit: str) -> str:
    """``"<value> <unit>"`` with the shortest repr that reads back to the same float."""
    return f"{number(value)!r} {unit}"


def convert(example: dict[str, Any]) -> dict[str, Any]:
    """The instance document (a dict ready for YAML) of the example's JSON data.

    Parameters
    ----------
    example : dict
        The parsed ``example.json``.

    Returns
    -------
    dict
        A ``kind: jellybean`` document.
    """
    workflow = example["workflow"]
    tier_of = {w["name"]: int(w["tier"]) for w in example["workers"]}
    names = [w["name"] for w in example["workers"]]
    latency: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for entry in example["execution_profile"]:
        latency[(entry["operator"], entry["variant"])][entry["worker"]] = quantity(
            entry["latency_ms"], "ms"
        )
    profiles = {
        p["operator"]: p for p in example["accuracy"]["per_operator_profiles_used_by_beam_search"]
    }
    operators = []
    for op in workflow["operators"]:
        profile = profiles.get(op["name"])
        variants = []
        for variant in op["variants"]:
            item: dict[str, Any] = {"name": variant}
            if profile is not None and not profile["inputs"]:
                samples = profile["samples"][variant]
                if len(samples) != 1:
                    raise ValueError(f"{op['name']}:{variant}: one output accuracy expected")
                item["output_accuracy"] = number(samples[0]["output_acc"])
            if profile is not None:
                if float(profile["weight"]) != 1.0:
                    raise ValueError(f"{op['name']}: beam weights other than 1 are not supported")
                item["beam_cost"] = number(profile["beam_search_cost"][variant])
            item["latency"] = latency[(op["name"], variant)]
            variants.append(item)
        operators.append({"name": op["name"], "variants": variants})
    edges = []
    for edge in workflow["edges"]:
        sizes = {
            (m["from_variant"], m["to_variant"]): m["kb_per_request"] for m in edge["message_size"]
        }
        item = {"source": edge["from"], "target": edge["to"]}
        if float(edge["throughput_ratio"]) != 1.0:
            item["ratio"] = number(edge["throughput_ratio"])
        if len(set(sizes.values())) == 1:
            item["size"] = quantity(next(iter(sizes.values())), "KiB")
        elif edge["from_is_source"]:
            item["sizes"] = [
                {"target_variant": to, "size": quantity(size, "KiB")}
                for (_, to), size in sizes.items()
            ]
        else:
            one_target = len({to for _, to in sizes}) == 1  # e.g. VQA's single variant
            item["sizes"] = [
                {"source_variant": frm, "size": quantity(size, "KiB")}
                if one_target
                else {"source_variant": frm, "target_variant": to, "size": quantity(size, "KiB")}
                for (frm, to), size in sizes.items()
            ]
        edges.append(item)
    workers = [
        {
            "name": w["name"],
            "tier": TIER_NAMES[int(w["tier"])],
            "price": quantity(w["price_usd_per_hour"], "$/h"),
        }
        for w in example["workers"]
    ]
    table = example["accuracy"]["end_to_end_table"]
    rows = [
        [row["variants"][column] for column in table["operators"]]
        + [quantity(row["accuracy"], "%")]
        for row in table["rows"]
    ]
    return {
        "kind": "jellybean",
        "name": example["name"],
        "description": (
            "JellyBean's published visual question answering example (images and spoken "
            "questions at 40 req/s; 5 image-feature and 2 speech-recognition variants; 9 "
            "workers on 2 tiers), converted from the repository's optimizer inputs."
        ),
        "target": quantity(example["accuracy_threshold_shipped"], "%"),
        "sources": [
            {"name": s["name"], "rate": quantity(s["input_rate_rps"], "req/s")}
            for s in workflow["sources"]
        ],
        "operators": operators,
        "edges": edges,
        "workers": workers,
        "accuracy": {"columns": list(table["operators"]), "rows": rows},
        "network": _network(example["network"], names, tier_of),
    }


def _network(network: dict[str, Any], names: list[str], tier_of: dict[str, int]) -> dict:
    """Upward prices as tier-level entries where uniform, worker-level entries otherwise."""
    default = float(network["unlisted_pairs_usd_per_gb"])
    upward: dict[tuple[str, str], float] = {}
    for entry in network["worker_to_worker_usd_per_gb"]:
        if tier_of[entry["from"]] < tier_of[entry["to"]]:
            upward[(entry["from"], entry["to"])] = float(entry["usd_per_gb"])
    for entry in network["source_to_worker_usd_per_gb"]:
        if tier_of[entry["worker"]] > 0:  # sources sit on the lowest tier
            upward[(entry["source"], entry["worker"])] = float(entry["usd_per_gb"])
    tiers = sorted(set(tier_of.values()))
    prices: list[dict[str, Any]] = []
    leftover = dict(upward)
    for a in tiers:
        for b in tiers:
            if a >= b:
                continue
            senders = [n for n in names if tier_of[n] == a] + (
                sorted({s for s, _ in upward if s not in tier_of}) if a == 0 else []
            )
            pairs = [(s, r) for s in senders for r in names if tier_of[r] == b]
            values = {upward.get(pair, default) for pair in pairs}
            if len(values) == 1 and values != {default}:
                prices.append(
                    {
                        "source": TIER_NAMES[a],
                        "target": TIER_NAMES[b],
                        "price": quantity(values.pop(), "$/GiB"),
                    }
                )
                for pair in pairs:
                    leftover.pop(pair, None)
    prices += [
        {"source": s, "target": r, "price": quantity(p, "$/GiB")} for (s, r), p in leftover.items()
    ]
    result: dict[str, Any] = {"prices": prices}
    if default:
        result["default"] = quantity(default, "$/GiB")
    return result


class _Dumper(yaml.SafeDumper):
    """Lists of plain values (table rows, columns) in flow style: one row per line."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(item, (dict, list)) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)

HEADER = """\
# JellyBean's published VQA example (github.com/libertyeagle/JellyBean,
# commit {commit}, folder {folder}),
# converted by benchmarks/jellybean/convert_published.py.
#
# Units as the example states them: latencies in ms per request (one request at a time),
# message sizes in KiB per request, network prices in $/GiB after the repository's price
# scaling factor ({scaling}), accuracies in percent. Tier 0 of the repository's worker
# partition is 'edge', tier 1 'cloud'; sources sit on the lowest tier. Downward prices
# are left out (the tier order never sends data down). output_accuracy and beam_cost are
# the inputs of the published beam search (per-variant output accuracy: ImageNet top-1 %,
# negative word error rate; proxy cost, not dollars). At the shipped threshold (56 %) the
# published optimizer prints resnet18 + wav2vec2-large on cpu-1, cpu-2, cpu-5 (image),
# gpu-1 + cpu-3 (speech), cpu-6 (VQA): compute 6.242 $/h, communication 1.2667783 $/h.
#
# Regenerate with:
#   python benchmarks/jellybean/convert_published.py PATH/TO/example.json \\
#       -o instances/jellybean/jellybean_vqa.yaml
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example", type=Path, help="example.json of the published VQA inputs")
    parser.add_argument("-o", "--output", type=Path, required=True, help="instance file to write")
    args = parser.parse_args()
    example = json.loads(args.example.read_text(encoding="utf-8"))
    document = convert(example)
    idnopt.from_dict(document, source=str(args.output))  # refuse to write an invalid file
    header = HEADER.format(
        commit=example["origin"]["commit"],
        folder=example["origin"]["folder"],
        scaling=example["network"]["csv_price_scaling_factor_applied"],
    )
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    write_atomic(args.output, (header + body).encode("utf-8"))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
