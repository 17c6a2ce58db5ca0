r"""The convex relaxation: fractional layer shares, waits through second-order cones.

The linear core (:mod:`~idnopt.formulations.pamdi.structure`) with ``x``
continuous in ``[0, 1]`` (a layer may be shared between devices, a cut between
paths), plus ``uy[s, d]`` = ``visit * (1 - sigma_{k_s - 1, d})`` (McCormick rows,
``uy = visit`` for the top class) and, per source and device, the rotated cone

.. math:: wait_{s,d}\; \ell_{s,d} \ge \sum_j r_j\, sy_{s·j,d}^2, \qquad
          \ell_{s,d} = vy_{s,d} - m\,(visit_{s,d} - uy_{s,d}),\quad m = 1 - \rho_{max}.

Why it is a bound: for ``u = 1 - sigma_{k-1}``, ``v = 1 - sigma_k`` in
``[m, 1]``, :math:`uv \le v - m(1 - u)` (their difference is
:math:`(1 - u)(v - m) \ge 0`), so Cobham's wait :math:`R/(uv)` is at least
:math:`R / (v - m(1 - u))`, and ``y`` times the latter is the perspective
:math:`\sum_j r_j (y S_j)^2 / (y v - m (y - y u))` - convex, and equal to it when
``y`` is 0 or 1. Every integral split therefore maps to a feasible point
(``x``, its flows, ``sy = y S``, ``vy = y v``, ``uy = y u``) whose relaxed
objective is at most its delay, and the relaxation's optimum is at most the
integral optimum. It is exact for the top class (``u = 1``) at integral points
and underestimates lower classes by at most the factor :math:`uv / (v - m(1-u))`.
It is solved by cvxpy (Clarabel by default).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from idnopt.formulations.pamdi.compiled import Compiled
from idnopt.formulations.pamdi.structure import add_core, add_visit_times_room, layout
from idnopt.program import Program


def build_relaxation(compiled: Compiled) -> Program:
    """The convex relaxation of ``compiled`` as a program for the cvxpy backend.

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.

    Returns
    -------
    Program
        Linear blocks of the core plus ``uy`` and ``wait``, and the cone
        constraints ``wait_cone`` as its convex part.
    """
    shape = layout(compiled)
    program = Program("pamdi_relaxation", sense="minimize")
    blocks, objective = add_core(program, compiled, shape, integer=False)
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    names, devices = list(compiled.source_names), list(compiled.device_names)
    uy = program.add_variables("uy", (num_sources, num_devices), upper=1, labels=[names, devices])
    blocks["uy"] = uy
    add_visit_times_room(program, compiled, blocks, uy, compiled.klass - 1, "uy", shape.floor)
    wait = program.add_variables("wait", (num_sources, num_devices), labels=[names, devices])
    objective.append((wait, np.repeat(compiled.weight, num_devices)))
    program.set_objective(objective)
    pairs = num_sources * num_devices
    s, j, d = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(num_sources), np.arange(num_sources), np.arange(num_devices), indexing="ij"
        )
    )
    source_flat = (s * num_sources + j) * num_devices + d
    cone_flat = j * pairs + s * num_devices + d
    scale = sp.csr_matrix(
        (2.0 * np.sqrt(shape.residual[j]), (cone_flat, source_flat)),
        shape=(num_sources * pairs, num_sources * pairs),
    )
    floor = shape.floor

    def cones(variables: dict) -> dict:
        import cvxpy as cp

        def flat(name: str):
            return cp.vec(variables[name], order="C")

        room = flat("vy") - floor * (flat("visit") - flat("uy"))
        top = cp.reshape(scale @ flat("sy"), (num_sources, pairs), order="C")
        gap = cp.reshape(flat("wait") - room, (1, pairs), order="C")
        return {"wait_cone": [cp.SOC(flat("wait") + room, cp.vstack([top, gap]), axis=0)]}

    program.convex_constraints = cones
    return program


def relaxed_objective(compiled: Compiled, values: dict) -> float:
    r"""The relaxation's objective recomputed from a solution's blocks (numpy).

    Parameters
    ----------
    compiled : Compiled
        The instance's arrays.
    values : dict of str to numpy.ndarray
        Blocks ``x``, ``flow``, ``visit``, ``sy``, ``vy``, ``uy``, ``wait`` of a solution.

    Returns
    -------
    float
        Weighted compute (from ``x``) plus transfer (from ``flow``) plus the
        waits: the cone terms :math:`\sum_j r_j sy^2 / \ell` recomputed, or the
        ``wait`` block where it is smaller (the solver's epigraph, which meets the
        cone up to its tolerance).
    """
    shape = layout(compiled)
    num_sources, num_devices = compiled.num_sources, compiled.num_devices
    weight = compiled.weight
    x = np.asarray(values["x"], dtype=float)
    work = np.concatenate([chain.work for chain in compiled.chains])
    service = np.zeros((num_sources, num_devices))
    np.add.at(service, shape.layer_source, work[:, None] * x / compiled.speed[None, :])
    sizes = np.concatenate([chain.sizes for chain in compiled.chains])
    arc_cost = compiled.arc_latency[None, :] + sizes[:, None] * compiled.arc_ms_per_mb[None, :]
    flow = np.asarray(values["flow"], dtype=float).reshape(shape.num_boundaries, -1)
    transfer = np.zeros(num_sources)
    np.add.at(transfer, shape.boundary_source, (arc_cost * flow).sum(axis=1))
    sy = np.asarray(values["sy"], dtype=float).reshape(num_sources, num_sources, num_devices)
    room = np.asarray(values["vy"]) - shape.floor * (
        np.asarray(values["visit"]) - np.asarray(values["uy"])
    )
    squares = (shape.residual[None, :, None] * sy**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cone = np.where(squares > 0, squares / np.maximum(room, 1e-300), 0.0)
    wait = np.minimum(cone, np.asarray(values["wait"], dtype=float))
    return float(weight @ (service.sum(axis=1) + transfer + wait.sum(axis=1)))
