"""The cycle kernel of the paper balanced Forman curvature: every induced 4-cycle listed once.

The nodes are ranked by degree (:func:`by_degree`); :func:`cycle_pass` lists every induced
4-cycle once from its node of highest rank (ordered wedges, as in Chiba and Nishizeki's cycle
listing) and leaves one record ``(edge, node)`` for each edge and each of the two cycle nodes
off that edge, with the triangles from the same wedges; :func:`cycle_values` turns the records
into Definition 1 per entry. See :mod:`tgnn.metrics._balanced_forman.kernels` for the costs.

Reference: N. Chiba, T. Nishizeki, *Arboricity and subgraph listing algorithms*, SIAM J.
Comput. 14 (1985).
"""

from __future__ import annotations

import numba
import numpy as np

from tgnn.metrics._balanced_forman.formula import compiled_bfc_value
from tgnn.metrics._graph import find_entry

__all__ = ["by_degree", "cycle_pass", "cycle_values"]


@numba.njit(cache=True)
def by_degree(
    indptr: np.ndarray, indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pattern relabelled by ascending ``(degree, id)``, rows sorted, in ``O(n + E)``.

    Returns ``(ptr, idx, source)``: the new CSR and, per new entry, the position in ``indices``
    of an entry of the same undirected edge (its reverse), a bijection between the entries.
    """
    n = indptr.shape[0] - 1
    deg = indptr[1:] - indptr[:-1]
    start = np.zeros(deg.max() + 2 if n else 1, dtype=np.int64)
    for u in range(n):
        start[deg[u] + 1] += 1
    for d in range(start.shape[0] - 1):
        start[d + 1] += start[d]
    order = np.empty(n, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    for u in range(n):
        rank[u] = start[deg[u]]
        order[rank[u]] = u
        start[deg[u]] += 1
    ptr = np.zeros(n + 1, dtype=np.int64)
    for c in range(n):
        ptr[c + 1] = ptr[c] + deg[order[c]]
    fill = ptr[:-1].copy()
    idx = np.empty(indices.shape[0], dtype=np.int64)
    source = np.empty(indices.shape[0], dtype=np.int64)
    for c in range(n):  # columns in ascending rank fill every row in ascending order
        for p in range(indptr[order[c]], indptr[order[c] + 1]):
            r = rank[indices[p]]
            idx[fill[r]], source[fill[r]] = c, p
            fill[r] += 1
    return ptr, idx, source


@numba.njit(cache=True, inline="always")
def _record(edges: np.ndarray, nodes: np.ndarray, at: int, edge: int, one: int, two: int) -> None:
    edges[at], nodes[at], edges[at + 1], nodes[at + 1] = edge, one, edge, two


@numba.njit(cache=True)
def cycle_pass(
    ptr: np.ndarray, idx: np.ndarray, capacity: int, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Triangles per lower entry (``r > c``) and the induced-4-cycle records of a pattern
    relabelled by :func:`by_degree`.

    For each ``v``, the wedges ``v - a - x`` with ``a, x < v`` are grouped by ``x`` (the prefix
    of each sorted row below ``v``). ``x ~ v`` closes a triangle (counted once, when
    ``x < a``) and is a diagonal of every 4-cycle ``v - a - x - b``; otherwise each pair
    ``a, b`` of wedges into ``x`` with ``a !~ b`` is an induced 4-cycle whose highest node is
    ``v``, listed once. Each of its four edges gets a record ``(lower entry, node)`` for both
    cycle nodes off it, written while ``capacity`` holds them. Returns the triangle counts, the
    records ``(edges, nodes)`` and how many records the cycles need; past ``limit`` records it
    stops early (the counts are then incomplete and the number a lower bound).
    """
    n, nnz = ptr.shape[0] - 1, idx.shape[0]
    edges, nodes = np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64)
    at_v = np.full(n, -1, dtype=np.int64)  # position of (v, u) for u ~ v, u < v
    first = np.full(n, -1, dtype=np.int64)  # wedges into x: linked through `after`
    after = np.empty(nnz, dtype=np.int64)
    centre = np.empty(nnz, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)  # x with a wedge, and those with two or more
    shared = np.empty(n, dtype=np.int64)
    tri = np.zeros(nnz, dtype=np.int64)
    records = 0
    for v in range(n):
        below = ptr[v]
        while below < ptr[v + 1] and idx[below] < v:
            at_v[idx[below]] = below
            below += 1
        wedges, n_ends, n_shared = 0, 0, 0
        for p in range(ptr[v], below):
            a = idx[p]
            for q in range(ptr[a], ptr[a + 1]):
                x = idx[q]
                if x >= v:
                    break
                if at_v[x] >= 0:
                    if x < a:
                        tri[p] += 1
                        tri[q] += 1
                        tri[at_v[x]] += 1
                    continue
                if first[x] == -1:
                    ends[n_ends] = x
                    n_ends += 1
                elif after[first[x]] == -1:  # x gets its second wedge
                    shared[n_shared] = x
                    n_shared += 1
                centre[wedges] = a
                after[wedges], first[x] = first[x], wedges
                wedges += 1
        for e in range(n_shared):
            x = shared[e]
            s = first[x]
            while s != -1:
                a = centre[s]
                t = after[s]
                while t != -1:
                    b = centre[t]
                    if find_entry(ptr, idx, a, b) < 0:
                        if records + 8 <= capacity:
                            _record(edges, nodes, records, at_v[a], b, x)
                            _record(edges, nodes, records + 2, at_v[b], a, x)
                            ax = find_entry(ptr, idx, max(a, x), min(a, x))  # lower entries
                            bx = find_entry(ptr, idx, max(b, x), min(b, x))
                            _record(edges, nodes, records + 4, ax, v, b)
                            _record(edges, nodes, records + 6, bx, v, a)
                        records += 8
                    t = after[t]
                s = after[s]
        for e in range(n_ends):
            first[ends[e]] = -1
        for p in range(ptr[v], below):
            at_v[idx[p]] = -1
        if records > limit:
            break
    return tri, edges, nodes, records


