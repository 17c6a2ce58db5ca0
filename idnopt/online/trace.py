"""Traces: the demand of every request class in every slot, with an identity.

A :class:`Trace` is a dense (slots × request classes) array of demand
(requests per slot) with the class labels, the generator that made it and its
parameters. Its :attr:`Trace.digest` hashes exactly the content (labels, slot
length and numbers), like the identity of sweep tasks, so two traces with the
same digest are the same input. Traces convert to a tidy table
(``slot, class, count``; zero entries omitted) and back, through CSV or
Parquet files written atomically.

:func:`read_table` reads such files row by row with located errors
(``trace.csv:5: count: must be a number >= 0``); families use it for their own
columns (IDN replays name ``ingress`` and ``task`` instead of ``class``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from idnopt.errors import InputError

TABLE_SUFFIXES = (".csv", ".parquet")
"""File types a trace is written to and read from."""


@dataclass(frozen=True, eq=False)
class Trace:
    """Demand per slot and request class.

    Parameters
    ----------
    demand : array_like
        (slots, classes) non-negative demand, requests per slot.
    classes : sequence of str
        Label of every request class (column), unique.
    kind : str
        What made the trace (``stationary``, ``replay``…).
    params : mapping
        The generator's parameters (seed included), for reports.
    slot_seconds : float
        Length of a slot in seconds (demand / slot_seconds is a rate in requests/s).

    Raises
    ------
    InputError
        On a shape mismatch, repeated labels, or negative or non-finite demand.
    """

    demand: np.ndarray
    classes: tuple[str, ...]
    kind: str = "custom"
    params: Mapping[str, Any] = field(default_factory=dict)
    slot_seconds: float = 1.0

    def __post_init__(self) -> None:
        demand = np.array(self.demand, dtype=float, copy=True)
        classes = tuple(str(name) for name in self.classes)
        if demand.ndim != 2 or demand.shape[1] != len(classes):
            raise InputError(
                f"trace demand must be (slots, {len(classes)} classes), got shape {demand.shape}"
            )
        if len(set(classes)) != len(classes):
            raise InputError("trace request class labels must be unique")
        if demand.size and not (np.isfinite(demand).all() and demand.min() >= 0):
            raise InputError("trace demand must be finite and non-negative")
        if not (math.isfinite(self.slot_seconds) and self.slot_seconds > 0):
            raise InputError(f"slot_seconds must be positive, got {self.slot_seconds}")
        demand.setflags(write=False)
        object.__setattr__(self, "demand", demand)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "params", dict(self.params))

    # -- views ---------------------------------------------------------------------------
    @property
    def slots(self) -> int:
        """Number of slots."""
        return int(self.demand.shape[0])

    @property
    def num_classes(self) -> int:
        """Number of request classes."""
        return int(self.demand.shape[1])

    @property
    def peak(self) -> np.ndarray:
        """Largest demand of each class over the trace."""
        if self.slots == 0:
            return np.zeros(self.num_classes)
        return self.demand.max(axis=0)

    @property
    def totals(self) -> np.ndarray:
        """Total demand of each slot."""
        return self.demand.sum(axis=1)

    def __len__(self) -> int:
        return self.slots

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.demand)

    @cached_property
    def digest(self) -> str:
        """16 hexadecimal digits identifying the content (labels, slot length, numbers)."""
        header = json.dumps(
            {
                "classes": self.classes,
                "slot_seconds": self.slot_seconds,
                "shape": self.demand.shape,
            },
            separators=(",", ":"),
        )
        hasher = hashlib.sha256(header.encode("utf-8"))
        hasher.update(np.ascontiguousarray(self.demand, dtype="<f8").tobytes())
        return hasher.hexdigest()[:16]

    def identity(self) -> dict[str, Any]:
        """Plain data describing the trace (its digest is what identifies it)."""
        return {
            "kind": self.kind,
            "params": dict(self.params),
            "slots": self.slots,
            "classes": self.num_classes,
            "slot_seconds": self.slot_seconds,
            "digest": self.digest,
        }

    def window(self, start: int, stop: int | None = None) -> Trace:
        """The slots ``start:stop`` as a trace of their own."""
        return Trace(
            self.demand[start:stop],
            self.classes,
            kind=self.kind,
            params={**self.params, "window": [start, stop]},
            slot_seconds=self.slot_seconds,
        )

    def __repr__(self) -> str:
        return (
            f"Trace({self.kind!r}, {self.slots} slots, {self.num_classes} classes, "
            f"digest {self.digest})"
        )

    # -- tables and files ----------------------------------------------------------------
    def to_rows(self) -> list[dict[str, Any]]:
        """Tidy rows ``{slot, class, count}`` for every non-zero entry."""
        slots, columns = np.nonzero(self.demand)
        return [
            {"slot": int(t), "class": self.classes[c], "count": float(self.demand[t, c])}
            for t, c in zip(slots, columns)
        ]

    def to_frame(self):
        """The tidy rows as a pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame(self.to_rows(), columns=["slot", "class", "count"])

    def write(self, path: str | Path) -> Path:
        """Write the tidy table to a ``.csv`` or ``.parquet`` file, atomically.

        Slots with no demand at all have no rows; :meth:`read` restores them
        from the ``slots`` argument or the largest slot present.
        """
        path = Path(path)
        write_table(path, ["slot", "class", "count"], self.to_rows())
        return path

    @classmethod
    def read(
        cls,
        path: str | Path,
        classes: Sequence[str] | None = None,
        *,
        slots: int | None = None,
        slot_seconds: float = 1.0,
    ) -> Trace:
        """Read a tidy ``slot, class, count`` table written by :meth:`write`.

        Parameters
        ----------
        path : str or Path
            A ``.csv`` or ``.parquet`` file.
        classes : sequence of str, optional
            Expected class labels, in column order (default: as first seen).
        slots : int, optional
            Number of slots (default: largest slot + 1).
        slot_seconds : float
            Slot length in seconds.

        Raises
        ------
        InputError
            Located at the file, line (CSV) or row, and column of the first problem.
        """
        table = read_table(path, ["slot", "class", "count"])
        known = list(classes) if classes is not None else []
        index = {name: i for i, name in enumerate(known)}
        entries: list[tuple[int, int, float]] = []
        for row in table:
            slot = row.integer("slot", minimum=0)
            count = row.number("count", minimum=0.0)
            name = row.text("class")
            if name not in index:
                if classes is not None:
                    raise row.error("class", f"unknown request class {name!r}")
                index[name] = len(known)
                known.append(name)
            entries.append((slot, index[name], count))
        return cls(
            dense_demand(entries, len(known), slots, path=path),
            tuple(known),
            kind="replay",
            params={"file": str(path)},
            slot_seconds=slot_seconds,
        )


