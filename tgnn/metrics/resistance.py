"""Effective resistance: all pairs, one source to all, selected pairs, approximate edges,
commute time and total effective resistance (Kirchhoff index).

Edge weights are conductances (``w = 1 / resistance``), unlike networkx's
``resistance_distance`` whose default reads a weight as a resistance (``invert_weight=True``).
A directed graph ``W`` is symmetrised by ``symmetrize`` (``"mean"``: ``(W + W^T) / 2`` by
default; ``"sum"``, ``"max"``, or ``None`` to require symmetric input); self-loops are dropped.
Nodes in different connected components are at resistance ``inf``; a node is at 0 from itself.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import torch
from torch import Tensor

from tgnn.errors import GraphError, ShapeError
from tgnn.metrics._graph import GraphInput, Symmetrize, spd_factor, to_adjacency
from tgnn.metrics._grounded import components, grounded, laplacian_of
from tgnn.metrics._input import as_numpy, integer, node_id, real, size_limits
from tgnn.metrics._limits import check_dense, check_factor
from tgnn.metrics._selinv import inverse_diagonal
from tgnn.metrics.prepared import cached

__all__ = [
    "effective_resistance",
    "edge_resistance",
    "commute_time",
    "total_effective_resistance",
]


def _dense_pinv_plus(L: np.ndarray) -> tuple[np.ndarray, float]:
    """``(L + (c/n) J)^{-1} = L^+ + J/(c n)`` of a connected Laplacian by Cholesky, and ``c``.

    ``c = tr(L) / n`` is the mean weighted degree, so the shift scales with the weights: the
    matrix is ``c`` times that of the same graph with weights ``w / c``, its condition number
    does not depend on the weights' scale, and the constant ``1/(c n)`` that the shift adds is
    of the size of the entries of ``L^+`` (a fixed ``J/n`` swamps ``L^+`` for large weights and
    swamps ``L`` for tiny ones). ``c = 1`` for one isolated node. Overwrites ``L``.
    """
    n = L.shape[0]
    c = float(np.trace(L)) / n
    c = c if c > 0.0 else 1.0
    L += c / n
    chol, info = sla.lapack.dpotrf(L, lower=True, overwrite_a=True)
    if info != 0:  # pragma: no cover - connected Laplacians give SPD L + (c/n) J
        raise GraphError(f"effective_resistance: Cholesky failed (info={info})")
    inv, _ = sla.lapack.dpotri(chol, lower=True, overwrite_c=True)
    M = np.tril(inv)
    M += M.T
    M[np.diag_indices(n)] *= 0.5
    return M, c


def _resistance_block(M: np.ndarray) -> np.ndarray:
    """``R = d 1^T + 1 d^T - 2 M`` with ``d = diag(M)``, in place of ``M``, clipped at 0."""
    d = np.diag(M).copy()
    M *= -2.0
    M += d[:, None]
    M += d[None, :]
    np.maximum(M, 0.0, out=M)
    M[np.diag_indices(len(d))] = 0.0
    return M


def _component_pinv(W: sp.csr_array, labels: np.ndarray, c: int) -> tuple[np.ndarray, float]:
    """:func:`_dense_pinv_plus` of component ``c``'s Laplacian (cached: do not modify it)."""
    def compute() -> tuple[np.ndarray, float]:
        L = laplacian_of(W)
        if labels.max() == 0:
            return _dense_pinv_plus(L.toarray())
        idx = np.flatnonzero(labels == c)
        return _dense_pinv_plus(L[idx][:, idx].toarray())

    return cached(W, ("pinv_plus", c), compute)


def _all_pairs(W: sp.csr_array) -> np.ndarray:
    n = W.shape[0]
    check_dense(n, "effective resistance of all pairs", "effective_resistance(..., source=s) "
                "(one source to all, sparse) or pairs= (selected pairs)")
    k, labels = components(W)
    if k == 1:
        return _resistance_block(_component_pinv(W, labels, 0)[0].copy())
    R = np.full((n, n), np.inf)
    for c in range(k):
        idx = np.flatnonzero(labels == c)
        R[np.ix_(idx, idx)] = _resistance_block(_component_pinv(W, labels, c)[0].copy())
    return R


