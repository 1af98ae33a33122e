"""Balanced Forman curvature of chosen edges, in either variant: the paper's (Definition 1,
through the compiled kernels) or the legacy formula of the released SDRF code, vectorised with
``A^2`` lookups (``O(nnz(A^2) + sum_i d_i^2)``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tgnn.errors import OptionError
from tgnn.metrics._balanced_forman.formula import legacy_value
from tgnn.metrics._balanced_forman.kernels import bfc_entries
from tgnn.metrics._graph import Pattern, entry_values

__all__ = ["bfc_pairs"]


def bfc_pairs(
    adj: sp.csr_array | sp.csr_matrix, i: np.ndarray, j: np.ndarray, variant: str = "paper"
) -> np.ndarray:
    """Balanced Forman curvature of the edges ``(i[e], j[e])`` of a symmetric simple ``adj``.

    Only the sparsity pattern of ``adj`` is read (no diagonal). The kernel of
    :func:`tgnn.metrics.balanced_forman_curvature`, shared with the rewiring transforms (SDRF).
    """
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    if variant == "paper":
        A = sp.csr_array(adj)
        if not A.has_sorted_indices:
            A = A.sorted_indices()
        return entry_values(A, bfc_entries(A), np.stack([i, j])).numpy()
    if variant == "sdrf":
        A = sp.csr_array(adj, dtype=np.float64, copy=True)
        A.sort_indices()
        return _legacy(Pattern(A), i, j)
    raise OptionError(f"variant: expected 'paper' or 'sdrf', got {variant!r}")


def _sharp_side(g: Pattern, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Legacy kernel: over ``k in N(b)``, count and max of ``A2[a, k] - A[a, k] > 0``."""
    e, k = g.expand(b)
    t = g.a2(a[e], k) - g.adj(a[e], k)
    pos = t > 0
    count = np.bincount(e[pos], minlength=len(a)).astype(np.float64)
    tmax = np.zeros(len(a))
    np.maximum.at(tmax, e[pos], t[pos])
    return count, tmax


def _legacy(g: Pattern, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    dmax, dmin = np.maximum(g.deg[i], g.deg[j]), np.minimum(g.deg[i], g.deg[j])
    c1, m1 = _sharp_side(g, i, j)
    c2, m2 = _sharp_side(g, j, i)
    return legacy_value(dmax, dmin, g.a2(i, j), c1 + c2, np.maximum(m1, m2))
