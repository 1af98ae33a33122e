r"""Balanced Forman curvature (Topping et al. 2022, Def. 1) of every stored entry of a pattern.

The 4-cycles of Definition 1 are the induced (chordless) 4-cycles through the edge: for
``i ~ j``, a neighbour ``k in S1(i) - B1(j)`` and ``w in (S1(k) & S1(j)) - B1(i)`` close
``i - k - w - j`` with neither diagonal ``i ~ w`` nor ``k ~ j``, and every induced 4-cycle
through ``i ~ j`` arises so. ``k`` lies off ``N(j)`` and ``w`` in it, so ``#sq^i`` and ``#sq^j``
are disjoint: their sizes add up to the number of distinct nodes off the edge on its induced
4-cycles, and ``gamma_max`` is the largest number of those cycles through one such node.

Two compiled kernels give the same values (:func:`bfc_entries` picks one):

- the cycle kernel (:mod:`tgnn.metrics._balanced_forman.cycle_kernel`), for graphs up to
  ``CYCLE_MAX_EDGES`` edges on few cores: the nodes are ranked by degree, every induced 4-cycle
  is listed once from its node of highest rank (ordered wedges, as in Chiba and Nishizeki's
  cycle listing) and leaves one record ``(edge, node)`` for each edge and each of the two cycle
  nodes off that edge; triangles come from the same wedges. A wedge ``v - a - x`` with ``a, x``
  ranked below ``v`` is charged to the edge ``a ~ v`` with ``d_a <= d_v``, so there are at most
  ``sum_{u ~ v} min(d_u, d_v) <= 2 alpha E`` of them (``alpha`` the arboricity): time
  ``O(alpha E + P log d_max)`` with ``P`` the wedge pairs tested for a chord (at least the induced
  4-cycles ``C4``), memory ``O(n + E + 8 C4)``; one thread.
- :func:`_edge_rows`, for larger graphs, more cores, or when the records would pass
  ``RECORD_BUDGET``: each edge from its endpoint of larger degree, walking the 2-paths of that
  endpoint; memory ``O(n + E)``, on threads.

Reference: J. Topping, F. Di Giovanni, B. P. Chamberlain, X. Dong, M. M. Bronstein,
*Understanding over-squashing and bottlenecks on graphs via curvature*, ICLR 2022;
N. Chiba, T. Nishizeki, *Arboricity and subgraph listing algorithms*, SIAM J. Comput. 14 (1985).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.sparse as sp

from tgnn._cpus import kernel_threads
from tgnn.metrics._balanced_forman.cycle_kernel import by_degree, cycle_pass, cycle_values
from tgnn.metrics._balanced_forman.formula import compiled_bfc_value
from tgnn.metrics._graph import find_entry

__all__ = ["bfc_entries"]

RECORD_BUDGET = 1 << 22  # records of the cycle kernel (16 bytes each) before the edge kernel
CYCLE_MAX_EDGES = 1 << 15  # the cycle kernel up to here, if the edge kernel gets <= 2 threads
EDGES_PER_THREAD = 4096  # edge kernel


def bfc_entries(A: sp.csr_array) -> np.ndarray:
    """Paper curvature per stored entry of a symmetric 0/1 pattern ``A`` (sorted rows, no
    diagonal); an edge of degree-1 end gets 0.

    The cycle kernel (one thread) for graphs of at most ``CYCLE_MAX_EDGES`` edges where the
    edge kernel would get at most two threads, unless its records would pass
    ``RECORD_BUDGET``; otherwise the edge kernel on threads. Measured on 2 cores (random
    graphs of mean degree 8, best of each, edge / cycle time): 10k edges 1.2-1.9x, 20k
    1.4-1.5x, 32k 1.0-1.5x, 50k 1.0-1.4x, 70k 0.75-1.0x, 100k 0.7-1.2x: the cycle kernel
    does less work, but once the graph leaves the cache its relabelling and scattered writes
    cost more than that, and the edge kernel gains from every added core.
    """
    indptr = A.indptr.astype(np.int64, copy=False)
    indices = A.indices.astype(np.int64, copy=False)
    if len(indices) <= 2 * CYCLE_MAX_EDGES and _edge_workers(len(indices)) <= 2:
        ptr, idx, source = by_degree(indptr, indices)
        counts = _cycle_counts(ptr, idx)
        if counts is not None:
            return cycle_values(ptr, idx, source, *counts)
    return _edge_entries(indptr, indices)


def _cycle_counts(
    ptr: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Triangles per lower entry and the records of :func:`cycle_pass` (run again with the
    exact buffer size when its first buffer overflows); None past ``RECORD_BUDGET``."""
    capacity = min(RECORD_BUDGET, len(idx) + 1024)
    tri, edges, nodes, records = cycle_pass(ptr, idx, capacity, RECORD_BUDGET)
    if records > RECORD_BUDGET:
        return None
    if records > capacity:
        tri, edges, nodes, records = cycle_pass(ptr, idx, records, records)
    return tri, edges[:records], nodes[:records]


def _edge_workers(nnz: int) -> int:
    """Threads of the edge kernel: one per ``EDGES_PER_THREAD`` edges, at most
    :func:`tgnn._cpus.kernel_threads` (the CPUs granted to this process, capped by
    ``torch.get_num_threads()``: ``torch.set_num_threads`` sets it)."""
    return max(1, min(kernel_threads(), nnz // (2 * EDGES_PER_THREAD)))


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers, thread_name_prefix="tgnn-bfc")


@numba.njit(cache=True, nogil=True)
def _leads(i: int, di: int, j: int, dj: int) -> bool:
    """Edge ``i ~ j`` is evaluated from ``i`` when ``d_i > d_j`` (ties: the smaller id)."""
    return di > dj or (di == dj and i < j)


@numba.njit(cache=True, nogil=True)
def _edge_rows(
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
                value = compiled_bfc_value(di, dj, tri, sq_i + sq_j, gamma)
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
    """Work of :func:`_edge_rows` per row: listing ``sum_k d_k`` plus ``d_j`` per led edge."""
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


def _edge_entries(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """:func:`_edge_rows` on up to :func:`_edge_workers` threads, one per ``EDGES_PER_THREAD``
    undirected edges; each takes a contiguous range of rows of equal estimated work
    (:func:`_row_costs`). The kernel releases the GIL and every edge writes its own two slots.
    """
    n = len(indptr) - 1
    out = np.zeros(len(indices))
    workers = _edge_workers(len(indices))
    if workers == 1:
        _edge_rows(indptr, indices, 0, n, out)
        return out
    work = np.cumsum(_row_costs(indptr, indices))
    cuts = [0, *np.searchsorted(work, work[-1] * np.arange(1, workers) / workers).tolist(), n]
    shares = [
        _pool(workers).submit(_edge_rows, indptr, indices, a, b, out)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    for share in shares:
        share.result()
    return out
