"""Running a sweep: on this machine with joblib, or on a Dask cluster, resumably.

:func:`run_sweep` expands a specification, skips the tasks already stored in
the results folder, runs the others and stores each record the moment it
comes back, then merges the tidy table. The same call runs

* on this machine through joblib's process pool (``jobs``), or
* on a Dask cluster (``dask="tcp://scheduler:8786"``), or on a local one
  (``dask="local"``), or through an existing ``distributed.Client``.

Workers do not oversubscribe the cores: solvers get ``threads=1`` unless the
specification says otherwise, joblib limits each worker's BLAS/OpenMP pools to
one thread, and Dask's nanny does the same for its worker processes (its
``distributed.nanny.pre-spawn-environ`` setting). Short tasks are batched on
Dask so the scheduler's cost per submission is shared.

Dask workers need idnopt (and any plug-in module the specification imports)
installed, and instance files at the same paths. Records are written by the
process that calls :func:`run_sweep`, so the results folder need not be shared.

A task that raises is recorded as failed and the sweep goes on; interrupting
the sweep (Ctrl-C) keeps every finished record, and running it again continues
where it stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from idnopt.errors import InputError
from idnopt.sweep.spec import SweepSpec, expand, load_spec
from idnopt.sweep.store import ResultStore
from idnopt.sweep.tasks import FAILED, Task, execute_task

RecordCallback = Callable[[dict[str, Any]], None]


@dataclass
class SweepSummary:
    """What a sweep run did.

    Attributes
    ----------
    name : str
        The specification's name.
    output : Path
        The results folder.
    total : int
        Tasks in the specification.
    reused : int
        Tasks already finished by an earlier run (not run again).
    ran : int
        Tasks run by this call.
    failed : int
        Tasks of the specification whose record says ``failed`` (this run or earlier).
    seconds : float
        Wall-clock time of this call.
    executor : str
        Where the tasks ran (``joblib (2 jobs)``, ``dask tcp://…``).
    tables : list of Path
        Merged tables written.
    failures : list of tuple
        ``(task_id, instance, solver, error)`` of failed tasks, the first few.
    interrupted : bool
        Whether the run was interrupted before every task finished.
    """

    name: str
    output: Path
    total: int
    reused: int = 0
    ran: int = 0
    failed: int = 0
    seconds: float = 0.0
    executor: str = ""
    tables: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def pending(self) -> int:
        """Tasks still to run (non-zero only after an interruption)."""
        return self.total - self.reused - self.ran

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serialisable)."""
        return {
            "name": self.name,
            "output": str(self.output),
            "total": self.total,
            "reused": self.reused,
            "ran": self.ran,
            "failed": self.failed,
            "pending": self.pending,
            "seconds": self.seconds,
            "executor": self.executor,
            "tables": [str(path) for path in self.tables],
            "failures": [list(failure) for failure in self.failures],
            "interrupted": self.interrupted,
        }


def default_output(spec: SweepSpec) -> Path:
    """Results folder of a specification: its ``output`` field, else ``results/<name>``."""
    if spec.output is not None:
        output = Path(spec.output).expanduser()
        return output if output.is_absolute() else spec.base / output
    return Path("results") / spec.display_name


def run_sweep(
    spec: SweepSpec | str | Path,
    output: str | Path | None = None,
    *,
    jobs: int | None = None,
    dask: Any = None,
    retry_failed: bool = False,
    progress: bool = False,
    on_record: RecordCallback | None = None,
    max_failures_shown: int = 5,
    timings: bool = True,
) -> SweepSummary:
    """Run every unfinished task of a sweep and merge the results table.

    Parameters
    ----------
    spec : SweepSpec, str or Path
        A specification or its file.
    output : str or Path, optional
        Results folder (default: :func:`default_output`).
    jobs : int, optional
        Parallel workers on this machine (default: every core); with ``dask="local"``,
        the number of local Dask workers.
    dask : str or distributed.Client, optional
        ``"local"`` for a local Dask cluster, a scheduler address
        (``"tcp://host:8786"``), or a connected client; ``None`` uses joblib.
    retry_failed : bool
        Run again the tasks whose stored record says ``failed``.
    progress : bool
        Show a progress bar with the estimated time left (rich).
    on_record : callable, optional
        Called with each new record once it is stored (raising stops the sweep;
        stored records stay).
    max_failures_shown : int
        How many failures the summary lists.
    timings : bool
        Store wall-clock timings (``*_seconds`` columns) and where each task ran;
        ``False`` leaves them out of the records and tables, which are then
        byte-identical for the same specification on any run and engine.

    Returns
    -------
    SweepSummary
        Counts, timings and where the table was written.

    Raises
    ------
    InputError
        For a bad specification or an unreachable Dask scheduler.
    KeyboardInterrupt
        Re-raised after the finished records are stored and merged.
    """
    started = time.perf_counter()
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    tasks = expand(spec)
    store = ResultStore(output if output is not None else default_output(spec), timings=timings)
    store.save_spec(
        yaml.safe_dump(spec.model_dump(mode="json", exclude_none=True), sort_keys=False)
    )
    task_ids = [task.task_id for task in tasks]
    done = store.finished(task_ids, include_failed=not retry_failed)
    pending = [task for task in tasks if task.task_id not in done]
    summary = SweepSummary(spec.display_name, store.folder, len(tasks), reused=len(done))
    bar = _ProgressBar(spec.display_name, len(pending)) if progress and pending else None
    try:
        with _executor(dask, jobs) as (run_tasks, description), bar or contextlib.nullcontext():
            summary.executor = description
            for record in run_tasks(pending):
                store.write(record)
                summary.ran += 1
                if bar is not None:
                    bar.advance(record["row"].get("status") == FAILED)
                if on_record is not None:
                    on_record(record)
    except BaseException:
        summary.interrupted = True
        raise
    finally:
        records = store.records(task_ids)
        failed = [
            records[tid]
            for tid in task_ids
            if records.get(tid, {}).get("row", {}).get("status") == FAILED
        ]
        summary.failed = len(failed)
        summary.failures = [
            (
                r["task_id"],
                r["row"].get("instance", ""),
                r["row"].get("solver", ""),
                r["row"]["error"],
            )
            for r in failed[:max_failures_shown]
        ]
        summary.tables = store.merge(task_ids, spec.metric_columns) if records else []
        summary.seconds = time.perf_counter() - started
    return summary


# -- executors -------------------------------------------------------------------------
TaskIterator = Callable[[list[Task]], Iterable[dict[str, Any]]]


@contextlib.contextmanager
def _executor(dask: Any, jobs: int | None) -> Iterator[tuple[TaskIterator, str]]:
    if dask is None:
        workers = jobs if jobs is not None else (os.cpu_count() or 1)
        if workers < 1:
            raise InputError(f"jobs must be at least 1, not {workers}")
        yield (lambda tasks: run_with_joblib(tasks, workers)), f"joblib ({workers} jobs)"
        return
    with _dask_client(dask, jobs) as (client, description):
        yield (lambda tasks: run_with_dask(tasks, client)), description


@contextlib.contextmanager
def _dask_client(dask: Any, jobs: int | None) -> Iterator[tuple[Any, str]]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - distributed ships with the dist extra
        raise InputError(
            "running on Dask needs 'distributed': pip install 'dask[distributed]'"
        ) from exc
    if isinstance(dask, Client):
        yield dask, f"dask {dask.scheduler.address}"
        return
    if not isinstance(dask, str) or not dask:
        raise InputError(f"dask must be 'local', a scheduler address or a Client, not {dask!r}")
    if dask == "local":
        workers = jobs if jobs is not None else (os.cpu_count() or 1)
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client, f"dask local cluster ({workers} workers)"
        return
    try:
        client = Client(dask, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {dask!r} ({exc})") from None
    with client:
        yield client, f"dask {dask}"


def run_with_joblib(tasks: list[Task], jobs: int) -> Iterator[dict[str, Any]]:
    """Run tasks in a joblib process pool, yielding records as they finish.

    Parameters
    ----------
    tasks : list of Task
        Tasks to run.
    jobs : int
        Worker processes (1 runs the tasks one after the other in this process).

    Yields
    ------
    dict
        Task records (see :func:`~idnopt.sweep.tasks.execute_task`), in completion order.
    """
    if not tasks:
        return
    if jobs == 1:
        yield from map(execute_task, tasks)
        return
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="loky", n_jobs=jobs, inner_max_num_threads=1):
        parallel = Parallel(return_as="generator_unordered")
        yield from parallel(delayed(execute_task)(task) for task in tasks)


def execute_batch(tasks: list[Task]) -> list[dict[str, Any]]:
    """Run several tasks one after the other in one worker call; their records in order."""
    return [execute_task(task) for task in tasks]


def run_with_dask(
    tasks: list[Task],
    client: Any,
    *,
    window: int | None = None,
    batch_seconds: float = 0.2,
    max_batch: int = 64,
) -> Iterator[dict[str, Any]]:
    """Run tasks on a Dask cluster, yielding records as they finish.

    Short tasks are sent in batches, so the scheduler's cost per submission is
    shared: the batch size starts at one and adapts so a batch takes about
    ``batch_seconds`` (never more than a fair share of what remains, to keep
    the workers balanced to the end). At most ``window`` batches are in flight.
    When a worker dies, Dask retries its work; a batch lost anyway is split and
    its tasks retried one by one, and a single task lost again is recorded as failed.

    Parameters
    ----------
    tasks : list of Task
        Tasks to run.
    client : distributed.Client
        A connected client.
    window : int, optional
        Batches in flight (default: four per worker thread, at least 8).
    batch_seconds : float
        Target duration of a batch.
    max_batch : int
        Largest batch.

    Yields
    ------
    dict
        Task records, in completion order.
    """
    from distributed import as_completed

    if not tasks:
        return
    threads = sum(client.nthreads().values()) or 1
    window = window if window is not None else max(8, 4 * threads)
    queue, singles = deque(tasks), deque()
    submitted: dict[str, list[Task]] = {}
    size, seconds, finished = 1, 0.0, 0

    def submit_next():
        if singles:
            batch = [singles.popleft()]
        else:
            fair = max(1, math.ceil(len(queue) / (2 * threads)))
            batch = [queue.popleft() for _ in range(min(size, fair, len(queue)))]
        future = client.submit(execute_batch, batch, pure=False)
        submitted[future.key] = batch
        return future

    running = as_completed([submit_next() for _ in range(min(window, len(queue)))])
    try:
        for future in running:
            batch = submitted.pop(future.key)
            if future.status == "finished":
                records = future.result()
            elif len(batch) > 1:
                singles.extend(batch)
                records = []
            else:
                records = [_lost_record(batch[0], _failure_of(future))]
            future.release()
            for record in records:
                finished += 1
                seconds += record["row"].get("task_seconds") or 0.0
                yield record
            if finished:
                size = min(max_batch, max(1, int(batch_seconds / max(seconds / finished, 1e-6))))
            while (queue or singles) and running.count() < window:
                running.add(submit_next())
    finally:
        if submitted:
            client.cancel(list(running.futures))


def _failure_of(future: Any) -> BaseException | None:
    """The exception of a Dask future that did not finish (cancelled ones included)."""
    try:
        return future.exception()
    except BaseException as exc:  # a cancelled future raises instead of returning its error
        return exc


def _lost_record(task: Task, error: BaseException | None) -> dict[str, Any]:
    """Record of a task that never reported back (its worker died or it could not be sent)."""
    row = task.columns()
    row.update(
        {"status": FAILED, "error": f"{type(error).__name__}: {error}", "task_seconds": None}
    )
    return {"task_id": task.task_id, "task": task.identity(), "row": row, "traceback": None}


class _ProgressBar:
    """A rich progress bar with counts, failures and the estimated time left."""

    def __init__(self, name: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.failed = 0
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.bar = self.progress.add_task(name, total=total, failed=0)

    def __enter__(self) -> _ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, failed: bool) -> None:
        self.failed += int(failed)
        self.progress.update(self.bar, advance=1, failed=self.failed)
