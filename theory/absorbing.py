"""Absorbing-chain view of causal attention: fundamental matrix, hitting probabilities, ``R^abs``.

The attention walk moves from token ``i`` to ``j <= i`` with probability ``A[i, j]`` and is
absorbed at token 0. Convention (0-based): the transient block is ``Q = A[1:, 1:]`` and every
matrix below is indexed by token ids (row and column 0 hold the absorbing state).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from scipy.linalg import solve_triangular
from scipy.sparse.linalg import spsolve_triangular

from tgnn.errors import NotReachableError, TgnnError

from ._inputs import ArrayLike, as_matrix, check_assumption_h, resolve_token, row_blocks
from ._sparse import is_sparse_input, sparse_attention

__all__ = [
    "fundamental_matrix",
    "hitting_probabilities",
    "absorption_time",
    "absorbing_resistance",
]


def _check_rho(rho: float) -> None:
    if not 0.0 < float(rho) <= 1.0:
        raise TgnnError(f"rho: expected a residual share in (0, 1], got {rho}")


def _checked(attention: ArrayLike, rho: float) -> np.ndarray:
    a = as_matrix(
        attention, "attention", causal=True, what="the fundamental matrix (all pairs)",
        alternative="absorbing_resistance(attention, target=...) (one target row, sparse input)",
    )
    check_assumption_h(a)
    _check_rho(rho)
    return a


def _transient_inverse(a: np.ndarray) -> np.ndarray:
    m = -a[1:, 1:]
    m[np.diag_indices_from(m)] += 1.0
    return solve_triangular(m, np.eye(len(m)), lower=True)


def fundamental_matrix(attention: ArrayLike, *, rho: float = 1.0) -> np.ndarray:
    r"""Fundamental matrix ``N = (I - Q)^{-1}``, ``Q = Ahat[1:, 1:]``, indexed by tokens.

    ``N[i, s]`` is the expected number of visits to token ``s`` of the walk started at ``i``
    before absorption at token 0; ``N[j, j] = 1 / (rho (1 - A[j, j]))`` and
    ``sum_l (A^l)[i, s] = N[i, s]``. Residual ``Ahat = rho A + (1 - rho) I`` divides N by rho.

    Complexity: O(n^3) (one triangular solve with n right-hand sides).

    Returns
    -------
    numpy.ndarray
        [n, n] lower triangular, 0-based; row and column 0 are zero (token 0 is absorbing).

    Raises
    ------
    NotReachableError
        Assumption H fails (some token ``j >= 1`` has ``A[j, j] = 1``).

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> fundamental_matrix(u)  # N[2, 2] = n / (n - 1) = 3/2, N[2, 1] = 1/(s - 1) = 1
    array([[0. , 0. , 0. ],
           [0. , 2. , 0. ],
           [0. , 1. , 1.5]])
    """
    a = _checked(attention, rho)
    n = len(a)
    out = np.zeros((n, n))
    out[1:, 1:] = _transient_inverse(a) / float(rho)
    return out


def hitting_probabilities(attention: ArrayLike) -> np.ndarray:
    r"""Probability ``h[i, s]`` that the walk from token ``i`` ever visits token ``s``.

    ``h[i, s] = N[i, s] / N[s, s]`` for ``s >= 1``, ``h[i, 0] = 1`` (absorption is certain),
    ``h[i, s] = 0`` for ``s > i``. Bounds every depth: ``sup_l (A^l)[i, s] <= h[i, s]``, and
    ``-log h`` is a quasi-metric on the causal order. Unchanged by a residual share.

    Complexity: O(n^3).

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    >>> hitting_probabilities(u)[3]  # 1/s (1-based) for 1 < s < n
    array([1.  , 0.5 , 0.33..., 1.  ])
    """
    big_n = fundamental_matrix(attention)
    d = np.diag(big_n).copy()
    d[0] = 1.0
    h = big_n / d[None, :]
    h[:, 0] = 1.0
    return h


def absorption_time(attention: ArrayLike, *, rho: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance of the number of steps ``T_i`` before absorption at token 0.

    ``t = N 1`` and ``Var T = (2 N - I) t - t * t`` (Kemeny and Snell). For uniform attention
    ``E T = 1 + H_{n-1}`` and ``Var T = H_{n-1} + H^(2)_{n-1}`` from the last token.

    Complexity: O(n^3).

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean, var)``, each [n], 0-based by start token (0 for token 0).

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> mean, var = absorption_time(u)
    >>> mean  # 1 + H_2 = 2.5 from the last token
    array([0. , 2. , 2.5])
    """
    big_n = fundamental_matrix(attention, rho=rho)
    t = big_n.sum(1)
    var = 2.0 * big_n @ t - t - t * t
    return t, np.maximum(var, 0.0)


