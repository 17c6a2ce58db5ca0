"""What a figure shows: named series, reference lines and fitted power laws.

These are plain data (no matplotlib): a :class:`Series` is a named sequence of
points with an optional band (e.g. the interquartile range over seeds), a
:class:`Reference` a level, a limit or a bound curve drawn in the reference
style, and a :class:`PowerLaw` a fitted ``a · x^b`` drawn over a series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

SeriesKind = Literal["line", "step", "points", "dashed"]
"""How a series is drawn: a line through markers, steps (value held from the
previous point), markers only, or a thin dashed line without markers (fits,
models)."""

_KINDS = ("line", "step", "points", "dashed")


@dataclass(frozen=True)
class Series:
    """A named sequence of points, optionally with a band around it.

    Parameters
    ----------
    name : str
        Series name; it picks the colour (the same in every figure) and is the
        legend text unless ``label`` is given.
    x : sequence of float or str
        Horizontal positions; labels (str) are placed in order on a categorical axis.
    y : sequence of float
        Values (``None`` or NaN leaves a gap).
    low, high : sequence of float, optional
        Lower and upper edge of a shaded band (both or neither), e.g. quartiles.
    label : str, optional
        Legend text (default: ``name``).
    kind : {"line", "step", "points", "dashed"}
        How the series is drawn, see :data:`SeriesKind`.
    marker : str, optional
        matplotlib marker (default ``o``; none for ``dashed``).
    legend : bool
        Whether the series has a legend entry.

    Examples
    --------
    >>> Series("OGA", x=[1, 2, 3], y=[0.5, 0.8, 0.9]).label
    'OGA'
    """

    name: str
    x: Sequence[Any]
    y: Sequence[Any]
    low: Sequence[Any] | None = None
    high: Sequence[Any] | None = None
    label: str | None = None
    kind: SeriesKind = "line"
    marker: str | None = None
    legend: bool = True

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"series {self.name!r}: kind {self.kind!r} is not one of {_KINDS}")
        if len(self.x) != len(self.y):
            raise ValueError(
                f"series {self.name!r}: {len(self.x)} x values but {len(self.y)} y values"
            )
        if (self.low is None) != (self.high is None):
            raise ValueError(f"series {self.name!r}: give both low and high, or neither")
        for edge in (self.low, self.high):
            if edge is not None and len(edge) != len(self.y):
                raise ValueError(
                    f"series {self.name!r}: a band edge has {len(edge)} values, "
                    f"expected {len(self.y)}"
                )
        if self.label is None:
            object.__setattr__(self, "label", self.name)

    @property
    def categorical(self) -> bool:
        """Whether the x values are labels rather than numbers."""
        return any(isinstance(value, str) for value in self.x)

    def span(self) -> tuple[float, float]:
        """Smallest and largest numeric x with a finite y.

        Returns
        -------
        tuple of float
            ``(min, max)``; NaN when no point has a finite y.
        """
        x = np.asarray(self.x, dtype=float)
        y = np.asarray(self.y, dtype=float)
        finite = np.isfinite(x) & np.isfinite(y)
        if not finite.any():
            return float("nan"), float("nan")
        return float(x[finite].min()), float(x[finite].max())


@dataclass(frozen=True)
class Reference:
    """A reference drawn in grey and dashed: a level, a limit or a bound curve.

    Build one with :meth:`horizontal`, :meth:`vertical` or :meth:`curve`.

    Parameters
    ----------
    kind : {"horizontal", "vertical", "curve"}
        A horizontal line at ``y``, a vertical line at ``x``, or the curve
        through ``(x, y)``.
    x, y : float or sequence of float, optional
        Position (a number for a line, sequences for a curve).
    label : str, optional
        Legend entry.
    note : str, optional
        Text written beside the line (at the bottom of a vertical line, at the
        left end of a horizontal one, after the last point of a curve).

    Examples
    --------
    A regret curve with its theoretical bound::

        line_plot(
            [Series("INFIDA", slots, regret)],
            "slot", "cumulative regret", "regret of INFIDA",
            references=[Reference.curve(slots, bound, label="regret bound")],
        )
    """

    kind: Literal["horizontal", "vertical", "curve"]
    x: float | Sequence[float] | None = None
    y: float | Sequence[float] | None = None
    label: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "horizontal" and self.y is None:
            raise ValueError("a horizontal reference needs y")
        if self.kind == "vertical" and self.x is None:
            raise ValueError("a vertical reference needs x")
        if self.kind == "curve":
            if self.x is None or self.y is None or len(self.x) != len(self.y):
                raise ValueError("a reference curve needs x and y of the same length")
        if self.kind not in ("horizontal", "vertical", "curve"):
            raise ValueError(f"unknown reference kind {self.kind!r}")

    @classmethod
    def horizontal(cls, y: float, label: str | None = None, note: str | None = None) -> Reference:
        """A horizontal line (a level such as ratio 1, a target, an optimum).

        Parameters
        ----------
        y : float
            Height of the line.
        label : str, optional
            Legend entry.
        note : str, optional
            Text written at the line's left end.

        Returns
        -------
        Reference
        """
        return cls("horizontal", y=float(y), label=label, note=note)

    @classmethod
    def vertical(cls, x: float, label: str | None = None, note: str | None = None) -> Reference:
        """A vertical line (a limit such as the largest feasible target).

        Parameters
        ----------
        x : float
            Position of the line.
        label : str, optional
            Legend entry.
        note : str, optional
            Text written at the bottom, left of the line.

        Returns
        -------
        Reference
        """
        return cls("vertical", x=float(x), label=label, note=note)

    @classmethod
    def curve(
        cls,
        x: Sequence[float],
        y: Sequence[float],
        label: str | None = None,
        note: str | None = None,
    ) -> Reference:
        """A reference curve (a theoretical bound over time or size).

        Parameters
        ----------
        x, y : sequence of float
            Points of the curve.
        label : str, optional
            Legend entry.
        note : str, optional
            Text written after the last point.

        Returns
        -------
        Reference
        """
        return cls("curve", x=list(x), y=list(y), label=label, note=note)


@dataclass(frozen=True)
class PowerLaw:
    """A fitted power law ``y = coefficient · x^exponent``.

    Parameters
    ----------
    coefficient : float
        ``a``.
    exponent : float
        ``b``.
    span : tuple of float, optional
        Range of x over which it is drawn (default: its series' range).
    """

    coefficient: float
    exponent: float
    span: tuple[float, float] | None = None

    def __call__(self, x: Any) -> np.ndarray:
        """Evaluate ``coefficient · x^exponent``."""
        return self.coefficient * np.asarray(x, dtype=float) ** self.exponent

    @property
    def finite(self) -> bool:
        """Whether both parameters are finite numbers (a fit was possible)."""
        return bool(np.isfinite(self.coefficient) and np.isfinite(self.exponent))
