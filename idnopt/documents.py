"""Reading YAML/JSON documents with line numbers, and writing files atomically.

``read_document`` parses a file once with PyYAML's composer, which keeps the
line of every node, so a validation error deep inside a document can be
reported as ``file:line: location: message``. JSON is read by the same path
(YAML 1.1 accepts the JSON documents we write). ``write_atomic`` writes to a
temporary file in the target folder and renames it, so nothing is left
half-written when a run fails or is interrupted.
"""

from __future__ import annotations

import codecs
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from idnopt.errors import InputError, format_location


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
    find_lines : callable, optional
        Computes :attr:`lines` the first time a line is asked for (JSON files,
        whose lines are only needed to report a problem).
    """

    path: Path
    data: Any
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)
    find_lines: Callable[[], dict[tuple[str | int, ...], int]] | None = field(
        default=None, repr=False, compare=False
    )

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """Return the line of ``location`` or of its nearest known parent."""
        if self.find_lines is not None:
            self.lines, self.find_lines = self.find_lines(), None
        parts = tuple(location)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)

    def error(self, location: Sequence[str | int], message: str, more: int = 0) -> InputError:
        """Build an :class:`InputError` located in this document."""
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
"""Most values YAML aliases may add to a document once expanded (refuses alias bombs).

A file without aliases is bounded by :data:`MAX_DOCUMENT_BYTES` alone."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""

LARGEST_INTEGER = 2**63 - 1
"""Largest integer accepted anywhere in a document (64 bits; no field needs more)."""

STANDARD_INPUT = "-"
"""Path that means: read the document from standard input."""

try:  # the C loader parses large files an order of magnitude faster
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


_INTEGER_TAG = "tag:yaml.org,2002:int"
_INTEGERS = yaml.constructor.SafeConstructor()
"""Converts integer scalars (decimal, hexadecimal, octal, sexagesimal) for the size check."""


