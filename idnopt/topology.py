r"""Network topologies for inference delivery networks, as networkx graphs.

Every function returns an undirected :class:`networkx.Graph` whose edges carry
a ``latency`` in ms (one way). Backbones (:func:`grid`, :func:`backbone`,
:func:`synthetic_backbone`) are flat graphs of sites; :func:`tiered_deployment`
turns one into a tiered IDN and :func:`tree` builds a tiered hierarchy
directly. Nodes of a tiered graph carry ``tier`` (``cloud``, ``regional``,
``edge``, ``access``), ``hardware`` and ``memory`` (model-memory budget, MB).

Real backbones come from the ``topohub`` package (Internet Topology Zoo and
SNDlib graphs): ``abilene`` is ``topozoo/Abilene`` (11 sites), ``geant`` is
``topozoo/Geant2012`` (37 sites), and any ``group/name`` key of the package
works too. Where sites have coordinates the link latency is the great-circle
distance over the speed of light in fibre,

.. math:: d_{uv} = \mathrm{km}(u, v) / 200\ \mathrm{km/ms},

otherwise the package's link length (``dist``, km), otherwise 1 ms.

A tiered deployment (:func:`tiered_deployment`) keeps the backbone sites as
*regional* data centres, hangs *edge* sites below them and *access* nodes
(base stations, the ingress of requests) below the edge sites, and links one
*cloud* repository to the best-connected backbone site(s) (highest degree,
then closeness). Latencies of the added links are drawn uniformly from
:data:`ACCESS_LATENCY_MS` (access–edge), :data:`EDGE_LATENCY_MS` (edge–regional)
and :data:`CLOUD_LATENCY_MS` (cloud–gateway). Memory budgets are given per
tier and jittered per node by a factor in ``1 ± spread``.

All randomness comes from the ``seed`` argument: the same arguments give the
same graph.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np

from idnopt.errors import InputError

FIBRE_KM_PER_MS = 200.0
"""Propagation speed of light in optical fibre (about 2/3 of c), km per ms."""

EARTH_RADIUS_KM = 6371.0

ACCESS_LATENCY_MS: tuple[float, float] = (1.0, 3.0)
"""Range of access-node to edge-site link latencies (ms)."""
EDGE_LATENCY_MS: tuple[float, float] = (2.0, 6.0)
"""Range of edge-site to regional-site link latencies (ms)."""
REGIONAL_LATENCY_MS: tuple[float, float] = (15.0, 35.0)
"""Range of regional-site to cloud link latencies in a :func:`tree` (ms)."""
CLOUD_LATENCY_MS: tuple[float, float] = (8.0, 15.0)
"""Range of cloud to backbone-gateway link latencies (ms)."""

TIER_HARDWARE: dict[str, str] = {
    "cloud": "h100",
    "regional": "t4",
    "edge": "orin",
    "access": "orin-nano",
}
"""Default hardware name per tier."""

TIER_BUDGET_MB: dict[str, float] = {
    "cloud": 0.0,
    "regional": 2000.0,
    "edge": 600.0,
    "access": 150.0,
}
"""Default model-memory budget per tier (MB); the repository's budget is unused."""

BACKBONES: dict[str, str] = {"abilene": "topozoo/Abilene", "geant": "topozoo/Geant2012"}
"""Short names of real backbones and their ``topohub`` keys."""

TOPOLOGIES: tuple[str, ...] = ("tree", "grid", "abilene", "geant", "synthetic")
"""Topology names understood by :func:`build_topology` (plus any ``topohub`` key)."""


# ---------------------------------------------------------------------------------------
# geometry


def great_circle_km(a: Sequence[float], b: Sequence[float]) -> float:
    """Great-circle distance between two ``(longitude, latitude)`` points in degrees.

    Parameters
    ----------
    a, b : sequence of float
        Points as (longitude, latitude) in degrees.

    Returns
    -------
    float
        Distance in km (haversine formula on a sphere of radius 6371 km).
    """
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def fibre_latency_ms(distance_km: float) -> float:
    """One-way propagation latency (ms) over ``distance_km`` of fibre."""
    return float(distance_km) / FIBRE_KM_PER_MS


def _slug(text: str) -> str:
    """A node name without spaces, commas or brackets: lower case, words joined by '-'."""
    slug = re.sub(r"[^0-9a-z]+", "-", str(text).lower()).strip("-")
    return slug or "site"


