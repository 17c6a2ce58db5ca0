"""Reading YAML/JSON documents with line numbers, and writing files atomically.

``read_document`` parses a file once with PyYAML's composer, which keeps the
line of every node, so a validation error deep inside a document can be
reported as ``file:line: location: message``. JSON is read by the same path
(YAML 1.1 accepts the JSON documents we write). ``write_atomic`` writes to a
temporary file in the target folder and renames it, so nothing is left
half-written when a run fails or is interrupted.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from idnopt.errors import InputError


@dataclass
class Document:
    """A parsed document and the line of every location inside it.

    Attributes
    ----------
    path : Path
        The file it was read from.
    data : Any
        Plain Python data (dicts, lists, scalars).
    lines : dict
        Maps a location tuple (keys and indices) to its 1-based line.
    """

    path: Path
    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """Return the line of ``location`` or of its nearest known parent."""
        parts = tuple(location)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)

    def error(self, location: Sequence[str | int], message: str, more: int = 0) -> InputError:
        """Build an :class:`InputError` located in this document."""
        from idnopt.errors import format_location

        return InputError(
            message,
            path=self.path,
            location=format_location(location),
            line=self.line_of(location),
            more=more,
        )


def _walk(node: yaml.Node, prefix: tuple[str | int, ...], lines: dict) -> None:
    lines[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[prefix + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, prefix + (key,), lines)
            lines[prefix + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, prefix + (index,), lines)


def read_document(path: str | Path) -> Document:
    """Read a YAML or JSON file into plain data, keeping line numbers.

    Parameters
    ----------
    path : str or Path
        File to read; ``.json`` files are parsed as JSON, anything else as YAML.

    Returns
    -------
    Document
        The data and its line map.

    Raises
    ------
    InputError
        If the file is missing, unreadable, empty or not valid YAML/JSON.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a YAML or JSON file", path=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", path=path) from None
    if not text.strip():
        raise InputError("file is empty", path=path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if path.suffix.lower() != ".json":
            data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        problem = exc.problem or exc.context or "syntax error"
        raise InputError(f"invalid YAML: {problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked YAML errors are rare
        raise InputError(f"invalid YAML: {exc}", path=path) from None
    if node is not None:
        _walk(node, (), lines)
    return Document(path=path, data=data, lines=lines)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, text: str | bytes) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Parameters
    ----------
    path : str or Path
        Destination; its folder must exist.
    text : str or bytes
        Content to write (str is encoded as UTF-8).

    Returns
    -------
    Path
        The destination path.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("output folder does not exist", path=folder)
    data = text.encode("utf-8") if isinstance(text, str) else text
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def document_text(data: dict[str, Any], *, header: str | None = None, fmt: str = "yaml") -> str:
    """Serialise instance data as YAML (with a comment header) or JSON.

    Parameters
    ----------
    data : dict
        Plain instance data (``kind`` first).
    header : str, optional
        Comment lines put at the top of a YAML file (each prefixed with ``# ``).
    fmt : {"yaml", "json"}
        Output format (JSON has no comments; the header is dropped).

    Returns
    -------
    str
        The text, ending with a newline.
    """
    if fmt == "json":
        return json.dumps(data, indent=1) + "\n"
    if fmt != "yaml":
        raise InputError(f"unknown format {fmt!r}; use 'yaml' or 'json'")
    body = yaml.safe_dump(
        data, sort_keys=False, default_flow_style=None, width=200, allow_unicode=True
    )
    comment = ""
    if header:
        comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body


def write_document(data: dict[str, Any], path: str | Path, *, header: str | None = None) -> Path:
    """Write instance data atomically as YAML (or JSON for a ``.json`` path).

    Parameters
    ----------
    data : dict
        Plain instance data.
    path : str or Path
        Destination file; its folder must exist.
    header : str, optional
        Comment lines at the top of a YAML file.

    Returns
    -------
    Path
        The destination.
    """
    path = Path(path)
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    return write_atomic(path, document_text(data, header=header, fmt=fmt))
