"""From documents to instances: files and in-memory data validated by their family's schema.

A document's ``kind`` names the problem family (:mod:`idnopt.family`); the
family's :class:`~idnopt.instance.Instance` subclass validates the fields, the
instance cross-checks its references, resolves profile files and cross-checks
again. Every problem is reported as one located :class:`~idnopt.errors.InputError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from idnopt.documents import Document, read_document
from idnopt.errors import InputError
from idnopt.family import get_family
from idnopt.instance import Instance, Location, fields_at, pydantic_problem


def validate_document(document: Document) -> Instance:
    """Validate parsed data against its family's schema and cross-check it.

    Parameters
    ----------
    document : Document
        Parsed file (see :func:`idnopt.documents.read_document`).

    Returns
    -------
    Instance
        The validated, resolved instance.

    Raises
    ------
    InputError
        The first problem found, located, with the count of further ones.
    """
    data = document.data
    if not isinstance(data, dict):
        raise document.error((), "expected a mapping with a 'kind' field at the top level")
    kind = data.get("kind")
    if kind is None:
        raise document.error((), "missing required field 'kind' (the problem family, e.g. 'idn')")
    try:
        family = get_family(str(kind))
    except InputError as exc:
        raise document.error(("kind",), exc.message) from None
    try:
        instance = family.instance_type.model_validate(data)
    except ValidationError as exc:
        # a misspelt field shows up as 'unknown' plus 'missing': report the unknown one,
        # whose message suggests the right spelling
        errors = sorted(exc.errors(), key=lambda e: e.get("type") != "extra_forbidden")
        first = errors[0]
        location = tuple(first["loc"])
        message = pydantic_problem(first, fields_at(family.instance_type, location))
        raise document.error(location, message, more=len(errors) - 1) from None
    problems = instance.cross_check()
    if not problems:
        try:
            instance = instance.resolve(document.path.parent)
        except InputError as exc:
            if exc.path is None:
                raise document.error(_parse_location(exc.location), exc.message) from None
            raise
        problems = instance.cross_check()
    if problems:
        location, message = problems[0]
        raise document.error(location, message, more=len(problems) - 1)
    return instance


def _parse_location(text: str | None) -> Location:
    if not text:
        return ()
    parts: list[str | int] = []
    for piece in text.replace("]", "").split("."):
        name, *indices = piece.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indices)
    return tuple(parts)


def load(path: str | Path) -> Instance:
    """Load, validate and cross-check an instance file.

    Parameters
    ----------
    path : str or Path
        A YAML or JSON instance file.

    Returns
    -------
    Instance
        An instance of the family named by the file's ``kind``.

    Raises
    ------
    InputError
        With file, line, location and what is wrong.
    """
    return validate_document(read_document(path))


def from_dict(data: dict[str, Any], source: str = "<dict>") -> Instance:
    """Validate an in-memory instance (same checks as :func:`load`).

    Parameters
    ----------
    data : dict
        Instance data as it would appear in a file.
    source : str
        Name used in error messages.
    """
    document = Document(path=Path(source), data=data, lines={})
    return validate_document(document)