def _pair_values(
    W: sp.csr_array, a: np.ndarray, b: np.ndarray, factor_max: int | None, block: int = 256
) -> np.ndarray:
    n = W.shape[0]
    g = grounded(W, factor_max)
    out = np.where(g.labels[a] == g.labels[b], 0.0, np.inf)
    todo = np.flatnonzero((g.labels[a] == g.labels[b]) & (a != b))
    for start in range(0, len(todo), block):
        sel = todo[start : start + block]
        rhs = np.zeros((n, len(sel)))
        cols = np.arange(len(sel))
        rhs[a[sel], cols] += 1.0
        rhs[b[sel], cols] -= 1.0
        out[sel] = np.maximum((rhs * g.solve(rhs)).sum(axis=0), 0.0)
    return out


def _source_values(W: sp.csr_array, s: int, factor_max: int | None) -> np.ndarray:
    n = W.shape[0]
    labels = components(W)[1]
    out = np.full(n, np.inf)
    out[s] = 0.0
    idx = np.flatnonzero(labels == labels[s])
    rest = idx[idx != s]
    if len(rest):
        grounded = laplacian_of(W)[rest][:, rest]
        check_factor(
            grounded, "effective_resistance(source=...)",
            "for the targets you need pass pairs=[[s, ...], [t, ...]] instead (conjugate "
            "gradients on such graphs, one solve a pair), or raise factor_max= if the memory "
            "and time are affordable", factor_max,
        )
        out[rest] = np.maximum(inverse_diagonal(grounded), 0.0)
    return out


