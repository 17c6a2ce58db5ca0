"""Latency timers for CPUs and GPUs with an adaptive stopping rule.

CPU: ``time.perf_counter`` around each call (the work is synchronous).

GPU: CUDA events recorded on the stream around each call, read after the
stream has drained, so the figure is the device's time between the events.
Where the model allows, the forward pass is first captured into a CUDA graph
and the graph is replayed: one launch per forward instead of one per kernel.
Eager launches at small batch sizes otherwise measure the Python launch path
(several ms for any small CNN on a shared virtual machine) rather than the
device. If capture fails the timer falls back to eager launches and says so in
:attr:`TimingStats.note`.

Both timers warm up first, then time in rounds and stop as soon as the
distribution-free 95 % confidence interval of the median is narrower than
``relative_tolerance`` of the median (after ``min_repetitions``), or at
``max_repetitions`` or ``max_seconds``. Several callables (a whole model and
its blocks) can be timed interleaved, one call of each per repetition, so that
drift in the machine's speed affects them alike. torch is imported only by the
GPU timers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class StoppingRule:
    """How long to warm up and time one measurement.

    Parameters
    ----------
    warmup : int, default 5
        Untimed calls before timing (at least one; fewer if ``warmup_seconds`` runs out).
    warmup_seconds : float, default 2.0
        Upper bound on warm-up time once one call has been made.
    min_repetitions : int, default 10
        Timed calls of the first round, always made; the stability test and the
        time budget apply after it.
    max_repetitions : int, default 200
        Timed calls at most.
    max_seconds : float, default 2.0
        Timing budget after warm-up: later rounds are sized to fit in it.
    relative_tolerance : float, default 0.02
        Stop when the half-width of the 95 % confidence interval of the median
        is at most this fraction of the median.
    round_size : int, default 10
        Calls per later round between stability checks (and per CUDA
        synchronisation).
    """

    warmup: int = 5
    warmup_seconds: float = 2.0
    min_repetitions: int = 10
    max_repetitions: int = 200
    max_seconds: float = 2.0
    relative_tolerance: float = 0.02
    round_size: int = 10

    def __post_init__(self) -> None:
        if self.warmup < 0 or self.min_repetitions < 1 or self.round_size < 1:
            raise ValueError("warmup must be >= 0, min_repetitions and round_size >= 1")
        if self.max_repetitions < self.min_repetitions:
            raise ValueError("max_repetitions must be >= min_repetitions")
        if self.max_seconds <= 0 or self.relative_tolerance <= 0 or self.warmup_seconds < 0:
            raise ValueError("max_seconds and relative_tolerance must be > 0")


def median_confidence_interval(samples: np.ndarray, z: float = _Z95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median from order statistics.

    Parameters
    ----------
    samples : numpy.ndarray
        One-dimensional sample.
    z : float, default 1.96
        Normal quantile of the two-sided level (1.96 for 95 %).

    Returns
    -------
    tuple of float
        ``(low, high)``: the order statistics of 1-based ranks
        ``floor(n/2 - z*sqrt(n)/2)`` and ``ceil(1 + n/2 + z*sqrt(n)/2)``, clipped
        to the sample.
    """
    ordered = np.sort(np.asarray(samples, dtype=float))
    count = ordered.size
    half_width = z * np.sqrt(count) / 2.0
    # 1-based ranks floor(n/2 - h) and ceil(1 + n/2 + h), as 0-based indices.
    low = int(np.clip(np.floor(count / 2.0 - half_width) - 1, 0, count - 1))
    high = int(np.clip(np.ceil(count / 2.0 + half_width), 0, count - 1))
    return float(ordered[low]), float(ordered[high])


