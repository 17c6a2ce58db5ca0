"""JSON Schemas (draft 2020-12) of instance files, for editors and validators.

The schemas are generated from the families' pydantic models. Quantities with
units accept a number in the base unit or a ``"<number> <unit>"`` string, the
units being listed in each field's ``description`` (:mod:`idnopt.units`).
Everything is standard JSON Schema 2020-12: bounds pydantic cannot express
natively are renamed to ``minimum``/``exclusiveMinimum``/``maximum``/
``exclusiveMaximum``, so that any validator (the ``jsonschema`` package,
editors' YAML language servers) reads them.

The schema checks what a single field can say; references between fields
(unknown nodes, cycles, missing latencies) are checked by ``idnopt validate``.
"""

from __future__ import annotations

from typing import Any

from idnopt.units import _STANDARD

DRAFT = "https://json-schema.org/draft/2020-12/schema"
"""The dialect of every schema written."""

_SUBSCHEMA = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")
_DROPPED = frozenset({"discriminator"})
"""OpenAPI keywords pydantic writes that JSON Schema does not have (``oneOf`` already
tells the alternatives apart by their ``const`` fields)."""


def standard(schema: Any) -> Any:
    """Rename pydantic's constraint names (``ge``, ``gt``…) to JSON Schema keywords.

    Parameters
    ----------
    schema : dict
        A JSON Schema, possibly with ``ge``/``gt``/``le``/``lt`` keys.

    Returns
    -------
    dict
        A copy with standard keywords only (OpenAPI's ``discriminator`` is
        dropped); property names and literal values (``default``, ``const``,
        ``examples``) are left as they are.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: standard(item) for name, item in value.items()}
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [standard(item) for item in value]
        elif key in _SUBSCHEMA:
            out[key] = standard(value)
        elif key in _DROPPED:
            continue
        else:
            out[_STANDARD.get(key, key)] = value
    return out


def schema_id(kind: str) -> str:
    """The ``$id`` of a kind's schema (a URN: nothing to fetch)."""
    return f"urn:idnopt:instance:{kind}"


def kind_schema(kind: str) -> dict[str, Any]:
    """JSON Schema of the instance files of one registered kind.

    Parameters
    ----------
    kind : str
        A registered family's ``kind``.

    Returns
    -------
    dict
        A standalone draft 2020-12 schema.

    Raises
    ------
    InputError
        For an unknown kind (naming the known ones).
    """
    from idnopt.family import get_family

    family = get_family(kind)
    body = standard(family.instance_type.model_json_schema())
    head = {
        "$schema": DRAFT,
        "$id": schema_id(kind),
        "title": f"idnopt {kind} instance",
        "description": f"{family.summary}\n\n{body.pop('description', '')}".strip(),
    }
    body.pop("title", None)
    return {**head, **body}


def every_schema() -> dict[str, Any]:
    """JSON Schema accepting an instance file of any registered kind.

    Returns
    -------
    dict
        A draft 2020-12 schema whose ``$defs`` hold one schema per kind (each
        with its own ``$id``) and whose ``oneOf`` refers to them.
    """
    from idnopt.family import families

    kinds = families()
    definitions = {}
    for kind in kinds:
        embedded = kind_schema(kind)
        embedded.pop("$schema")
        definitions[kind] = embedded
    return {
        "$schema": DRAFT,
        "$id": "urn:idnopt:instance",
        "title": "idnopt instance",
        "description": "An instance file of any kind: " + ", ".join(kinds) + ".",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(kinds)}},
        "oneOf": [{"$ref": schema_id(kind)} for kind in kinds],
        "$defs": definitions,
    }
