"""Edge curvatures: balanced Forman, Forman (weighted), augmented Forman, Ollivier-Ricci.

Every function returns one float64 value per column of the input ``edge_index`` (both
directions of an undirected edge get the same value); columns that are not edges of the
symmetrised simple graph (self-loops, zero weights) get NaN. A directed graph ``W`` is
symmetrised by ``symmetrize`` (``"mean"``: ``(W + W^T) / 2`` by default; ``"sum"``, ``"max"``,
or ``None`` to require symmetric input). Counts of triangles and 4-cycles come from sparse
products (``A^2``) and index arithmetic over all edges at once, or, for the balanced Forman
4-cycle sets, from one compiled pass over the edges; there is no per-edge Python loop.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numba
import numpy as np
import scipy.sparse as sp
from torch import Tensor

from tgnn.errors import GraphError
from tgnn.metrics._graph import (
    GraphInput,
    Symmetrize,
    edge_values,
    entry_values,
    find_entry,
    lookup,
    pattern_of,
    pattern_with_slots,
    slot_values,
    to_adjacency,
    upper_edges,
)
from tgnn.metrics._ollivier import ollivier_ricci_curvature

__all__ = [
    "balanced_forman_curvature",
    "forman_curvature",
    "augmented_forman_curvature",
    "ollivier_ricci_curvature",
]


class _Pattern:
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


def _bfc_value(di: int, dj: int, tri: int, squares: int, gamma: int) -> float:
    """Definition 1 from its counts (``min(d_i, d_j) >= 2``); the one formula of the paper BFC.

    ``squares = |#sq^i| + |#sq^j|``, ``gamma = gamma_max`` (0: no 4-cycle). Plain Python for the
    incremental set-based kernel of :mod:`tgnn.transforms`, compiled for :func:`_bfc_kernel`.
    """
    dmax, dmin = max(di, dj), min(di, dj)
    ric = 2.0 / di + 2.0 / dj - 2.0 + 2.0 * tri / dmax + tri / dmin
    if gamma > 0:
        ric += squares / (gamma * dmax)
    return ric


_bfc_value_jit = numba.njit(cache=True)(_bfc_value)


def _sdrf_value(dmax: Any, dmin: Any, tri: Any, sharp: Any, lam: Any) -> Any:
    """Legacy (released SDRF code) formula from its counts; scalars or arrays alike."""
    ric = 2 / dmax + 2 / dmin - 2 + (2 / dmax + 1 / dmin) * tri
    return ric + sharp / (dmax * np.maximum(lam, 1))  # sharp = 0 whenever lam = 0


@numba.njit(cache=True, nogil=True)
def _leads(i: int, di: int, j: int, dj: int) -> bool:
    """Edge ``i ~ j`` is evaluated from ``i`` when ``d_i > d_j`` (ties: the smaller id)."""
    return di > dj or (di == dj and i < j)


@numba.njit(cache=True, nogil=True)
def _bfc_rows(
    indptr: np.ndarray, indices: np.ndarray, first_row: int, stop_row: int, out: np.ndarray
) -> None:
    """Definition 1 for every edge led by a node of ``[first_row, stop_row)``, into ``out``.

    ``out`` has one slot per stored entry of the symmetric pattern; an edge fills both of its
    entries. Each edge is evaluated once, from its endpoint ``i`` of larger degree
    (:func:`_leads`), so that the per-edge walk runs over the smaller neighbourhood ``S1(j)``
    and nodes that lead no edge skip the listing. For each leading ``i`` the 2-paths
    ``i - k - w`` (``w != i``) are listed once, grouped by ``w`` (linked lists
    ``first``/``nxt``). An edge ``i ~ j`` then walks ``w in S1(j)``: ``w`` in ``S1(i)`` closes a
    triangle; otherwise, when a 2-path other than ``i - j - w`` reaches ``w``, each listed ``k``
    outside ``B1(j)`` is a 4-cycle ``i - k - w - j`` without diagonals, counted for ``k``
    (``#sq^i``) and for ``w`` (``#sq^j``), whose largest counts give ``gamma_max``. Time
    ``O(sum_i sum_{k in N(i)} d_k + sum_{ij} (min(d_i, d_j) + #2-paths from i into S1(j)))``,
    memory ``O(n + nnz)``; releases the GIL.
    """
    n = indptr.shape[0] - 1
    in_i = np.zeros(n, dtype=np.bool_)
    in_j = np.zeros(n, dtype=np.bool_)
    first = np.full(n, -1, dtype=np.int64)
    nxt = np.empty(indices.shape[0], dtype=np.int64)  # sum_{k in N(i)} d_k <= nnz
    via = np.empty(indices.shape[0], dtype=np.int64)
    listed = np.empty(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    counted = np.empty(n, dtype=np.int64)
    for i in range(first_row, stop_row):
        di = indptr[i + 1] - indptr[i]
        leads_any = False
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            leads_any = leads_any or _leads(i, di, j, indptr[j + 1] - indptr[j])
        if not leads_any:
            continue
        t, n_listed = 0, 0
        for p in range(indptr[i], indptr[i + 1]):
            k = indices[p]
            in_i[k] = True
            for q in range(indptr[k], indptr[k + 1]):
                w = indices[q]
                if w == i:
                    continue
                if first[w] == -1:
                    listed[n_listed] = w
                    n_listed += 1
                via[t], nxt[t], first[w] = k, first[w], t
                t += 1
        for f in range(indptr[i], indptr[i + 1]):
            j = indices[f]
            dj = indptr[j + 1] - indptr[j]
            if not _leads(i, di, j, dj):
                continue
            value = 0.0
            if min(di, dj) > 1:
                tri, sq_i, sq_j, gamma, n_counted = 0, 0, 0, 0, 0
                marked = False  # in_j holds S1(j) only once a 4-cycle candidate needs it
                for p in range(indptr[j], indptr[j + 1]):
                    w = indices[p]
                    if in_i[w]:
                        tri += 1
                        continue
                    if w == i:
                        continue
                    s = first[w]
                    if nxt[s] == -1:
                        continue  # the one 2-path from i to w is i - j - w: no 4-cycle via w
                    if not marked:
                        for q in range(indptr[j], indptr[j + 1]):
                            in_j[indices[q]] = True
                        marked = True
                    c_w = 0  # |(S1(w) & S1(i)) - B1(j)|
                    while s != -1:
                        k = via[s]
                        if k != j and not in_j[k]:
                            c_w += 1
                            if count[k] == 0:
                                counted[n_counted] = k
                                n_counted += 1
                            count[k] += 1  # |(S1(k) & S1(j)) - B1(i)| gets w
                        s = nxt[s]
                    if c_w > 0:
                        sq_j += 1
                        gamma = max(gamma, c_w)
                for a in range(n_counted):
                    k = counted[a]
                    sq_i += 1
                    gamma = max(gamma, count[k])
                    count[k] = 0
                if marked:
                    for p in range(indptr[j], indptr[j + 1]):
                        in_j[indices[p]] = False
                value = _bfc_value_jit(di, dj, tri, sq_i + sq_j, gamma)
            out[f] = value
            mirror = find_entry(indptr, indices, j, i)  # present when the pattern is symmetric
            if mirror >= 0:
                out[mirror] = value
        for a in range(n_listed):
            first[listed[a]] = -1
        for p in range(indptr[i], indptr[i + 1]):
            in_i[indices[p]] = False


@numba.njit(cache=True)
def _row_costs(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Work of :func:`_bfc_rows` per row: listing ``sum_k d_k`` plus ``d_j`` per led edge."""
    n = indptr.shape[0] - 1
    cost = np.zeros(n)
    for i in range(n):
        di = indptr[i + 1] - indptr[i]
        listing, walks = 0, 0
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            dj = indptr[j + 1] - indptr[j]
            listing += dj
            if _leads(i, di, j, dj):
                walks += dj
        cost[i] = listing + walks if walks > 0 else 0.0
    return cost


EDGES_PER_THREAD = 4096
_CPUS = os.cpu_count() or 1


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix="tgnn-bfc")


def _bfc_entries(A: sp.csr_array) -> np.ndarray:
    """Paper curvature per stored entry of a symmetric pattern ``A`` with sorted rows.

    :func:`_bfc_rows` on up to ``os.cpu_count()`` threads, one per ``EDGES_PER_THREAD``
    undirected edges; each takes a contiguous range of rows of equal estimated work
    (:func:`_row_costs`). The kernel releases the GIL and every edge writes its own two slots.
    """
    indptr, indices = A.indptr.astype(np.int64, copy=False), A.indices.astype(np.int64, copy=False)
    n = len(indptr) - 1
    out = np.zeros(len(indices))
    workers = max(1, min(_CPUS, len(indices) // (2 * EDGES_PER_THREAD)))
    if workers == 1:
        _bfc_rows(indptr, indices, 0, n, out)
        return out
    work = np.cumsum(_row_costs(indptr, indices))
    cuts = [0, *np.searchsorted(work, work[-1] * np.arange(1, workers) / workers).tolist(), n]
    shares = [
        _pool(workers).submit(_bfc_rows, indptr, indices, a, b, out)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    for share in shares:
        share.result()
    return out


def _sharp_side(g: _Pattern, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Legacy kernel: over ``k in N(b)``, count and max of ``A2[a, k] - A[a, k] > 0``."""
    e, k = g.expand(b)
    t = g.a2(a[e], k) - g.adj(a[e], k)
    pos = t > 0
    count = np.bincount(e[pos], minlength=len(a)).astype(np.float64)
    tmax = np.zeros(len(a))
    np.maximum.at(tmax, e[pos], t[pos])
    return count, tmax


def _bfc_sdrf(g: _Pattern, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    dmax, dmin = np.maximum(g.deg[i], g.deg[j]), np.minimum(g.deg[i], g.deg[j])
    c1, m1 = _sharp_side(g, i, j)
    c2, m2 = _sharp_side(g, j, i)
    return _sdrf_value(dmax, dmin, g.a2(i, j), c1 + c2, np.maximum(m1, m2))


def _bfc_pairs(
    adj: sp.csr_array | sp.csr_matrix, i: np.ndarray, j: np.ndarray, variant: str = "paper"
) -> np.ndarray:
    """Balanced Forman curvature of the edges ``(i[e], j[e])`` of a symmetric simple ``adj``.

    Only the sparsity pattern of ``adj`` is read (no diagonal). The kernel of
    :func:`balanced_forman_curvature`, shared with the rewiring transforms (SDRF).
    """
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    if variant == "paper":
        A = sp.csr_array(adj)
        if not A.has_sorted_indices:
            A = A.sorted_indices()
        return entry_values(A, _bfc_entries(A), np.stack([i, j])).numpy()
    if variant == "sdrf":
        A = sp.csr_array(adj, dtype=np.float64, copy=True)
        A.sort_indices()
        return _bfc_sdrf(_Pattern(A), i, j)
    raise GraphError(f"variant: expected 'paper' or 'sdrf', got {variant!r}")


def balanced_forman_curvature(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    variant: Literal["paper", "sdrf"] = "paper",
    symmetrize: Symmetrize = "mean",
) -> Tensor:
    r"""Balanced Forman curvature of every edge (Topping et al. 2022, Definition 1).

    For an edge ``i ~ j`` with degrees ``d_i, d_j`` (weights are ignored: the definition is for
    simple unweighted graphs), ``Ric(i, j) = 0`` if ``min(d_i, d_j) = 1``, else

    ``2/d_i + 2/d_j - 2 + 2 T/max(d_i, d_j) + T/min(d_i, d_j)
    + (|#sq^i| + |#sq^j|) / (gamma_max max(d_i, d_j))``

    with ``T`` the triangles on ``i ~ j``,
    ``#sq^i = {k in S1(i) - B1(j) : exists w in (S1(k) & S1(j)) - B1(i)}`` (neighbours of ``i``
    that start a 4-cycle through ``i ~ j`` without diagonals), ``#sq^j`` likewise, and
    ``gamma_max`` the largest ``|(S1(k) & S1(j)) - B1(i)|`` over ``k in #sq^i`` (and the mirror
    over ``#sq^j``); the last term is 0 when there are no such 4-cycles. Closed forms:
    ``K_n -> n/(n-1)``, 4-cycle ``-> 1``, ``n``-cycle (``n >= 5``) ``-> 0``.

    ``variant="sdrf"`` (legacy, for comparison only) computes the formula of the public SDRF
    reference kernel (Topping et al.'s code, copied by FoSR, BORF, AFRC) with its early
    ``break`` removed (with the ``break`` most values come out 0): it counts
    ``#{k in N(j): A2[i,k] > A[i,k]} + #{k in N(i): A2[k,j] > A[k,j]}`` over the largest such
    excess ``lambda`` instead of the 4-cycle sets, and has no ``min degree = 1`` rule. It
    disagrees with the paper, e.g. ``K_5``: 1.75 (paper 1.25), ``C_6``: 1 (paper 0).

    Complexity: ``O(sum_i sum_{k in N(i)} d_k + sum_{i ~ j} (min(d_i, d_j) + P_ij))`` time,
    with ``P_ij`` the 2-paths from the endpoint ``i`` of larger degree into ``S1(j)`` (a
    compiled pass that lists each node's 2-paths once, no sets; on several threads from 8192
    edges), ``O(n + E)`` memory; the
    legacy variant is vectorised with ``A^2`` lookups, ``O(nnz(A^2) + sum_i d_i^2)``.

    Reference: J. Topping, F. Di Giovanni, B. P. Chamberlain, X. Dong, M. M. Bronstein,
    *Understanding over-squashing and bottlenecks on graphs via curvature*, ICLR 2022.

    Examples
    --------
    >>> import torch
    >>> c4 = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    >>> balanced_forman_curvature(c4, num_nodes=4).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    W, slots = pattern_with_slots(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    if variant == "paper":
        return slot_values(_bfc_entries(W), slots)
    i, j = upper_edges(W)
    return edge_values(W.shape[0], i, j, _bfc_pairs(W, i, j, variant), graph)


def forman_curvature(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    symmetrize: Symmetrize = "mean",
) -> Tensor:
    r"""Forman-Ricci curvature of every edge of a weighted graph (unit node weights).

    ``F(i, j) = w_e (2 / w_e - sum_{e' ~ i, e' != e} 1/sqrt(w_e w_e')
    - sum_{e' ~ j, e' != e} 1/sqrt(w_e w_e')) = 4 - sqrt(w_e) (s_i + s_j)``
    with ``s_v = sum_{e' ~ v} w_e'^{-1/2}``; unweighted: ``4 - d_i - d_j``.

    Complexity: ``O(E)``.

    Reference: R. P. Sreejith, K. Mohanraj, J. Jost, E. Saucan, A. Samal, *Forman curvature for
    complex networks*, J. Stat. Mech. (2016) 063206.

    Examples
    --------
    >>> import torch
    >>> path = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> forman_curvature(path, num_nodes=3).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    n = W.shape[0]
    i, j = upper_edges(W)
    w = np.asarray(W[i, j]).ravel()
    s = np.asarray(sp.csr_array((1.0 / np.sqrt(W.data), W.indices, W.indptr)).sum(axis=1))
    values = 4.0 - np.sqrt(w) * (s.ravel()[i] + s.ravel()[j])
    return edge_values(n, i, j, values, graph)


def augmented_forman_curvature(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    cycles: Literal[3, 4] = 3,
    symmetrize: Symmetrize = "mean",
) -> Tensor:
    r"""Augmented Forman-Ricci curvature (AFRC) of every edge, with triangles (and 4-cycles).

    ``AFRC_3(i, j) = 4 - d_i - d_j + 3 T(i, j)`` with ``T`` the triangles on the edge;
    ``AFRC_4 = AFRC_3 + 2 Q(i, j)`` (``cycles=4``) with ``Q = (A^3)_{ij} - d_i - d_j + 1`` the
    4-cycles through the edge (walks ``i k w j`` with ``k != j``, ``w != i``). Weights are
    ignored (unweighted definition).

    Complexity: ``O(nnz(A^2))`` for triangles; ``cycles=4`` adds one sparse product row per edge.

    Reference: L. Fesser, M. Weber, *Mitigating over-smoothing and over-squashing using
    augmentations of Forman-Ricci curvature*, LoG 2023.

    Examples
    --------
    >>> import torch
    >>> tri = torch.tensor([[0, 1, 2], [1, 2, 0]])
    >>> augmented_forman_curvature(tri, num_nodes=3).tolist()   # 4 - 2 - 2 + 3
    [3.0, 3.0, 3.0]
    """
    if cycles not in (3, 4):
        raise GraphError(f"cycles: expected 3 or 4, got {cycles!r}")
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    g = _Pattern(W)
    di, dj = g.deg[g.i], g.deg[g.j]
    values = 4.0 - di - dj + 3.0 * g.a2(g.i, g.j)
    if cycles == 4:
        e, k = g.expand(g.j)  # (A^3)_ij = sum_{k in N(j)} (A^2)_ik
        a3 = np.bincount(e, weights=g.a2(g.i[e], k), minlength=len(g.i))
        values = values + 2.0 * (a3 - di - dj + 1.0)
    return edge_values(g.n, g.i, g.j, values, graph)
