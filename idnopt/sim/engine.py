"""The simulation clock, seeded random streams, and the options every simulation takes.

Time is in **milliseconds** throughout the simulator. :class:`Simulator` wraps a
``simpy.Environment`` with named random streams (:class:`Streams`) and runs it
in steps so that a caller can show progress. simpy's ``run(until=t)`` stops
*before* processing events scheduled exactly at ``t``; :meth:`Simulator.run`
advances in steps and :meth:`Simulator.drain` lets work in flight finish, so
no event is lost at a step boundary.

:class:`SimulationParameters` holds what every family's simulation needs
(duration, warm-up, seed, a progress callback); a family's own options
subclass it, and ``idnopt simulate`` fills these fields for any family.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from idnopt.method import Parameters

Progress = Callable[[float], None]
"""``progress(fraction)``: the share of simulated time done, from 0 to 1."""


class SimulationParameters(Parameters):
    """Options of every simulation (families add their own by subclassing).

    Attributes
    ----------
    duration : float
        Seconds of simulated arrivals (requests arrive in ``[0, duration)`` and all
        of them are followed to completion).
    warmup : float, optional
        The first seconds of ``duration`` whose arrivals are not measured
        (default: 10 % of ``duration``).
    seed : int
        Seed of every random stream.
    progress : callable, optional
        ``progress(fraction)`` called as simulated time advances (Python only).
    """

    python_only: ClassVar[frozenset[str]] = frozenset({"progress"})

    duration: float = Field(60.0, gt=0, description="seconds of simulated arrivals")
    warmup: float | None = Field(
        None, ge=0, description="seconds whose arrivals are not measured (default 10 % of duration)"
    )
    seed: int = Field(0, ge=0, description="seed of every random stream")
    progress: Any = Field(None, description="callback progress(fraction) (Python only)")

    @field_validator("warmup")
    @classmethod
    def _warmup_inside(cls, warmup: float | None, info: ValidationInfo) -> float | None:
        duration = info.data.get("duration")
        if warmup is not None and duration is not None and warmup >= duration:
            raise ValueError(f"must be shorter than duration ({duration:g} s)")
        return warmup

    @property
    def warmup_ms(self) -> float:
        """Warm-up in ms."""
        return 1000.0 * (0.1 * self.duration if self.warmup is None else self.warmup)

    @property
    def duration_ms(self) -> float:
        """Duration in ms."""
        return 1000.0 * self.duration


class Streams:
    """Independent random generators by name, all derived from one seed.

    A stream depends only on the seed and its name, so adding a source or a
    device does not change the draws of the others, and two policies simulated
    with the same seed see the same arrivals (common random numbers).

    Parameters
    ----------
    seed : int
        The simulation's seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def __call__(self, name: str) -> np.random.Generator:
        """The generator called ``name`` (created on first use)."""
        if name not in self._streams:
            key = zlib.crc32(name.encode("utf-8"))
            self._streams[name] = np.random.default_rng([self.seed, key])
        return self._streams[name]


def service_factor(rng: np.random.Generator, cv: float) -> float:
    """A draw of a positive factor with mean 1 and coefficient of variation ``cv``.

    ``cv = 0`` gives 1 (deterministic); otherwise a gamma variate of shape
    ``1 / cv^2`` (exponential for ``cv = 1``).
    """
    if cv <= 0:
        return 1.0
    shape = 1.0 / cv**2
    return float(rng.gamma(shape, 1.0 / shape))


class Simulator:
    """A simpy environment with seeded streams and stepwise running.

    Parameters
    ----------
    seed : int
        Seed of :attr:`streams`.

    Attributes
    ----------
    env : simpy.Environment
        The event loop (time in ms).
    streams : Streams
        Named random generators.
    """

    def __init__(self, seed: int = 0) -> None:
        import simpy

        self.env = simpy.Environment()
        self.streams = Streams(seed)

    @property
    def now(self) -> float:
        """Current simulated time in ms."""
        return float(self.env.now)

    def run(self, until: float, progress: Progress | None = None, steps: int = 100) -> None:
        """Advance to ``until`` ms in ``steps`` steps, reporting progress after each.

        Parameters
        ----------
        until : float
            Simulated time to reach (ms).
        progress : callable, optional
            Called with the fraction of ``until`` reached.
        steps : int
            Number of steps.
        """
        start = self.now
        for step in range(1, steps + 1):
            self.env.run(until=start + (until - start) * step / steps)
            if progress is not None:
                progress(step / steps)

    def drain(self, done: Callable[[], bool], limit: float) -> bool:
        """Process events one by one until ``done()`` or time ``limit``; return ``done()``.

        The clock stops at the last event processed, so utilisations measured
        over ``now`` are not diluted by idle time after the work ends.
        """
        while not done() and self.env.peek() <= limit:
            self.env.step()
        return done()

    def every(self, interval: float, action: Callable[[float], None]):
        """Start a process calling ``action(now)`` every ``interval`` ms."""

        def tick():
            while True:
                yield self.env.timeout(interval)
                action(self.now)

        return self.env.process(tick())