def absorbing_resistance(
    attention: ArrayLike, *, rho: float = 1.0, target: int | None = None
) -> np.ndarray:
    r"""Absorbing-chain resistance ``R^abs(s, i)`` of causal attention.

    Definition: ``R^abs(s, i) = 1 / ((1 - A[i, i]) h[i, s]) = N[i, i] N[s, s] / N[i, s]`` for
    ``1 <= s <= i`` and ``R^abs(0, i) = N[i, i]``: the escape-probability resistance of reaching
    ``s`` from ``i`` (the inverse Kron-reduced conductance of ``I - A`` onto {0, s, i}). With a
    residual share, ``R^abs_rho = R^abs / rho``. Note ``R^abs(i, i) = N[i, i]`` (the escape
    resistance of ``i``), not 0; ``R^abs(0, 0) = 0`` by convention.

    Complexity: O(n^2) for one target row (one triangular solve), O(n^3) for all pairs. On
    sparse input (a scipy sparse matrix or a PyG ``Data`` with ``edge_index[:, e] = [j, i]``
    carrying ``A[i, j]``) one target row is one sparse triangular solve
    ``(I - Q)^T x = e_i`` for the row ``x = N[i, :]``: O(nnz + n) time and memory, no n x n
    array. Sparse rows may sum to less than one (edges dropped by a top-k / top-p capture):
    the walk is then killed with the missing mass, ``N`` counts visits before absorption or
    killing, and ``R^abs(0, i) = N[i, i] / h[i, 0]`` with
    ``h[i, 0] = sum_j N[i, j] A[j, 0] <= 1`` (``= 1`` for stochastic rows, where this is the
    definition above). All pairs densify sparse input and refuse above
    ``tgnn.theory.DENSE_MAX_NODES`` tokens (:class:`~tgnn.errors.SizeLimitError`).

    Reference: J. G. Kemeny, J. L. Snell, *Finite Markov Chains* (1960), ch. III (fundamental
    matrix); P. G. Doyle, J. L. Snell, *Random Walks and Electric Networks* (1984), 1.3.

    Parameters
    ----------
    attention
        Causal [n, n] attention (or [H, n, n], heads averaged) satisfying assumption H, or, with
        a ``target``, a sparse layer (scipy sparse [n, n] or PyG ``Data``).
    rho
        Residual share in (0, 1].
    target
        0-based token ``i`` (negative counts from the end); ``None``: all pairs.

    Returns
    -------
    numpy.ndarray
        ``[n]`` over sources ``s`` or ``[n, n]`` with ``R[i, s]`` (target first); ``inf`` where
        ``s`` is unreachable from ``i`` (always for ``s > i``).

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None]
    >>> absorbing_resistance(u, target=-1)[:4]  # s n / (n - 1), 1-based s and n = 5
    array([1.25, 2.5 , 3.75, 5.  ])
    >>> import scipy.sparse as sp
    >>> absorbing_resistance(sp.csr_array(u), target=-1)[:4]  # the same row, sparse solve
    array([1.25, 2.5 , 3.75, 5.  ])
    """
    if target is None:
        return _all_pairs(_checked(attention, rho)) / float(rho)
    _check_rho(rho)
    if is_sparse_input(attention):
        return _sparse_row(attention, target) / float(rho)
    n, blocks = row_blocks(attention, "attention", causal=True, reverse=True)
    i = resolve_token(target, n)
    row = np.full(n, np.inf)
    if i == 0:
        row[0] = 0.0
        for _ in blocks:  # validate every row, as the all-pairs path does
            pass
        return row
    n_row, escape = _fundamental_row(blocks, n, i)
    with np.errstate(divide="ignore"):
        resistance = n_row[-1] / (escape[1 : i + 1] * n_row[1:])
        row[1 : i + 1] = np.where(n_row[1:] > 0, resistance, np.inf)
    row[0] = n_row[-1]
    return row / float(rho)


