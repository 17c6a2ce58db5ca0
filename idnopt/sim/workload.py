"""Query arrivals drawn ahead of time, as arrays: Poisson, MMPP, diurnal, scheduled, replayed.

Arrivals do not depend on how queries are scheduled, so they are drawn once,
vectorised, before a simulation runs. Every draw comes from named streams of
:class:`~idnopt.sim.engine.Streams` (``arrivals:<class>``, ``service``,
``jitter``): two policies simulated with one seed see the same queries, the
same service-time factors and the same jitter (common random numbers), and
adding a class leaves the draws of the others unchanged.

Processes (rates in queries/s, times in ms):

* :class:`Poisson` - constant rate;
* :class:`Scheduled` - piecewise-constant multipliers of the rate from given
  times on (a load that shifts between ingresses);
* :class:`Mmpp` - Markov-modulated Poisson: the rate is multiplied by a level
  that jumps after exponential sojourns (bursts);
* :class:`Diurnal` - sinusoidal rate, drawn by thinning;
* replayed traces - :func:`read_arrival_trace` reads a CSV file of
  ``time,application[,ingress]`` rows, with errors located by line.

:func:`draw_queries` assembles a :class:`Queries` table sorted by time.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from idnopt.errors import InputError
from idnopt.sim.engine import Streams

MS_PER_S = 1000.0


@dataclass(frozen=True)
class Poisson:
    """Poisson arrivals at a constant rate (queries/s)."""

    def segments(self, rng: np.random.Generator, start: float, stop: float):
        """``(begin, end, multiplier)`` pieces of the rate over ``[start, stop)`` ms."""
        return [(start, stop, 1.0)]


@dataclass(frozen=True)
class Scheduled:
    """Rate multipliers that change at given times.

    Attributes
    ----------
    times : tuple of float
        Increasing times (ms) at which each multiplier starts; before the first,
        the multiplier is 1.
    scales : tuple of float
        Multiplier from each time on (same length as ``times``).
    """

    times: tuple[float, ...]
    scales: tuple[float, ...]

    def segments(self, rng: np.random.Generator, start: float, stop: float):
        """``(begin, end, multiplier)`` pieces of the rate over ``[start, stop)`` ms."""
        edges = [start] + [t for t in self.times if start < t < stop] + [stop]
        pieces = []
        for begin, end in zip(edges, edges[1:]):
            scale = 1.0
            for time, value in zip(self.times, self.scales):
                if time <= begin:
                    scale = value
            pieces.append((begin, end, scale))
        return pieces


@dataclass(frozen=True)
class Mmpp:
    """Markov-modulated Poisson arrivals.

    Attributes
    ----------
    levels : tuple of float
        Rate multiplier of each state.
    sojourn : tuple of float
        Mean time (ms) spent in each state; the next state is drawn uniformly
        among the others. The chain starts in state 0.
    """

    levels: tuple[float, ...]
    sojourn: tuple[float, ...]

    def segments(self, rng: np.random.Generator, start: float, stop: float):
        """``(begin, end, multiplier)`` pieces of the rate over ``[start, stop)`` ms."""
        pieces = []
        state, now = 0, start
        count = len(self.levels)
        while now < stop:
            end = min(now + rng.exponential(self.sojourn[state]), stop)
            pieces.append((now, end, self.levels[state]))
            now = end
            if count > 1:
                step = int(rng.integers(1, count))
                state = (state + step) % count
        return pieces

    def mean_level(self) -> float:
        """Long-run average multiplier (time-weighted)."""
        weights = np.asarray(self.sojourn, dtype=float)
        return float(np.dot(weights, self.levels) / weights.sum())


@dataclass(frozen=True)
class Diurnal:
    """Sinusoidal rate ``rate * (1 + amplitude * sin(2 pi (t / period - phase)))``.

    Attributes
    ----------
    amplitude : float
        Relative swing, in [0, 1].
    period : float
        Period in ms.
    phase : float
        Fraction of a period by which the wave is delayed.
    """

    amplitude: float
    period: float
    phase: float = 0.0

    def multiplier(self, times: np.ndarray) -> np.ndarray:
        """The rate multiplier at ``times`` (ms)."""
        angle = 2.0 * math.pi * (np.asarray(times) / self.period - self.phase)
        return 1.0 + self.amplitude * np.sin(angle)


ArrivalProcess = Poisson | Scheduled | Mmpp | Diurnal


def arrival_times(
    process: ArrivalProcess,
    rate: float,
    rng: np.random.Generator,
    start: float,
    stop: float,
) -> np.ndarray:
    """Sorted arrival times (ms) in ``[start, stop)`` of one process at base ``rate`` (queries/s).

    Piecewise-constant rates draw a Poisson count per piece and spread it
    uniformly (exact); :class:`Diurnal` thins a process at the peak rate.
    """
    per_ms = rate / MS_PER_S
    if per_ms <= 0 or stop <= start:
        return np.zeros(0)
    if isinstance(process, Diurnal):
        peak = per_ms * (1.0 + process.amplitude)
        count = rng.poisson(peak * (stop - start))
        times = np.sort(rng.uniform(start, stop, count))
        keep = rng.uniform(0.0, 1.0, count) * (1.0 + process.amplitude)
        return times[keep < process.multiplier(times)]
    parts = []
    for begin, end, scale in process.segments(rng, start, stop):
        if scale <= 0 or end <= begin:
            continue
        count = rng.poisson(per_ms * scale * (end - begin))
        parts.append(np.sort(rng.uniform(begin, end, count)))
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass(frozen=True, eq=False)
class Queries:
    """Every query of a simulation, sorted by arrival time, with its pre-drawn randomness.

    Attributes
    ----------
    time : numpy.ndarray
        Arrival time at the ingress (ms), non-decreasing.
    klass : numpy.ndarray
        Request class of each query.
    service_factor : numpy.ndarray
        Multiplier of the service time (mean 1, the class's coefficient of variation).
    jitter_up, jitter_down : numpy.ndarray
        Standard exponential draws scaled by the path's mean jitter each way.
    network_factor : numpy.ndarray, optional
        Conditions at the query's arrival: multiplier of the scaled transfer
        times (:attr:`~idnopt.sim.system.ServingSystem.transfer_up`), e.g. the
        nominal over the current bandwidth of the query's access link (default 1).
    compute_factor : numpy.ndarray, optional
        Multiplier of the service time at loaded deployments (background load
        of the query's own device at its arrival; default 1).
    """

    time: np.ndarray
    klass: np.ndarray
    service_factor: np.ndarray
    jitter_up: np.ndarray
    jitter_down: np.ndarray
    network_factor: np.ndarray | None = None
    compute_factor: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("network_factor", "compute_factor"):
            value = getattr(self, name)
            if value is None:
                value = np.ones(self.time.size)
            elif np.shape(value) != self.time.shape:
                raise ValueError(f"{name} needs one entry per query")
            object.__setattr__(self, name, np.asarray(value, dtype=float))

    def __len__(self) -> int:
        return int(self.time.size)

    def head(self, count: int) -> Queries:
        """The first ``count`` queries."""
        return self.select(slice(0, count))

    def select(self, which) -> Queries:
        """The queries picked by ``which`` (a slice, index array or mask, in time order)."""
        return Queries(
            self.time[which],
            self.klass[which],
            self.service_factor[which],
            self.jitter_up[which],
            self.jitter_down[which],
            self.network_factor[which],
            self.compute_factor[which],
        )

    def with_conditions(self, network_factor: np.ndarray, compute_factor: np.ndarray) -> Queries:
        """The same queries under other conditions (see the attributes)."""
        from dataclasses import replace

        return replace(self, network_factor=network_factor, compute_factor=compute_factor)


def service_factors(rng: np.random.Generator, cv: np.ndarray) -> np.ndarray:
    """Mean-1 gamma factors with coefficients of variation ``cv`` (1 where ``cv`` is 0)."""
    cv = np.asarray(cv, dtype=float)
    factors = np.ones(cv.size)
    random = cv > 0
    if random.any():
        shape = 1.0 / cv[random] ** 2
        factors[random] = rng.gamma(shape, 1.0 / shape)
    return factors


def assemble_queries(
    times: Sequence[np.ndarray], service_cv: np.ndarray, streams: Streams
) -> Queries:
    """Merge per-class arrival times into one sorted table and draw the per-query factors.

    Parameters
    ----------
    times : sequence of numpy.ndarray
        Arrival times (ms) of each class.
    service_cv : numpy.ndarray
        Coefficient of variation of the service time per class.
    streams : Streams
        Source of the ``service`` and ``jitter`` draws.
    """
    if times:
        all_times = np.concatenate([np.asarray(t, dtype=float) for t in times])
        classes = np.concatenate(
            [np.full(len(t), index, dtype=np.int64) for index, t in enumerate(times)]
        )
    else:
        all_times, classes = np.zeros(0), np.zeros(0, dtype=np.int64)
    order = np.lexsort((classes, all_times))
    all_times, classes = all_times[order], classes[order]
    count = all_times.size
    factors = service_factors(streams("service"), np.asarray(service_cv, float)[classes])
    jitter = streams("jitter").exponential(1.0, size=(2, count))
    return Queries(all_times, classes, factors, jitter[0], jitter[1])


def draw_queries(
    processes: Sequence[ArrivalProcess | np.ndarray],
    rates: Sequence[float],
    service_cv: np.ndarray,
    streams: Streams,
    duration: float,
    *,
    scale: float = 1.0,
    start: float = 0.0,
) -> Queries:
    """Draw every class's arrivals over ``[start, duration)`` ms and assemble them.

    Parameters
    ----------
    processes : sequence
        One arrival process per class, or an array of replayed times (ms).
    rates : sequence of float
        Base rate (queries/s) of each class (ignored for replayed times).
    service_cv : numpy.ndarray
        Coefficient of variation of the service time per class.
    streams : Streams
        Named random streams (``arrivals:<index>``, ``service``, ``jitter``).
    duration : float
        Simulated time of arrivals, ms.
    scale : float
        Multiplies every rate (the load of a sweep); replayed times are kept as they are.
    start : float
        First arrival time (ms) drawn: a window of a longer run. Scheduled
        steps and diurnal waves keep their absolute times; a Markov-modulated
        process starts its chain afresh (in its first state) at ``start``.
    """
    times = []
    for index, (process, rate) in enumerate(zip(processes, rates)):
        if isinstance(process, np.ndarray):
            times.append(process[(process >= start) & (process < duration)])
        else:
            rng = streams(f"arrivals:{index}")
            times.append(arrival_times(process, rate * scale, rng, start, duration))
    return assemble_queries(times, service_cv, streams)


def csv_rows(
    path: Path, needed: Sequence[str], what: str
) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    """The non-blank rows of a CSV file with a header naming at least ``needed``.

    Yields ``(line, cells, at)``: the 1-based line number, the row's cells and
    the column index of every header name.

    Raises
    ------
    InputError
        For an empty file, a missing column (line 1) or a row with another
        number of fields than the header (its line).
    """
    data = Path(path).read_bytes()
    try:
        # utf-8-sig: a byte-order mark some spreadsheets write is not part of the first name
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"not a UTF-8 text file: byte 0x{data[error.start]:02x} ({error.reason}); "
            "save it as UTF-8",
            path=path,
            line=data[: error.start].count(b"\n") + 1,
        ) from None
    yield from _rows(csv.reader(io.StringIO(text, newline="")), path, needed, what)


def _rows(
    reader, path: Path, needed: Sequence[str], what: str
) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    """The rows of :func:`csv_rows` (see there)."""
    header = next(reader, None)
    if header is None:
        raise InputError(f"empty {what}: expected a header '{','.join(needed)}'", path=path)
    columns = [name.strip() for name in header]
    for name in needed:
        if name not in columns:
            raise InputError(
                f"missing column {name!r} (header: {', '.join(columns)})", path=path, line=1
            )
    at = {name: columns.index(name) for name in columns}
    for line, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            raise InputError(
                f"expected {len(columns)} fields, found {len(row)}", path=path, line=line
            )
        yield line, row, at


def read_arrival_trace(
    path: str | Path,
    classes: Mapping[tuple[str, str], int],
    default_ingress: Mapping[str, str],
) -> list[np.ndarray]:
    """Replayed arrival times per class from a CSV file.

    The file has a header with ``time`` (ms from the start) and
    ``application`` columns and optionally ``ingress``; a row without an
    ingress uses the application's only ingress.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    classes : mapping
        ``(application, ingress)`` to class index.
    default_ingress : mapping
        Application to its ingress, for applications with exactly one.

    Returns
    -------
    list of numpy.ndarray
        Sorted arrival times of each class (empty arrays for classes without rows).

    Raises
    ------
    InputError
        Located at the file and line of the first problem (a missing column,
        a time that is not a non-negative number, an unknown application or ingress).
    """
    from idnopt.instance import unknown_name

    path = Path(path)
    if not path.is_file():
        raise InputError("arrival trace file not found", path=path)
    per_class: list[list[float]] = [[] for _ in range(max(classes.values(), default=-1) + 1)]
    applications = {application for application, _ in classes}
    for line, row, at in csv_rows(path, ("time", "application"), "arrival trace"):
        text = row[at["time"]].strip()
        try:
            time = float(text)
        except ValueError:
            time = float("nan")
        if not math.isfinite(time) or time < 0:
            raise InputError(
                f"time must be a non-negative number of ms, not {text!r}",
                path=path,
                line=line,
                location="time",
            )
        application = row[at["application"]].strip()
        if application not in applications:
            raise InputError(
                unknown_name("application", application, applications),
                path=path,
                line=line,
                location="application",
            )
        ingress = row[at["ingress"]].strip() if "ingress" in at else ""
        if not ingress:
            if application not in default_ingress:
                raise InputError(
                    f"application {application!r} enters at several ingresses: "
                    "add an 'ingress' column",
                    path=path,
                    line=line,
                )
            ingress = default_ingress[application]
        key = (application, ingress)
        if key not in classes:
            known = [i for a, i in classes if a == application]
            raise InputError(
                unknown_name(f"ingress of application {application!r}", ingress, known),
                path=path,
                line=line,
                location="ingress",
            )
        per_class[classes[key]].append(time)
    return [np.sort(np.asarray(times, dtype=float)) for times in per_class]
