"""The results folder of a sweep: one file per finished task, merged into one table.

Layout of a results folder::

    RESULTS/
      spec.yaml            the specification the folder was last run with
      tasks/<task_id>.json one record per finished task (written atomically)
      results.parquet      the merged tidy table (one row per task)
      results.csv          the same table as CSV

Each record is written through a temporary file and a rename as soon as its
task finishes, so an interrupted sweep loses at most the tasks that were
running; the next run skips every task whose record exists. The merged table
is rebuilt from the records, restricted to the tasks of the current
specification, in the specification's order (not the order tasks finished in).

Reproducibility: wall-clock timings (every column named ``*_seconds``) and
where and when a task ran (``worker``, ``finished_at``) are the only content of
a results folder that varies between runs of the same sweep. A store made with
``timings=False`` (``idnopt sweep run --no-timings``) leaves them out, so that
the same specification and seeds give byte-identical records and tables from
run to run and on joblib or Dask alike (solvers run deterministically: one
thread each unless the specification says otherwise, and no time limit cuts
them short).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from idnopt.documents import write_atomic
from idnopt.errors import InputError
from idnopt.sweep.tasks import FAILED

TABLE_NAMES = ("results.parquet", "results.csv")
"""Merged tables, preferred first."""

TIMING_SUFFIX = "_seconds"
"""Columns whose name ends with this are wall-clock timings."""

RUN_FIELDS = ("worker", "finished_at")
"""Fields of a record that say where and when its task ran."""


def is_timing(column: str) -> bool:
    """Whether a column holds a wall-clock timing (its name ends with ``_seconds``)."""
    return str(column).endswith(TIMING_SUFFIX)


def without_timings(record: dict[str, Any]) -> dict[str, Any]:
    """A record without wall-clock timings and without where and when its task ran.

    Parameters
    ----------
    record : dict
        A task record (see :func:`~idnopt.sweep.tasks.execute_task`).

    Returns
    -------
    dict
        The same record less :data:`RUN_FIELDS` and every ``*_seconds`` entry of its row.
    """
    kept = {key: value for key, value in record.items() if key not in RUN_FIELDS}
    if isinstance(record.get("row"), dict):
        kept["row"] = {k: v for k, v in record["row"].items() if not is_timing(k)}
    return kept


class ResultStore:
    """A sweep's results folder.

    Parameters
    ----------
    folder : str or Path
        Created (with parents) when missing.
    timings : bool
        Keep wall-clock timings and where each task ran in records and tables
        (``False``: leave them out, so identical runs give identical files).
    """

    def __init__(self, folder: str | Path, *, timings: bool = True) -> None:
        self.folder = Path(folder)
        self.timings = timings
        self.task_folder = self.folder / "tasks"
        try:
            self.task_folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create results folder ({exc.strerror})", path=folder
            ) from None

    # -- records -----------------------------------------------------------------------
    def record_path(self, task_id: str) -> Path:
        """Where the record of ``task_id`` lives."""
        return self.task_folder / f"{task_id}.json"

    def write(self, record: dict[str, Any]) -> Path:
        """Store one task record atomically (replacing an older record of the same task)."""
        if not self.timings:
            record = without_timings(record)
        text = json.dumps(record, default=str, allow_nan=False, separators=(",", ":"))
        return write_atomic(self.record_path(record["task_id"]), text)

    def records(self, task_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Stored records by task id (all of them, or those of ``task_ids`` that exist).

        Files that cannot be parsed (e.g. damaged by a full disk) are ignored, so
        their tasks run again.
        """
        if task_ids is None:
            paths = [p for p in self.task_folder.glob("*.json") if not p.name.startswith(".")]
        else:
            paths = [self.record_path(task_id) for task_id in task_ids]
        found = {}
        for path in paths:
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and isinstance(record.get("row"), dict):
                found[path.stem] = record
        return found

    def finished(self, task_ids: Iterable[str], *, include_failed: bool = True) -> set[str]:
        """Ids among ``task_ids`` that have a record (failed ones only if ``include_failed``)."""
        records = self.records(task_ids)
        if include_failed:
            return set(records)
        return {tid for tid, record in records.items() if record["row"].get("status") != FAILED}

    def save_spec(self, text: str) -> Path:
        """Keep a copy of the specification next to its results."""
        return write_atomic(self.folder / "spec.yaml", text)

    # -- tables ------------------------------------------------------------------------
    def table(self, task_ids: Sequence[str] | None = None, metrics: Sequence[str] | None = None):
        """Tidy table of the stored records, one row per task.

        Parameters
        ----------
        task_ids : sequence of str, optional
            Keep these tasks, in this order (default: every record, sorted by id).
        metrics : sequence of str, optional
            Measured columns to keep, besides the task's descriptive columns,
            ``status``, ``error`` and ``task_seconds`` (default: all recorded ones).
            Metrics no task recorded become empty columns.

        Returns
        -------
        pandas.DataFrame
        """
        import pandas as pd

        records = self.records(task_ids)
        order = list(task_ids) if task_ids is not None else sorted(records)
        rows = [records[task_id]["row"] for task_id in order if task_id in records]
        frame = pd.DataFrame(rows)
        if metrics is not None:
            frame = select_columns(frame, metrics)
        if not self.timings:
            frame = frame[[column for column in frame.columns if not is_timing(column)]]
        return frame

    def merge(
        self, task_ids: Sequence[str] | None = None, metrics: Sequence[str] | None = None
    ) -> list[Path]:
        """Write the merged table as Parquet (when pyarrow is installed) and CSV.

        Returns
        -------
        list of Path
            The files written.
        """
        frame = self.table(task_ids, metrics)
        written = []
        try:
            buffer = io.BytesIO()
            parquet_ready(frame).to_parquet(buffer, index=False)
        except ImportError:  # pragma: no cover - pyarrow ships with the dist extra
            pass
        else:
            written.append(write_atomic(self.folder / TABLE_NAMES[0], buffer.getvalue()))
        written.append(write_atomic(self.folder / TABLE_NAMES[1], frame.to_csv(index=False)))
        return written