class _LineMap:
    """Walks a composed YAML tree once: lines of every location, with budgets and duplicates."""

    def __init__(self, path: Path, aliases: bool = True) -> None:
        self.path = path
        self.lines: dict[tuple[str | int, ...], int] = {}
        self.aliases = aliases
        self.sizes: dict[int, int] = {}
        self.expanded = 0

    def walk(self, node: yaml.Node, prefix: tuple[str | int, ...] = ()) -> int:
        """Record lines and check ``node``'s subtree; return its size once aliases are expanded.

        An alias is the very node it refers to: met again, its subtree is not walked
        again but its size counts against :data:`MAX_NODES`.
        """
        line = node.start_mark.line + 1
        known = self.sizes.get(id(node)) if self.aliases else None
        if known is not None:
            self.expanded += known
            if self.expanded > MAX_NODES:
                # the line of the alias: its key's, or its list's (the node's own is the anchor's)
                used = self.lines.get(prefix) or self.lines.get(prefix[:-1], line)
                raise InputError(
                    f"YAML aliases expand the document by more than {MAX_NODES:,} values; "
                    "write the data out without aliases",
                    path=self.path,
                    line=used,
                )
            self.lines.setdefault(prefix, line)
            return known
        if len(prefix) > MAX_DEPTH:
            raise InputError(
                f"document is nested more than {MAX_DEPTH} levels deep",
                path=self.path,
                line=line,
            )
        self.lines.setdefault(prefix, line)
        size = 1
        if isinstance(node, yaml.ScalarNode) and node.tag == _INTEGER_TAG:
            self._check_integer(node, line, prefix)
        elif isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                key_line = key_node.start_mark.line + 1
                if key in seen:
                    where = (
                        f"twice on line {key_line}"
                        if seen[key] == key_line
                        else f"lines {seen[key]} and {key_line}"
                    )
                    raise InputError(
                        f"duplicate key {key!r} ({where}); keep one of them",
                        path=self.path,
                        line=key_line,
                    )
                seen[key] = key_line
                self.lines[prefix + (key,)] = key_line
                size += self.walk(value_node, prefix + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                size += self.walk(item, prefix + (index,))
        if self.aliases and not isinstance(node, yaml.ScalarNode):
            self.sizes[id(node)] = size
        return size

    def _check_integer(
        self, node: yaml.ScalarNode, line: int, location: tuple[str | int, ...]
    ) -> None:
        """Refuse integers beyond 64 bits before they are converted (or overflow a float)."""
        text = node.value.replace("_", "").lstrip("+-")
        value = None if len(text) > 40 else abs(_INTEGERS.construct_yaml_int(node))
        if value is None or value > LARGEST_INTEGER:
            digits = sum(character.isdigit() for character in text)
            shown = node.value if digits <= 20 else f"of {digits} digits"
            raise InputError(
                f"integer {shown} does not fit in 64 bits; no field takes a number this large",
                path=self.path,
                location=format_location(location),
                line=line,
            )


def _read_text(path: Path) -> str:
    """The text of a regular file (or of standard input for ``-``), within the size limit."""
    import stat
    import sys

    if str(path) == STANDARD_INPUT:
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read(MAX_DOCUMENT_BYTES + 1) if stream is not None else b""
        if stream is None:  # a text-only stream (an embedding application's)
            data = sys.stdin.read(MAX_DOCUMENT_BYTES + 1).encode("utf-8")
        if len(data) > MAX_DOCUMENT_BYTES:
            raise InputError(f"larger than {MAX_DOCUMENT_BYTES // 2**20} MiB", path="<stdin>")
        return _decode(data, Path("<stdin>"))
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
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", path=path) from None
    return _decode(data, path)


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 text (a leading byte-order mark dropped); other encodings refused with their line."""
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            raise InputError(f"the file is {encoding}-encoded; save it as UTF-8", path=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"not a UTF-8 text file: byte 0x{data[exc.start]:02x} ({exc.reason}); save it as UTF-8",
            path=path,
            line=line,
        ) from None


def _character_at(text: str, line: int, column: int) -> str:
    """The character at a 0-based line and column of ``text`` (empty if there is none)."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    position = start + column
    return text[position] if position < len(text) else ""


def _walk_json(text: str, line_map: _LineMap) -> None:
    node = yaml.compose(text, Loader=_Loader)
    if node is not None:
        line_map.walk(node)


def _json_lines(text: str, path: Path) -> dict[tuple[str | int, ...], int]:
    """Lines of a JSON document's locations (empty if YAML cannot read this JSON)."""
    line_map = _LineMap(path, aliases=False)
    try:
        _walk_json(text, line_map)
    except (yaml.YAMLError, InputError):
        pass
    return line_map.lines


def _within_budgets(data: Any) -> bool:
    """Whether parsed JSON nests at most :data:`MAX_DEPTH` deep and holds only 64-bit integers.

    JSON has no aliases; a quick pass over the parsed data replaces the line
    walk, which is only made (to locate the problem) when this fails.
    """
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            if type(value) is int and abs(value) > LARGEST_INTEGER:
                return False
            continue
        if depth >= MAX_DEPTH and children:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


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
    line_map = _LineMap(shown, aliases="*" in text)
    try:
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text, object_pairs_hook=_duplicate_free)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg}", path=shown, line=exc.lineno) from None
            except ValueError as exc:
                _walk_json(text, line_map)  # locates an integer too long to convert, say
                raise InputError(str(exc), path=shown) from None
            if not _within_budgets(data):
                _walk_json(text, line_map)  # says what and where
                raise InputError(  # pragma: no cover - the walk raises first
                    f"document is nested more than {MAX_DEPTH} levels deep", path=shown
                )
            return Document(path=shown, data=data, find_lines=lambda: _json_lines(text, shown))
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
        if problem.startswith("but ") and exc.context:  # "expected …, but found …"
            problem = f"{exc.context}, {problem}"
        if mark is not None and _character_at(text, mark.line, mark.column) == "\t":
            problem += " (a tab: indent with spaces)"
        raise InputError(f"invalid YAML: {problem}", path=shown, line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise InputError(
            f"invalid YAML: character U+{character:04X} is not allowed ({exc.reason}); "
            "remove it, or write it as an escape in a double-quoted string",
            path=shown,
            line=line,
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked YAML errors are rare
        first = str(exc).strip().splitlines()
        raise InputError(
            f"invalid YAML: {first[0] if first else 'syntax error'}", path=shown
        ) from None
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