def _unique_names(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(name if count == 0 else f"{name}-{count + 1}")
    return unique


# ---------------------------------------------------------------------------------------
# backbones


def backbone(name: str) -> nx.Graph:
    """Load a real backbone from ``topohub`` with link latencies.

    Parameters
    ----------
    name : str
        ``abilene``, ``geant`` or any ``topohub`` key such as ``topozoo/Sprint``
        or ``sndlib/polska``.

    Returns
    -------
    networkx.Graph
        Sites named after the topology's site names (lower case, ``-`` for
        spaces), with ``pos`` (longitude, latitude) and ``label`` (the original
        name); edges with ``latency`` (ms) and ``distance_km``.

    Raises
    ------
    InputError
        When ``topohub`` is missing or does not know the topology.
    """
    key = BACKBONES.get(name.lower(), name)
    try:
        import topohub
    except ImportError:  # pragma: no cover - topohub is installed with the 'topo' extra
        raise InputError(
            f"topology {name!r} needs the 'topohub' package: pip install 'idnopt[topo]'"
        ) from None
    try:
        data = topohub.get(key)
    except (KeyError, FileNotFoundError, ValueError):
        known = ", ".join([*TOPOLOGIES, "topozoo/<Name>", "sndlib/<name>"])
        raise InputError(f"unknown topology {name!r}; use one of {known}") from None
    source = nx.node_link_graph(data, edges="edges")
    if source.is_directed():
        source = source.to_undirected()
    original = list(source.nodes)
    labels = [str(source.nodes[n].get("name", n)) for n in original]
    names = _unique_names([_slug(label) for label in labels])
    rename = dict(zip(original, names))
    graph = nx.Graph(name=str(source.graph.get("name", key)), source=f"topohub:{key}")
    for node, label in zip(original, labels):
        attributes = {"label": label}
        position = source.nodes[node].get("pos")
        if position is not None:
            attributes["pos"] = (float(position[0]), float(position[1]))
        graph.add_node(rename[node], **attributes)
    for u, v, attributes in source.edges(data=True):
        if u == v:
            continue
        a, b = rename[u], rename[v]
        if "pos" in graph.nodes[a] and "pos" in graph.nodes[b]:
            distance = great_circle_km(graph.nodes[a]["pos"], graph.nodes[b]["pos"])
        elif attributes.get("dist") is not None:
            distance = float(attributes["dist"])
        else:
            distance = FIBRE_KM_PER_MS  # 1 ms when nothing is known
        graph.add_edge(a, b, distance_km=distance, latency=fibre_latency_ms(distance))
    if not nx.is_connected(graph):
        largest = max(nx.connected_components(graph), key=len)
        graph = graph.subgraph(largest).copy()
    return graph


def grid(rows: int, columns: int | None = None, *, spacing_km: float = 400.0) -> nx.Graph:
    """A rows × columns grid of sites, neighbours ``spacing_km`` apart.

    Parameters
    ----------
    rows, columns : int
        Grid shape (``columns`` defaults to ``rows``).
    spacing_km : float
        Distance between neighbouring sites; latency is ``spacing_km / 200`` ms.

    Returns
    -------
    networkx.Graph
        Sites ``grid-<row>-<column>`` with edges carrying ``latency`` (ms).
    """
    columns = rows if columns is None else columns
    if rows < 1 or columns < 1:
        raise InputError(f"a grid needs at least one row and one column, got {rows}×{columns}")
    lattice = nx.grid_2d_graph(rows, columns)
    graph = nx.Graph(name=f"grid-{rows}x{columns}")
    for r, c in lattice.nodes:
        graph.add_node(f"grid-{r}-{c}", cell=(r, c))
    latency = fibre_latency_ms(spacing_km)
    for (r1, c1), (r2, c2) in lattice.edges:
        graph.add_edge(
            f"grid-{r1}-{c1}", f"grid-{r2}-{c2}", distance_km=spacing_km, latency=latency
        )
    return graph


def synthetic_backbone(
    sites: int,
    *,
    seed: int | np.random.Generator = 0,
    longitude: tuple[float, float] = (-10.0, 35.0),
    latitude: tuple[float, float] = (36.0, 64.0),
    average_degree: float = 3.1,
) -> nx.Graph:
    """A GÉANT-like backbone of any size: sites spread over Europe, planar mesh.

    Sites are drawn uniformly in a longitude/latitude box; links are the
    Gabriel graph of the sites (two sites are linked when no third site lies in
    the circle whose diameter joins them, the classic model of planar
    backbones), then the longest links are removed, keeping the graph connected
    and every site with at least two links where possible, until the average
    degree reaches ``average_degree`` (GÉANT 2012 has 3.1).

    Parameters
    ----------
    sites : int
        Number of sites (1 or more).
    seed : int or numpy.random.Generator
        Randomness of the site positions.
    longitude, latitude : tuple of float
        Bounding box in degrees.
    average_degree : float
        Target average number of links per site.

    Returns
    -------
    networkx.Graph
        Sites ``site-<i>`` with ``pos`` and edges with ``latency`` (ms) and ``distance_km``.
    """
    if sites < 1:
        raise InputError(f"a backbone needs at least one site, got {sites}")
    rng = np.random.default_rng(seed)
    lon = rng.uniform(*longitude, size=sites)
    lat = rng.uniform(*latitude, size=sites)
    names = [f"site-{i}" for i in range(sites)]
    graph = nx.Graph(name=f"synthetic-{sites}")
    for name, x, y in zip(names, lon, lat):
        graph.add_node(name, pos=(round(float(x), 3), round(float(y), 3)))
    pairs = _gabriel_pairs(lon, lat)
    lengths = {}
    for i, j in pairs:
        distance = great_circle_km(graph.nodes[names[i]]["pos"], graph.nodes[names[j]]["pos"])
        lengths[(i, j)] = distance
        graph.add_edge(names[i], names[j], distance_km=distance, latency=fibre_latency_ms(distance))
    target_edges = int(math.ceil(average_degree * sites / 2.0))
    for (i, j), _ in sorted(lengths.items(), key=lambda item: -item[1]):
        if graph.number_of_edges() <= target_edges:
            break
        u, v = names[i], names[j]
        if graph.degree(u) <= 2 or graph.degree(v) <= 2:
            continue
        graph.remove_edge(u, v)
        if not nx.has_path(graph, u, v):
            graph.add_edge(
                u, v, distance_km=lengths[(i, j)], latency=fibre_latency_ms(lengths[(i, j)])
            )
    return graph


def _gabriel_pairs(lon: np.ndarray, lat: np.ndarray) -> list[tuple[int, int]]:
    """Index pairs of the Gabriel graph of points (equirectangular projection)."""
    count = lon.size
    if count == 1:
        return []
    x = np.radians(lon) * np.cos(np.radians(lat.mean()))
    y = np.radians(lat)
    points = np.column_stack([x, y])
    if count <= 3:
        candidates = {(i, j) for i in range(count) for j in range(i + 1, count)}
    else:
        from scipy.spatial import Delaunay

        triangles = Delaunay(points).simplices
        candidates = set()
        for a, b in ((0, 1), (1, 2), (0, 2)):
            low = np.minimum(triangles[:, a], triangles[:, b])
            high = np.maximum(triangles[:, a], triangles[:, b])
            candidates.update(zip(low.tolist(), high.tolist()))
    pairs = np.array(sorted(candidates))
    centre = (points[pairs[:, 0]] + points[pairs[:, 1]]) / 2.0
    radius2 = ((points[pairs[:, 0]] - points[pairs[:, 1]]) ** 2).sum(axis=1) / 4.0
    keep = []
    for k, (i, j) in enumerate(pairs):
        inside = ((points - centre[k]) ** 2).sum(axis=1) < radius2[k] * (1 - 1e-12)
        inside[[i, j]] = False
        if not inside.any():
            keep.append((int(i), int(j)))
    return keep


# ---------------------------------------------------------------------------------------
# tiered IDNs


def _tier_counts(extra: int) -> tuple[int, int]:
    """Split ``extra`` nodes below the regional tier into (edge, access), about 1:2."""
    if extra <= 0:
        return 0, 0
    edges = max(1, round(extra / 3))
    return edges, extra - edges


def _finish(
    graph: nx.Graph,
    rng: np.random.Generator,
    budgets: Mapping[str, float] | None,
    hardware: Mapping[str, str] | None,
    spread: float,
) -> nx.Graph:
    """Give every node its tier's hardware and a jittered memory budget."""
    if not 0 <= spread < 1:
        raise InputError(f"budget spread must be in [0, 1), got {spread}")
    budget_of = {**TIER_BUDGET_MB, **(budgets or {})}
    hardware_of = {**TIER_HARDWARE, **(hardware or {})}
    for name in sorted(graph.nodes):
        tier = graph.nodes[name]["tier"]
        jitter = rng.uniform(1.0 - spread, 1.0 + spread)
        memory = 0.0 if tier == "cloud" else float(round(budget_of[tier] * jitter))
        graph.nodes[name]["memory"] = memory
        graph.nodes[name]["hardware"] = hardware_of[tier]
    return graph


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return round(float(rng.uniform(*bounds)), 3)


def tiered_deployment(
    graph: nx.Graph,
    *,
    nodes: int | None = None,
    seed: int | np.random.Generator = 0,
    cloud_links: int = 2,
    budgets: Mapping[str, float] | None = None,
    hardware: Mapping[str, str] | None = None,
    spread: float = 0.25,
) -> nx.Graph:
    """Turn a backbone into a tiered IDN: regional sites, edge sites, access nodes, cloud.

    Parameters
    ----------
    graph : networkx.Graph
        A connected backbone with ``latency`` on its edges; its sites become
        ``regional`` data centres (names kept).
    nodes : int, optional
        Total number of nodes of the result (backbone + cloud + edge + access);
        at least the backbone's size + 1. Default: 4 × backbone + 1 (one edge
        site and two access nodes per regional site).
    seed : int or numpy.random.Generator
        Randomness of attachments, added link latencies and budgets.
    cloud_links : int
        How many of the best-connected backbone sites (highest degree, then
        latency closeness, then name) link to the cloud.
    budgets : mapping of str to float, optional
        Model-memory budget (MB) per tier; defaults in :data:`TIER_BUDGET_MB`.
    hardware : mapping of str to str, optional
        Hardware name per tier; defaults in :data:`TIER_HARDWARE`.
    spread : float
        Each node's budget is its tier's times a uniform factor in ``1 ± spread``.

    Returns
    -------
    networkx.Graph
        The tiered graph: node attributes ``tier``, ``hardware``, ``memory``
        (and ``parent`` for edge/access nodes); edge attribute ``latency``.
        The cloud is named ``cloud``; edge sites ``edge-<region>-<k>`` and
        access nodes ``access-<region>-<k>-<j>``.
    """
    if graph.number_of_nodes() == 0:
        raise InputError("the backbone has no sites")
    if not nx.is_connected(graph):
        raise InputError("the backbone must be connected")
    if "cloud" in graph:
        raise InputError("the backbone already has a node named 'cloud'")
    rng = np.random.default_rng(seed)
    sites = sorted(graph.nodes)
    total = 4 * len(sites) + 1 if nodes is None else int(nodes)
    if total < len(sites) + 1:
        raise InputError(
            f"{total} nodes cannot hold this backbone's {len(sites)} sites plus the cloud; "
            f"use at least {len(sites) + 1}"
        )
    tiered = nx.Graph(
        name=graph.graph.get("name", "backbone"),
        **{k: v for k, v in graph.graph.items() if k != "name"},
    )
    for site in sites:
        tiered.add_node(site, **graph.nodes[site], tier="regional")
    for u, v, attributes in graph.edges(data=True):
        tiered.add_edge(u, v, **attributes)

    # the cloud hangs off the best-connected sites
    closeness = nx.closeness_centrality(graph, distance="latency")
    ranked = sorted(sites, key=lambda s: (-graph.degree(s), -closeness[s], s))
    tiered.add_node("cloud", tier="cloud")
    for site in ranked[: max(1, min(cloud_links, len(sites)))]:
        tiered.add_edge("cloud", site, latency=_uniform(rng, CLOUD_LATENCY_MS))

    edge_count, access_count = _tier_counts(total - len(sites) - 1)
    order = list(rng.permutation(sites))
    edges: list[str] = []
    per_region: dict[str, int] = {}
    for i in range(edge_count):
        region = order[i % len(order)]
        per_region[region] = per_region.get(region, 0) + 1
        name = f"edge-{region}-{per_region[region]}"
        tiered.add_node(name, tier="edge", parent=region)
        tiered.add_edge(name, region, latency=_uniform(rng, EDGE_LATENCY_MS))
        edges.append(name)
    per_edge: dict[str, int] = {}
    for j in range(access_count):
        parent = edges[j % len(edges)]
        per_edge[parent] = per_edge.get(parent, 0) + 1
        name = "access-" + parent.removeprefix("edge-") + f"-{per_edge[parent]}"
        tiered.add_node(name, tier="access", parent=parent)
        tiered.add_edge(name, parent, latency=_uniform(rng, ACCESS_LATENCY_MS))
    return _finish(tiered, rng, budgets, hardware, spread)


def tree(
    nodes: int = 15,
    *,
    seed: int | np.random.Generator = 0,
    budgets: Mapping[str, float] | None = None,
    hardware: Mapping[str, str] | None = None,
    spread: float = 0.25,
) -> nx.Graph:
    """A tiered tree: cloud root, regional sites, edge sites, access leaves (about 1:2:4).

    Parameters
    ----------
    nodes : int
        Total number of nodes, at least 3 (cloud, one regional and one edge site);
        any size up to thousands.
    seed : int or numpy.random.Generator
        Randomness of link latencies and budgets.
    budgets, hardware, spread
        As in :func:`tiered_deployment`.

    Returns
    -------
    networkx.Graph
        Tiered graph with ``tier``, ``hardware``, ``memory`` on nodes and
        ``latency`` on edges; regional sites are named ``region-<i>``.
    """
    if nodes < 3:
        raise InputError(f"a tree needs at least 3 nodes (cloud, regional, edge), got {nodes}")
    rng = np.random.default_rng(seed)
    below = nodes - 1
    regional = max(1, round(below / 7))
    edge_count = max(1, round(2 * below / 7))
    access_count = below - regional - edge_count
    graph = nx.Graph(name=f"tree-{nodes}")
    graph.add_node("cloud", tier="cloud")
    regions = [f"region-{i + 1}" for i in range(regional)]
    for region in regions:
        graph.add_node(region, tier="regional")
        graph.add_edge(region, "cloud", latency=_uniform(rng, REGIONAL_LATENCY_MS))
    edges = []
    for i in range(edge_count):
        name = f"edge-{i + 1}"
        parent = regions[i % regional]
        graph.add_node(name, tier="edge", parent=parent)
        graph.add_edge(name, parent, latency=_uniform(rng, EDGE_LATENCY_MS))
        edges.append(name)
    for j in range(access_count):
        name = f"access-{j + 1}"
        parent = edges[j % edge_count]
        graph.add_node(name, tier="access", parent=parent)
        graph.add_edge(name, parent, latency=_uniform(rng, ACCESS_LATENCY_MS))
    return _finish(graph, rng, budgets, hardware, spread)


def default_nodes(topology: str) -> int:
    """Default total node count of a named topology (see :func:`build_topology`)."""
    name = topology.lower()
    if name == "tree":
        return 15
    if name == "grid":
        return 37
    if name == "synthetic":
        return 101
    return 4 * backbone(topology).number_of_nodes() + 1


def build_topology(
    topology: str,
    nodes: int | None = None,
    *,
    seed: int | np.random.Generator = 0,
    budgets: Mapping[str, float] | None = None,
    hardware: Mapping[str, str] | None = None,
    spread: float = 0.25,
) -> nx.Graph:
    """Build a tiered IDN graph by name.

    Parameters
    ----------
    topology : str
        ``tree`` (:func:`tree`), ``grid`` (a k × k grid backbone, k =
        ⌊√((nodes − 1)/4)⌋ ≥ 2), ``abilene``, ``geant`` or any ``topohub`` key
        (a real backbone), ``synthetic`` (:func:`synthetic_backbone` with
        ⌈(nodes − 1)/4⌉ sites); backbones go through :func:`tiered_deployment`.
    nodes : int, optional
        Total number of nodes (default: :func:`default_nodes`).
    seed : int or numpy.random.Generator
        All randomness.
    budgets, hardware, spread
        As in :func:`tiered_deployment`.

    Returns
    -------
    networkx.Graph
        A tiered graph with exactly ``nodes`` nodes.
    """
    rng = np.random.default_rng(seed)
    name = topology.lower()
    total = default_nodes(topology) if nodes is None else int(nodes)
    options = {"budgets": budgets, "hardware": hardware, "spread": spread}
    if name == "tree":
        return tree(total, seed=rng, **options)
    if name == "grid":
        side = max(2, math.isqrt(max(0, (total - 1) // 4)))
        if total < side * side + 1:
            raise InputError(f"a grid needs at least {side * side + 1} nodes, got {total}")
        base = grid(side)
    elif name == "synthetic":
        if total < 2:
            raise InputError(f"a synthetic topology needs at least 2 nodes, got {total}")
        base = synthetic_backbone(max(1, math.ceil((total - 1) / 4)), seed=rng)
    else:
        base = backbone(topology)
    return tiered_deployment(base, nodes=total, seed=rng, **options)