@dataclass(frozen=True)
class TimingStats:
    """Timed samples of one callable and their summary.

    Attributes
    ----------
    samples_ms : numpy.ndarray
        Latency of every timed call, in ms, in the order measured.
    warmup : int
        Untimed calls made first.
    method : str
        ``wall-clock``, ``cuda-events`` or ``cuda-graph``.
    stopped_early : bool
        Whether the stability test stopped timing before ``max_repetitions``.
    note : str or None
        Anything the reader should know (e.g. why CUDA-graph capture was not used).
    """

    samples_ms: np.ndarray
    warmup: int
    method: str
    stopped_early: bool
    note: str | None = None

    @property
    def repetitions(self) -> int:
        """Number of timed calls."""
        return int(self.samples_ms.size)

    @property
    def median_ms(self) -> float:
        """Median latency."""
        return float(np.median(self.samples_ms))

    @property
    def p95_ms(self) -> float:
        """95th percentile latency."""
        return float(np.percentile(self.samples_ms, 95))

    @property
    def min_ms(self) -> float:
        """Fastest call."""
        return float(self.samples_ms.min())

    @property
    def mean_ms(self) -> float:
        """Mean latency."""
        return float(self.samples_ms.mean())

    @property
    def std_ms(self) -> float:
        """Sample standard deviation (0 for one sample)."""
        return float(self.samples_ms.std(ddof=1)) if self.samples_ms.size > 1 else 0.0

    @property
    def median_ci_ms(self) -> tuple[float, float]:
        """Distribution-free 95 % confidence interval of the median."""
        return median_confidence_interval(self.samples_ms)

    @property
    def relative_spread(self) -> float:
        """Half-width of :attr:`median_ci_ms` relative to the median."""
        low, high = self.median_ci_ms
        return (high - low) / 2.0 / self.median_ms


def _is_stable(samples: np.ndarray, rule: StoppingRule) -> bool:
    if samples.size < rule.min_repetitions:
        return False
    low, high = median_confidence_interval(samples)
    median = float(np.median(samples))
    return median > 0 and (high - low) / 2.0 <= rule.relative_tolerance * median


def _adaptive_rounds(
    time_round: Callable[[int], np.ndarray], rule: StoppingRule
) -> tuple[np.ndarray, bool]:
    """Time rounds until the stopping rule fires.

    ``time_round(count)`` returns a ``(count, calls)`` array of latencies; the
    rule is applied to the per-repetition total over the calls.
    """
    rounds: list[np.ndarray] = []
    total = 0
    started = time.perf_counter()
    count = rule.min_repetitions
    while True:
        rounds.append(np.asarray(time_round(count), dtype=float))
        total += count
        samples = np.concatenate(rounds)
        if _is_stable(samples.sum(axis=1), rule):
            return samples, total < rule.max_repetitions
        elapsed = time.perf_counter() - started
        if total >= rule.max_repetitions or elapsed >= rule.max_seconds:
            return samples, False
        # Next round: what fits in the remaining budget, at most round_size.
        affordable = int((rule.max_seconds - elapsed) / (elapsed / total))
        count = max(1, min(rule.round_size, rule.max_repetitions - total, affordable))


def _warm_up(
    calls: Sequence[Callable[[], object]],
    rule: StoppingRule,
    synchronize: Callable[[], object] | None = None,
) -> int:
    started = time.perf_counter()
    rounds = 0
    while rounds < max(rule.warmup, 1):
        for call in calls:
            call()
        rounds += 1
        if synchronize is not None:
            synchronize()
        if time.perf_counter() - started >= rule.warmup_seconds:
            break
    return rounds


def time_cpu_many(
    calls: Sequence[Callable[[], object]], rule: StoppingRule | None = None
) -> list[TimingStats]:
    """Time several synchronous callables interleaved, with ``time.perf_counter``.

    Every repetition runs each callable once, in order, so a machine whose
    speed drifts (frequency scaling, other tenants) affects all of them alike:
    the whole model and its blocks, say, stay comparable. The stopping rule
    applies to the per-repetition total.

    Parameters
    ----------
    calls : sequence of callable
        Each runs its work once (e.g. one forward pass under ``torch.no_grad``).
    rule : StoppingRule, optional
        Warm-up and stopping rule (defaults to :class:`StoppingRule()`).

    Returns
    -------
    list of TimingStats
        One per callable, method ``wall-clock``, with equal repetitions.
    """
    rule = rule or StoppingRule()
    warmup = _warm_up(calls, rule)

    def time_round(count: int) -> np.ndarray:
        stamps = np.empty((count, len(calls) + 1))
        for repetition in range(count):
            stamps[repetition, 0] = time.perf_counter()
            for index, call in enumerate(calls, start=1):
                call()
                stamps[repetition, index] = time.perf_counter()
        return np.diff(stamps, axis=1) * 1000.0

    samples, early = _adaptive_rounds(time_round, rule)
    return [
        TimingStats(column.copy(), warmup=warmup, method="wall-clock", stopped_early=early)
        for column in samples.T
    ]


