r"""The linear core shared by the exact MILP and the convex relaxation.

Blocks (``s`` source, ``l`` layer, ``b`` boundary, ``d`` device, ``a`` arc, ``j``
another source):

* ``x[s·l, d]`` - layer ``l`` of ``s`` runs on ``d`` (binary in the MILP);
* ``flow[s·b, a]`` - boundary ``b``'s data of ``s`` crosses arc ``a``: at every
  boundary one unit of flow goes from the device of the layer before (the
  source's device for the input) to the device of the layer after (the source's
  device for the result), so each cut is moved along a cheapest path;
* ``start[s·l, d] >= x[s·l, d] - x[s·(l-1), d]`` and ``visit[s, d] = sum_l start[s·l, d]
  <= 1`` - at most one contiguous range per device, ``visit`` its indicator;
* ``service[s, d] = sum_l t_l x[s·l, d] / v_d`` - the segment's compute time;
  :math:`\sum_s \lambda_s\, service[s, d] \le \rho_{max}` (``device_load``);
* ``sy[s·j, d]`` = ``visit[s, d] * service[j, d]`` and ``vy[s, d]`` =
  ``visit[s, d] * (1 - sigma_{k_s, d})`` (and ``uy[s, d]`` = ``visit[s, d] * (1 -
  sigma_{k_s - 1, d})`` in the relaxation), linearised exactly for binary
  ``visit`` by McCormick rows - the disaggregated variables of the perspective
  reformulation of the waiting term (see ``THEORY.md``);
* ``hold[m·l, d] >= x[s·l, d]`` for the sources ``s`` of model ``m`` and
  :math:`\sum hold \cdot memory \le` the device's memory, when some device has one.

The linear objective (compute plus transfer time, weighted) is set here; the
waiting term is added by the MILP (cuts and load buckets) or by the
relaxation (second-order cones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.program import LabelAxis, Program, VariableBlock


@dataclass(frozen=True, eq=False)
class Layout:
    """Offsets of the flat source-layer and source-boundary axes.

    Attributes
    ----------
    layer_offset : numpy.ndarray
        ``(S + 1,)`` first row of each source in the ``x`` axis.
    boundary_offset : numpy.ndarray
        ``(S + 1,)`` first row of each source in the ``flow`` axis.
    layer_source, layer_index : numpy.ndarray
        Source and layer of every row of the ``x`` axis.
    boundary_source, boundary_index : numpy.ndarray
        Source and boundary of every row of the ``flow`` axis.
    smax : numpy.ndarray
        ``(S, D)`` largest feasible segment time of each source on each device.
    residual : numpy.ndarray
        ``(S,)`` ``r_j = lambda_j E[X^2] / 2``: ``R_d = sum_j r_j service[j, d]^2``.
    floor : float
        ``1 - max_load``: the least value of ``1 - sigma``.
    """

    layer_offset: np.ndarray
    boundary_offset: np.ndarray
    layer_source: np.ndarray
    layer_index: np.ndarray
    boundary_source: np.ndarray
    boundary_index: np.ndarray
    smax: np.ndarray
    residual: np.ndarray
    floor: float

    @property
    def num_layers(self) -> int:
        """Rows of the ``x`` axis."""
        return int(self.layer_offset[-1])

    @property
    def num_boundaries(self) -> int:
        """Rows of the ``flow`` axis."""
        return int(self.boundary_offset[-1])


def layout(compiled: Compiled) -> Layout:
    """Offsets and bounds of the flat axes of ``compiled``."""
    lengths = np.asarray([chain.length for chain in compiled.chains])
    layer_offset = np.concatenate([[0], np.cumsum(lengths)])
    boundary_offset = np.concatenate([[0], np.cumsum(lengths + 1)])
    sources = np.arange(compiled.num_sources)
    total_work = np.asarray([chain.work.sum() for chain in compiled.chains])
    smax = np.minimum(
        total_work[:, None] / compiled.speed[None, :],
        compiled.max_load / compiled.rate[:, None],
    )
    return Layout(
        layer_offset=layer_offset,
        boundary_offset=boundary_offset,
        layer_source=np.repeat(sources, lengths),
        layer_index=np.concatenate([np.arange(n) for n in lengths]),
        boundary_source=np.repeat(sources, lengths + 1),
        boundary_index=np.concatenate([np.arange(n + 1) for n in lengths]),
        smax=smax,
        residual=0.5 * compiled.second_moment * compiled.rate,
        floor=1.0 - compiled.max_load,
    )


def sigma_terms(
    compiled: Compiled, service: VariableBlock, classes: np.ndarray, rows: np.ndarray
) -> tuple:
    """Constraint term giving ``sigma_{classes[r], devices[r]}`` on row ``r``.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    service : VariableBlock
        The ``service[s, d]`` block.
    classes : numpy.ndarray
        ``(R, 2)`` class and device per row: ``sigma`` sums the loads of sources
        of class ``<= classes[r, 0]`` on device ``classes[r, 1]``.
    rows : numpy.ndarray
        ``(R,)`` row of each entry.

    Returns
    -------
    tuple
        ``(service, rows, cols, values)`` for :meth:`Program.add_constraints`.
    """
    member = compiled.klass[None, :] <= classes[:, :1]
    row, source = np.nonzero(member)
    device = classes[row, 1]
    cols = service.flat(source, device)
    return service, rows[row], cols, compiled.rate[source]


def add_core(
    program: Program, compiled: Compiled, shape: Layout, *, integer: bool
) -> tuple[dict[str, VariableBlock], list[tuple]]:
    """Declare the shared blocks and rows (see the module docstring) and the linear objective.

    Parameters
    ----------
    program : Program
        Program to extend (empty).
    compiled : Compiled
        The instance's arrays.
    shape : Layout
        From :func:`layout`.
    integer : bool
        Whether ``x`` is binary.

    Returns
    -------
    blocks : dict of str to VariableBlock
        The declared blocks by name.
    objective : list of tuple
        The weighted compute and transfer terms, for :meth:`Program.set_objective`
        together with the waiting terms.
    """
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    num_layers, num_boundaries = shape.num_layers, shape.num_boundaries
    names = compiled.source_names
    layer_labels = LabelAxis(
        num_layers,
        lambda i: (
            f"{names[shape.layer_source[i]]}:"
            f"{compiled.chains[shape.layer_source[i]].names[shape.layer_index[i]]}"
        ),
    )
    boundary_labels = LabelAxis(
        num_boundaries,
        lambda i: f"{names[shape.boundary_source[i]]}:cut{shape.boundary_index[i]}",
    )
    devices = list(compiled.device_names)
    arcs = [
        f"{compiled.device_names[t]}>{compiled.device_names[h]}"
        for t, h in zip(compiled.arc_tail, compiled.arc_head)
    ]
    pairs = LabelAxis(
        num_sources * num_sources,
        lambda i: f"{names[i // num_sources]}|{names[i % num_sources]}",
    )
    x = program.add_variables(
        "x", (num_layers, num_devices), upper=1, integer=integer, labels=[layer_labels, devices]
    )
    flow = program.add_variables(
        "flow", (num_boundaries, compiled.num_arcs), upper=1, labels=[boundary_labels, arcs]
    )
    start = program.add_variables(
        "start", (num_layers, num_devices), upper=1, labels=[layer_labels, devices]
    )
    visit = program.add_variables(
        "visit", (num_sources, num_devices), upper=1, integer=integer, labels=[names, devices]
    )
    service = program.add_variables(
        "service", (num_sources, num_devices), upper=shape.smax, labels=[names, devices]
    )
    sy = program.add_variables(
        "sy",
        (num_sources * num_sources, num_devices),
        upper=np.repeat(shape.smax[None, :, :], num_sources, axis=0).reshape(-1, num_devices),
        labels=[pairs, devices],
    )
    vy = program.add_variables("vy", (num_sources, num_devices), upper=1, labels=[names, devices])
    blocks = {"x": x, "flow": flow, "start": start, "visit": visit, "service": service}
    blocks.update({"sy": sy, "vy": vy})

    layer_rows = np.arange(num_layers)
    device_axis = np.arange(num_devices)
    # flow conservation at every (source, boundary, device)
    boundary = shape.boundary_index
    source_of = shape.boundary_source
    lengths = np.asarray([chain.length for chain in compiled.chains])
    rows_b, rows_d = np.meshgrid(np.arange(num_boundaries), device_axis, indexing="ij")
    rows_b, rows_d = rows_b.ravel(), rows_d.ravel()
    flat_rows = rows_b * num_devices + rows_d
    before = boundary[rows_b] >= 1
    after = boundary[rows_b] < lengths[source_of[rows_b]]
    layer_before = shape.layer_offset[source_of[rows_b]] + boundary[rows_b] - 1
    arc_rows_b = np.repeat(np.arange(num_boundaries), compiled.num_arcs)
    arc_cols = np.tile(np.arange(compiled.num_arcs), num_boundaries)
    flow_cols = flow.flat(arc_rows_b, arc_cols)
    rhs = np.zeros((num_boundaries, num_devices))
    origin = compiled.origin
    rhs[shape.boundary_offset[:-1], origin] -= 1.0
    rhs[shape.boundary_offset[1:] - 1, origin] += 1.0
    program.add_constraints(
        "conservation",
        [
            (x, flat_rows[before], x.flat(layer_before[before], rows_d[before]), 1.0),
            (x, flat_rows[after], x.flat(layer_before[after] + 1, rows_d[after]), -1.0),
            (flow, arc_rows_b * num_devices + compiled.arc_head[arc_cols], flow_cols, 1.0),
            (flow, arc_rows_b * num_devices + compiled.arc_tail[arc_cols], flow_cols, -1.0),
        ],
        lower=rhs.ravel(),
        upper=rhs.ravel(),
        shape=(num_boundaries, num_devices),
        labels=[boundary_labels, devices],
    )
    # contiguity: start >= x[l] - x[l-1]
    cells_l, cells_d = np.meshgrid(layer_rows, device_axis, indexing="ij")
    cells_l, cells_d = cells_l.ravel(), cells_d.ravel()
    cell_rows = cells_l * num_devices + cells_d
    has_previous = shape.layer_index[cells_l] >= 1
    program.add_constraints(
        "contiguous",
        [
            (start, cell_rows, start.flat(cells_l, cells_d), 1.0),
            (x, cell_rows, x.flat(cells_l, cells_d), -1.0),
            (
                x,
                cell_rows[has_previous],
                x.flat(cells_l[has_previous] - 1, cells_d[has_previous]),
                1.0,
            ),
        ],
        lower=0.0,
        shape=(num_layers, num_devices),
        labels=[layer_labels, devices],
    )
    pair_s, pair_d = np.meshgrid(np.arange(num_sources), device_axis, indexing="ij")
    pair_s, pair_d = pair_s.ravel(), pair_d.ravel()
    pair_rows = pair_s * num_devices + pair_d
    owner = shape.layer_source[cells_l]
    program.add_constraints(
        "visits",
        [
            (visit, pair_rows, visit.flat(pair_s, pair_d), 1.0),
            (start, owner * num_devices + cells_d, start.flat(cells_l, cells_d), -1.0),
        ],
        lower=0.0,
        upper=0.0,
        shape=(num_sources, num_devices),
        labels=[names, devices],
    )
    work = np.concatenate([chain.work for chain in compiled.chains])
    program.add_constraints(
        "segment_time",
        [
            (service, pair_rows, service.flat(pair_s, pair_d), 1.0),
            (
                x,
                owner * num_devices + cells_d,
                x.flat(cells_l, cells_d),
                -work[cells_l] / compiled.speed[cells_d],
            ),
        ],
        lower=0.0,
        upper=0.0,
        shape=(num_sources, num_devices),
        labels=[names, devices],
    )
    program.add_constraints(
        "device_load",
        [(service, pair_d, service.flat(pair_s, pair_d), compiled.rate[pair_s])],
        upper=compiled.max_load,
        shape=num_devices,
        labels=[devices],
    )
    _add_products(program, compiled, shape, blocks)
    if compiled.memory_limited:
        _add_memory(program, compiled, shape, blocks)
    # linear objective: compute time + transfer time, weighted
    weight = compiled.weight
    sizes = np.concatenate([chain.sizes for chain in compiled.chains])
    arc_cost = (
        compiled.arc_latency[None, :] + sizes[:, None] * compiled.arc_ms_per_mb[None, :]
    ) * weight[source_of][:, None]
    return blocks, [(service, np.repeat(weight, num_devices)), (flow, arc_cost.ravel())]


def _add_products(
    program: Program, compiled: Compiled, shape: Layout, blocks: dict[str, VariableBlock]
) -> None:
    """McCormick rows of ``sy = visit * service`` and ``vy = visit * (1 - sigma)``."""
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    visit, service, sy, vy = blocks["visit"], blocks["service"], blocks["sy"], blocks["vy"]
    s, j, d = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(num_sources), np.arange(num_sources), np.arange(num_devices), indexing="ij"
        )
    )
    own = s == j
    if own.any():
        rows = np.arange(int(own.sum()))
        program.add_constraints(
            "sy_own",
            [
                (sy, rows, sy.flat(s[own] * num_sources + j[own], d[own]), 1.0),
                (service, rows, service.flat(j[own], d[own]), -1.0),
            ],
            lower=0.0,
            upper=0.0,
            shape=rows.size,
        )
    s, j, d = s[~own], j[~own], d[~own]
    rows = np.arange(s.size)
    pair_cols = sy.flat(s * num_sources + j, d)
    bound = shape.smax[j, d]
    program.add_constraints(
        "sy_below_service",
        [(sy, rows, pair_cols, 1.0), (service, rows, service.flat(j, d), -1.0)],
        upper=0.0,
        shape=s.size,
    )
    program.add_constraints(
        "sy_below_visit",
        [(sy, rows, pair_cols, 1.0), (visit, rows, visit.flat(s, d), -bound)],
        upper=0.0,
        shape=s.size,
    )
    program.add_constraints(
        "sy_above",
        [
            (sy, rows, pair_cols, 1.0),
            (service, rows, service.flat(j, d), -1.0),
            (visit, rows, visit.flat(s, d), -bound),
        ],
        lower=-bound,
        shape=s.size,
    )
    add_visit_times_room(program, compiled, blocks, vy, compiled.klass, "vy", shape.floor)


def add_visit_times_room(
    program: Program,
    compiled: Compiled,
    blocks: dict[str, VariableBlock],
    target: VariableBlock,
    classes: np.ndarray,
    name: str,
    floor: float,
) -> None:
    """Rows making ``target[s, d] = visit[s, d] * (1 - sigma_{classes[s], d})`` for binary visits.

    A class of ``-1`` means ``sigma = 0`` (``target = visit``).
    """
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    visit, service = blocks["visit"], blocks["service"]
    s, d = (
        a.ravel()
        for a in np.meshgrid(np.arange(num_sources), np.arange(num_devices), indexing="ij")
    )
    top = classes[s] < 0
    if top.any():
        rows = np.arange(int(top.sum()))
        program.add_constraints(
            f"{name}_top_class",
            [
                (target, rows, target.flat(s[top], d[top]), 1.0),
                (visit, rows, visit.flat(s[top], d[top]), -1.0),
            ],
            lower=0.0,
            upper=0.0,
            shape=rows.size,
        )
    rest = ~top
    if not rest.any():
        return
    s, d = s[rest], d[rest]
    rows = np.arange(s.size)
    cols, visit_cols = target.flat(s, d), visit.flat(s, d)
    sigma = sigma_terms(compiled, service, np.column_stack([classes[s], d]), rows)
    program.add_constraints(
        f"{name}_below_room", [(target, rows, cols, 1.0), sigma], upper=1.0, shape=s.size
    )
    program.add_constraints(
        f"{name}_below_visit",
        [(target, rows, cols, 1.0), (visit, rows, visit_cols, -1.0)],
        upper=0.0,
        shape=s.size,
    )
    program.add_constraints(
        f"{name}_above",
        [(target, rows, cols, 1.0), sigma, (visit, rows, visit_cols, -1.0)],
        lower=0.0,
        shape=s.size,
    )
    program.add_constraints(
        f"{name}_floor",
        [(target, rows, cols, 1.0), (visit, rows, visit_cols, -floor)],
        lower=0.0,
        shape=s.size,
    )


def _add_memory(
    program: Program, compiled: Compiled, shape: Layout, blocks: dict[str, VariableBlock]
) -> None:
    """``hold[m·l, d] >= x[s·l, d]`` and the weight memory of every device."""
    x = blocks["x"]
    num_devices = compiled.num_devices
    models = sorted(set(compiled.model_of.tolist()))
    first_source = {m: int(np.flatnonzero(compiled.model_of == m)[0]) for m in models}
    lengths = [compiled.chains[first_source[m]].length for m in models]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    position = {m: i for i, m in enumerate(models)}
    hold = program.add_variables("hold", (int(offsets[-1]), num_devices), upper=1)
    blocks["hold"] = hold
    cells_l, cells_d = np.meshgrid(
        np.arange(shape.num_layers), np.arange(num_devices), indexing="ij"
    )
    cells_l, cells_d = cells_l.ravel(), cells_d.ravel()
    model_row = offsets[[position[int(compiled.model_of[s])] for s in shape.layer_source]]
    hold_rows = model_row[cells_l] + shape.layer_index[cells_l]
    rows = np.arange(cells_l.size)
    program.add_constraints(
        "holds_layer",
        [
            (hold, rows, hold.flat(hold_rows, cells_d), 1.0),
            (x, rows, x.flat(cells_l, cells_d), -1.0),
        ],
        lower=0.0,
        shape=cells_l.size,
    )
    memory = np.concatenate([compiled.chains[first_source[m]].memory for m in models])
    h_l, h_d = np.meshgrid(np.arange(int(offsets[-1])), np.arange(num_devices), indexing="ij")
    finite = np.isfinite(compiled.memory)
    program.add_constraints(
        "memory",
        [(hold, h_d.ravel(), hold.flat(h_l.ravel(), h_d.ravel()), memory[h_l.ravel()])],
        upper=np.where(finite, compiled.memory, np.inf),
        shape=num_devices,
        labels=[list(compiled.device_names)],
    )
