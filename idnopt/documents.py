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


MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
"""Largest instance or specification file read (64 MiB)."""

MAX_NODES = 2_000_000
"""Most values a document may hold once YAML aliases are expanded (refuses alias bombs)."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""

STANDARD_INPUT = "-"
"""Path that means: read the document from standard input."""

try:  # the C loader parses large files an order of magnitude faster
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


class _LineMap:
    """Walks a composed YAML tree once: lines of every location, with budgets and duplicates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[tuple[str | int, ...], int] = {}
        self.nodes = 0

    def walk(self, node: yaml.Node, prefix: tuple[str | int, ...] = ()) -> None:
        self.nodes += 1
        line = node.start_mark.line + 1
        if self.nodes > MAX_NODES:
            raise InputError(
                f"document holds more than {MAX_NODES:,} values once YAML aliases are "
                "expanded; write the data out without aliases",
                path=self.path,
                line=line,
            )
        if len(prefix) > MAX_DEPTH:
            raise InputError(
                f"document is nested more than {MAX_DEPTH} levels deep",
                path=self.path,
                line=line,
            )
        self.lines.setdefault(prefix, line)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                key_line = key_node.start_mark.line + 1
                if key in seen:
                    raise InputError(
                        f"duplicate key {key!r} (lines {seen[key]} and {key_line}); "
                        "keep one of them",
                        path=self.path,
                        line=key_line,
                    )
                seen[key] = key_line
                self.walk(value_node, prefix + (key,))
                self.lines[prefix + (key,)] = key_line
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, prefix + (index,))


def _read_text(path: Path) -> str:
    """The text of a regular file (or of standard input for ``-``), within the size limit."""
    import stat
    import sys

    if str(path) == STANDARD_INPUT:
        text = sys.stdin.read(MAX_DOCUMENT_BYTES + 1)
        if len(text) > MAX_DOCUMENT_BYTES:
            raise InputError(f"larger than {MAX_DOCUMENT_BYTES // 2**20} MiB", path="<stdin>")
        return text
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", path=path) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError("is a directory, expected a YAML or JSON file", path=path)
    if not stat.S_ISREG(info.st_mode):
        raise InputError("not a regular file (a pipe or device?); give a file or '-'", path=path)
    if info.st_size > MAX_DOCUMENT_BYTES:
        raise InputError(
            f"file is {info.st_size / 2**20:.0f} MiB; at most "
            f"{MAX_DOCUMENT_BYTES // 2**20} MiB is read",
            path=path,
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", path=path) from None


def _duplicate_free(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key!r}")
        data[key] = value
    return data


def read_document(path: str | Path) -> Document:
    """Read a YAML or JSON file into plain data, keeping line numbers.

    The file is parsed once (with libyaml's C parser when PyYAML has it); the
    composed tree gives every location's line. Files larger than
    :data:`MAX_DOCUMENT_BYTES`, documents that expand to more than
    :data:`MAX_NODES` values through aliases or nest deeper than
    :data:`MAX_DEPTH`, duplicate keys, directories, pipes and devices are
    refused with one located message. ``-`` reads standard input.

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
        If the file is missing, unreadable, empty, too large or not valid YAML/JSON.
    """
    path = Path(path)
    text = _read_text(path)
    shown = Path("<stdin>") if str(path) == STANDARD_INPUT else path
    if not text.strip():
        raise InputError("file is empty", path=shown)
    line_map = _LineMap(shown)
    try:
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text, object_pairs_hook=_duplicate_free)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg}", path=shown, line=exc.lineno) from None
            except ValueError as exc:
                raise InputError(str(exc), path=shown) from None
            node = yaml.compose(text, Loader=_Loader)
            if node is not None:
                line_map.walk(node)
        else:
            loader = _Loader(text)
            try:
                node = loader.get_single_node()
                if node is not None:
                    line_map.walk(node)  # budgets before building any data
                data = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        problem = exc.problem or exc.context or "syntax error"
        raise InputError(f"invalid YAML: {problem}", path=shown, line=line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked YAML errors are rare
        raise InputError(f"invalid YAML: {exc}", path=shown) from None
    except RecursionError:
        raise InputError(
            f"document is nested more than {MAX_DEPTH} levels deep", path=shown
        ) from None
    return Document(path=shown, data=data, lines=line_map.lines)


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
