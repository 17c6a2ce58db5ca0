"""Loading instance files: units, profiles, and one located error per mistake."""

import json
import re

import pytest
import yaml

import idnopt
from idnopt.errors import InputError
from idnopt.units import parse_quantity

MISTAKES = [
    # (description, edit of the text, expected location, expected words)
    ("yaml syntax", lambda t: t.replace("kind: idn", "kind: [idn"), None, "invalid YAML"),
    ("unknown kind", lambda t: t.replace("kind: idn", "kind: idm"), "kind", "unknown kind 'idm'"),
    ("missing kind", lambda t: t.replace("kind: idn\n", ""), None, "missing required field 'kind'"),
    (
        "unknown node in link",
        lambda t: t.replace("source: edge-4", "source: edge-9"),
        "links[5].source",
        "unknown node 'edge-9'",
    ),
    (
        "negative rate",
        lambda t: t.replace("rate: 40 req/s", "rate: -40 req/s"),
        "requests[3].rate",
        "greater than or equal to 0",
    ),
    (
        "bad unit",
        lambda t: t.replace("latency: 25 ms", "latency: 25 parsecs"),
        "links[0].latency",
        "unknown unit 'parsecs'",
    ),
    (
        "unreadable quantity",
        lambda t: t.replace("memory: 120 MB", "memory: lots"),
        "nodes[3].memory",
        "cannot read 'lots'",
    ),
    (
        "misspelt field",
        lambda t: t.replace("rate: 80 req/s", "rat: 80 req/s"),
        "requests[1].rat",
        "unknown field 'rat'; did you mean 'rate'?",
    ),
    (
        "unknown field",
        lambda t: t.replace("alpha: 200", "alpha: 200\nalhpa: 3"),
        "alhpa",
        "unknown field 'alhpa'; did you mean 'alpha'?",
    ),
    (
        "unknown ingress",
        lambda t: t.replace("ingress: edge-2, rate: 60", "ingress: edge-7, rate: 60"),
        "requests[5].ingress",
        "unknown node 'edge-7'",
    ),
    (
        "unknown task",
        lambda t: t.replace(
            "task: detection, ingress: edge-3", "task: segmentation, ingress: edge-3"
        ),
        "requests[6].task",
        "no model solves task 'segmentation'",
    ),
    (
        "accuracy in percent",
        lambda t: t.replace("accuracy: 0.809", "accuracy: 80.9"),
        "models[1].accuracy",
        "less than or equal to 1",
    ),
    (
        "duplicate node",
        lambda t: t.replace("name: edge-4, tier", "name: edge-3, tier"),
        "nodes[6].name",
        "duplicate node name 'edge-3'",
    ),
    (
        "unknown repository",
        lambda t: t.replace("repository: cloud", "repository: clod"),
        "repository",
        "did you mean 'cloud'?",
    ),
    (
        "disconnected ingress",
        lambda t: t.replace("  - {source: edge-4, target: region-south, latency: 9 ms}\n", ""),
        "requests[3].ingress",
        "no route to the repository",
    ),
    (
        "missing latency on repository hardware",
        lambda t: t.replace(
            "latency: {h100: 1.9 ms, t4: 14 ms, orin: 62 ms}", "latency: {t4: 14 ms, orin: 62 ms}"
        ).replace("repository: cloud", "repository: cloud\nrepository_models: [vit_b_16]"),
        "repository_models[0]",
        "no latency on the repository's hardware 'h100'",
    ),
    (
        "unknown tier",
        lambda t: t.replace("tier: regional", "tier: regionl", 1),
        "nodes[1].tier",
        "did you mean 'regional'?",
    ),
    (
        "self loop",
        lambda t: t.replace("target: region-north, latency: 6 ms", "target: edge-1, latency: 6 ms"),
        "links[2]",
        "to itself",
    ),
    ("not a mapping", lambda t: "- just\n- a list\n", None, "expected a mapping"),
    (
        "hardware without latency",
        lambda t: t.replace("hardware: orin}", "hardware: jetson}", 1),
        "nodes[3].hardware",
        "no model has a latency for hardware 'jetson'",
    ),
    (
        "bad path",
        lambda t: t.replace(
            "{task: detection, ingress: edge-1, rate: 30 req/s}",
            "{task: detection, ingress: edge-1, rate: 30 req/s, path: [edge-1, edge-2, cloud]}",
        ),
        "requests[4].path[1]",
        "no link from 'edge-1' to 'edge-2'",
    ),
    ("wrong type", lambda t: t.replace("alpha: 200", "alpha: high"), "alpha", "valid number"),
]


