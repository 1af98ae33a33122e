"""Input normalisation shared by the graph metrics.

Every graph metric accepts either a PyG :class:`~torch_geometric.data.Data` or the triple
``edge_index, edge_weight, num_nodes`` like :mod:`torch_geometric.utils`. This module turns that
input into one symmetric, float64 :class:`scipy.sparse.csr_array` ``W`` with a zero diagonal and
validates it, so that the metric modules only deal with clean adjacency matrices.

Rules (the same for every undirected metric):

- ``num_nodes`` is required with a bare ``edge_index`` (never inferred from ``edge_index.max()``).
- Missing ``edge_weight`` means weight one on every edge.
- Repeated edges (multi-edges) add their weights.
- Self-loops are dropped: they change neither resistances nor curvature definitions for simple
  graphs, and PyG's ``get_laplacian`` drops them too.
- A directed graph ``W`` (``W[i, j]`` the weight of edge ``i -> j``) is symmetrised by
  ``symmetrize``: ``"mean"`` (default) ``(W + W^T) / 2``, ``"sum"`` ``W + W^T``, ``"max"``
  ``max(W, W^T)``, or ``None`` to require a symmetric input (a :class:`~tgnn.errors.GraphError`
  otherwise). An undirected PyG graph (both directions stored with equal weights) is unchanged by
  all three rules.
- Negative weights raise :class:`~tgnn.errors.GraphError`; NaN or Inf raise
  :class:`~tgnn.errors.NonFiniteError`; complex or non-numeric weights raise
  :class:`~tgnn.errors.ShapeError`; ``num_nodes == 0`` raises
  :class:`~tgnn.errors.EmptyInputError`. Zero weights are not edges.
- ``num_nodes`` must be an integer (a float is refused, not truncated); ids outside
  ``[0, num_nodes)`` in either row of ``edge_index`` (negative ones included) are refused.
- A PyG ``Batch`` of several graphs is refused with :class:`~tgnn.errors.GraphError` (its
  graphs would be read as one disconnected graph): call the metric per graph,
  ``[f(g) for g in batch.to_data_list()]``.

The checks live in :mod:`tgnn.metrics._input`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from torch import Tensor

from tgnn.errors import OptionError
from tgnn.metrics._input import as_numpy as _as_numpy
from tgnn.metrics._input import unpack as _unpack
from tgnn.metrics.prepared import RULES as _RULES
from tgnn.metrics.prepared import Symmetrize, prepare

__all__ = [
    "Symmetrize",
    "GraphInput",
    "to_adjacency",
    "to_pattern",
    "pattern_of",
    "upper_edges",
    "lookup",
    "edge_values",
    "entry_values",
    "find_entry",
    "pattern_with_slots",
    "slot_values",
    "spd_factor",
    "Pattern",
]

GraphInput = Any  # a torch_geometric Data, or an edge_index tensor / array (see _input)


def to_adjacency(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    symmetrize: Symmetrize = "mean",
) -> sp.csr_array:
    """Symmetric float64 adjacency ``W`` (zero diagonal, sorted indices) of the input graph.

    See the module docstring for the rules. Complexity ``O(E log E)``.

    Examples
    --------
    >>> ei = torch.tensor([[0, 1], [1, 2]])
    >>> to_adjacency(ei, num_nodes=3).toarray()
    array([[0. , 0.5, 0. ],
           [0.5, 0. , 0.5],
           [0. , 0.5, 0. ]])
    """
    return prepare(graph, edge_weight, num_nodes).adjacency(symmetrize)


def pattern_of(W: sp.csr_array) -> sp.csr_array:
    """The 0/1 matrix with the sparsity pattern of ``W`` (its stored entries)."""
    return sp.csr_array((np.ones(W.nnz), W.indices, W.indptr), shape=W.shape)


def to_pattern(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    symmetrize: Symmetrize = "mean",
) -> sp.csr_array:
    """The 0/1 pattern of :func:`to_adjacency` (same rules and errors), for unweighted metrics.

    With ``symmetrize`` ``"mean"``, ``"sum"`` or ``"max"`` every rule gives the same pattern
    (the union of both directions of the positive off-diagonal entries), built in one compiled
    pass: ``O(E + n)``. ``None`` goes through :func:`to_adjacency` to check symmetry.

    Examples
    --------
    >>> to_pattern(torch.tensor([[0, 1, 1], [1, 2, 2]]), num_nodes=3).toarray()
    array([[0., 1., 0.],
           [1., 0., 1.],
           [0., 1., 0.]])
    """
    if symmetrize is None:
        return pattern_of(to_adjacency(graph, edge_weight, num_nodes, symmetrize=None))
    return pattern_with_slots(graph, edge_weight, num_nodes, symmetrize=symmetrize)[0]


def pattern_with_slots(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    symmetrize: Symmetrize = "mean",
) -> tuple[sp.csr_array, np.ndarray]:
    """:func:`to_pattern` and, per input column ``(u, v)``, the position of the stored entry
    ``(min(u, v), max(u, v))`` in it (-1 for self-loops and pairs that are no edge, e.g. zero
    weight in both directions), so that values per stored entry reach the input columns by one
    gather.

    Examples
    --------
    >>> W, slots = pattern_with_slots(torch.tensor([[0, 1, 2], [1, 0, 2]]), num_nodes=3)
    >>> slots.tolist()
    [0, 0, -1]
    """
    if symmetrize not in _RULES:
        raise OptionError(f"symmetrize: expected one of {_RULES}, got {symmetrize!r}")
    if symmetrize is None:
        W = to_pattern(graph, edge_weight, num_nodes, symmetrize=None)
        return W, _input_slots(W.indptr, W.indices, graph)
    row, col, w, n = prepare(graph, edge_weight, num_nodes).edges()
    indptr, indices, slots = _union_pattern(row, col, (row != col) & (w > 0), n)
    return sp.csr_array((np.ones(len(indices)), indices, indptr), shape=(n, n)), slots


@numba.njit(cache=True)
def _union_pattern(
    row: np.ndarray, col: np.ndarray, keep: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted, duplicate-free CSR rows of the pattern of ``A + A^T`` from COO ``(row, col)``.

    Each kept entry becomes ``(lo, hi) = (min, max)``; two stable counting sorts (by ``hi``,
    then by ``lo``) order the upper triangle, where duplicates are then adjacent. Row ``r`` of
    the result is its lower part (every ``lo`` with an upper entry ``(lo, r)``, in ascending
    ``lo``) followed by its upper part, written in place as the rows are deduplicated:
    ``O(E + n)``, no comparison sort. The third
    output is each input entry's position of ``(lo, hi)`` in the result (-1 for self-loops and
    pairs that are no edge); ``keep`` must exclude ``row == col``.
    """
    m = row.shape[0]
    lo_of, hi_of = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    by_hi = np.zeros(n + 1, dtype=np.int64)
    by_lo = np.zeros(n + 1, dtype=np.int64)
    kept = 0
    for e in range(m):
        lo_of[e], hi_of[e] = (row[e], col[e]) if row[e] < col[e] else (col[e], row[e])
        if keep[e]:
            by_lo[lo_of[e] + 1] += 1
            by_hi[hi_of[e] + 1] += 1
            kept += 1
    for r in range(n):
        by_hi[r + 1] += by_hi[r]
        by_lo[r + 1] += by_lo[r]
    source = np.empty(kept, dtype=np.int64)  # the kept entries ordered by hi
    for e in range(m):
        if keep[e]:
            source[by_hi[hi_of[e]]] = e
            by_hi[hi_of[e]] += 1
    start = by_lo.copy()
    origin = np.empty(kept, dtype=np.int64)  # then stably by lo: hi ascends in each group
    for p in range(kept):
        lo = lo_of[source[p]]
        origin[by_lo[lo]] = source[p]
        by_lo[lo] += 1
    # rows in ascending order: when row r is reached, its lower part (one entry per upper entry
    # (lo, r), lo < r) and all earlier rows are complete, so its upper part goes straight to
    # its final place; the lower parts are filled afterwards
    slots = np.full(m, -1, dtype=np.int64)
    lower = np.zeros(n, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(2 * kept, dtype=np.int64)
    for r in range(n):
        at = indptr[r] + lower[r]
        last = -1
        for p in range(start[r], start[r + 1]):
            hi = hi_of[origin[p]]
            if hi != last:
                indices[at] = last = hi
                at += 1
                lower[hi] += 1
            slots[origin[p]] = at - 1
        indptr[r + 1] = at
    fill = indptr[:-1].copy()
    for r in range(n):
        for p in range(indptr[r] + lower[r], indptr[r + 1]):
            indices[fill[indices[p]]] = r
            fill[indices[p]] += 1
    for e in range(m):  # a zero weight whose reverse is an edge still names that edge
        if slots[e] < 0 and lo_of[e] != hi_of[e]:
            slots[e] = find_entry(indptr, indices, lo_of[e], hi_of[e])
    return indptr, indices[: indptr[n]], slots


@numba.njit(cache=True)
def _find_slots(
    indptr: np.ndarray, indices: np.ndarray, u: np.ndarray, v: np.ndarray, slots: np.ndarray
) -> None:
    for c in range(u.shape[0]):
        lo, hi = min(u[c], v[c]), max(u[c], v[c])
        slots[c] = find_entry(indptr, indices, lo, hi) if lo != hi else -1


@numba.njit(cache=True)
def _upper_entries(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every entry above the diagonal of a CSR with sorted rows."""
    count = 0
    for r in range(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            count += indices[p] > r
    rows = np.empty(count, dtype=np.int64)
    cols = np.empty(count, dtype=np.int64)
    size = 0
    for r in range(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            if indices[p] > r:
                rows[size], cols[size] = r, indices[p]
                size += 1
    return rows, cols


def upper_edges(W: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)`` with ``i < j`` of every undirected edge of ``W``, sorted by ``(i, j)``."""
    return _upper_entries(W.indptr, W.indices)  # sorted rows give (i, j) sorted


def lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, default: float) -> np.ndarray:
    """``values[keys == q]`` for each ``q`` in ``query`` (``keys`` sorted), else ``default``."""
    if len(keys) == 0:
        return np.full(len(query), default, dtype=np.float64)
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], default)


