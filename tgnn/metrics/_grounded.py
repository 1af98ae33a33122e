"""Solves with a grounded graph Laplacian: a sparse factor, or conjugate gradients where the
factor would fill in (see :mod:`tgnn.metrics._limits`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg
import scipy.sparse.linalg as spla

from tgnn.errors import GraphError, SizeLimitError
from tgnn.metrics._graph import spd_factor
from tgnn.metrics._limits import check_factor
from tgnn.metrics.prepared import cached

__all__ = ["Grounded", "components", "grounded", "laplacian_of"]


def laplacian_of(W: sp.csr_array) -> sp.csr_array:
    """``D - W`` of a symmetric adjacency, as a CSR array (cached for a prepared graph)."""
    return cached(W, ("laplacian",), lambda: sp.csr_array(
        sp.diags_array(np.asarray(W.sum(axis=1)).ravel()) - W))


def components(W: sp.csr_array) -> tuple[int, np.ndarray]:
    """Number of connected components of a symmetric ``W`` and each node's component label."""
    count, labels = cached(W, ("components",),
                           lambda: csg.connected_components(W, directed=False))
    return int(count), labels


def grounded(W: sp.csr_array, factor_max: int | None = None) -> Grounded:
    """:class:`Grounded` of ``W`` (built once per ``factor_max`` for a prepared graph)."""
    return cached(W, ("grounded", factor_max), lambda: Grounded(W, factor_max))


class Grounded:
    """The Laplacian with the first node of each component removed, ready to solve with: one
    sparse LDL^T, or, where that factor would fill in past ``factor_max`` (expander-like
    graphs, which are well conditioned), Jacobi-preconditioned conjugate gradients."""

    def __init__(self, W: sp.csr_array, factor_max: int | None = None) -> None:
        n = W.shape[0]
        self.labels = components(W)[1]
        first = np.unique(self.labels, return_index=True)[1]
        self.keep = np.setdiff1d(np.arange(n), first)
        Lg = laplacian_of(W)[self.keep][:, self.keep]
        self.lu: spla.SuperLU | None = None
        self.matrix = sp.csr_array(Lg)
        if len(self.keep):
            try:
                check_factor(Lg, "a grounded solve", "", factor_max)
                self.lu = spd_factor(Lg)
            except SizeLimitError:
                pass  # conjugate gradients below

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``L_g^{-1} rhs`` for rows indexed by all nodes; grounded rows are ignored and 0."""
        out = np.zeros_like(rhs)
        if self.lu is not None:
            out[self.keep] = self.lu.solve(np.ascontiguousarray(rhs[self.keep]))
        elif len(self.keep):
            out[self.keep] = _cg_columns(self.matrix, rhs[self.keep])
        return out


def _cg_columns(matrix: sp.csr_array, rhs: np.ndarray) -> np.ndarray:
    """``matrix^{-1} rhs`` column by column by Jacobi-preconditioned CG (relative residual
    1e-12), for SPD grounded Laplacians whose factor would fill in."""
    jacobi = sp.diags_array(1.0 / matrix.diagonal())
    columns = rhs.reshape(len(rhs), -1)
    out = np.empty_like(columns)
    for c in range(columns.shape[1]):
        out[:, c], info = spla.cg(matrix, columns[:, c], rtol=1e-12, atol=0.0, M=jacobi,
                                  maxiter=max(1000, 10 * len(rhs)))
        if info:
            raise GraphError(f"conjugate gradients did not converge in {info} iterations")
    return out.reshape(rhs.shape)
