"""Young-Scardovi-Leonard (YSL) effective resistance of a digraph, with a fast causal path.

Convention (0-based, attention order): ``W[i, j] >= 0`` is how much node ``i`` listens to node
``j`` (for attention, query ``i`` reads key ``j``; information flows ``j -> i``). The Laplacian is
``L = diag(W 1) - W`` so that ``L 1 = 0``; for row-stochastic attention ``L = I - A``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.linalg import schur
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from tgnn.errors import NotCausalError, NotReachableError, OptionError, ShapeError

from ._inputs import ArrayLike, as_matrix
from ._sparse import is_sparse_input, sparse_attention
from ._sylvester import solve_lower_lyapunov

__all__ = ["ysl_resistance", "globally_reachable_nodes"]


def globally_reachable_nodes(weights: ArrayLike) -> np.ndarray:
    """Nodes that every node reaches by following "listens to" edges ``i -> j`` (``W[i, j] > 0``).

    A node is globally reachable when it lies in the unique strongly connected component without
    outgoing edges in the condensation of the digraph. In causal attention token 0 always is.

    Complexity: O(n^2) to read dense weights, O(E + n) for sparse ones and for the strong
    components (Tarjan).

    Parameters
    ----------
    weights
        Non-negative [n, n] (or [H, n, n], heads averaged) weights, ``W[i, j]``: ``i`` reads ``j``;
        or a sparse layer: a scipy sparse [n, n] matrix or a PyG ``Data`` (edge
        ``[j, i]`` carries ``W[i, j]``), never densified.

    Returns
    -------
    numpy.ndarray
        Sorted 0-based indices; empty when no node is globally reachable.

    Examples
    --------
    >>> import numpy as np
    >>> globally_reachable_nodes(np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]))
    array([0])
    >>> globally_reachable_nodes(np.eye(2))
    array([], dtype=int64)
    >>> import scipy.sparse as sp
    >>> globally_reachable_nodes(sp.csr_array([[1.0, 0.0], [0.5, 0.5]]))
    array([0])
    """
    if is_sparse_input(weights):
        return _reachable(sparse_attention(weights, "weights", causal=False, stochastic=False)[0])
    return _reachable(as_matrix(
        weights, "weights", causal=False, stochastic=False, what="globally_reachable_nodes",
        alternative="globally_reachable_nodes on sparse input (scipy sparse or PyG Data)",
    ))


def _reachable(w: np.ndarray | sp.csr_array) -> np.ndarray:
    n = w.shape[0]
    if sp.issparse(w):
        coo = sp.coo_array(w)
        rows, cols, keep = coo.row, coo.col, coo.data > 0
    else:
        rows, cols = np.nonzero(w > 0)
        keep = np.ones(len(rows), dtype=bool)
    keep &= rows != cols
    rows, cols = rows[keep], cols[keep]
    adjacency = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    count, labels = connected_components(adjacency, directed=True, connection="strong")
    leaving = np.zeros(count, dtype=bool)
    leaving[labels[rows][labels[rows] != labels[cols]]] = True
    sinks = np.flatnonzero(~leaving)
    if sinks.size != 1:
        return np.array([], dtype=np.int64)
    return np.flatnonzero(labels == sinks[0]).astype(np.int64)


def _resistance_from_gram(x: np.ndarray) -> np.ndarray:
    d = np.diag(x)
    r = d[:, None] + d[None, :] - 2.0 * x
    np.fill_diagonal(r, 0.0)
    return np.maximum(r, 0.0)


def _householder(n: int) -> tuple[np.ndarray, float]:
    """``H = I - beta w w^T`` maps ``e_0`` to ``1 / sqrt(n)``; rows 1.. of ``H`` are a basis Q."""
    w = -np.full(n, 1.0 / np.sqrt(n))
    w[0] += 1.0
    return w, 2.0 / float(w @ w)


def _check_basis(basis: np.ndarray, n: int) -> np.ndarray:
    q = np.asarray(basis, dtype=np.float64)
    if q.shape != (n - 1, n):
        raise ShapeError(f"basis: expected shape ({n - 1}, {n}), got {q.shape}")
    orthonormal = np.allclose(q @ q.T, np.eye(n - 1), atol=1e-8)
    if not orthonormal or not np.allclose(q.sum(1), 0.0, atol=1e-8):
        raise ShapeError("basis: expected orthonormal rows orthogonal to the ones vector (Q 1 = 0)")
    return q


def _ysl_lyapunov(w: np.ndarray, basis: np.ndarray | None) -> np.ndarray:
    n = len(w)
    lap = np.diag(w.sum(1)) - w
    if basis is None:
        v, beta = _householder(n)
        hl = lap - beta * np.outer(v, v @ lap)
        lbar = (hl - beta * np.outer(hl @ v, v))[1:, 1:]
    else:
        q = _check_basis(basis, n)
        lbar = q @ lap @ q.T
    t, z = schur(lbar, output="real")
    y = solve_lower_lyapunov(t[::-1, ::-1], np.eye(n - 1))[::-1, ::-1]
    if basis is None:
        zpad = np.vstack([np.zeros((1, n - 1)), z])
        m = zpad - beta * np.outer(v, v @ zpad)
    else:
        m = q.T @ z
    return _resistance_from_gram(2.0 * (m @ y @ m.T))


def _ysl_causal(w: np.ndarray) -> np.ndarray:
    n = len(w)
    g = -w[1:, 1:]
    escape = w[1:].sum(1) - np.diag(w)[1:]
    bad = np.flatnonzero(escape <= 1e-14 * np.maximum(1.0, w[1:].sum(1)))
    if bad.size:
        j = int(bad[0]) + 1
        raise NotReachableError(
            f"weights: assumption H (token j >= 1 reads some earlier token) fails at token {j}: "
            f"all its weight is on itself, so token 0 is not globally reachable"
        )
    g[np.diag_indices(n - 1)] = escape
    p = solve_lower_lyapunov(g, np.eye(n - 1) + 1.0)
    x = np.zeros((n, n))
    x[1:, 1:] = 2.0 * p
    return _resistance_from_gram(x)


def ysl_resistance(
    weights: ArrayLike,
    *,
    method: Literal["auto", "causal", "lyapunov"] = "auto",
    basis: np.ndarray | None = None,
) -> np.ndarray:
    r"""All-pairs Young-Scardovi-Leonard resistance ``R^Y`` of a digraph or causal attention.

    Definition (Young, Scardovi and Leonard 2016): with ``L = diag(W 1) - W``, any ``Q``
    ((n-1) x n, orthonormal rows, ``Q 1 = 0``), ``Lbar = Q L Q^T``, solve the Lyapunov equation
    ``Lbar S + S Lbar^T = I`` and set ``X = 2 Q^T S Q``; then
    ``R^Y(j, k) = X[j, j] + X[k, k] - 2 X[j, k]``. It exists iff some node is globally reachable,
    does not depend on ``Q``, equals the ordinary effective resistance on undirected graphs, and
    ``sqrt(R^Y)`` is a metric. It measures consensus coupling, not one-way influence.

    Causal path (lower-triangular ``W``): ground at token 0, ``G = L[1:, 1:]`` (lower triangular,
    so already in Schur form), solve ``G P + P G^T = I + 1 1^T``; then ``R^Y(0, k) = 2 P[k, k]``
    and ``R^Y(j, k) = 2 (P[j, j] + P[k, k] - 2 P[j, k])`` (P indexed by tokens 1..n-1).

    Complexity: O(n^3) both paths. The causal path is a blocked triangular Sylvester solve
    (about 2 n^3 flops, matrix products); the generic path adds a real Schur decomposition of
    ``Lbar`` (about 25 n^3 flops, much slower).

    Parameters
    ----------
    weights
        Non-negative [n, n] weights, ``W[i, j]``: node ``i`` listens to (reads) node ``j``, e.g.
        causal attention; [H, n, n] is averaged over heads. Rows need not sum to one.
    method
        ``"causal"`` (lower-triangular ``W`` only), ``"lyapunov"`` (any digraph) or ``"auto"``
        (causal when ``W`` is lower triangular and no ``basis`` is given).
    basis
        Optional explicit ``Q`` for the Lyapunov path (default: a Householder basis, applied in
        O(n^2)). The result does not depend on it.

    Returns
    -------
    numpy.ndarray
        Symmetric [n, n] float64, 0-based: ``R[j, k]`` between tokens ``j`` and ``k``.

    Raises
    ------
    NotReachableError
        No globally reachable node (causal: a token ``j >= 1`` reads only itself, assumption H).
    NotCausalError
        ``method="causal"`` with weight above the diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> uniform = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> r = ysl_resistance(uniform)
    >>> round(float(r[0, 2]) * 7, 10)  # R^Y between the first and last token is 31/7
    31.0
    >>> np.allclose(r, ysl_resistance(uniform, method="lyapunov"))
    True
    """
    w = as_matrix(
        weights, "weights", causal=method == "causal", stochastic=False,
        what="ysl_resistance (R^Y has no sparse form: its Gramian P is a dense n x n matrix)",
        alternative="rollout_resistance(..., target=...) or absorbing_resistance(..., "
        "target=...) on sparse input",
    )
    n = len(w)
    if n == 1:
        return np.zeros((1, 1))
    lower = not np.triu(w, 1).any()
    if method == "causal" and basis is not None:
        raise NotCausalError("basis: only the Lyapunov path takes a basis; use method='lyapunov'")
    if method == "causal" or (method == "auto" and lower and basis is None):
        return _ysl_causal(w)
    if method != "lyapunov" and method != "auto":
        raise OptionError(f"method: expected 'auto', 'causal' or 'lyapunov', got {method!r}")
    if _reachable(w).size == 0:
        raise NotReachableError(
            "weights: expected a digraph with a globally reachable node (one that every node "
            "reaches by following edges i -> j with W[i, j] > 0), got none"
        )
    return _ysl_lyapunov(w, basis)