def time_cpu(call: Callable[[], object], rule: StoppingRule | None = None) -> TimingStats:
    """Time one synchronous callable with ``time.perf_counter``.

    Parameters
    ----------
    call : callable
        Runs the work once.
    rule : StoppingRule, optional
        Warm-up and stopping rule.

    Returns
    -------
    TimingStats
        Samples in ms, method ``wall-clock``.
    """
    return time_cpu_many([call], rule)[0]


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def time_cuda_many(
    calls: Sequence[Callable[[], object]],
    rule: StoppingRule | None = None,
    *,
    use_graph: bool = True,
) -> list[TimingStats]:
    """Time several GPU callables interleaved with CUDA events, replaying CUDA graphs.

    Parameters
    ----------
    calls : sequence of callable
        Each enqueues its work once on the current CUDA stream, reading and
        writing tensors that stay allocated (static inputs, as CUDA graphs require).
    rule : StoppingRule, optional
        Warm-up and stopping rule; it applies to the per-repetition total.
    use_graph : bool, default True
        Capture each callable into its own CUDA graph and time replays; a
        callable whose capture fails is timed with eager launches, and its
        :attr:`TimingStats.note` says why.

    Returns
    -------
    list of TimingStats
        One per callable, method ``cuda-graph`` or ``cuda-events``.
    """
    import torch

    rule = rule or StoppingRule()
    side_stream = torch.cuda.Stream()
    side_stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side_stream):
        # Warming up on a side stream is what graph capture requires.
        warmup = _warm_up(calls, rule, synchronize=side_stream.synchronize)
    torch.cuda.current_stream().wait_stream(side_stream)
    torch.cuda.synchronize()

    runs: list[Callable[[], object]] = list(calls)
    methods = ["cuda-events"] * len(calls)
    notes: list[str | None] = [None] * len(calls)
    graphs: list[object] = []
    if use_graph:
        for index, call in enumerate(calls):
            try:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    call()
                graph.replay()
                torch.cuda.synchronize()
            except Exception as error:  # data-dependent or host-side code refuses capture
                torch.cuda.synchronize()
                notes[index] = (
                    f"CUDA-graph capture failed ({_first_line(error)}); timed eager launches"
                )
                continue
            graphs.append(graph)
            runs[index] = graph.replay
            methods[index] = "cuda-graph"

    def time_round(count: int) -> np.ndarray:
        starts = [[torch.cuda.Event(enable_timing=True) for _ in runs] for _ in range(count)]
        ends = [[torch.cuda.Event(enable_timing=True) for _ in runs] for _ in range(count)]
        for repetition in range(count):
            for run, start, end in zip(runs, starts[repetition], ends[repetition], strict=True):
                start.record()
                run()
                end.record()
        ends[-1][-1].synchronize()
        return np.array(
            [
                [start.elapsed_time(end) for start, end in zip(row_start, row_end, strict=True)]
                for row_start, row_end in zip(starts, ends, strict=True)
            ]
        )

    samples, early = _adaptive_rounds(time_round, rule)
    graphs.clear()  # releases the graphs' memory pools
    return [
        TimingStats(column.copy(), warmup=warmup, method=method, stopped_early=early, note=note)
        for column, method, note in zip(samples.T, methods, notes, strict=True)
    ]


def time_cuda(
    call: Callable[[], object],
    rule: StoppingRule | None = None,
    *,
    use_graph: bool = True,
) -> TimingStats:
    """Time one GPU callable with CUDA events, replaying a CUDA graph where possible.

    Parameters
    ----------
    call : callable
        Enqueues the work once on the current CUDA stream, on static tensors.
    rule : StoppingRule, optional
        Warm-up and stopping rule.
    use_graph : bool, default True
        Try CUDA-graph capture first; fall back to eager launches with a note.

    Returns
    -------
    TimingStats
        Samples in ms, method ``cuda-graph`` or ``cuda-events``.
    """
    return time_cuda_many([call], rule, use_graph=use_graph)[0]
