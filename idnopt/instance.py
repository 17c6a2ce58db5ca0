"""Instance files: the schema's shared building blocks and located errors.

An instance file (YAML or JSON) has a top-level ``kind`` naming the problem
family (``idn``, ``jellybean``…); the family's schema (a subclass of
:class:`Instance` registered in :mod:`idnopt.family`) validates the rest.
Families share the blocks defined here: nodes with a tier and resources, links
with latency/bandwidth/price, a model catalog whose numbers are inline or come
from a profile file by hardware name, and request classes.

Loading (:mod:`idnopt.loading`) is three steps, each of which reports problems
as ``file:line: location: message``:

1. parse (syntax errors with their line),
2. validate fields with pydantic (types, units, ranges, unknown fields),
3. cross-check references (:meth:`Instance.cross_check`): unknown nodes in
   links, models without a latency on their hardware, unreachable ingresses…
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from idnopt.profiling.references import ProfileReference, resolve_models
from idnopt.units import (
    DollarsPerGigabyte,
    DollarsPerHour,
    MegabitsPerSecond,
    Megabytes,
    Milliseconds,
    RequestsPerSecond,
)

Location = tuple[str | int, ...]
Problem = tuple[Location, str]
"""A cross-check finding: where in the document, and what is wrong."""

NonNegative = Field(ge=0)
TIERS: tuple[str, ...] = ("device", "access", "edge", "regional", "cloud")
"""Named tiers in their order, lowest first (an integer tier is also accepted)."""

NAME_PATTERN = r"^[^\s,\[\]]+$"
"""What a name may be: anything without spaces, commas or brackets."""
Name = Annotated[str, Field(min_length=1, pattern=NAME_PATTERN)]
"""An identifier: non-empty, without spaces, commas or brackets."""


class Strict(BaseModel):
    """Base of every schema block: unknown fields are errors, objects are immutable.

    Numbers must be finite (``.inf`` and ``.nan`` are refused); quantities with
    units are also bounded (:data:`idnopt.units.LARGEST`).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