def dense_demand(
    entries: Sequence[tuple[int, int, float]],
    classes: int,
    slots: int | None = None,
    *,
    path: str | Path | None = None,
) -> np.ndarray:
    """Sum ``(slot, class, count)`` entries into a dense (slots, classes) array.

    Raises
    ------
    InputError
        When ``slots`` is given and an entry lies beyond it.
    """
    slot_index = np.array([e[0] for e in entries], dtype=np.int64)
    class_index = np.array([e[1] for e in entries], dtype=np.int64)
    counts = np.array([e[2] for e in entries], dtype=float)
    found = int(slot_index.max()) + 1 if slot_index.size else 0
    if slots is None:
        slots = found
    elif found > slots:
        raise InputError(f"the table has slot {found - 1} but only {slots} slots", path=path)
    demand = np.zeros((slots, classes))
    np.add.at(demand, (slot_index, class_index), counts)
    return demand


# ---------------------------------------------------------------------------------------
# reading and writing tables with located errors


@dataclass(frozen=True)
class TableRow:
    """One row of a table file, with what is needed to locate an error in it.

    Attributes
    ----------
    values : dict
        Column name to the raw value (str for CSV, Python values for Parquet).
    path : str
        The file.
    position : int
        1-based line (CSV) or 0-based row index (Parquet).
    is_line : bool
        Whether ``position`` is a line number.
    """

    values: Mapping[str, Any]
    path: str
    position: int
    is_line: bool

    def error(self, column: str, message: str) -> InputError:
        """An :class:`InputError` located at this row and ``column``."""
        if self.is_line:
            return InputError(message, path=self.path, line=self.position, location=column)
        return InputError(message, path=self.path, location=f"rows[{self.position}].{column}")

    def text(self, column: str) -> str:
        """The value of ``column`` as non-empty text."""
        value = self.values.get(column)
        text = "" if value is None else str(value).strip()
        if not text:
            raise self.error(column, "is empty")
        return text

    def number(self, column: str, *, minimum: float | None = None) -> float:
        """The value of ``column`` as a finite number (at least ``minimum``)."""
        raw = self.values.get(column)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise self.error(column, f"{raw!r} is not a number") from None
        if not math.isfinite(value) or (minimum is not None and value < minimum):
            bound = "" if minimum is None else f" >= {minimum:g}"
            raise self.error(column, f"must be a finite number{bound}, got {raw!r}")
        return value

    def integer(self, column: str, *, minimum: int | None = None) -> int:
        """The value of ``column`` as an integer (at least ``minimum``)."""
        value = self.number(column)
        if value != int(value) or (minimum is not None and value < minimum):
            bound = "" if minimum is None else f" >= {minimum}"
            raise self.error(column, f"must be an integer{bound}, got {self.values.get(column)!r}")
        return int(value)