def _pairs_array(pairs: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    p = as_numpy(pairs, "pairs")
    if p.ndim != 2 or p.shape[0] != 2 or (p.size and not np.issubdtype(p.dtype, np.integer)):
        raise ShapeError(f"pairs: expected an integer array of shape [2, P], got {p.shape}")
    p = p.astype(np.int64)
    if p.size and (p.min() < 0 or p.max() >= n):
        raise GraphError(f"pairs: expected node ids in [0, {n}), got [{p.min()}, {p.max()}]")
    return p[0], p[1]


def effective_resistance(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    source: int | None = None,
    pairs: Any = None,
    symmetrize: Symmetrize = "mean",
    dense_max: int = 3000,
    factor_max: int | None = None,
) -> Tensor:
    r"""Effective resistance ``R(u, v) = (e_u - e_v)^T L^+ (e_u - e_v)`` (float64 tensor).

    ``L = D - W`` is the Laplacian of the symmetrised conductances ``W``. Modes:

    - default: all pairs, ``[n, n]``; per component ``M = (L_c + (d_c / n_c) J)^{-1}`` by
      dense Cholesky (``d_c`` the component's mean weighted degree, so that the result does
      not depend on the weights' scale), ``R = diag(M) 1^T + 1 diag(M)^T - 2 M``. ``O(n^3)``
      time, ``O(n^2)`` memory.
    - ``source=s``: ``[n]``, ``R(s, t) = (L_s^{-1})_{tt}`` with ``L_s`` the Laplacian grounded
      at ``s``: one sparse ``L D L^T`` (minimum-degree ordering) and the diagonal of its inverse
      by selected inversion (Takahashi equations), ``O(sum_j |L_{:,j}|^2)``, about the cost of
      the factorisation; exact, and fast where the factor stays sparse (grids, meshes, banded
      attention); on expander-like graphs the factor fills in.
    - ``pairs`` (``[2, P]`` integer): ``[P]``; all pairs and gather when ``n <= dense_max``,
      else one sparse factorisation of the grounded Laplacian and ``P`` sparse solves, or, where
      that factor would pass ``factor_max``, ``P`` conjugate-gradient solves (Jacobi
      preconditioner, relative residual 1e-12; fast on the expander-like graphs that fill in).

    Pairs in different components get ``inf``. Weights are conductances.

    Size guards (:class:`~tgnn.errors.SizeLimitError`, never a silent n x n array or a nearly
    dense factor): all pairs refuse above ``DENSE_MAX_NODES = 20000`` nodes; ``source=``
    refuses when a symbolic factorisation predicts more than ``factor_max`` factor entries
    (default ``FACTOR_MAX = 5e7``, about 1.5 GB) or more than 1000 flops per allowed entry.
    A causal attention graph of local heads plus sinks stays far below (``n = 50000`` with a
    64-token window: about 4e6 entries, about a second); random long-range edges fill in.

    Reference: D. J. Klein, M. Randic, *Resistance distance*, J. Math. Chem. 12 (1993);
    Takahashi, Fagan, Chen (1973) for the selected inversion.

    Examples
    --------
    >>> import torch
    >>> path = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> effective_resistance(path, num_nodes=3)
    tensor([[0., 1., 2.],
            [1., 0., 1.],
            [2., 1., 0.]], dtype=torch.float64)
    >>> effective_resistance(path, num_nodes=3, source=0).tolist()
    [0.0, 1.0, 2.0]
    >>> pairs = torch.tensor([[0, 0], [1, 2]])   # conjugate gradients where a factor would fill
    >>> effective_resistance(path, num_nodes=3, pairs=pairs, dense_max=0, factor_max=1).tolist()
    [1.0, 2.0]
    """
    dense_max, factor_max = size_limits(dense_max, factor_max)
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    return torch.from_numpy(_resistance(W, source, pairs, dense_max, factor_max))


def _resistance(
    W: sp.csr_array, source: int | None, pairs: Any, dense_max: int,
    factor_max: int | None = None,
) -> np.ndarray:
    n = W.shape[0]
    if source is not None and pairs is not None:
        raise GraphError("source, pairs: expected at most one of them, got both")
    if source is not None:
        return _source_values(W, node_id(source, "source", n), factor_max)
    if pairs is not None:
        a, b = _pairs_array(pairs, n)
        if n <= dense_max:
            return _all_pairs(W)[a, b]
        return _pair_values(W, a, b, factor_max)
    return _all_pairs(W)


def _jl_size(n: int, epsilon: float) -> int:
    """Johnson-Lindenstrauss dimension (Dasgupta & Gupta 2003) for ``n`` points."""
    return math.ceil(4.0 * math.log(max(n, 2)) / (epsilon**2 / 2.0 - epsilon**3 / 3.0))


def _approx_edges(
    W: sp.csr_array, a: np.ndarray, b: np.ndarray, k: int, seed: int
) -> np.ndarray:
    n = W.shape[0]
    U = sp.triu(W, k=1).tocoo()
    m = U.nnz
    B = sp.csr_array(  # weighted incidence sqrt(w_e) (e_u - e_v), shape [n, m]
        (np.concatenate([np.sqrt(U.data), -np.sqrt(U.data)]),
         (np.concatenate([U.row, U.col]), np.tile(np.arange(m), 2))),
        shape=(n, m),
    )
    g = grounded(W)
    rng = np.random.default_rng(seed)
    acc = np.zeros(len(a))
    for start in range(0, k, 64):
        q = rng.choice([-1.0, 1.0], size=(m, min(64, k - start))) / math.sqrt(k)
        Z = g.solve(B @ q)
        acc += ((Z[a] - Z[b]) ** 2).sum(axis=1)
    return np.where(g.labels[a] == g.labels[b], acc, np.inf)


def edge_resistance(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    epsilon: float | None = None,
    num_projections: int | None = None,
    seed: int = 0,
    symmetrize: Symmetrize = "mean",
) -> Tensor:
    r"""Effective resistance of every column of ``edge_index`` (float64 tensor ``[E]``).

    Exact (``epsilon=None``): as :func:`effective_resistance` with ``pairs=edge_index``.

    Approximate (Spielman-Srivastava): with the weighted incidence ``B W^{1/2}`` and a random
    ``k x m`` sign matrix ``Q / sqrt(k)``, ``Z = Q W^{1/2} B L^+`` gives
    ``R(u, v) ~ ||Z (e_u - e_v)||^2``, within a factor ``1 +- epsilon`` for all pairs with high
    probability when ``k >= 4 ln n / (epsilon^2 / 2 - epsilon^3 / 3)`` (Johnson-Lindenstrauss),
    or ``k = num_projections``. Cost: one sparse factorisation and ``k`` sparse solves,
    ``O(k (E + nnz(L_factor)))``. Deterministic for a given ``seed``. Self-loops give 0.

    Reference: D. A. Spielman, N. Srivastava, *Graph sparsification by effective resistances*,
    SIAM J. Comput. 40 (2011).

    Examples
    --------
    >>> import torch
    >>> tri = torch.tensor([[0, 1, 2], [1, 2, 0]])
    >>> edge_resistance(tri, num_nodes=3, symmetrize="sum").tolist()   # 1 || (1 + 1) = 2/3
    [0.666..., 0.666..., 0.666...]
    >>> approx = edge_resistance(tri, num_nodes=3, symmetrize="sum", epsilon=0.3)
    >>> bool(((approx - 2 / 3).abs() <= 0.3 * 2 / 3).all())
    True
    """
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    ei = graph.edge_index if hasattr(graph, "edge_index") else graph
    a, b = _pairs_array(ei, W.shape[0])
    if epsilon is None and num_projections is None:
        return torch.from_numpy(_resistance(W, None, np.stack([a, b]), 3000))
    if num_projections is None:
        eps = real(epsilon, "epsilon")
        if not 0.0 < eps < 1.0:
            raise GraphError(f"epsilon: expected a value in (0, 1), got {epsilon}")
        num_projections = _jl_size(W.shape[0], eps)
    k = integer(num_projections, "num_projections", minimum=1)  # k = 0 gave all-zero values
    out = _approx_edges(W, a, b, k, integer(seed, "seed", minimum=0))
    out[a == b] = 0.0
    return torch.from_numpy(out)


def commute_time(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    source: int | None = None,
    pairs: Any = None,
    symmetrize: Symmetrize = "mean",
) -> Tensor:
    r"""Commute time ``C(u, v) = vol(G_c) R(u, v)`` of the random walk on the weighted graph.

    ``vol(G_c) = sum_{i in c} d_i`` is the volume of the component holding ``u`` and ``v``
    (``2 |E|`` for a connected unweighted graph); ``C(u, v)`` is the expected time of a walk from
    ``u`` to ``v`` and back. Same modes, shapes and cost as :func:`effective_resistance`;
    ``inf`` across components.

    Reference: A. K. Chandra et al., *The electrical resistance of a graph captures its commute
    and cover times*, STOC 1989.

    Examples
    --------
    >>> import torch
    >>> path = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> commute_time(path, num_nodes=3, source=0).tolist()   # vol = 4
    [0.0, 4.0, 8.0]
    """
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    R = _resistance(W, source, pairs, 3000)
    labels = components(W)[1]
    vol = np.bincount(labels, weights=np.asarray(W.sum(axis=1)).ravel())
    n = W.shape[0]
    if source is not None:
        comp = np.full(n, labels[node_id(source, "source", n)])
    elif pairs is not None:
        comp = labels[_pairs_array(pairs, n)[0]]
    else:
        comp = np.broadcast_to(labels[:, None], (n, n))
    out = np.where(R == 0.0, 0.0, R)  # inf across components, even from an isolated node
    finite = np.isfinite(out) & (out > 0.0)
    out[finite] *= vol[comp][finite]
    return torch.from_numpy(out)


def total_effective_resistance(
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    symmetrize: Symmetrize = "mean",
    dense_max: int = 3000,
    factor_max: int | None = None,
) -> float:
    r"""Total effective resistance (Kirchhoff index) ``Kf = sum_{u < v} R(u, v) = n tr(L^+)``.

    ``inf`` for a disconnected graph with ``n >= 2``; 0 for one node. Dense for
    ``n <= dense_max`` (``O(n^3)``); otherwise, grounded at node 0,
    ``Kf = n tr(L_0^{-1}) - 1^T L_0^{-1} 1`` with the diagonal by selected inversion and one
    sparse solve (cost of the sparse factorisation), refused with
    :class:`~tgnn.errors.SizeLimitError` where the factor would pass ``factor_max`` entries
    (see :func:`effective_resistance`).

    Reference: D. J. Klein, M. Randic, *Resistance distance* (1993); Ellens et al., *Effective
    graph resistance*, Linear Algebra Appl. 435 (2011).

    Examples
    --------
    >>> import torch
    >>> path = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> total_effective_resistance(path, num_nodes=3)   # 1 + 1 + 2
    4.0
    """
    dense_max, factor_max = size_limits(dense_max, factor_max)
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    n = W.shape[0]
    if n == 1:
        return 0.0
    count, labels = components(W)
    if count > 1:
        return math.inf
    if n <= dense_max:
        check_dense(n, "total_effective_resistance with n <= dense_max", "a smaller dense_max")
        M, c = _component_pinv(W, labels, 0)
        return float(n * np.trace(M) - n / c)  # tr(M) = tr(L^+) + 1/c
    Lg = laplacian_of(W)[1:, 1:]
    check_factor(Lg, "total_effective_resistance", "raise factor_max= if the memory and time "
                 "are affordable (no exact path without the factor)", factor_max)
    diag = inverse_diagonal(Lg)
    ones = spd_factor(Lg).solve(np.ones(n - 1))
    return float(n * diag.sum() - ones.sum())