class Node(Strict):
    """A machine or site that can host models.

    ``memory`` is the model-memory budget in MB; ``hardware`` names the entry
    of the model catalog (or of a profile) that gives its latencies.
    """

    name: Name
    tier: str | int = "edge"
    memory: Annotated[Megabytes, NonNegative] = 0.0
    hardware: str | None = None
    price: Annotated[DollarsPerHour, NonNegative] = 0.0

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, tier: str | int) -> str | int:
        if isinstance(tier, str) and tier not in TIERS:
            close = difflib.get_close_matches(tier, TIERS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; use one of {', '.join(TIERS)}"
            raise ValueError(f"unknown tier {tier!r}{hint}")
        return tier

    @property
    def tier_rank(self) -> int:
        """Tier as an integer, lowest first."""
        return TIERS.index(self.tier) if isinstance(self.tier, str) else int(self.tier)


class Link(Strict):
    """A network link between two nodes (both directions unless ``directed``)."""

    source: Name
    target: Name
    latency: Annotated[Milliseconds, NonNegative]
    bandwidth: Annotated[MegabitsPerSecond, Field(gt=0)] | None = None
    price: Annotated[DollarsPerGigabyte, NonNegative] = 0.0
    directed: bool = False


class Model(Strict):
    """A model of the catalog.

    Inline ``latency`` (ms per request) and ``throughput`` (requests/s) are per
    hardware name; hardware listed in the instance's ``profiles`` fills what is
    not given inline. ``memory`` is the memory footprint used against node
    budgets; ``accuracy`` is a fraction in [0, 1].
    """

    name: Name
    task: Name
    memory: Annotated[Megabytes, Field(gt=0)] | None = None
    accuracy: Annotated[float, Field(ge=0, le=1)] | None = None
    latency: dict[str, Annotated[Milliseconds, Field(gt=0)]] = Field(default_factory=dict)
    throughput: dict[str, Annotated[RequestsPerSecond, Field(gt=0)]] = Field(default_factory=dict)

    def latency_on(self, hardware: str) -> float | None:
        """Latency in ms on ``hardware`` (derived from throughput if only that is known)."""
        if hardware in self.latency:
            return self.latency[hardware]
        if hardware in self.throughput:
            return 1000.0 / self.throughput[hardware]
        return None

    def throughput_on(self, hardware: str) -> float | None:
        """Requests/s on ``hardware`` (one request at a time if only latency is known)."""
        if hardware in self.throughput:
            return self.throughput[hardware]
        if hardware in self.latency:
            return 1000.0 / self.latency[hardware]
        return None


class RequestClass(Strict):
    """A class of requests: a task asked at an ingress node at some rate."""

    name: Name | None = None
    task: Name
    ingress: Name
    rate: Annotated[RequestsPerSecond, NonNegative]
    deadline: Annotated[Milliseconds, Field(gt=0)] | None = None
    priority: Annotated[float, Field(gt=0, le=1e9)] = 1.0
    path: list[Name] | None = None


class Instance(Strict):
    """Base of every family's schema: ``kind``, an optional name and description."""

    kind: str
    name: str | None = None
    description: str | None = None

    def cross_check(self) -> list[Problem]:
        """Return every reference problem found (empty when consistent)."""
        return []

    def resolve(self, base: Path | None) -> Instance:
        """Return a copy with external data (profiles) filled in; ``base`` is the file's folder."""
        return self


class NetworkInstance(Instance):
    """Shared shape of network families: nodes, links, models, requests, profiles."""

    nodes: list[Node] = Field(min_length=1)
    links: list[Link] = Field(default_factory=list)
    models: list[Model] = Field(min_length=1)
    requests: list[RequestClass] = Field(default_factory=list)
    profiles: dict[str, ProfileReference] = Field(default_factory=dict)

    # -- derived views ----------------------------------------------------------------
    @property
    def node_names(self) -> list[str]:
        """Node names in file order."""
        return [node.name for node in self.nodes]

    @property
    def model_names(self) -> list[str]:
        """Model names in file order."""
        return [model.name for model in self.models]

    def graph(self) -> nx.DiGraph:
        """The network as a directed graph with ``latency`` edge weights (ms)."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.node_names)
        for link in self.links:
            attributes = {"latency": link.latency, "bandwidth": link.bandwidth, "price": link.price}
            graph.add_edge(link.source, link.target, **attributes)
            if not link.directed:
                graph.add_edge(link.target, link.source, **attributes)
        return graph

    # -- checks -----------------------------------------------------------------------
    def cross_check(self) -> list[Problem]:
        """Check names and references between nodes, links, models and requests."""
        problems: list[Problem] = []
        problems += duplicate_names(self.node_names, ("nodes",), "node")
        problems += duplicate_names(self.model_names, ("models",), "model")
        named = [r.name for r in self.requests if r.name is not None]
        problems += duplicate_names(named, ("requests",), "request class")
        nodes = set(self.node_names)
        for index, link in enumerate(self.links):
            for end in ("source", "target"):
                name = getattr(link, end)
                if name not in nodes:
                    problems.append((("links", index, end), unknown_name("node", name, nodes)))
            if link.source == link.target:
                problems.append((("links", index), f"link from {link.source!r} to itself"))
        tasks = {model.task for model in self.models}
        graph = self.graph()
        for index, request in enumerate(self.requests):
            if request.ingress not in nodes:
                problems.append(
                    (("requests", index, "ingress"), unknown_name("node", request.ingress, nodes))
                )
            if request.task not in tasks:
                problems.append(
                    (
                        ("requests", index, "task"),
                        unknown_name("task", request.task, tasks, "no model solves"),
                    )
                )
            if request.path is not None:
                problems += _check_path(
                    request.path, request.ingress, graph, ("requests", index, "path")
                )
        for index, node in enumerate(self.nodes):
            if node.hardware is None:
                continue
            known = any(m.latency_on(node.hardware) is not None for m in self.models)
            if not known and node.hardware not in self.profiles:
                problems.append(
                    (
                        ("nodes", index, "hardware"),
                        f"no model has a latency for hardware {node.hardware!r}; add "
                        f"'latency: {{{node.hardware}: ...}}' to models or a 'profiles' entry",
                    )
                )
        return problems

    def resolve(self, base: Path | None) -> NetworkInstance:
        """Fill model latency/throughput/memory/accuracy from the ``profiles`` files."""
        if not self.profiles:
            return self
        models = resolve_models(self.models, self.profiles, base)
        return self.model_copy(update={"models": models})


def duplicate_names(names: Sequence[str], where: tuple, what: str) -> list[Problem]:
    """A located problem for every name already used earlier in ``names``.

    Parameters
    ----------
    names : sequence of str
        The names of a list's entries, in file order.
    where : tuple
        Location of the list in the document, e.g. ``("nodes",)``.
    what : str
        What the entries are, for the message (``"node"``).

    Returns
    -------
    list of Problem
        ``(where + (index, "name"), "duplicate node name 'x' (first at nodes[2])")``.
    """
    from idnopt.errors import format_location

    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for index, name in enumerate(names):
        if name in seen:
            first = format_location((*where, seen[name]))
            problems.append(
                ((*where, index, "name"), f"duplicate {what} name {name!r} (first at {first})")
            )
        else:
            seen[name] = index
    return problems


def unknown_name(
    what: str,
    name: Any,
    known: Iterable[Any],
    lead: str | None = None,
    *,
    extra: str = "",
    shown: Iterable[Any] | None = None,
) -> str:
    """Message for a name that refers to nothing: the closest known name and a few known ones.

    Parameters
    ----------
    what : str
        What the name should be (``"node"``, ``"model"``…).
    name : str
        The name as written.
    known : iterable of str
        The names it could have been (searched for the closest one).
    lead : str, optional
        First word (default ``"unknown"``).
    extra : str
        Text put right after the quoted name (e.g. ``" (nor a hardware name)"``).
    shown : iterable of str, optional
        Names listed as known (default: ``known``), when not all of them help.

    Returns
    -------
    str
        E.g. ``unknown node 'edge-9'; did you mean 'edge-1'? (known: cloud, edge-1, …)``.
    """
    known = sorted(str(k) for k in known)
    listed = known if shown is None else sorted(str(k) for k in shown)
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(listed[:8]) + (" …" if len(listed) > 8 else "")
    known_part = f" (known: {listing})" if listed else ""
    return f"{lead or 'unknown'} {what} {name!r}{extra}{hint}{known_part}"


def _check_path(
    path: Sequence[str], ingress: str, graph: nx.DiGraph, where: Location
) -> list[Problem]:
    if not path:
        return [(where, "path is empty")]
    if path[0] != ingress:
        return [(where + (0,), f"path must start at the ingress {ingress!r}, not {path[0]!r}")]
    first: dict[str, int] = {}
    for index, name in enumerate(path):
        if name in first:
            return [
                (
                    where + (index,),
                    f"path visits {name!r} twice (at {first[name]} and {index}): "
                    "a path may not loop",
                )
            ]
        first[name] = index
    for index, (a, b) in enumerate(zip(path, path[1:])):
        if b not in graph:
            return [(where + (index + 1,), unknown_name("node", b, graph.nodes))]
        if not graph.has_edge(a, b):
            return [(where + (index + 1,), f"no link from {a!r} to {b!r}")]
    return []


# -- loading -------------------------------------------------------------------------
_FRIENDLY = {
    "missing": "missing required field",
    "extra_forbidden": "unknown field",
}


def pydantic_problem(error: dict[str, Any], fields: Iterable[str]) -> str:
    """Rephrase one pydantic validation error as a short message for a located error.

    Parameters
    ----------
    error : dict
        One entry of ``ValidationError.errors()``.
    fields : iterable of str
        Field names allowed where the error is, for "did you mean" hints.

    Returns
    -------
    str
        The message, without the location (the caller formats it).
    """
    kind = error.get("type", "")
    location = error.get("loc", ())
    if kind == "missing":
        return f"missing required field {location[-1]!r}" if location else "missing required field"
    if kind == "extra_forbidden" and location:
        name = str(location[-1])
        if name[:1].isdigit():  # "{rate: 1,000 req/s}": the comma split the number
            return (
                f"unknown field {name!r}: a comma inside {{...}} separates fields; "
                "write numbers without thousands separators"
            )
        close = difflib.get_close_matches(name, list(fields), n=1)
        return f"unknown field {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
    context = error.get("ctx") or {}
    if kind == "string_pattern_mismatch" and context.get("pattern") == NAME_PATTERN:
        return f"a name may not contain spaces, commas or brackets (got {error.get('input')!r})"
    if kind == "too_short" and "min_length" in context:
        least, actual = context["min_length"], context.get("actual_length") or 0
        return f"needs at least {least} entr{'y' if least == 1 else 'ies'}, got {actual or 'none'}"
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    value = error.get("input")
    if kind not in ("value_error",) and not isinstance(value, (dict, list)) and value is not None:
        shown = repr(value)
        message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    if kind == "less_than_equal" and context.get("le") == 1 and location:
        if str(location[-1]) in ("accuracy", "target"):
            message += "; accuracies are fractions: 0.8 for 80 %"
    return message


def fields_at(schema: type[BaseModel], location: Sequence[str | int]) -> list[str]:
    """Field names allowed at a location (for "did you mean" hints).

    Parameters
    ----------
    schema : type of BaseModel
        The document's root model.
    location : sequence of str or int
        Location of the offending field (its own name last).

    Returns
    -------
    list of str
        Fields of the model that holds the location; empty when unknown.
    """
    current: Any = schema
    for part in location[:-1]:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return []
        current = _model_in(info.annotation)
    return list(getattr(current, "model_fields", {}) or [])


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        found = _model_in(argument)
        if found is not None:
            return found
    return None