def read_table(path: str | Path, columns: Sequence[str]) -> list[TableRow]:
    """Read a CSV or Parquet table, checking that ``columns`` are present.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` file (Parquet needs pyarrow).
    columns : sequence of str
        Required column names (others are ignored).

    Returns
    -------
    list of TableRow

    Raises
    ------
    InputError
        For a missing file, an unknown suffix, an unreadable file or a missing column.
    """
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(
            f"unknown table type {path.suffix!r}; use {' or '.join(TABLE_SUFFIXES)}", path=path
        )
    if not path.is_file():
        raise InputError("no such file", path=path)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            header = [name.strip() for name in reader.fieldnames or []]
            _require_columns(header, columns, path)
            reader.fieldnames = header
            return [
                TableRow(values=row, path=str(path), position=reader.line_num, is_line=True)
                for row in reader
            ]
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any pyarrow failure is a bad file
        raise InputError(f"cannot read the Parquet file ({exc})", path=path) from None
    _require_columns(table.column_names, columns, path)
    data = {name: table.column(name).to_pylist() for name in columns}
    return [
        TableRow(
            values={name: data[name][i] for name in columns},
            path=str(path),
            position=i,
            is_line=False,
        )
        for i in range(table.num_rows)
    ]


def _require_columns(header: Sequence[str], columns: Sequence[str], path: Path) -> None:
    missing = [name for name in columns if name not in header]
    if missing:
        raise InputError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(found: {', '.join(header) or 'none'})",
            path=path,
            line=1 if path.suffix.lower() == ".csv" else None,
        )


def write_table(
    path: str | Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> Path:
    """Write rows to a ``.csv`` or ``.parquet`` file through a temporary file and a rename.

    Raises
    ------
    InputError
        For an unknown suffix or a missing folder.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(
            f"unknown table type {path.suffix!r}; use {' or '.join(TABLE_SUFFIXES)}", path=path
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("output folder does not exist", path=folder)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    os.close(handle)
    try:
        if suffix == ".csv":
            with open(temporary, "w", newline="", encoding="utf-8") as stream:
                writer = csv.DictWriter(stream, fieldnames=list(columns))
                writer.writeheader()
                writer.writerows(rows)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table({name: [row.get(name) for row in rows] for name in columns})
            pq.write_table(table, temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
