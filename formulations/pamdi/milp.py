r"""The MILP outer approximation of the exact problem.

On top of the linear core (:mod:`~idnopt.formulations.pamdi.structure`) the
wait of source ``s`` at device ``d`` is bounded from below by

* ``p[s·j, d] >= r_j (2 t sy[s·j, d] - t^2 vy[s, d])`` for tangent points ``t`` -
  the tangent planes of the perspective :math:`r_j\, sy^2 / vy` (homogeneous, so
  one plane per ``t`` serves every ``visit``); :math:`P_{s,d} = \sum_j p[s·j, d]
  \ge y_{s,d} R_d / (1 - \sigma_{k_s,d})`, exact at ``t = service[j, d] / (1 - sigma)``;
* for a source of class ``k >= 1`` the factor :math:`1 / (1 - \sigma_{k-1,d})`
  by load buckets: binaries choose the bucket ``[g_i, g_{i+1}]`` holding
  :math:`\sigma_{k-1,d}`, and ``wait[s, d] >= psi(g_i) P_{s,d}`` (disaggregated,
  :math:`\psi(g) = 1 / (1 - g)`), exact when :math:`\sigma` is a breakpoint;
* for class 0, ``wait[s, d] >= P_{s,d}``.

Every bound is below the true wait at every integral point, so the MILP's
optimum (and HiGHS' dual bound) is a lower bound of the exact optimum; the
exact delay of the MILP's split is an upper bound. :func:`refine` adds the
tangent points and breakpoints of a split, after which the MILP values that
split exactly (up to :data:`BREAKPOINT_OFFSET`), so the loop in
:mod:`~idnopt.formulations.pamdi.exact` closes the gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.delay import Evaluation, Split, split_from_array
from idnopt.formulations.pamdi.structure import Layout, add_core, layout, sigma_terms
from idnopt.program import Program

TANGENT_FRACTIONS = tuple(np.geomspace(0.01, 1.0, 12))
"""Initial tangent points as fractions of the largest segment time (``sigma = 0``); the
loop adds the points its splits need."""

INITIAL_BUCKETS = 6
"""Initial load buckets per device and class; breakpoints ``1 - (1 - max_load)^(i/n)``."""

BREAKPOINT_OFFSET = 2e-6
"""A split's load becomes the breakpoint ``sigma - offset``: above the solver's feasibility
tolerance, so that the bucket below cannot hold ``sigma``; the factor ``psi`` is then
underestimated by at most ``offset / (1 - max_load)`` relatively."""


@dataclass
class Approximation:
    r"""Tangent points and load breakpoints of the outer approximation.

    Attributes
    ----------
    cuts : numpy.ndarray
        ``(n, 4)`` rows ``(s, j, d, t)``: tangent of ``sy[s·j, d]^2 / vy[s, d]`` at ratio ``t``.
    grids : dict of tuple to numpy.ndarray
        ``(d, c)`` to the sorted breakpoints of :math:`\sigma_{c,d}` (from 0 to ``max_load``).
    """

    cuts: np.ndarray
    grids: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """Number of tangent cuts and of load buckets."""
        return len(self.cuts), sum(grid.size - 1 for grid in self.grids.values())


def bucketed_classes(compiled: Compiled) -> list[int]:
    r"""Classes ``c`` whose cumulative load :math:`\sigma_c` is bucketed (``c + 1`` has sources)."""
    present = set(compiled.klass.tolist())
    return [c for c in range(compiled.num_classes - 1) if c + 1 in present]


def initial_approximation(compiled: Compiled, shape: Layout | None = None) -> Approximation:
    """Tangent points on a geometric grid and geometric load buckets."""
    shape = shape or layout(compiled)
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    s, j, d = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(num_sources), np.arange(num_sources), np.arange(num_devices), indexing="ij"
        )
    )
    top = shape.smax[j, d] / np.sqrt(shape.floor)
    fractions = np.asarray(TANGENT_FRACTIONS)
    cuts = np.column_stack(
        [
            np.repeat(s, fractions.size),
            np.repeat(j, fractions.size),
            np.repeat(d, fractions.size),
            (top[:, None] * fractions[None, :]).ravel(),
        ]
    )
    steps = np.arange(INITIAL_BUCKETS + 1) / INITIAL_BUCKETS
    grid = 1.0 - shape.floor**steps
    grid[-1] = compiled.max_load
    grids = {
        (device, c): grid.copy()
        for device in range(num_devices)
        for c in bucketed_classes(compiled)
    }
    return Approximation(cuts=cuts, grids=grids)


def refine(compiled: Compiled, approximation: Approximation, evaluation: Evaluation) -> bool:
    """Add the tangent points and breakpoints at which ``evaluation``'s split is valued exactly.

    Returns
    -------
    bool
        Whether anything new was added.
    """
    service, visits = evaluation.service, evaluation.visits
    class_load = np.zeros((compiled.num_classes, compiled.num_devices))
    np.add.at(class_load, compiled.klass, compiled.rate[:, None] * service)
    sigma = np.cumsum(class_load, axis=0)
    added = False
    s, d = np.nonzero(visits)
    rows = []
    for source, device in zip(s, d):
        room = 1.0 - sigma[compiled.klass[source], device]
        ratios = service[:, device] / room
        for other, ratio in enumerate(ratios):
            rows.append((source, other, device, ratio))
    if rows:
        new = np.asarray(rows, dtype=float)
        known = {tuple(np.round(row, 12)) for row in approximation.cuts}
        fresh = [row for row in new if tuple(np.round(row, 12)) not in known]
        if fresh:
            approximation.cuts = np.vstack([approximation.cuts, np.asarray(fresh)])
            added = True
    for (device, c), grid in approximation.grids.items():
        point = sigma[c, device] - BREAKPOINT_OFFSET
        if point <= 0 or np.min(np.abs(grid - point)) < BREAKPOINT_OFFSET / 2:
            continue
        approximation.grids[device, c] = np.sort(np.append(grid, point))
        added = True
    return added


def build_milp(
    compiled: Compiled,
    approximation: Approximation | None = None,
    cutoff: float | None = None,
) -> tuple[Program, dict]:
    """The MILP of ``compiled`` under an outer approximation.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    approximation : Approximation, optional
        Tangent points and breakpoints (default: :func:`initial_approximation`).
    cutoff : float, optional
        Keep only solutions whose (approximated) objective is at most this value,
        e.g. an incumbent's: the MILP is then infeasible when no split can beat it.

    Returns
    -------
    program : Program
        Blocks of the linear core plus ``p``, ``wait`` and, with several
        priority classes, ``bucket`` (binary) and ``bucket_wait``.
    blocks : dict
        The variable blocks by name and the bucket index (``"buckets"``: list of
        ``(device, class, breakpoints, first column)``).
    """
    shape = layout(compiled)
    approximation = approximation or initial_approximation(compiled, shape)
    program = Program("pamdi_milp", sense="minimize")
    blocks, objective = add_core(program, compiled, shape, integer=True)
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    names, devices = list(compiled.source_names), list(compiled.device_names)
    sy, vy = blocks["sy"], blocks["vy"]
    p = program.add_variables("p", (num_sources * num_sources, num_devices))
    wait = program.add_variables("wait", (num_sources, num_devices), labels=[names, devices])
    blocks.update({"p": p, "wait": wait})
    cut_s, cut_j, cut_d = (approximation.cuts[:, i].astype(np.int64) for i in range(3))
    ratio = approximation.cuts[:, 3]
    rows = np.arange(ratio.size)
    residual = shape.residual[cut_j]
    program.add_constraints(
        "tangent",
        [
            (p, rows, p.flat(cut_s * num_sources + cut_j, cut_d), 1.0),
            (sy, rows, sy.flat(cut_s * num_sources + cut_j, cut_d), -2.0 * residual * ratio),
            (vy, rows, vy.flat(cut_s, cut_d), residual * ratio**2),
        ],
        lower=0.0,
        shape=ratio.size,
    )
    s, j, d = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(num_sources), np.arange(num_sources), np.arange(num_devices), indexing="ij"
        )
    )
    residual_terms = (p, s * num_devices + d, p.flat(s * num_sources + j, d), -np.ones(s.size))
    top = compiled.klass == 0
    pair_s, pair_d = (
        a.ravel() for a in np.meshgrid(np.flatnonzero(top), np.arange(num_devices), indexing="ij")
    )
    keep = top[s]
    program.add_constraints(
        "wait_top_class",
        [
            (wait, pair_s * num_devices + pair_d, wait.flat(pair_s, pair_d), 1.0),
            (p, residual_terms[1][keep], residual_terms[2][keep], residual_terms[3][keep]),
        ],
        lower=np.where(np.repeat(top, num_devices), 0.0, -np.inf),
        shape=(num_sources, num_devices),
        labels=[names, devices],
    )
    buckets = _add_buckets(program, compiled, shape, blocks, approximation, residual_terms)
    blocks["buckets"] = buckets
    _add_device_floor(program, compiled, blocks, approximation)
    _break_symmetry(program, compiled, blocks)
    objective.append((wait, np.repeat(compiled.weight, num_devices)))
    program.set_objective(objective)
    if cutoff is not None:
        program.add_constraints(
            "cutoff",
            [
                (block, np.zeros(len(values), dtype=np.int64), block.flat(), values)
                for block, values in objective
            ],
            upper=cutoff,
            shape=1,
        )
    return program, blocks


def _add_buckets(
    program: Program,
    compiled: Compiled,
    shape: Layout,
    blocks: dict,
    approximation: Approximation,
    residual_terms: tuple,
) -> list[tuple[int, int, np.ndarray, int]]:
    """Load buckets and the bucketed waits of the sources below the top class."""
    classes = bucketed_classes(compiled)
    if not classes:
        return []
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    service, wait = blocks["service"], blocks["wait"]
    keys = [(device, c) for device in range(num_devices) for c in classes]
    sizes = [approximation.grids[key].size - 1 for key in keys]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    bucket = program.add_variables("bucket", int(offsets[-1]), upper=1, integer=True)
    blocks["bucket"] = bucket
    position = {key: i for i, key in enumerate(keys)}
    # one bucket per (device, class), holding sigma
    member_rows = np.repeat(np.arange(len(keys)), sizes)
    program.add_constraints(
        "one_bucket",
        [(bucket, member_rows, np.arange(int(offsets[-1])), 1.0)],
        lower=1.0,
        upper=1.0,
        shape=len(keys),
    )
    lows = np.concatenate([approximation.grids[key][:-1] for key in keys])
    highs = np.concatenate([approximation.grids[key][1:] for key in keys])
    key_array = np.asarray([[c, device] for device, c in keys], dtype=np.int64)
    sigma = sigma_terms(compiled, service, key_array, np.arange(len(keys)))
    columns = np.arange(int(offsets[-1]))
    program.add_constraints(
        "bucket_low",
        [sigma, (bucket, member_rows, columns, -lows)],
        lower=0.0,
        shape=len(keys),
    )
    program.add_constraints(
        "bucket_high",
        [sigma, (bucket, member_rows, columns, -highs)],
        upper=0.0,
        shape=len(keys),
    )
    # disaggregated bucketed wait of each (source, device) below the top class
    lower_sources = np.flatnonzero(compiled.klass >= 1)
    pairs = [(int(s), d) for s in lower_sources for d in range(num_devices)]
    pair_keys = [position[(d, int(compiled.klass[s]) - 1)] for s, d in pairs]
    counts = np.asarray([sizes[k] for k in pair_keys])
    pair_offsets = np.concatenate([[0], np.cumsum(counts)])
    share = program.add_variables("bucket_wait", int(pair_offsets[-1]))
    pair_rows = np.repeat(np.arange(len(pairs)), counts)
    bucket_cols = np.concatenate([offsets[k] + np.arange(sizes[k]) for k in pair_keys])
    psi = 1.0 / (1.0 - lows[bucket_cols])
    pair_s = np.asarray([s for s, _ in pairs])
    pair_d = np.asarray([d for _, d in pairs])
    _, rows_r, cols_r, values_r = residual_terms
    source_of_row = rows_r // num_devices
    device_of_row = rows_r % num_devices
    lookup = -np.ones((num_sources, num_devices), dtype=np.int64)
    lookup[pair_s, pair_d] = np.arange(len(pairs))
    mapped = lookup[source_of_row, device_of_row]
    keep = mapped >= 0
    program.add_constraints(
        "bucket_wait_total",
        [
            (share, pair_rows, np.arange(int(pair_offsets[-1])), 1.0),
            (blocks["p"], mapped[keep], cols_r[keep], values_r[keep]),
        ],
        lower=0.0,
        shape=len(pairs),
    )
    cap = (shape.residual[:, None] * shape.smax**2).sum(axis=0) / shape.floor
    share_rows = np.arange(int(pair_offsets[-1]))
    program.add_constraints(
        "bucket_wait_cap",
        [
            (share, share_rows, share_rows, 1.0),
            (bucket, share_rows, bucket_cols, -cap[pair_d[pair_rows]]),
        ],
        upper=0.0,
        shape=share_rows.size,
    )
    program.add_constraints(
        "wait_lower_class",
        [
            (wait, np.arange(len(pairs)), wait.flat(pair_s, pair_d), 1.0),
            (share, pair_rows, share_rows, -psi),
        ],
        lower=0.0,
        shape=len(pairs),
    )
    return [(d, c, approximation.grids[d, c], int(offsets[position[d, c]])) for d, c in keys]


def _break_symmetry(program: Program, compiled: Compiled, blocks: dict) -> None:
    """Order the loads of interchangeable devices (valid: relabelling preserves value)."""
    service = blocks["service"]
    pairs = [(g[i], g[i + 1]) for g in compiled.interchangeable for i in range(len(g) - 1)]
    if not pairs:
        return
    sources = np.arange(compiled.num_sources)
    rows = np.repeat(np.arange(len(pairs)), compiled.num_sources)
    first = np.repeat([a for a, _ in pairs], compiled.num_sources)
    second = np.repeat([b for _, b in pairs], compiled.num_sources)
    rates = np.tile(compiled.rate, len(pairs))
    program.add_constraints(
        "symmetry",
        [
            (service, rows, service.flat(np.tile(sources, len(pairs)), first), rates),
            (service, rows, service.flat(np.tile(sources, len(pairs)), second), -rates),
        ],
        lower=0.0,
        shape=len(pairs),
    )


def _add_device_floor(
    program: Program, compiled: Compiled, blocks: dict, approximation: Approximation
) -> None:
    r"""Valid rows: a loaded device makes at least its lightest visitor wait.

    If any source computes on ``d``, one with weight at least :math:`a_{min}`
    waits there at least the top class's wait :math:`R_d / (1 - \sigma_{0,d})`,
    which is convex in the segment times and needs no visit indicator:
    :math:`\sum_s a_s\, wait_{s,d} \ge a_{min} \sum_j g_{j,d}` with
    :math:`g_{j,d} \ge r_j (2 t S_{j,d} - t^2 (1 - \sigma_{0,d}))`.
    """
    shape = layout(compiled)
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    service, wait = blocks["service"], blocks["wait"]
    points = np.unique(approximation.cuts[:, 1:4], axis=0)
    j, d, ratio = points[:, 0].astype(np.int64), points[:, 1].astype(np.int64), points[:, 2]
    g = program.add_variables("floor_wait", (num_sources, num_devices))
    rows = np.arange(ratio.size)
    residual = shape.residual[j]
    sigma = sigma_terms(compiled, service, np.column_stack([np.zeros_like(d), d]), rows)
    program.add_constraints(
        "device_floor_tangent",
        [
            (g, rows, g.flat(j, d), 1.0),
            (service, rows, service.flat(j, d), -2.0 * residual * ratio),
            (
                sigma[0],
                sigma[1],
                sigma[2],
                -np.asarray(sigma[3]) * residual[sigma[1]] * ratio[sigma[1]] ** 2,
            ),
        ],
        lower=-residual * ratio**2,
        shape=ratio.size,
    )
    s_idx, d_idx = (
        a.ravel()
        for a in np.meshgrid(np.arange(num_sources), np.arange(num_devices), indexing="ij")
    )
    program.add_constraints(
        "device_floor",
        [
            (wait, d_idx, wait.flat(s_idx, d_idx), compiled.weight[s_idx]),
            (g, d_idx, g.flat(s_idx, d_idx), -compiled.weight.min()),
        ],
        lower=0.0,
        shape=num_devices,
    )


def decode_split(compiled: Compiled, program: Program, values: dict) -> Split:
    """The split of a MILP solution (each layer on its device with the largest ``x``)."""
    shape = layout(compiled)
    x = np.asarray(values["x"])
    table = np.full((compiled.num_sources, compiled.max_length), -1)
    table[shape.layer_source, shape.layer_index] = np.argmax(x, axis=1)
    return split_from_array(compiled, table)