def edge_values(
    n: int, i: np.ndarray, j: np.ndarray, values: np.ndarray, graph: GraphInput
) -> Tensor:
    """Align values of the undirected edges ``(i, j)`` (``i < j``, sorted) with the input columns.

    A column ``(u, v)`` gets the value of ``(min(u, v), max(u, v))``; columns that are not edges
    of the symmetrised graph (self-loops, zero weights) get NaN. Returns float64 ``[E]``.
    ``O(n log E + E log d_max)``: a binary search in the row of ``min(u, v)``.
    """
    return _aligned(np.searchsorted(i, np.arange(n + 1)), j, values, graph)


def entry_values(W: sp.csr_array, values: np.ndarray, graph: GraphInput) -> Tensor:
    """Like :func:`edge_values` for values stored per entry of a symmetric ``W`` (sorted rows)."""
    return _aligned(W.indptr, W.indices, values, graph)


def _aligned(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, graph: GraphInput) -> Tensor:
    return slot_values(values, _input_slots(rows, cols, graph))


def _input_slots(rows: np.ndarray, cols: np.ndarray, graph: GraphInput) -> np.ndarray:
    """Per input column ``(u, v)``, the position of ``(min(u, v), max(u, v))`` in the CSR
    ``(rows, cols)`` with sorted rows (binary search), -1 for self-loops and non-edges."""
    ei = _as_numpy(_unpack(graph, None, None)[0], "edge_index").astype(np.int64, copy=False)
    slots = np.empty(ei.shape[1], dtype=np.int64)
    _find_slots(rows, np.ascontiguousarray(cols), ei[0], ei[1], slots)
    return slots