@numba.njit(cache=True)
def cycle_values(
    ptr: np.ndarray,
    idx: np.ndarray,
    source: np.ndarray,
    tri: np.ndarray,
    edges: np.ndarray,
    nodes: np.ndarray,
) -> np.ndarray:
    """Definition 1 per entry from :func:`cycle_pass`: records linked by edge, then distinct
    nodes (``|#sq^i| + |#sq^j|``) and their largest count (``gamma_max``); written at the
    entries ``source`` of the pattern before :func:`by_degree`, for both directions.

    The reverse ``(c, r)`` of a lower entry ``(r, c)`` is found without a search: rows are
    visited in ascending ``r``, so row ``c``'s upper part is met in order (cursor ``upper``).
    """
    n, nnz = ptr.shape[0] - 1, idx.shape[0]
    head = np.full(nnz, -1, dtype=np.int64)  # records of each edge, linked through `link`
    link = np.empty(edges.shape[0], dtype=np.int64)
    for r in range(edges.shape[0]):
        link[r], head[edges[r]] = head[edges[r]], r
    count = np.zeros(n, dtype=np.int64)
    upper = np.empty(n, dtype=np.int64)
    out = np.empty(nnz)
    for r in range(n):
        dr = ptr[r + 1] - ptr[r]
        e = ptr[r]
        while e < ptr[r + 1] and idx[e] < r:
            c = idx[e]
            dc = ptr[c + 1] - ptr[c]
            value = 0.0
            if min(dr, dc) > 1:
                squares, gamma = 0, 0
                s = head[e]
                while s != -1:
                    count[nodes[s]] += 1
                    squares += count[nodes[s]] == 1
                    gamma = max(gamma, count[nodes[s]])
                    s = link[s]
                s = head[e]
                while s != -1:
                    count[nodes[s]] = 0
                    s = link[s]
                value = compiled_bfc_value(dr, dc, tri[e], squares, gamma)
            out[source[e]] = out[source[upper[c]]] = value
            upper[c] += 1
            e += 1
        upper[r] = e
    return out
