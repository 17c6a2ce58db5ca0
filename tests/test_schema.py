"""JSON Schemas of instance files: standard draft 2020-12, satisfied by every bundled file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import idnopt
from idnopt.cli.main import app
from idnopt.documents import read_document
from idnopt.family import families

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = [
    (kind, path)
    for kind in families()
    for path in sorted((ROOT / "instances" / kind).glob("*.y*ml"))
]

# The keywords of draft 2020-12 (core, applicator, validation, meta-data, format,
# content and unevaluated vocabularies): nothing else may appear in a schema object.
VOCABULARY = {
    "$schema", "$id", "$ref", "$defs", "$anchor", "$dynamicRef", "$dynamicAnchor",
    "$vocabulary", "$comment",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
    "prefixItems", "items", "contains", "properties", "patternProperties",
    "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties",
    "required", "dependentRequired",
    "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
    "format", "contentEncoding", "contentMediaType", "contentSchema",
}  # fmt: skip


def schema_objects(schema, found=None):
    """Every schema object inside ``schema`` (not property-name maps or literal values)."""
    found = [] if found is None else found
    if not isinstance(schema, dict):
        return found
    found.append(schema)
    for key, value in schema.items():
        if key in ("properties", "$defs", "patternProperties", "dependentSchemas"):
            for item in value.values():
                schema_objects(item, found)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for item in value:
                schema_objects(item, found)
        elif key in ("items", "additionalProperties", "not", "if", "then", "else", "contains"):
            schema_objects(value, found)
    return found


@pytest.fixture(scope="module")
def validators():
    kinds = {kind: idnopt.schema(kind) for kind in families()}
    kinds[None] = idnopt.schema()
    for schema in kinds.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    return {kind: jsonschema.Draft202012Validator(schema) for kind, schema in kinds.items()}


def errors_of(validator, data) -> list[str]:
    """Every error, with those of the branches of ``anyOf``/``oneOf`` that failed."""

    def flat(errors):
        for error in errors:
            yield f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            yield from flat(error.context or [])

    return list(flat(validator.iter_errors(data)))


def test_every_family_bundles_files_that_are_checked():
    assert {"idn", "jellybean"} <= {kind for kind, _ in BUNDLED}


@pytest.mark.parametrize("kind, path", BUNDLED, ids=[f"{k}/{p.name}" for k, p in BUNDLED])
def test_bundled_files_satisfy_the_schema(validators, kind, path):
    data = read_document(path).data
    assert errors_of(validators[kind], data) == []
    assert errors_of(validators[None], data) == []
    # what the writer makes of the file satisfies the schema too
    family = idnopt.family.get_family(kind)
    if family.to_document is not None:
        written = json.loads(json.dumps(family.to_document(idnopt.load(path))))
        assert errors_of(validators[kind], written) == []


@pytest.mark.parametrize("kind", [None, *families()])
def test_schemas_use_standard_keywords_and_document_units(kind):
    schema = idnopt.schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    objects = schema_objects(schema)
    unknown = {key for item in objects for key in item} - VOCABULARY
    assert not unknown, f"non-standard keywords {sorted(unknown)}"
    quantities = [
        item for item in objects if "anyOf" in item and "units" in item.get("description", "")
    ]
    assert quantities, "no quantity documents its units"
    for item in quantities:
        number, text = item["anyOf"]
        assert number["type"] == "number" and "maximum" in number
        assert text["type"] == "string" and text["pattern"].startswith("^")


def test_units_are_documented_per_field():
    link = idnopt.schema("idn")["$defs"]["Link"]["properties"]
    assert "ms, s, us" in link["latency"]["description"]
    assert link["latency"]["anyOf"][0]["minimum"] == 0
    bandwidth = link["bandwidth"]["anyOf"][0]["anyOf"][0]
    assert bandwidth["exclusiveMinimum"] == 0 and bandwidth["maximum"] == 1e10


TREE = ROOT / "instances" / "idn" / "tree.yaml"


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda d: d["nodes"][1].update(memory="400 parsecs"), "does not match"),
        (lambda d: d["nodes"][1].update(memory=-5), "less than the minimum"),
        (lambda d: d["nodes"][1].update(memory=1e308), "greater than the maximum"),
        (lambda d: d["links"][0].update(latency="fast"), "does not match"),
        (lambda d: d["links"][0].update(colour="red"), "Additional properties"),
        (lambda d: d.pop("repository"), "'repository' is a required property"),
        (lambda d: d.update(kind="idm"), "'idn'"),
        (lambda d: d["requests"][0].update(rate=True), "is not valid under any"),
        (lambda d: d["nodes"][0].update(name="two words"), "does not match"),
    ],
    ids=[
        "unknown-unit",
        "negative",
        "huge",
        "no-number",
        "extra-field",
        "missing",
        "kind",
        "boolean",
        "name",
    ],
)
def test_invalid_documents_are_rejected(validators, edit, words):
    data = read_document(TREE).data
    edit(data)
    for validator in (validators["idn"], validators[None]):
        found = errors_of(validator, data)
        assert any(words in error for error in found), found


def test_cli_prints_and_writes_the_schema(tmp_path):
    printed = CliRunner().invoke(app, ["schema", "idn"])
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == idnopt.schema("idn")
    out = tmp_path / "all.json"
    assert CliRunner().invoke(app, ["schema", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text())["$id"] == "urn:idnopt:instance"
