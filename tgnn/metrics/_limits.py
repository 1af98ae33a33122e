"""Size guards of the graph metrics: dense (n x n) paths and sparse factorisations.

Long-context attention graphs have tens of thousands of nodes. Two things must never happen on
them silently: a dense n x n array (``DENSE_MAX_NODES``), and a sparse Cholesky factor that
fills in to nearly dense (random long-range edges make a graph an expander, whose factor has
O(n^2) entries whatever the ordering). The second is predicted before factorising by a
symbolic factorisation (elimination tree and row counts, George and Liu 1981; the row-subtree
walk of Davis, *Direct Methods for Sparse Linear Systems*, SIAM 2006, ch. 4) under cheap
fill-reducing orderings, stopped as soon as it passes the budget: O(min(nnz(L), budget)) time.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from tgnn.errors import SizeLimitError
from tgnn.metrics._input import integer

__all__ = ["DENSE_MAX_NODES", "FACTOR_MAX", "check_dense", "factor_size", "check_factor"]

#: Largest graph (nodes) that a dense n x n path of :mod:`tgnn.metrics` accepts (3.2 GB float64).
DENSE_MAX_NODES = 20_000

#: Largest sparse factor (entries of ``L``, as predicted) that a factorisation of
#: :mod:`tgnn.metrics` accepts: about 1.5 GB with SuperLU's ``L``, ``U`` and the selected
#: inverse (32 bytes an entry).
FACTOR_MAX = 50_000_000

#: Flops allowed per entry of ``FACTOR_MAX`` (``sum_j |L[:, j]|^2``, factorisation and selected
#: inversion each): 5e10 by default, a few seconds to a minute on one core.
FLOPS_PER_ENTRY = 1000

_BYTES_PER_ENTRY = 32


def check_dense(n: int, what: str, alternative: str, limit: int | None = None) -> None:
    """Raise :class:`~tgnn.errors.SizeLimitError` when a dense path would get ``n`` nodes."""
    limit = DENSE_MAX_NODES if limit is None else limit
    if n > limit:
        raise SizeLimitError(
            f"num_nodes: {what} needs dense n x n work, allowed up to n = {limit} nodes "
            f"(tgnn.metrics DENSE_MAX_NODES), got n = {n} (one n x n float64 array alone would "
            f"take {8.0 * n * n / 2**30:.1f} GiB); use {alternative} instead"
        )


@numba.njit(cache=True)
def _symbolic(
    indptr: np.ndarray, indices: np.ndarray, budget: int, flop_budget: float
) -> tuple[int, float]:
    """Entries of the Cholesky factor of a symmetric pattern (diagonal included) and its flops
    ``sum_j |L[:, j]|^2``, stopped (returned as they stand) as soon as the entries pass
    ``budget`` or the flops pass ``flop_budget``. Lower entries ``k < i`` of row ``i`` are
    used."""
    n = indptr.shape[0] - 1
    parent = np.full(n, -1, dtype=np.int64)
    ancestor = np.full(n, -1, dtype=np.int64)
    for i in range(n):  # elimination tree with path compression (Liu 1986)
        for p in range(indptr[i], indptr[i + 1]):
            k = indices[p]
            while k != -1 and k < i:
                after = ancestor[k]
                ancestor[k] = i
                if after == -1:
                    parent[k] = i
                k = after
    flag = np.full(n, -1, dtype=np.int64)
    count = np.ones(n)
    total = n
    flops = float(n)
    for i in range(n):  # row i of L: the row subtree of the entries of A's row i
        flag[i] = i
        for p in range(indptr[i], indptr[i + 1]):
            k = indices[p]
            if k >= i:
                continue
            while flag[k] != i:
                flag[k] = i
                flops += 2.0 * count[k] + 1.0  # (c + 1)^2 - c^2
                count[k] += 1.0
                total += 1
                k = parent[k]
        if total > budget or flops > flop_budget:
            return total, flops
    return total, flops


def _hubs_last(order: np.ndarray, degree: np.ndarray) -> np.ndarray:
    """``order`` with the high-degree nodes (sinks, hubs) moved to the end, by degree."""
    hub = degree > max(64.0, 16.0 * float(degree.mean()))
    if not hub.any():
        return order
    rest = order[~hub[order]]
    hubs = np.flatnonzero(hub)
    return np.concatenate([rest, hubs[np.argsort(degree[hubs], kind="stable")]])


def _bfs_order(a: sp.csr_array) -> np.ndarray:
    """Reversed breadth-first order from a pseudo-peripheral node (Cuthill-McKee without the
    degree sort, O(E)); nodes of other components follow in their order."""
    n = a.shape[0]
    far = csg.breadth_first_order(a, n - 1, directed=False, return_predecessors=False)[-1]
    order = csg.breadth_first_order(a, int(far), directed=False, return_predecessors=False)
    seen = np.zeros(n, dtype=bool)
    seen[order] = True
    return np.concatenate([order, np.flatnonzero(~seen)])[::-1].astype(np.int64)


def _dissect(a: sp.csr_array, nodes: np.ndarray, leaf: int) -> list[np.ndarray]:
    """Nested dissection of ``nodes`` by breadth-first level sets (George 1973): the level of
    the median node from a pseudo-peripheral one separates the rest; separators go last."""
    if len(nodes) <= leaf:
        return [nodes]
    sub = sp.csr_array(a[nodes][:, nodes])
    count, labels = csg.connected_components(sub, directed=False)
    if count > 1:
        small = np.bincount(labels)[labels] <= leaf
        parts = [nodes[small]]
        for c in np.unique(labels[~small]):
            parts += _dissect(a, nodes[labels == c], leaf)
        return parts
    far = csg.breadth_first_order(sub, 0, directed=False, return_predecessors=False)[-1]
    dist = csg.dijkstra(sub, unweighted=True, indices=int(far))
    middle = np.sort(dist)[len(dist) // 2]
    if middle == 0 or middle == dist.max():
        return [nodes]
    return (_dissect(a, nodes[dist < middle], leaf) + _dissect(a, nodes[dist > middle], leaf)
            + [nodes[dist == middle]])


def _dissection_order(a: sp.csr_array, degree: np.ndarray, leaf: int = 64) -> np.ndarray:
    """Nested dissection of the graph without its hubs (a star has no small separator)."""
    hub = degree > max(64.0, 16.0 * float(degree.mean()))
    return np.concatenate(_dissect(a, np.flatnonzero(~hub), leaf)).astype(np.int64)


def factor_size(pattern: sp.sparray, budget: int = FACTOR_MAX) -> tuple[int, float]:
    """Entries and flops of a sparse Cholesky factor of the symmetric ``pattern``.

    The first of three orderings that fits: the reversed node order (causal attention: late
    tokens first, so that a first-token sink is eliminated last), a reversed breadth-first
    order (Cuthill-McKee-like, for graphs with arbitrary labels), then nested dissection by
    level sets (meshes, where banded orderings fill n^1.5), each with hubs last. SuperLU's
    minimum-degree ordering, used to factorise, stays within a small factor of this in practice
    (fewer entries on meshes and expanders, up to about 1.3x more on banded attention graphs).
    ``(budget + 1, inf)`` when all pass ``budget`` entries or ``FLOPS_PER_ENTRY * budget`` flops
    (each run stops there).
    """
    csr = sp.csr_array(pattern)
    a = sp.csr_array((np.ones(csr.nnz), csr.indices, csr.indptr), shape=csr.shape)  # 0/1
    n = a.shape[0]
    if n == 0:
        return 0, 0.0
    degree = np.diff(a.indptr).astype(np.float64)
    for make in (
        lambda: np.arange(n - 1, -1, -1, dtype=np.int64),
        lambda: _bfs_order(a),
        lambda: _dissection_order(a, degree),
    ):
        perm = _hubs_last(make(), degree)
        permuted = sp.csr_array(a[perm][:, perm])
        permuted.sort_indices()
        indptr, indices = permuted.indptr.astype(np.int64), permuted.indices.astype(np.int64)
        entries, flops = _symbolic(indptr, indices, budget, FLOPS_PER_ENTRY * float(budget))
        if entries <= budget and flops <= FLOPS_PER_ENTRY * budget:
            return entries, flops
    return budget + 1, np.inf


def check_factor(
    pattern: sp.sparray, what: str, alternative: str, factor_max: int | None = None
) -> None:
    """Raise :class:`~tgnn.errors.SizeLimitError` when the factor of ``pattern`` would hold
    more than ``factor_max`` entries (default :data:`FACTOR_MAX`) or take more than
    ``FLOPS_PER_ENTRY * factor_max`` flops (an expander-like graph: nearly dense fill)."""
    limit = FACTOR_MAX if factor_max is None else integer(factor_max, "factor_max", minimum=1)
    entries, _ = factor_size(pattern, limit)
    if entries <= limit:
        return
    raise SizeLimitError(
        f"factor_max: {what} factorises a (grounded) Laplacian with {pattern.shape[0]} rows, "
        f"whose sparse factor would hold more than {limit} entries (more than "
        f"{_BYTES_PER_ENTRY * limit / 2**30:.1f} GiB) or take more than "
        f"{FLOPS_PER_ENTRY * limit:.1e} flops, allowed up to factor_max = {limit} entries "
        f"({FLOPS_PER_ENTRY} flops each): the graph fills in like an expander (long-range "
        f"edges); {alternative}"
    )
