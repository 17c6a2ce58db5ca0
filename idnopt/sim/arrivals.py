"""Arrival processes that start one simulation process per request.

:func:`poisson_arrivals` draws exponential gaps from a seeded generator and
calls ``handler(index, now)`` for each arrival in ``[start, stop)``; the
handler usually starts a request process. Other arrival patterns (bursty,
diurnal, a replayed trace) fit the same shape: a generator process over the
simulator's clock.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def poisson_arrivals(
    simulator,
    rng: np.random.Generator,
    rate: float,
    handler: Callable[[int, float], None],
    *,
    start: float = 0.0,
    stop: float = float("inf"),
):
    """Start a Poisson arrival process.

    Parameters
    ----------
    simulator : Simulator
        Owner of the event loop.
    rng : numpy.random.Generator
        Source of the exponential gaps (one stream per arrival process).
    rate : float
        Arrivals per ms.
    handler : callable
        ``handler(index, now)`` called at each arrival.
    start, stop : float
        Arrivals happen in ``[start, stop)`` ms.

    Returns
    -------
    simpy.Process
        The arrival process.
    """
    env = simulator.env

    def arrive():
        if start > env.now:
            yield env.timeout(start - env.now)
        index = 0
        while True:
            gap = rng.exponential(1.0 / rate)
            if env.now + gap >= stop:
                return
            yield env.timeout(gap)
            handler(index, float(env.now))
            index += 1

    return env.process(arrive())
