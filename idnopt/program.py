"""Declarative optimisation programs: named variable and constraint blocks.

A :class:`Program` is what a formulation produces and what every backend
consumes. Variables come in named blocks with a shape, bounds, integrality and
per-axis index labels (``x[node, model]``); linear constraints come in named
blocks of rows ``lower <= A @ x <= upper`` whose coefficients are given as
vectorised triplets (row, column, value) per variable block and assembled into
one ``scipy.sparse`` matrix. Block names and labels let any backend decode a
solution and explain an infeasibility in the instance's own words
(``budget[edge-3]``).

A program may also carry a convex part for cvxpy: a callable that receives one
cvxpy expression per variable block (shaped like the block) and returns a DCP
objective term, and optionally named convex constraints. Only backends that
accept convex programs (cvxpy) can solve those.

Example:
-------
>>> import numpy as np
>>> from idnopt.program import Program
>>> p = Program("knapsack", sense="maximize")
>>> x = p.add_variables("x", 3, integer=True, upper=1, labels=[["a", "b", "c"]])
>>> _ = p.add_constraints("capacity", [(x, np.zeros(3, int), np.arange(3), [2.0, 3.0, 4.0])],
...                       upper=5.0)
>>> p.set_objective([(x, np.arange(3), [3.0, 4.0, 5.0])])
>>> p.num_variables, p.num_constraints
(3, 1)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Union

import numpy as np
import scipy.sparse as sp

from idnopt.errors import ModelingError

Sense = Literal["minimize", "maximize"]
ArrayLike = Union[np.ndarray, Sequence[float], float]


class LabelAxis(Sequence[str]):
    """Labels of one axis, made on demand from an index.

    Passing a ``LabelAxis`` instead of a list of names lets a formulation label
    hundreds of thousands of variables without making every string up front:
    labels are only needed for the entries a result, a conflict report or an
    exported model actually shows.

    Parameters
    ----------
    size : int
        Number of entries.
    make : callable
        ``make(i)`` returns the label of entry ``i`` (``0 <= i < size``).
    """

    def __init__(self, size: int, make: Callable[[int], str]) -> None:
        self._size = int(size)
        self._make = make

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index):  # noqa: D105
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        index = int(index)
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(f"label index {index} out of range for {self._size} entries")
        return str(self._make(index))


def _axis_labels(
    shape: tuple[int, ...], labels: Sequence[Sequence[Any]] | None, what: str
) -> tuple[tuple[str, ...], ...] | None:
    if labels is None:
        return None
    if len(labels) != len(shape):
        raise ModelingError(f"{what}: {len(labels)} label axes for shape {shape}")
    axes = []
    for axis, (size, names) in enumerate(zip(shape, labels)):
        if not isinstance(names, LabelAxis):
            names = tuple(str(name) for name in names)
        if len(names) != size:
            raise ModelingError(f"{what}: axis {axis} has {size} entries but {len(names)} labels")
        axes.append(names)
    return tuple(axes)


def _label(name: str, shape: tuple[int, ...], axes, flat_index: int) -> str:
    if shape == ():
        return name
    position = np.unravel_index(int(flat_index), shape)
    if axes is None:
        parts = [str(int(i)) for i in position]
    else:
        parts = [axes[axis][i] for axis, i in enumerate(position)]
    return f"{name}[{', '.join(parts)}]"


@dataclass(frozen=True, eq=False)
class VariableBlock:
    """A named block of variables occupying columns ``start : start + size``.

    Attributes
    ----------
    name : str
        Block name, unique in its program.
    shape : tuple of int
        Shape of the block (``()`` for a scalar).
    lower, upper : numpy.ndarray
        Flattened bounds (``-inf``/``inf`` when unbounded).
    integer : bool
        Whether every variable of the block is integral.
    labels : tuple of tuple of str, optional
        Index labels per axis.
    start : int
        First column of the block in the program's variable vector.
    """

    name: str
    shape: tuple[int, ...]
    lower: np.ndarray
    upper: np.ndarray
    integer: bool
    labels: tuple[tuple[str, ...], ...] | None
    start: int

    @property
    def size(self) -> int:
        """Number of variables in the block."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def columns(self) -> np.ndarray:
        """Global column indices of the block, in flat (C) order."""
        return np.arange(self.start, self.start + self.size)

    def flat(self, *index: ArrayLike) -> np.ndarray:
        """Flat block-local indices of the given multi-indices (vectorised)."""
        if not index:
            return np.arange(self.size)
        return np.ravel_multi_index(tuple(np.asarray(i, dtype=np.int64) for i in index), self.shape)

    def label(self, flat_index: int) -> str:
        """Readable label of one variable, e.g. ``x[edge-3, resnet50]``."""
        return _label(self.name, self.shape, self.labels, flat_index)


