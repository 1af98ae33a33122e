"""Ollivier-Ricci curvature with lazy random-walk measures and exact optimal transport (POT).

Re-exported by :mod:`tgnn.metrics.curvature`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg
from ot.lp.emd_wrap import emd_c  # POT's exact network simplex without the wrapper checks
from torch import Tensor

from tgnn.errors import GraphError
from tgnn.metrics._graph import (
    GraphInput,
    Symmetrize,
    edge_values,
    pattern_of,
    to_adjacency,
    upper_edges,
)

__all__ = ["ollivier_ricci_curvature"]


def _measures(W: sp.csr_array, alpha: float, exp_power: float, base: float) -> np.ndarray:
    """Neighbour masses ``(1 - alpha) base^(-w^p) / sum`` in CSR order of ``W``."""
    mass = np.power(base, -np.power(W.data, exp_power))
    rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    total = np.bincount(rows, weights=mass, minlength=W.shape[0])
    return (1.0 - alpha) * mass / total[rows]


def _distances(W: sp.csr_array, limit: float) -> Callable[[np.ndarray], np.ndarray]:
    """``rows(sources)``: path lengths from ``sources`` (weights as lengths) up to ``limit``.

    Decided once per graph: when every edge has the same length ``c``, the lengths that the
    transport reads (between the supports of two adjacent nodes, at most 3 hops) are ``c``
    times the hop count, which comes from the pattern of ``A`` and ``A^2``: 0, 1, 2, else 3
    (no Dijkstra). Otherwise Dijkstra bounded by ``limit``. Entries beyond ``limit`` are not
    read by the caller.
    """
    if not (W.nnz and np.all(W.data == W.data[0])):
        return lambda sources: csg.dijkstra(W, directed=False, indices=sources, limit=limit)
    A, unit = pattern_of(W), float(W.data[0])

    def hop_rows(sources: np.ndarray) -> np.ndarray:
        near = A[sources]
        D = np.full((len(sources), W.shape[0]), 3.0)
        for hops, M in ((2.0, near @ A), (1.0, near)):
            D[np.repeat(np.arange(len(sources)), np.diff(M.indptr)), M.indices] = hops
        D[np.arange(len(sources)), sources] = 0.0
        D *= unit
        return D

    return hop_rows


def ollivier_ricci_curvature(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    alpha: float = 0.5,
    exp_power: float = 2.0,
    base: float = math.e,
    symmetrize: Symmetrize = "mean",
    chunk: int = 2048,
) -> Tensor:
    r"""Ollivier-Ricci curvature ``kappa(x, y) = 1 - W_1(m_x, m_y) / d(x, y)`` of every edge.

    Edge weights are read as lengths (as in GraphRicciCurvature; 1 when absent): ``d`` is the
    shortest-path distance and ``W_1`` the exact earth mover's distance with cost ``d`` (POT's
    network simplex). The lazy random-walk measure keeps mass ``alpha`` (idleness) at ``x`` and
    spreads ``1 - alpha`` over the neighbours ``z`` in proportion to ``base^(-w_xz^exp_power)``
    (uniform on unweighted graphs), the defaults of GraphRicciCurvature's ``OllivierRicci``,
    whose values these equal (tested to 1e-6).

    Edges are taken in batches of at most ``chunk`` whose distance rows stay within
    ``MAX_DISTANCE_ENTRIES`` (256 MiB). Complexity: one Dijkstra per endpoint, bounded by
    ``3 max w`` (supports of ``m_x`` and ``m_y`` are at most that far apart; when all edges
    have one length, hop counts from the patterns of ``A`` and ``A^2`` instead), plus one exact
    transport of size ``(d_x + 1) x (d_y + 1)`` per edge: ``O(sum_{xy} (d_x d_y)^{3/2} log)``
    in practice.

    Reference: Y. Ollivier, *Ricci curvature of Markov chains on metric spaces*, J. Funct. Anal.
    256 (2009); Lin, Lu, Yau (2011) for the lazy walk; C.-C. Ni et al., *Community detection
    on networks with Ricci flow*, Sci. Rep. 9 (2019) for GraphRicciCurvature.

    Examples
    --------
    >>> import torch
    >>> k4 = torch.tensor([[0, 0, 0, 1, 1, 2], [1, 2, 3, 2, 3, 3]])
    >>> [round(v, 6) for v in ollivier_ricci_curvature(k4, num_nodes=4).tolist()]
    [0.666667, 0.666667, 0.666667, 0.666667, 0.666667, 0.666667]
    """
    if not 0.0 <= alpha <= 1.0:
        raise GraphError(f"alpha: expected a value in [0, 1], got {alpha}")
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    n = W.shape[0]
    i, j = upper_edges(W)
    # each node's support (its neighbours, then itself) and lazy-walk masses, back to back
    counts = np.diff(W.indptr) + 1
    ext_ptr = np.concatenate([[0], np.cumsum(counts)])
    self_slot = ext_ptr[1:] - 1
    nbr_slot = np.setdiff1d(np.arange(ext_ptr[-1]), self_slot, assume_unique=True)
    supp = np.empty(ext_ptr[-1], dtype=np.int64)
    mass = np.empty(ext_ptr[-1])
    supp[nbr_slot], supp[self_slot] = W.indices, np.arange(n)
    mass[nbr_slot], mass[self_slot] = _measures(W, alpha, exp_power, base), alpha
    limit = 3.0 * float(W.data.max()) * (1 + 1e-9) if W.nnz else 0.0
    distance_rows = _distances(W, limit)
    values = np.empty(len(i))
    for start, stop in _edge_batches(counts[i] + counts[j], n, chunk):
        ci, cj = i[start:stop], j[start:stop]
        src = np.unique(np.concatenate([ci, cj, W[ci].indices, W[cj].indices]))
        D = distance_rows(src)
        row = np.full(n, -1)
        row[src] = np.arange(len(src))
        costs, offsets = _cost_blocks(D, row[supp], supp, ext_ptr, ci, cj)
        w1 = np.empty(len(ci))
        ptr, off = ext_ptr.tolist(), offsets.tolist()
        for t, (x, y) in enumerate(zip(ci.tolist(), cj.tolist(), strict=True)):
            a, b, c, d = ptr[x], ptr[x + 1], ptr[y], ptr[y + 1]
            cost = costs[off[t] : off[t + 1]].reshape(b - a, d - c)
            w1[t] = _transport(mass[a:b], mass[c:d], cost)[1]
        values[start:stop] = 1.0 - w1 / D[row[ci], cj]
    return edge_values(n, i, j, values, graph)


MAX_DISTANCE_ENTRIES = 2**25  # 256 MiB of float64 distances per batch of edges


def _edge_batches(sources: np.ndarray, n: int, chunk: int) -> list[tuple[int, int]]:
    """``(start, stop)`` batches of at most ``chunk`` edges whose distance rows fit the budget.

    ``sources[e]`` bounds how many Dijkstra sources edge ``e`` adds (its two supports); a batch
    keeps ``sum(sources) * n <= MAX_DISTANCE_ENTRIES`` (at least one edge per batch).
    """
    rows = max(1, MAX_DISTANCE_ENTRIES // max(n, 1))
    batches, start = [], 0
    while start < len(sources):
        need = np.cumsum(sources[start : start + chunk])
        stop = start + max(1, int(np.searchsorted(need, rows, side="right")))
        batches.append((start, stop))
        start = stop
    return batches


def _cost_blocks(
    D: np.ndarray, supp_row: np.ndarray, supp: np.ndarray, ext_ptr: np.ndarray,
    ci: np.ndarray, cj: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """All transport cost matrices of the edges ``(ci, cj)`` in one gather, row-major.

    Edge ``t`` owns ``costs[offsets[t] : offsets[t + 1]]``: its ``|supp x| x |supp y|`` block
    of ``D``, whose rows are indexed by ``supp_row``.
    """
    sx = ext_ptr[ci + 1] - ext_ptr[ci]
    sy = ext_ptr[cj + 1] - ext_ptr[cj]
    offsets = np.concatenate([[0], np.cumsum(sx * sy)])
    edge = np.repeat(np.arange(len(ci)), sx * sy)
    local = np.arange(offsets[-1]) - offsets[edge]
    p, q = np.divmod(local, sy[edge])
    costs = D[supp_row[ext_ptr[ci][edge] + p], supp[ext_ptr[cj][edge] + q]]
    return costs, offsets


def _transport(mx: np.ndarray, my: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact optimal plan from ``mx`` to ``my`` (equal totals) under ``cost``, and its cost.

    POT's network simplex, shared with BORF (:mod:`tgnn.transforms._ollivier`), which reads the
    plan.
    """
    plan, w1, _, _, status = emd_c(mx, my, np.ascontiguousarray(cost), 1_000_000, 1)
    if status != 1:  # pragma: no cover - small balanced problems always solve
        raise RuntimeError(f"ollivier_ricci_curvature: transport failed (status {status})")
    return plan, float(w1)
