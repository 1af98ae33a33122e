"""Rank and representation collapse of hidden states ``X`` (``[n, d]``: n tokens or nodes).

Per-matrix functions accept ``[..., n, d]`` and return ``[...]`` (float64); the helpers
:func:`residual_ratio` and :func:`collapse_profile` take a per-layer list of hidden states
(or a ``[L, n, d]`` tensor). Graph inputs of :func:`dirichlet_energy` follow the undirected
metrics: ``(W + W^T) / 2`` by default (``symmetrize=``), self-loops dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from tgnn._checks import check_finite
from tgnn.errors import EmptyInputError, OptionError, ShapeError
from tgnn.metrics._graph import GraphInput, Symmetrize, to_adjacency

__all__ = [
    "residual",
    "mu",
    "residual_ratio",
    "mean_cosine",
    "effective_rank",
    "dirichlet_energy",
    "collapse_profile",
]

HiddenStates = Tensor | Sequence[Tensor]


def _check(X: Tensor, name: str = "X") -> Tensor:
    if not isinstance(X, Tensor) or X.dim() < 2 or not X.is_floating_point():
        shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ShapeError(f"{name}: expected a floating tensor [..., n, d], got {shape}")
    if X.shape[-2] == 0 or X.shape[-1] == 0:
        raise EmptyInputError(f"{name}: expected n >= 1 rows and d >= 1 columns, got {X.shape}")
    check_finite(X, name)
    return X.to(torch.float64)


def _unit_scale(X: Tensor, dims: tuple[int, ...] = (-2, -1)) -> Tensor:
    """``X / max |X|`` over ``dims`` (unchanged where that maximum is 0).

    The scale-invariant metrics below (mu, cosines, effective rank, norm ratios) are computed
    on this copy, so neither squares nor sums of entries overflow (``1e200 * X``) or underflow.
    """
    peak = X.abs().amax(dim=dims, keepdim=True)
    return X / torch.where(peak > 0, peak, 1.0)


def _layers(hidden_states: HiddenStates) -> list[Tensor]:
    if isinstance(hidden_states, Tensor):
        if hidden_states.dim() != 3:
            raise ShapeError(f"hidden_states: expected [L, n, d], got {tuple(hidden_states.shape)}")
        hidden_states = list(hidden_states)
    if len(hidden_states) == 0:
        raise EmptyInputError("hidden_states: expected at least one layer, got none")
    return [_check(x, f"hidden_states[{k}]") for k, x in enumerate(hidden_states)]


def residual(X: Tensor) -> Tensor:
    r"""``res(X) = X - 1 x^T`` with ``x`` the column mean, the rank-one part nearest ``X``.

    ``x = argmin_x ||X - 1 x^T||_F`` is the mean row. Complexity ``O(n d)``.

    Reference: Y. Dong, J.-B. Cordonnier, A. Loukas, *Attention is not all you need: pure
    attention loses rank doubly exponentially with depth*, ICML 2021.

    Examples
    --------
    >>> residual(torch.tensor([[1.0, 2.0], [3.0, 2.0]]))
    tensor([[-1.,  0.],
            [ 1.,  0.]], dtype=torch.float64)
    """
    X = _check(X)
    return X - X.mean(dim=-2, keepdim=True)


def mu(X: Tensor) -> Tensor:
    r"""Relative distance to rank one: ``mu(X) = ||X - 1 mean(X)||_F / ||X||_F`` in ``[0, 1]``.

    0 when all rows are equal (complete rank collapse); 0 for ``X = 0``. Complexity ``O(n d)``.

    Reference: Dong et al. 2021; Noci et al., *Signal propagation in transformers*, NeurIPS 2022.

    Examples
    --------
    >>> float(mu(torch.ones(3, 2)))
    0.0
    >>> float(mu(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])))
    1.0
    """
    X = _unit_scale(_check(X))
    num = torch.linalg.matrix_norm(residual(X))
    den = torch.linalg.matrix_norm(X)
    return torch.where(den > 0, num / torch.where(den > 0, den, 1.0), 0.0)


def residual_ratio(hidden_states: HiddenStates) -> Tensor:
    r"""Rank-collapse residual ratio per layer: ``||res(X_l)||_F / ||res(X_0)||_F``, ``[L]``.

    Dong et al. show that for pure attention it decays doubly exponentially with depth.
    Layer 0 gives 1 (or NaN if ``X_0`` is already rank one). Complexity ``O(L n d)``.

    Reference: Y. Dong, J.-B. Cordonnier, A. Loukas, ICML 2021.

    Examples
    --------
    >>> X0 = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    >>> residual_ratio([X0, 0.5 * X0, X0 + 3.0])
    tensor([1.0000, 0.5000, 1.0000], dtype=torch.float64)
    """
    layers = _layers(hidden_states)
    peak = max(float(x.abs().max()) for x in layers) or 1.0  # one scale for every layer
    norms = torch.stack([torch.linalg.matrix_norm(residual(x / peak)) for x in layers])
    return norms / norms[0]


def mean_cosine(X: Tensor) -> Tensor:
    r"""Mean cosine similarity over distinct row pairs, ``mean_{i != j} <x_i, x_j> / (|x_i||x_j|)``.

    1 for collapsed (parallel) rows. Zero rows count as cosine 0. Needs ``n >= 2``.
    Complexity ``O(n^2 d)``.

    Reference: e.g. Noci et al. 2022 (cosine of token representations across depth).

    Examples
    --------
    >>> float(mean_cosine(torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])))
    0.333...
    """
    X = _unit_scale(_check(X))
    n = X.shape[-2]
    if n < 2:
        raise EmptyInputError(f"X: mean_cosine needs at least 2 rows, got {n}")
    norms = torch.linalg.vector_norm(X, dim=-1, keepdim=True)
    U = X / torch.where(norms > 0, norms, 1.0)
    G = U @ U.transpose(-1, -2)
    off = G.sum(dim=(-1, -2)) - torch.diagonal(G, dim1=-2, dim2=-1).sum(-1)
    return off / (n * (n - 1))


def effective_rank(X: Tensor) -> Tensor:
    r"""Effective rank ``exp(-sum_k p_k log p_k)`` with ``p_k = sigma_k / sum_j sigma_j``.

    ``sigma`` are the singular values of ``X`` (not centred); between 1 and ``min(n, d)``;
    0 for ``X = 0``. Complexity ``O(n d min(n, d))``.

    Reference: O. Roy, M. Vetterli, *The effective rank: a measure of effective
    dimensionality*, EUSIPCO 2007.

    Examples
    --------
    >>> float(effective_rank(torch.eye(3)))
    3.0...
    """
    X = _unit_scale(_check(X))
    s = torch.linalg.svdvals(X)
    total = s.sum(dim=-1, keepdim=True)
    p = s / torch.where(total > 0, total, 1.0)
    H = -torch.special.xlogy(p, p).sum(dim=-1)
    return torch.where(total[..., 0] > 0, torch.exp(H), 0.0)


def dirichlet_energy(
    X: Tensor,
    graph: GraphInput,
    edge_weight: Any = None,
    num_nodes: int | None = None,
    *,
    normalization: Literal["sym"] | None = None,
    symmetrize: Symmetrize = "mean",
) -> Tensor:
    r"""Dirichlet energy ``E(X) = tr(X^T L X)`` of node features on a graph.

    ``normalization=None``: ``L = D - W``, so ``E = sum_{i<j} w_ij ||x_i - x_j||^2``;
    ``"sym"``: ``E = sum_{i<j} w_ij ||x_i / sqrt(d_i) - x_j / sqrt(d_j)||^2``. ``X`` is
    ``[..., n, d]`` with ``n = num_nodes``. Computed as that sum over edges in float64, so it is
    never negative (``tr(X^T L X)`` rounds to about ``-1e-17`` on features in consensus).
    Complexity ``O(E d)`` time and memory.

    Reference: C. Cai, Y. Wang, *A note on over-smoothing for graph neural networks* (2020);
    T. K. Rusch, M. M. Bronstein, S. Mishra, *A survey on oversmoothing in GNNs* (2023).

    Examples
    --------
    >>> ei = torch.tensor([[0, 1], [1, 0]])
    >>> float(dirichlet_energy(torch.tensor([[0.0], [2.0]]), ei, num_nodes=2))
    4.0
    """
    X = _check(X)
    W = to_adjacency(graph, edge_weight, num_nodes, symmetrize=symmetrize)
    if X.shape[-2] != W.shape[0]:
        raise ShapeError(f"X: expected {W.shape[0]} rows (num_nodes), got {X.shape[-2]}")
    if normalization not in (None, "sym"):
        raise OptionError(f"normalization: expected None or 'sym', got {normalization!r}")
    upper = sp.triu(W, k=1).tocoo()
    X64 = X.detach().cpu().double()
    if normalization == "sym":
        degree = torch.from_numpy(np.asarray(W.sum(axis=1)).ravel())
        X64 = X64 / torch.where(degree > 0, degree, 1.0).sqrt()[:, None]  # isolated: no edges
    rows, cols = torch.from_numpy(upper.row.astype(np.int64)), torch.from_numpy(
        upper.col.astype(np.int64))
    gaps = (X64[..., rows, :] - X64[..., cols, :]).square().sum(dim=-1)
    return (gaps * torch.from_numpy(upper.data)).sum(dim=-1)  # a sum of squares: never < 0


def collapse_profile(
    hidden_states: HiddenStates,
    graph: GraphInput | None = None,
    edge_weight: Any = None,
    num_nodes: int | None = None,
) -> dict[str, Tensor]:
    """Every collapse metric per layer: ``{"mu", "mean_cosine", "effective_rank",
    "residual_ratio"}`` (and ``"dirichlet_energy"`` when a graph is given), each ``[L]``.

    Complexity: the sum of the metrics' costs over layers.

    Examples
    --------
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> prof = collapse_profile([X, torch.ones(2, 2)])
    >>> prof["mu"].tolist(), prof["residual_ratio"].tolist()
    ([0.7071..., 0.0], [1.0, 0.0])
    """
    layers = _layers(hidden_states)
    out = {
        "mu": torch.stack([mu(x) for x in layers]),
        "mean_cosine": torch.stack([mean_cosine(x) for x in layers]),
        "effective_rank": torch.stack([effective_rank(x) for x in layers]),
        "residual_ratio": residual_ratio(layers),
    }
    if graph is not None:
        out["dirichlet_energy"] = torch.stack(
            [dirichlet_energy(x, graph, edge_weight, num_nodes) for x in layers]
        )
    return out