DESCRIPTIVE = (
    "task_id",
    "kind",
    "instance",
    "generator",
    "file",
    "solver",
    "method",
    "backend",
    "relax",
    "time_limit",
    "seed",
    "repetition",
)
"""Columns that describe a task (with every ``param.*`` and ``option.*`` column)."""

ALWAYS = ("status", "error", "task_seconds")
"""Columns kept whatever metrics are selected."""


def select_columns(frame, metrics: Sequence[str]):
    """Keep the descriptive columns, :data:`ALWAYS` and ``metrics`` (missing ones empty).

    Parameters
    ----------
    frame : pandas.DataFrame
        A table of task rows.
    metrics : sequence of str
        Measured columns to keep, in this order.

    Returns
    -------
    pandas.DataFrame
    """
    described = [
        c for c in frame.columns if c in DESCRIPTIVE or c.startswith(("param.", "option."))
    ]
    wanted = described + [m for m in (*metrics, *ALWAYS) if m not in described]
    wanted = list(dict.fromkeys(wanted))
    return frame.reindex(columns=wanted)


def parquet_ready(frame):
    """Make every column storable in Parquet (mixed-type object columns become text)."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object:
            continue
        kinds = {type(v) for v in values if v is not None and v == v}
        if len(kinds) > 1 and not kinds <= {int, float}:
            frame[column] = values.map(lambda v: None if v is None or v != v else str(v))
        elif kinds <= {int, float} and kinds:
            frame[column] = values.astype(float)
    return frame


def read_table(path: str | Path):
    """Read a sweep's results table: a results folder, a Parquet file or a CSV file.

    A folder without a merged table is merged from its task records first.

    Parameters
    ----------
    path : str or Path
        Results folder or table file.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InputError
        If nothing readable is there.
    """
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        for name in TABLE_NAMES:
            if (path / name).is_file():
                return read_table(path / name)
        if (path / "tasks").is_dir():
            frame = ResultStore(path).table()
            if len(frame):
                return frame
        raise InputError("no results table and no task records here", path=path)
    if not path.is_file():
        raise InputError("no such results folder or table", path=path)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read results table ({exc})", path=path) from None
    raise InputError("expected a results folder, a .parquet or a .csv file", path=path)
