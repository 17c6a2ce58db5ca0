"""Reading and writing profile files: validation with located errors, atomic saving.

:func:`load_profile` reads a JSON (or YAML) profile file and reports any
problem as one :class:`~idnopt.errors.InputError` naming the file, the line and
the location inside the document; :func:`save_profile` writes a profile
atomically. The format itself is described in :mod:`~idnopt.profiling.schema`
(entries) and :mod:`~idnopt.profiling.document` (the whole document and its
lookups); their names are re-exported here. This module imports neither torch
nor torchvision.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from idnopt.documents import Document, read_document, write_atomic
from idnopt.errors import InputError
from idnopt.profiling.document import (
    BlockFigures,
    ModelFigures,
    Profile,
    ProfileLookupError,
    profile_json_schema,
)
from idnopt.profiling.schema import (
    PROFILE_FORMAT,
    PROFILE_VERSION,
    Block,
    Hardware,
    LayerProfile,
    Measurement,
    Method,
    ModelProfile,
    Name,
    Precision,
    Scalar,
)

__all__ = [
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "Block",
    "BlockFigures",
    "Hardware",
    "LayerProfile",
    "Measurement",
    "Method",
    "ModelFigures",
    "ModelProfile",
    "Name",
    "Precision",
    "Profile",
    "ProfileLookupError",
    "Scalar",
    "load_profile",
    "profile_json_schema",
    "save_profile",
    "validation_error",
]


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling against the profile schema)"
    message = error["msg"]
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if "input" in error and not isinstance(error["input"], dict | list):
        message += f" (got {_short(error['input'])})"
    return message


def validation_error(error: ValidationError, document: Document) -> InputError:
    """Turn a pydantic error on ``document`` into one located :class:`InputError`."""
    problems = error.errors()
    first = problems[0]
    location = list(first["loc"])
    message = _error_message(first)
    if location and location[-1] == "[key]":
        location.pop()
        message = f"invalid name {location[-1]!r}: {message}" if location else message
    return document.error(tuple(location), message, more=len(problems) - 1)


def _header_problem(data: Any) -> tuple[tuple[str, ...], str] | None:
    """Location and message of a wrong format/version header, or None."""
    if not isinstance(data, dict):
        return (), f'expected a JSON object with "format": "{PROFILE_FORMAT}"'
    if data.get("format") != PROFILE_FORMAT:
        found = "is missing" if "format" not in data else f"is {_short(data['format'])}"
        location = ("format",) if "format" in data else ()
        return location, f'not an idnopt profile: "format" {found}, expected {PROFILE_FORMAT!r}'
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        location = ("version",) if "version" in data else ()
        return location, (
            f'"version" must be a positive integer (this idnopt writes {PROFILE_VERSION}), '
            f"got {_short(version)}"
        )
    if version > PROFILE_VERSION:
        return ("version",), (
            f"profile format version {version} is newer than this idnopt reads "
            f"({PROFILE_VERSION}); upgrade idnopt"
        )
    return None


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file.

    Parameters
    ----------
    path : str or Path
        JSON file written by ``idnopt profile`` or :func:`save_profile`.

    Returns
    -------
    Profile
        The validated profile.

    Raises
    ------
    InputError
        If the file is missing or invalid; the message names the file, the line,
        the location (e.g. ``hardware.h100.models.resnet50.measurements[2].median_ms``)
        and what is wrong.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        # Unreadable, not JSON, or YAML: the document reader explains or parses it.
        data = read_document(path).data
    problem = _header_problem(data)
    if problem is not None:
        raise read_document(path).error(*problem)
    try:
        return Profile.model_validate(data)
    except ValidationError as error:
        # Parse again with line numbers only when there is an error to locate.
        raise validation_error(error, read_document(path)) from None


def save_profile(profile: Profile, path: str | Path) -> Path:
    """Write ``profile`` as JSON, atomically (temporary file, then rename).

    Parameters
    ----------
    profile : Profile
        What to write.
    path : str or Path
        Destination file; its folder must exist.

    Returns
    -------
    Path
        The destination path.
    """
    return write_atomic(path, profile.to_json())
