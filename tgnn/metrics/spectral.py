"""Laplacians, spectral gap and Cheeger bounds of (symmetrised) weighted graphs.

All functions take a PyG ``Data`` or ``edge_index, edge_weight, num_nodes``. A directed graph
``W`` (``W[i, j]`` the weight of edge ``i -> j``) is symmetrised by ``symmetrize``: ``"mean"``
(default) ``(W + W^T) / 2``, ``"sum"``, ``"max"``, or ``None`` to require symmetric input.
Self-loops are dropped and multi-edges add up (see :mod:`tgnn.metrics._graph`).
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from tgnn.errors import DisconnectedGraphError, GraphError, OptionError, SizeLimitError
from tgnn.metrics._graph import GraphInput, Symmetrize, spd_factor, to_adjacency
from tgnn.metrics._grounded import components, laplacian_of
from tgnn.metrics._input import size_limits
from tgnn.metrics._limits import check_dense, check_factor
from tgnn.metrics.prepared import cached

__all__ = ["laplacian", "spectral_gap", "cheeger_bounds"]

Normalization = Literal["sym", "rw"] | None


def _laplacian_of(W: sp.csr_array, normalization: Normalization) -> sp.csr_array:
    if normalization is None:
        return laplacian_of(W).copy()  # the cached one of a prepared graph is not handed out
    d = np.asarray(W.sum(axis=1)).ravel()
    if normalization not in ("sym", "rw"):
        raise GraphError(f"normalization: expected None, 'sym' or 'rw', got {normalization!r}")
    has = d > 0
    eye = sp.diags_array(has.astype(np.float64))
    if normalization == "sym":
        s = np.where(has, 1.0 / np.sqrt(np.where(has, d, 1.0)), 0.0)
        return sp.csr_array(eye - sp.diags_array(s) @ W @ sp.diags_array(s))
    inv = np.where(has, 1.0 / np.where(has, d, 1.0), 0.0)
    return sp.csr_array(eye - sp.diags_array(inv) @ W)


def laplacian(
    graph: GraphInput,
    edge_weight: object = None,
    num_nodes: int | None = None,
    *,
    normalization: Normalization = None,
    symmetrize: Symmetrize = "mean",
) -> sp.csr_array:
    r"""Graph Laplacian as a float64 ``scipy.sparse.csr_array``.

    Definition: with the symmetrised weights ``W`` and degrees ``d_i = sum_j W_ij``,

    - ``normalization=None``: ``L = D - W`` (combinatorial);
    - ``"sym"``: ``L = I - D^{-1/2} W D^{-1/2}``;
    - ``"rw"``: ``L = I - D^{-1} W`` (same spectrum as ``"sym"``).

    Isolated nodes get a zero row and column (Chung's convention), so the multiplicity of the
    eigenvalue 0 is the number of connected components, isolated nodes included.

    Complexity: ``O(E log E)``.

    Reference: F. Chung, *Spectral Graph Theory*, AMS 1997, ch. 1.

    Examples
    --------
    >>> import torch
    >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> laplacian(ei, num_nodes=3).toarray()
    array([[ 1., -1.,  0.],
           [-1.,  2., -1.],
           [ 0., -1.,  1.]])
    """
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    return _laplacian_of(W, normalization)


def _connected_or(
    W: sp.csr_array, on_disconnected: Literal["warn", "raise"], what: str
) -> bool:
    if on_disconnected not in ("warn", "raise"):
        raise OptionError(
            f"on_disconnected: expected 'warn' or 'raise', got {on_disconnected!r}"
        )
    k = components(W)[0]
    if k == 1:
        return True
    msg = f"{what}: the graph has {k} connected components (isolated nodes included)"
    if on_disconnected == "raise":
        raise DisconnectedGraphError(msg + "; expected a connected graph")
    warnings.warn(msg + "; returning 0", RuntimeWarning, stacklevel=3)
    return False


def spectral_gap(
    graph: GraphInput,
    edge_weight: object = None,
    num_nodes: int | None = None,
    *,
    normalization: Normalization = "sym",
    symmetrize: Symmetrize = "mean",
    on_disconnected: Literal["warn", "raise"] = "warn",
    method: Literal["auto", "dense", "sparse"] = "auto",
    dense_max: int = 2000,
    factor_max: int | None = None,
) -> float:
    r"""Second smallest eigenvalue ``lambda_2`` of a graph Laplacian (algebraic connectivity).

    Definition: ``0 = lambda_1 <= lambda_2 <= ... <= lambda_n`` are the eigenvalues of
    :func:`laplacian` with the given ``normalization`` (``"sym"`` and ``"rw"`` share them;
    ``None`` is the combinatorial ``D - W``). ``lambda_2 > 0`` iff the graph is connected.
    A disconnected graph (isolated nodes included) gives ``0.0`` with a ``RuntimeWarning``
    (``on_disconnected="warn"``) or raises :class:`~tgnn.errors.DisconnectedGraphError`
    (``"raise"``). A one-node graph has no ``lambda_2`` and raises
    :class:`~tgnn.errors.GraphError`.

    Complexity: dense ``O(n^3)`` (``method="dense"``, the default for ``n <= dense_max``;
    refused above ``DENSE_MAX_NODES = 20000`` nodes with :class:`~tgnn.errors.SizeLimitError`);
    sparse (``method="sparse"``): inverse Lanczos (ARPACK) on the Laplacian with its known null
    vector projected out, one sparse LU (minimum-degree ordering) plus a few dozen solves. Where
    a symbolic factorisation predicts that the factor would pass ``factor_max`` entries
    (default ``FACTOR_MAX = 5e7``; expander-like graphs, e.g. attention with random long-range
    keys), plain Lanczos on ``c I - L`` (``c`` = 2 for the normalised Laplacian, ``2 d_max``
    otherwise) with the null vector projected out: only sparse products, ``O(E)`` memory,
    fast because such graphs have a large gap; a run that does not converge raises
    :class:`~tgnn.errors.SizeLimitError`. No n x n array on either sparse path.

    Reference: M. Fiedler, *Algebraic connectivity of graphs*, Czech. Math. J. 23 (1973);
    F. Chung, *Spectral Graph Theory* (1997).

    Examples
    --------
    >>> import torch
    >>> ring = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    >>> round(spectral_gap(ring, num_nodes=4), 12)   # C_4: 1 - cos(2 pi / 4)
    1.0
    >>> round(spectral_gap(ring, num_nodes=4, method="sparse", factor_max=1), 12)  # no factor
    1.0
    """
    dense_max, factor_max = size_limits(dense_max, factor_max)
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    n = W.shape[0]
    if n < 2:
        raise GraphError(f"num_nodes: spectral_gap needs at least 2 nodes, got {n}")
    if not _connected_or(W, on_disconnected, "spectral_gap"):
        return 0.0
    if normalization == "rw":
        normalization = "sym"  # same spectrum, symmetric matrix
    if method not in ("auto", "dense", "sparse"):
        raise OptionError(f"method: expected 'auto', 'dense' or 'sparse', got {method!r}")
    dense = method == "dense" or (method == "auto" and n <= dense_max)
    return cached(W, ("spectral_gap", normalization, dense, factor_max),
                  lambda: _gap(W, normalization, dense, factor_max))


def _gap(W: sp.csr_array, normalization: Normalization, dense: bool,
         factor_max: int | None) -> float:
    """The second smallest eigenvalue of the Laplacian of a connected ``W``."""
    n = W.shape[0]
    L = _laplacian_of(W, normalization)
    if dense:
        check_dense(n, "spectral_gap(method='dense')", "spectral_gap(..., method='sparse')")
        vals = sla.eigh(L.toarray(), eigvals_only=True, subset_by_index=[0, 1])
        return float(max(vals[1], 0.0))
    d = np.asarray(W.sum(axis=1)).ravel()
    null = np.sqrt(d) if normalization == "sym" else np.ones(n)
    null /= np.linalg.norm(null)
    try:
        check_factor(L, "spectral_gap(method='sparse')", "", factor_max)
    except SizeLimitError:
        upper = 2.0 if normalization == "sym" else 2.0 * float(d.max())
        return _lanczos_gap(L, null, upper)
    # the shift of the factorised L + shift I follows L's scale: eigenvalues in [0, 2] when
    # normalised, in [0, 2 d_max] otherwise (d_max alone made it vanish for tiny weights)
    return _sparse_gap(L, null, 1.0 if normalization == "sym" else float(d.max()))


def _lanczos_gap(L: sp.csr_array, null: np.ndarray, upper: float) -> float:
    """lambda_2 by Lanczos on ``upper I - L`` (no factor), the null vector projected out."""
    n = L.shape[0]

    def apply(x: np.ndarray) -> np.ndarray:
        x = x.ravel() - null * (null @ x.ravel())
        y = upper * x - L @ x
        return y - null * (null @ y)

    op = spla.LinearOperator((n, n), matvec=apply, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(n)
    try:
        mu = spla.eigsh(op, k=1, which="LA", v0=v0, tol=1e-12, ncv=min(n - 1, 48),
                        maxiter=20_000, return_eigenvectors=False)
    except spla.ArpackNoConvergence as error:
        raise SizeLimitError(
            f"factor_max: spectral_gap without a factor (the factor of this {n}-node graph "
            f"would pass factor_max) did not converge ({error}): lambda_2 is tiny next to the "
            f"spectrum; raise factor_max= to factorise"
        ) from error
    return float(max(upper - mu[0], 0.0))


def _sparse_gap(L: sp.csr_array, null: np.ndarray, scale: float) -> float:
    """lambda_2 of a connected graph's Laplacian by deflated inverse Lanczos."""
    n = L.shape[0]
    shift = 1e-9 * scale
    lu = spd_factor(L + shift * sp.eye_array(n))

    def apply(x: np.ndarray) -> np.ndarray:
        x = x.ravel() - null * (null @ x.ravel())
        y = lu.solve(x)
        return y - null * (null @ y)

    op = spla.LinearOperator((n, n), matvec=apply, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(n)
    mu = spla.eigsh(op, k=1, which="LA", v0=v0, tol=1e-12, return_eigenvectors=False)
    return float(max(1.0 / mu[0] - shift, 0.0))


def cheeger_bounds(
    graph: GraphInput,
    edge_weight: object = None,
    num_nodes: int | None = None,
    *,
    symmetrize: Symmetrize = "mean",
    on_disconnected: Literal["warn", "raise"] = "warn",
) -> tuple[float, float]:
    r"""Lower and upper bounds on the Cheeger constant (conductance) from the spectral gap.

    Definition: the conductance ``h(G) = min_S w(S, S^c) / min(vol S, vol S^c)`` with
    ``vol S = sum_{i in S} d_i`` satisfies the Cheeger inequality
    ``lambda_2 / 2 <= h(G) <= sqrt(2 lambda_2)`` for ``lambda_2`` of the normalised Laplacian.
    Returns ``(lambda_2 / 2, sqrt(2 lambda_2))``; a disconnected graph gives ``(0, 0)``
    (``h = 0``) with a warning, or raises with ``on_disconnected="raise"``.

    Complexity: that of :func:`spectral_gap`.

    Reference: J. Cheeger (1970); F. Chung, *Spectral Graph Theory* (1997), Thm. 2.2.

    Examples
    --------
    >>> import torch
    >>> ring = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    >>> lo, hi = cheeger_bounds(ring, num_nodes=4)   # h(C_4) = 2 / 4
    >>> lo <= 0.5 <= hi, round(lo, 12)
    (True, 0.5)
    """
    gap = spectral_gap(
        graph, edge_weight, num_nodes, normalization="sym", symmetrize=symmetrize,
        on_disconnected=on_disconnected,
    )
    return gap / 2.0, float(np.sqrt(2.0 * gap))