def slot_values(values: np.ndarray, slots: np.ndarray) -> Tensor:
    """``values[slots]`` with NaN where ``slots`` is -1 (columns that are not edges), float64."""
    return torch.from_numpy(_gather(np.asarray(values, dtype=np.float64), slots))


@numba.njit(cache=True)
def _gather(values: np.ndarray, slots: np.ndarray) -> np.ndarray:
    out = np.empty(slots.shape[0])
    for c in range(slots.shape[0]):
        out[c] = values[slots[c]] if slots[c] >= 0 else np.nan
    return out


@numba.njit(cache=True, nogil=True)
def find_entry(indptr: np.ndarray, indices: np.ndarray, row: int, col: int) -> int:
    """Position of ``(row, col)`` in a CSR with sorted rows (binary search), or -1."""
    start, stop = indptr[row], indptr[row + 1]
    while start < stop:
        mid = (start + stop) // 2
        if indices[mid] < col:
            start = mid + 1
        else:
            stop = mid
    return start if start < indptr[row + 1] and indices[start] == col else -1


def spd_factor(A: sp.sparray) -> spla.SuperLU:
    """Sparse LU of a symmetric positive definite matrix without pivoting.

    SuperLU with a minimum-degree ordering of ``A + A^T`` and diagonal pivots, so that the row
    and column permutations agree and ``U = D L^T`` (an ``L D L^T`` factorisation).
    """
    return spla.splu(
        sp.csc_array(A), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )


class Pattern:
    """Binary adjacency ``A``, its square, degrees and sorted lookup keys."""

    def __init__(self, W: sp.csr_array) -> None:
        self.n = n = W.shape[0]
        A = pattern_of(W)
        self.indptr, self.indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
        self.deg = np.diff(self.indptr).astype(np.float64)
        self.akeys = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.indptr)) * n
        self.akeys += self.indices
        A2 = sp.csr_array(A @ A)
        A2.sort_indices()
        self.a2keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(A2.indptr)) * n
        self.a2keys += A2.indices
        self.a2vals = A2.data.astype(np.float64)
        self.i, self.j = upper_edges(W)

    def adj(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return lookup(self.akeys, np.ones(len(self.akeys)), r * self.n + c, 0.0) > 0

    def a2(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return lookup(self.a2keys, self.a2vals, r * self.n + c, 0.0)

    def expand(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(p, k)``: for each position ``p`` of ``nodes``, every neighbour ``k``, sorted."""
        counts = self.indptr[nodes + 1] - self.indptr[nodes]
        p = np.repeat(np.arange(len(nodes)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return p, self.indices[np.repeat(self.indptr[nodes], counts) + offsets]