def _sparse_row(attention: object, target: int) -> np.ndarray:
    """``R^abs(., i)`` of a sparse layer: one sparse triangular solve for ``N[i, 1..i]``."""
    a, stochastic = sparse_attention(attention, "attention", causal=True, substochastic=True)
    n = a.shape[0]
    i = resolve_token(target, n)
    escape = 1.0 - a.diagonal()
    _check_h(escape, 0, n)  # every token, as on the dense path
    row = np.full(n, np.inf)
    if i == 0:
        row[0] = 0.0
        return row
    block = a[1 : i + 1, 1 : i + 1]
    upper = sp.csr_array((sp.eye_array(i) - block).T)  # (I - Q)^T restricted to tokens 1..i
    rhs = np.zeros(i)
    rhs[-1] = 1.0
    x = spsolve_triangular(upper, rhs, lower=False)  # x[s - 1] = N[i, s]
    with np.errstate(divide="ignore"):
        resistance = x[-1] / (escape[1 : i + 1] * x)
        row[1 : i + 1] = np.where(x > 0, resistance, np.inf)
    reach = 1.0 if stochastic else float(x @ a[1 : i + 1, [0]].toarray().ravel())
    row[0] = x[-1] / reach if reach > 0 else np.inf
    return row


def _all_pairs(a: np.ndarray) -> np.ndarray:
    n = len(a)
    big_n = np.zeros((n, n))
    big_n[1:, 1:] = _transient_inverse(a)
    diag = np.diag(big_n).copy()
    diag[0] = 1.0
    big_n[1:, 0] = 1.0  # R(0, i) = N[i, i] = N[i, i] * 1 / 1
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.outer(np.diag(big_n), diag) / big_n
    r = np.where(big_n > 0, r, np.inf)
    r[0, 0] = 0.0
    return r


def _fundamental_row(
    blocks: Iterator[tuple[int, np.ndarray]], n: int, i: int
) -> tuple[np.ndarray, np.ndarray]:
    """``N[i, 0..i]`` (entry 0 unused) and the escape rates ``1 - A[j, j]``, in one reverse pass.

    Back substitution of ``x^T (I - Q) = e_i^T`` by blocks of rows from the last: a block's
    unknowns need only the contributions of later rows, accumulated in ``acc``.
    """
    acc = np.zeros(n)
    acc[i] = 1.0
    x = np.zeros(i + 1)
    escape = np.ones(n)
    for first, block in blocks:
        local = np.arange(len(block))
        escape[first + local] = 1.0 - block[local, first + local]
        _check_h(escape, first, len(block))
        lo, hi = max(first, 1), min(first + len(block), i + 1)
        if lo >= hi:
            continue
        m = -block[lo - first : hi - first, lo:hi]
        m[np.diag_indices_from(m)] = escape[lo:hi]
        x[lo:hi] = solve_triangular(m, acc[lo:hi], lower=True, trans="T", check_finite=False)
        acc[:lo] += x[lo:hi] @ block[lo - first : hi - first, :lo]
    return x, escape


def _check_h(escape: np.ndarray, first: int, rows: int) -> None:
    part = escape[max(first, 1) : first + rows]
    bad = np.flatnonzero(part <= 1e-14)
    if bad.size:
        j = int(bad[0]) + max(first, 1)
        raise NotReachableError(
            f"attention: assumption H (A[j, j] < 1 for every token j >= 1) fails at token {j}: "
            f"A[{j}, {j}] = {1.0 - escape[j]:.6g}, so token 0 is not reachable from token {j}"
        )
