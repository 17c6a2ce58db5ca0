"""Instance schema of the JellyBean family (``kind: jellybean``).

Sources feed a DAG of operators; every operator has model variants; workers sit
on ordered tiers; an accuracy table (or a per-variant rule) gives the end-to-end
accuracy of variant combinations; network prices apply to upward tier crossings.
Units are normalised at load time (ms, MB, requests/s, $/h, $/GB, accuracies
as fractions: ``"56 %"`` is 0.56). The located cross-checks live in
:mod:`idnopt.formulations.jellybean.checks`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from idnopt.formulations.jellybean import checks
from idnopt.instance import TIERS, Instance, Name, Node, Problem, Strict
from idnopt.units import (
    DollarsPerGigabyte,
    DollarsPerHour,
    Fraction,
    Megabytes,
    Milliseconds,
    RequestsPerSecond,
    parse_quantity,
)


def _check_tier(tier: str | int) -> str | int:
    """Accept a known tier name or an integer rank."""
    return Node._known_tier(tier)  # the same tier names and hints as network nodes


def tier_rank(tier: str | int) -> int:
    """Raw rank of a tier: its position in :data:`~idnopt.instance.TIERS`, or the integer."""
    return TIERS.index(tier) if isinstance(tier, str) else int(tier)


def tier_name(rank: int) -> str:
    """Name of a raw tier rank (``tier-<rank>`` outside the named tiers)."""
    return TIERS[rank] if 0 <= rank < len(TIERS) else f"tier-{rank}"


class Worker(Strict):
    """A machine that can host one operator.

    ``count`` declares that many identical machines named ``name-1``…``name-k``
    (just ``name`` when 1). ``hardware`` is an optional name that variant
    latencies may refer to instead of the worker's name.
    """

    name: Name
    tier: str | int = "edge"
    price: Annotated[DollarsPerHour, Field(ge=0)]
    hardware: Name | None = None
    count: Annotated[int, Field(ge=1, le=10_000)] = 1

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, tier: str | int) -> str | int:
        return _check_tier(tier)

    @property
    def members(self) -> list[str]:
        """Names of the machines this entry declares."""
        if self.count == 1:
            return [self.name]
        return [f"{self.name}-{k}" for k in range(1, self.count + 1)]


class Source(Strict):
    """A data source injecting ``rate`` requests/s; it sits on ``tier`` (default: lowest)."""

    name: Name
    rate: Annotated[RequestsPerSecond, Field(ge=0)]
    tier: str | int | None = None

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, tier: str | int | None) -> str | int | None:
        return tier if tier is None else _check_tier(tier)


class Variant(Strict):
    """A model variant of an operator.

    ``latency`` maps worker names (or worker ``hardware`` names) to ms per
    request; a worker without an entry cannot run the variant. ``accuracy`` is
    only needed by the ``product``/``minimum`` accuracy rules (and, when given,
    ranks variants for the heuristic).

    Two optional numbers feed the published optimizer's beam search (method
    ``published``): ``output_accuracy``, the operator's own profiled output
    accuracy on whatever scale it is measured (top-1 %, negative word error
    rate…; higher is better), which end-to-end samples turn into requirements
    on upstream operators; and ``beam_cost``, the proxy cost the beam ranks
    variants by (not dollars). Defaults are described in ``THEORY.md``.
    """

    name: Name
    latency: dict[str, Annotated[Milliseconds, Field(gt=0)]] = Field(default_factory=dict)
    accuracy: Annotated[Fraction, Field(ge=0, le=1)] | None = None
    output_accuracy: Annotated[float, Field(allow_inf_nan=False)] | None = None
    beam_cost: Annotated[float, Field(allow_inf_nan=False)] | None = None


class Operator(Strict):
    """A workflow operator and its model variants."""

    name: Name
    variants: list[Variant] = Field(min_length=1)


class SizeRule(Strict):
    """A message size for some variants at the ends of an edge (omitted end: any variant)."""

    source_variant: Name | None = None
    target_variant: Name | None = None
    size: Annotated[Megabytes, Field(ge=0)]


class Edge(Strict):
    """A workflow edge from a source or operator to an operator.

    ``ratio`` scales the rate (e.g. detections per frame); ``size`` is the
    default message size, ``sizes`` refines it per variant. The most specific
    rule wins: both variants, then the source variant, then the target variant,
    then ``size``.
    """

    source: Name
    target: Name
    ratio: Annotated[float, Field(gt=0)] = 1.0
    size: Annotated[Megabytes, Field(ge=0)] = 0.0
    sizes: list[SizeRule] = Field(default_factory=list)


class Price(Strict):
    """A network price in $/GB from one end to another.

    Each end is a tier (name or integer; a tier name always means the tier), a
    worker name (an entry with ``count`` may be named as a whole or by member) or
    a source name. The most specific entry wins, the sending end's specificity
    first. Only upward tier crossings are charged.
    """

    source: str | int
    target: str | int
    price: Annotated[DollarsPerGigabyte, Field(ge=0)]


class Network(Strict):
    """Network prices: ``default`` for every upward crossing not listed in ``prices``."""

    default: Annotated[DollarsPerGigabyte, Field(ge=0)] = 0.0
    prices: list[Price] = Field(default_factory=list)


class Accuracy(Strict):
    """End-to-end accuracy of variant combinations.

    ``rule: table`` (default): ``rows`` list combinations as
    ``[variant of columns[0], …, variant of columns[-1], accuracy]``; only listed
    combinations may be chosen. Operators with a single variant need no column.
    ``columns`` defaults to the operators in file order, or to those with more
    than one variant when every row has one variant name per such operator.
    Accuracies are fractions or percentages (``0.5659`` or ``"56.59 %"``).
    ``rule: product`` / ``rule: minimum`` compute the accuracy from each
    variant's ``accuracy`` instead (only when no table is given).
    """

    rule: Literal["table", "product", "minimum"] = "table"
    columns: list[Name] | None = None
    rows: list[list[str | float]] = Field(default_factory=list)

    @field_validator("rows", mode="before")
    @classmethod
    def _percentages(cls, rows: Any) -> Any:
        """Read an accuracy given with a unit (``"56.59 %"``) as a fraction."""
        if not isinstance(rows, list):
            return rows
        return [_read_accuracy_cell(row) for row in rows]


class JellyBeanInstance(Instance):
    """A JellyBean workflow-serving instance (``kind: jellybean``)."""

    kind: Literal["jellybean"] = "jellybean"
    sources: list[Source] = Field(min_length=1)
    operators: list[Operator] = Field(min_length=1)
    edges: list[Edge] = Field(min_length=1)
    workers: list[Worker] = Field(min_length=1)
    accuracy: Accuracy = Field(default_factory=Accuracy)
    network: Network = Field(default_factory=Network)
    target: Annotated[Fraction, Field(ge=0, le=1)] = 0.0

    def cross_check(self) -> list[Problem]:
        """Check every name and reference; return located problems (empty when consistent)."""
        return checks.cross_check(self)


def _read_accuracy_cell(row: Any) -> Any:
    """A table row whose last cell, a string such as ``"56.59 %"``, becomes a fraction.

    Cells that cannot be read are left as they are: the cross-checks name them
    with their location.
    """
    if not isinstance(row, list) or not row or not isinstance(row[-1], str):
        return row
    try:
        value = parse_quantity(row[-1], "fraction")
    except ValueError:
        return row
    return row if math.isnan(value) else [*row[:-1], value]