@dataclass(frozen=True, eq=False)
class ConstraintBlock:
    """A named block of linear rows ``lower <= A[rows] @ x <= upper``.

    Attributes
    ----------
    name : str
        Block name, unique in its program.
    shape : tuple of int
        Shape of the block's row index (rows are stored flat).
    lower, upper : numpy.ndarray
        Row bounds.
    labels : tuple of tuple of str, optional
        Index labels per axis of ``shape``.
    start : int
        First row of the block in the program's constraint matrix.
    rows, cols, values : numpy.ndarray
        Coefficients as triplets (block-local row, global column, value).
    """

    name: str
    shape: tuple[int, ...]
    lower: np.ndarray
    upper: np.ndarray
    labels: tuple[tuple[str, ...], ...] | None
    start: int
    rows: np.ndarray = field(repr=False)
    cols: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)

    @property
    def size(self) -> int:
        """Number of rows in the block."""
        return int(np.prod(self.shape, dtype=np.int64))

    def label(self, flat_index: int) -> str:
        """Readable label of one row, e.g. ``budget[edge-3]``."""
        return _label(self.name, self.shape, self.labels, flat_index)


ConvexObjective = Callable[[dict[str, Any]], Any]
ConvexConstraints = Callable[[dict[str, Any]], dict[str, list[Any]]]


