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
        The first problem found, located, carrying every further one
        (:meth:`InputError.lines` lists them all).
    """
    data = document.data
    if not isinstance(data, dict):
        raise document.error((), "expected a mapping with a 'kind' field at the top level")
    kind = data.get("kind")
    if kind is None:
        raise document.error((), "missing required field 'kind' (the problem family, e.g. 'idn')")
    if not isinstance(kind, str):
        raise document.error(
            ("kind",), f"must be a name such as 'idn', not a {type(kind).__name__}"
        )
    try:
        family = get_family(str(kind))
    except InputError as exc:
        raise document.error(("kind",), exc.message) from None
    try:
        instance = family.instance_type.model_validate(data)
    except ValidationError as exc:
        # a misspelt field shows up as 'unknown' plus 'missing': report the unknown one,
        # whose message suggests the right spelling
        errors = _without_misspelt_missing(
            sorted(exc.errors(), key=lambda e: e.get("type") != "extra_forbidden")
        )
        found = []
        for error in errors:
            location = tuple(error["loc"])
            message = pydantic_problem(error, fields_at(family.instance_type, location))
            found.append(document.error(_without_union_tags(data, location), message))
        raise _all(found) from None
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
        raise _all([document.error(location, message) for location, message in problems])
    return instance


def _without_union_tags(data: object, location: tuple) -> tuple:
    """The location as written in the document: without the union branch names pydantic adds.

    A tagged union puts its tag (``chain``, ``mmpp``…) in an error's location
    although the document has no such key: a name the document lacks at its
    level, followed by one it has, is dropped.
    """
    kept: list = []
    node = data
    parts = list(location)
    position = 0
    while position < len(parts):
        part = parts[position]
        if isinstance(node, dict) and isinstance(part, str):
            following = parts[position + 1] if position + 1 < len(parts) else None
            inside = node.get(part)
            if (
                following is not None
                and following in node
                and not (isinstance(inside, (dict, list)) and following in inside)
            ):
                position += 1
                continue
        kept.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
        position += 1
    return tuple(kept)


def _without_misspelt_missing(errors: list[dict]) -> list[dict]:
    """Drop 'missing field' errors explained by a misspelt field beside them.

    ``rat: 3`` for ``rate`` gives both *unknown field 'rat'* (whose message
    suggests ``rate``) and *missing field 'rate'*: one mistake, reported once.
    """
    import difflib

    unknown: dict[tuple, list[str]] = {}
    for error in errors:
        if error.get("type") == "extra_forbidden" and error["loc"]:
            unknown.setdefault(tuple(error["loc"][:-1]), []).append(str(error["loc"][-1]))
    kept = []
    for error in errors:
        location = tuple(error["loc"])
        if error.get("type") == "missing" and location:
            spelt = unknown.get(location[:-1], [])
            if difflib.get_close_matches(str(location[-1]), spelt, n=1):
                continue
        kept.append(error)
    return kept


def _all(found: list[InputError]) -> InputError:
    """One error carrying every problem (the first in front, the others listed)."""
    first = found[0]
    return InputError(
        first.message,
        path=first.path,
        location=first.location,
        line=first.line,
        others=found[1:],
    )


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