@pytest.mark.parametrize("name, edit, location, words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_gives_one_located_error(tmp_path, tree_text, name, edit, location, words):
    path = tmp_path / "bad.yaml"
    edited = edit(tree_text)
    assert edited != tree_text, "the mistake was not introduced"
    path.write_text(edited)
    with pytest.raises(InputError) as caught:
        idnopt.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert words in message, message
    if location is not None:
        assert caught.value.location == location, message
        # the reported line holds the location's key or value
        line = caught.value.line
        assert line is not None
        text_line = path.read_text().splitlines()[line - 1]
        last_key = re.findall(r"[a-z_]+", location)[-1]
        assert last_key in text_line or "{" in text_line or "- " in text_line, text_line


def test_units_are_normalised(tmp_path, tree_text):
    text = (
        tree_text.replace("memory: 400 MB", "memory: 0.4 GB", 1)
        .replace("latency: 25 ms", "latency: 0.025 s")
        .replace("rate: 120 req/s", "rate: 7200 req/min")
    )
    path = tmp_path / "units.yaml"
    path.write_text(text)
    loaded = idnopt.load(path)
    assert loaded.nodes[1].memory == pytest.approx(400.0)  # 0.4 GB
    assert loaded.nodes[2].memory == pytest.approx(400.0)  # 400 MB
    assert loaded.links[0].latency == pytest.approx(25.0)
    assert loaded.requests[0].rate == pytest.approx(120.0)


@pytest.mark.parametrize(
    "text, dimension, expected",
    [
        ("20 ms", "time", 20.0),
        ("1.5 s", "time", 1500.0),
        (3, "time", 3.0),
        ("2 GB", "size", 2000.0),
        ("512 KiB", "size", 0.524288),
        ("1 Gbit/s", "bandwidth", 1000.0),
        ("0.09 $/GB", "price_per_gb", 0.09),
        ("730 $/month", "price_per_hour", 1.0),
    ],
)
def test_parse_quantity(text, dimension, expected):
    assert parse_quantity(text, dimension) == pytest.approx(expected)


def test_json_and_yaml_load_the_same(tmp_path, tree_text):
    data = yaml.safe_load(tree_text)
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(data, indent=1))
    from_json = idnopt.load(path)
    from_yaml = idnopt.from_dict(data)
    assert from_json == from_yaml
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "idn",\n "nodes": [}\n')
    with pytest.raises(InputError, match=r"broken.json:2: invalid JSON"):
        idnopt.load(broken)


def test_schema_describes_fields():
    schema = idnopt.schema("idn")
    assert {"nodes", "links", "models", "requests", "repository", "alpha"} <= set(
        schema["properties"]
    )
    everything = idnopt.schema()
    assert len(everything["oneOf"]) >= 1


def test_more_problems_are_counted(tmp_path, tree_text):
    path = tmp_path / "many.yaml"
    path.write_text(
        tree_text.replace("rate: 40 req/s", "rate: -1").replace("rate: 80 req/s", "rate: -2")
    )
    with pytest.raises(InputError, match=r"and 1 more problem\)"):
        idnopt.load(path)


@pytest.mark.parametrize("name, edit, location, words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_cli_reports_each_mistake_on_one_line(tmp_path, tree_text, name, edit, location, words):
    from click.testing import CliRunner

    from idnopt.cli.main import app

    path = tmp_path / "bad.yaml"
    path.write_text(edit(tree_text))
    for command in ("solve", "validate"):
        result = CliRunner().invoke(app, [command, str(path)])
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        # every problem of the file on its own located line, this mistake's first
        assert all(line.startswith(f"error: {path}:") for line in lines), result.output
        assert len(lines) == len(set(lines)), result.output
        assert "Traceback" not in result.output and words.split("'")[0] in lines[0]


@pytest.mark.parametrize(
    "value, dimension, words",
    [
        ("1e308 req/s", "rate", "'1e308 req/s' is out of range for a rate: at most 1e9 req/s"),
        ("1e308 GB", "size", "'1e308 GB' is out of range for a size: at most 1e10 MB"),
        pytest.param(10**400, "size", "an integer of 401 digits is out of range", id="400"),
        pytest.param(10**5000, "size", "an integer of more than 4000 digits", id="5000"),
        (float("inf"), "time", "inf is out of range for a time"),
        (-1e400, "time", "-inf is out of range for a time: at least -1e10 ms"),
        (float("nan"), "bandwidth", "NaN is not a bandwidth"),
        ("1e999 ms", "time", "'1e999 ms' is out of range"),
        (True, "rate", "got a boolean (YAML reads yes, no, on and off as booleans)"),
        ("2,5 ms", "time", "write numbers with a decimal point"),
        ("2e9 $/h", "price_per_hour", "at most 1e9 $/h"),
    ],
)
def test_quantities_are_finite_and_within_range(value, dimension, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_quantity(value, dimension)
    assert parse_quantity("1e9 req/s", "rate") == 1e9  # the limit itself is accepted