class Program:
    """An optimisation program built from named blocks.

    Parameters
    ----------
    name : str
        Name used in logs, results and model exports.
    sense : {"minimize", "maximize"}
        Direction of the objective.

    Attributes
    ----------
    variables : dict of str to VariableBlock
        Variable blocks in column order.
    constraints : dict of str to ConstraintBlock
        Linear constraint blocks in row order.
    objective : numpy.ndarray
        Linear objective coefficients over all columns.
    objective_constant : float
        Constant added to the objective.
    convex_objective : callable, optional
        Convex (minimize) or concave (maximize) term added to the linear objective,
        built from cvxpy expressions; ``None`` for linear programs.
    convex_constraints : callable, optional
        Returns named lists of cvxpy constraints; ``None`` for linear programs.
    """

    def __init__(self, name: str, sense: Sense = "minimize") -> None:
        if sense not in ("minimize", "maximize"):
            raise ModelingError(f"sense must be 'minimize' or 'maximize', not {sense!r}")
        self.name = name
        self.sense: Sense = sense
        self.variables: dict[str, VariableBlock] = {}
        self.constraints: dict[str, ConstraintBlock] = {}
        self._objective_terms: list[tuple[np.ndarray, np.ndarray]] = []
        self.objective_constant = 0.0
        self.convex_objective: ConvexObjective | None = None
        self.convex_constraints: ConvexConstraints | None = None
        self._num_variables = 0
        self._num_constraints = 0

    # -- declaration -----------------------------------------------------------------
    def add_variables(
        self,
        name: str,
        shape: int | Sequence[int],
        *,
        lower: ArrayLike = 0.0,
        upper: ArrayLike = np.inf,
        integer: bool = False,
        labels: Sequence[Sequence[Any]] | None = None,
    ) -> VariableBlock:
        """Declare a block of variables.

        Parameters
        ----------
        name : str
            Unique block name.
        shape : int or sequence of int
            Block shape.
        lower, upper : float or array_like
            Bounds, broadcast to the block shape (default ``[0, inf)``).
        integer : bool
            Integral variables (binary when the bounds are 0 and 1).
        labels : sequence of sequences, optional
            Index labels per axis.

        Returns
        -------
        VariableBlock
            The new block.
        """
        self._check_new_name(name)
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
        lower_arr = np.broadcast_to(np.asarray(lower, dtype=float), shape).ravel().copy()
        upper_arr = np.broadcast_to(np.asarray(upper, dtype=float), shape).ravel().copy()
        if np.any(lower_arr > upper_arr):
            bad = int(np.argmax(lower_arr > upper_arr))
            raise ModelingError(f"variable {_label(name, shape, None, bad)}: lower bound > upper")
        block = VariableBlock(
            name=name,
            shape=shape,
            lower=lower_arr,
            upper=upper_arr,
            integer=bool(integer),
            labels=_axis_labels(shape, labels, f"variables {name!r}"),
            start=self._num_variables,
        )
        self.variables[name] = block
        self._num_variables += block.size
        return block

    def add_constraints(
        self,
        name: str,
        terms: Iterable[tuple],
        *,
        lower: ArrayLike = -np.inf,
        upper: ArrayLike = np.inf,
        shape: int | Sequence[int] | None = None,
        labels: Sequence[Sequence[Any]] | None = None,
    ) -> ConstraintBlock:
        """Declare a block of linear rows ``lower <= sum of terms <= upper``.

        Parameters
        ----------
        name : str
            Unique block name.
        terms : iterable of tuples
            Each term is ``(block, rows, cols, values)`` with block-local flat
            column indices ``cols`` of variable block ``block`` (a block or its
            name), or ``(block, matrix)`` with a sparse matrix of shape
            ``(rows, block.size)``. Duplicate entries are summed.
        lower, upper : float or array_like
            Row bounds broadcast to the number of rows.
        shape : int or sequence of int, optional
            Shape of the row index; inferred as ``(max row + 1,)`` when omitted.
        labels : sequence of sequences, optional
            Index labels per axis of ``shape``.

        Returns
        -------
        ConstraintBlock
            The new block.
        """
        self._check_new_name(name)
        row_parts, col_parts, value_parts = [], [], []
        for term in terms:
            block = self._block(term[0])
            if len(term) == 2:
                matrix = sp.coo_matrix(term[1])
                if matrix.shape[1] != block.size:
                    raise ModelingError(
                        f"constraints {name!r}: matrix for {block.name!r} has "
                        f"{matrix.shape[1]} columns, block has {block.size}"
                    )
                rows, cols, values = matrix.row, matrix.col, matrix.data
            else:
                rows, cols, values = (np.asarray(a) for a in term[1:4])
                rows, cols, values = np.broadcast_arrays(rows, cols, values.astype(float))
            rows = np.asarray(rows, dtype=np.int64).ravel()
            cols = np.asarray(cols, dtype=np.int64).ravel()
            if cols.size and (cols.min() < 0 or cols.max() >= block.size):
                raise ModelingError(f"constraints {name!r}: column out of range for {block.name!r}")
            row_parts.append(rows)
            col_parts.append(cols + block.start)
            value_parts.append(np.asarray(values, dtype=float).ravel())
        rows = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
        cols = np.concatenate(col_parts) if col_parts else np.zeros(0, np.int64)
        values = np.concatenate(value_parts) if value_parts else np.zeros(0)
        if shape is None:
            size_hint = np.size(lower) if np.size(lower) > 1 else np.size(upper)
            shape = (int(max(rows.max() + 1 if rows.size else 0, size_hint)),)
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
        size = int(np.prod(shape, dtype=np.int64))
        if rows.size and (rows.min() < 0 or rows.max() >= size):
            raise ModelingError(f"constraints {name!r}: row index out of range for shape {shape}")
        lower_arr = np.broadcast_to(np.asarray(lower, dtype=float), (size,)).copy()
        upper_arr = np.broadcast_to(np.asarray(upper, dtype=float), (size,)).copy()
        block = ConstraintBlock(
            name=name,
            shape=shape,
            lower=lower_arr,
            upper=upper_arr,
            labels=_axis_labels(shape, labels, f"constraints {name!r}"),
            start=self._num_constraints,
            rows=rows,
            cols=cols,
            values=values,
        )
        self.constraints[name] = block
        self._num_constraints += size
        return block

    def set_objective(
        self,
        terms: Iterable[tuple],
        *,
        constant: float = 0.0,
        sense: Sense | None = None,
    ) -> None:
        """Set the linear objective.

        Parameters
        ----------
        terms : iterable of tuples
            ``(block, cols, values)`` with block-local flat indices, or
            ``(block, values)`` with one value per variable of the block.
        constant : float
            Constant term.
        sense : {"minimize", "maximize"}, optional
            Change the direction.
        """
        self._objective_terms = []
        for term in terms:
            block = self._block(term[0])
            if len(term) == 2:
                cols = np.arange(block.size)
                values = np.broadcast_to(np.asarray(term[1], dtype=float), (block.size,))
            else:
                cols, values = np.broadcast_arrays(
                    np.asarray(term[1], dtype=np.int64), np.asarray(term[2], dtype=float)
                )
            self._objective_terms.append((cols.ravel() + block.start, values.ravel()))
        self.objective_constant = float(constant)
        if sense is not None:
            if sense not in ("minimize", "maximize"):
                raise ModelingError(f"sense must be 'minimize' or 'maximize', not {sense!r}")
            self.sense = sense

    # -- views -------------------------------------------------------------------------
    @property
    def num_variables(self) -> int:
        """Total number of variables."""
        return self._num_variables

    @property
    def num_constraints(self) -> int:
        """Total number of linear rows."""
        return self._num_constraints

    @property
    def num_nonzeros(self) -> int:
        """Number of stored coefficients in the constraint matrix."""
        return int(sum(block.values.size for block in self.constraints.values()))

    @property
    def objective(self) -> np.ndarray:
        """Dense linear objective vector over all columns."""
        c = np.zeros(self._num_variables)
        for cols, values in self._objective_terms:
            np.add.at(c, cols, values)
        return c

    @property
    def is_mip(self) -> bool:
        """Whether any variable block is integral."""
        return any(block.integer and block.size for block in self.variables.values())

    @property
    def is_linear(self) -> bool:
        """Whether the program has no convex (non-linear) part."""
        return self.convex_objective is None and self.convex_constraints is None

    def column_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of all columns."""
        if not self.variables:
            return np.zeros(0), np.zeros(0)
        lower = np.concatenate([b.lower for b in self.variables.values()])
        upper = np.concatenate([b.upper for b in self.variables.values()])
        return lower, upper

    def integrality(self) -> np.ndarray:
        """Boolean mask of integral columns."""
        if not self.variables:
            return np.zeros(0, dtype=bool)
        return np.concatenate(
            [np.full(b.size, b.integer, dtype=bool) for b in self.variables.values()]
        )

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of all rows."""
        if not self.constraints:
            return np.zeros(0), np.zeros(0)
        lower = np.concatenate([b.lower for b in self.constraints.values()])
        upper = np.concatenate([b.upper for b in self.constraints.values()])
        return lower, upper

    def matrix(self, fmt: str = "csr") -> sp.spmatrix:
        """Assemble the constraint matrix (duplicates summed).

        Parameters
        ----------
        fmt : {"csr", "csc", "coo"}
            Sparse format of the result.

        Returns
        -------
        scipy.sparse matrix
            Shape ``(num_constraints, num_variables)``.
        """
        blocks = list(self.constraints.values())
        rows = np.concatenate([b.rows + b.start for b in blocks]) if blocks else np.zeros(0, int)
        cols = np.concatenate([b.cols for b in blocks]) if blocks else np.zeros(0, int)
        values = np.concatenate([b.values for b in blocks]) if blocks else np.zeros(0)
        matrix = sp.coo_matrix(
            (values, (rows, cols)), shape=(self._num_constraints, self._num_variables)
        )
        return matrix.asformat(fmt)

    def row_label(self, row: int) -> str:
        """Label of a global row index, e.g. ``budget[edge-3]``."""
        for block in self.constraints.values():
            if block.start <= row < block.start + block.size:
                return block.label(row - block.start)
        raise IndexError(row)

    def column_label(self, column: int) -> str:
        """Label of a global column index, e.g. ``x[edge-3, resnet50]``."""
        for block in self.variables.values():
            if block.start <= column < block.start + block.size:
                return block.label(column - block.start)
        raise IndexError(column)

    def split(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """Split a column vector into per-block arrays shaped like the blocks."""
        return {
            name: np.asarray(vector[b.start : b.start + b.size]).reshape(b.shape)
            for name, b in self.variables.items()
        }

    def split_rows(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """Split a row vector (duals, activities) into per-block arrays."""
        return {
            name: np.asarray(vector[b.start : b.start + b.size]).reshape(b.shape)
            for name, b in self.constraints.items()
        }

    def copy(self) -> Program:
        """Return a shallow copy whose block tables can be changed independently."""
        other = copy.copy(self)
        other.variables = dict(self.variables)
        other.constraints = dict(self.constraints)
        other._objective_terms = list(self._objective_terms)
        return other

    def with_constraints(self, names: Iterable[str]) -> Program:
        """Copy keeping only the named constraint blocks (rows renumbered)."""
        other = self.copy()
        other.constraints = {}
        other._num_constraints = 0
        for name in names:
            block = self.constraints[name]
            other.constraints[name] = replace(block, start=other._num_constraints)
            other._num_constraints += block.size
        return other

    def feasibility_version(self) -> Program:
        """Copy with a zero objective: solving it only tests feasibility."""
        other = self.copy()
        other._objective_terms = []
        other.objective_constant = 0.0
        other.convex_objective = None
        return other

    def relaxed(self) -> Program:
        """Copy with every variable block continuous."""
        other = self.copy()
        other.variables = {
            name: replace(block, integer=False) for name, block in self.variables.items()
        }
        return other

    def summary(self) -> dict[str, int | str | bool]:
        """Sizes of the program, for logs and the CLI."""
        return {
            "name": self.name,
            "sense": self.sense,
            "variables": self.num_variables,
            "integer_variables": int(self.integrality().sum()),
            "constraints": self.num_constraints,
            "nonzeros": self.num_nonzeros,
            "linear": self.is_linear,
        }

    def __repr__(self) -> str:
        kind = "MILP" if self.is_mip else "LP"
        if not self.is_linear:
            kind = "convex"
        return (
            f"Program({self.name!r}, {self.sense}, {kind}, {self.num_variables} variables, "
            f"{self.num_constraints} constraints, {self.num_nonzeros} nonzeros)"
        )

    # -- internals ---------------------------------------------------------------------
    def _check_new_name(self, name: str) -> None:
        if not name or not isinstance(name, str):
            raise ModelingError("block names must be non-empty strings")
        if name in self.variables or name in self.constraints:
            raise ModelingError(f"block name {name!r} is already used in program {self.name!r}")

    def _block(self, block: VariableBlock | str) -> VariableBlock:
        if isinstance(block, VariableBlock):
            if self.variables.get(block.name) is not block:
                raise ModelingError(f"variable block {block.name!r} is not part of this program")
            return block
        try:
            return self.variables[block]
        except KeyError:
            raise ModelingError(f"unknown variable block {block!r}") from None
