"""Diagonal of the inverse of a sparse SPD matrix by selected inversion (Takahashi equations).

With ``P A P^T = L D L^T`` (unit lower ``L``, from :func:`tgnn.metrics._graph.spd_factor`),
``Z = (P A P^T)^{-1}`` satisfies ``L^T Z = D^{-1} L^{-1}``, whose upper triangle gives, column
by column from the last, for ``S_j`` the strict lower pattern of column ``j`` of ``L``::

    Z[m, j] = - sum_{k in S_j} Z[m, k] L[k, j]          (m in S_j)
    Z[j, j] = 1 / D[j] - sum_{k in S_j} L[k, j] Z[k, j]

Only entries of ``Z`` on the pattern of ``L`` are needed (the filled graph is chordal), so the
cost is about that of the factorisation, ``O(sum_j |S_j|^2)``, and memory ``O(nnz(L))``.

Reference: K. Takahashi, J. Fagan, M.-S. Chen, *Formation of a sparse bus impedance matrix and
its application to short circuit study*, PICA 1973; Erisman & Tinney, CACM 18 (1975).
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from tgnn.metrics._graph import spd_factor

__all__ = ["inverse_diagonal"]


@numba.njit(cache=True)
def _takahashi(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, dinv: np.ndarray
) -> tuple[np.ndarray, int]:
    # Column j reads column k of Z for every k in S_j; the sorted patterns of S_j (after k) and
    # of column k are merged, so no scatter array is needed. ``missing`` counts entries of S_j
    # absent from column k (0 for a factor pattern, which is chordal).
    n = dinv.shape[0]
    z = np.zeros(data.shape[0])
    zd = np.zeros(n)
    acc = np.zeros(n)
    missing = 0
    for j in range(n - 1, -1, -1):
        s, e = indptr[j], indptr[j + 1]
        for a in range(s, e):
            acc[a - s] = 0.0
        for b in range(s, e):
            k = indices[b]
            lk = data[b]
            own = zd[k] * lk
            p, c, c_end = b + 1, indptr[k], indptr[k + 1]
            found = 0
            while p < e and c < c_end:
                ic, ip = indices[c], indices[p]
                if ic == ip:
                    acc[p - s] += z[c] * lk
                    own += z[c] * data[p]
                    found += 1
                    p += 1
                    c += 1
                elif ic < ip:
                    c += 1
                else:
                    p += 1
            acc[b - s] += own
            missing += (e - b - 1) - found
        zj = dinv[j]
        for a in range(s, e):
            z[a] = -acc[a - s]
            zj -= data[a] * z[a]
        zd[j] = zj
    return zd, missing


def _strict_lower(L: sp.csc_array) -> sp.csc_array:
    """The strict lower part of the factor, rows sorted (a mask: no COO round trip)."""
    column = np.repeat(np.arange(L.shape[1]), np.diff(L.indptr))
    off = L.indices > column
    indptr = np.concatenate([[0], np.cumsum(np.bincount(column[off], minlength=L.shape[1]))])
    strict = sp.csc_array((L.data[off], L.indices[off], indptr), shape=L.shape)
    strict.sort_indices()
    return strict


def inverse_diagonal(A: sp.sparray) -> np.ndarray:
    """``diag(A^{-1})`` of a sparse symmetric positive definite matrix ``A`` (float64)."""
    n = A.shape[0]
    if n == 0:
        return np.zeros(0)
    lu = spd_factor(A)
    if not np.array_equal(lu.perm_r, lu.perm_c):  # pragma: no cover - SuperLU guarantee
        raise RuntimeError("inverse_diagonal: SuperLU pivoted off the diagonal")
    L = _strict_lower(lu.L)
    d = lu.U.diagonal()
    index = np.int32 if L.nnz < np.iinfo(np.int32).max else np.int64
    zd, missing = _takahashi(L.indptr.astype(index), L.indices.astype(index), L.data, 1.0 / d)
    if missing:  # pragma: no cover - the pattern of a symbolic factor is closed
        raise RuntimeError(f"inverse_diagonal: factor pattern not closed ({missing} entries)")
    return zd[lu.perm_c]
