"""Attention metrics: row entropy, sink mass and sink rate, attention rollout and attention flow.

Inputs are dense row-stochastic attention ``A[..., i, j]`` (query ``i`` reads key ``j``):
``[n, n]``, ``[H, n, n]``, ``[L, H, n, n]`` or a per-layer list of ``[n, n]`` / ``[H, n, n]``
(stacked), validated by :func:`tgnn.convert.validate.check_attention`. Computations run in
float64. Rollout and flow follow the unrolled graph of DESIGN.md: layer ``l`` mixes tokens by
``Ahat_l = rho A_l + (1 - rho) I`` (residual share ``rho``), heads averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import networkx as nx
import numba
import numpy as np
import torch
from torch import Tensor

from tgnn._checks import check_attention
from tgnn.errors import EmptyInputError, OptionError, ShapeError
from tgnn.metrics._input import integer, real

__all__ = [
    "attention_entropy",
    "sink_mass",
    "sink_rate",
    "attention_rollout",
    "attention_flow",
    "unrolled_flow_network",
]

AttentionInput = Tensor | Sequence[Tensor]


def _stack(attention: AttentionInput, name: str = "attention") -> Tensor:
    if isinstance(attention, (list, tuple)):
        if not attention:
            raise EmptyInputError(f"{name}: expected at least one layer, got an empty list")
        for k, a in enumerate(attention):
            check_attention(a, f"{name}[{k}]", max_dim=3)
        shapes = {tuple(a.shape) for a in attention}
        if len(shapes) > 1:
            raise ShapeError(f"{name}: expected layers of one shape, got {sorted(shapes)}")
        return torch.stack(list(attention)).to(torch.float64)
    if not isinstance(attention, Tensor):
        raise ShapeError(f"{name}: expected a tensor or a list of tensors, got {type(attention)}")
    check_attention(attention, name)
    return attention.to(torch.float64)


def _layers(attention: AttentionInput, rho: float) -> Tensor:
    """``[L, n, n]`` of ``Ahat_l = rho mean_h A_l + (1 - rho) I``."""
    if not 0.0 <= real(rho, "rho", ShapeError) <= 1.0:
        raise ShapeError(f"rho: expected a residual share in [0, 1], got {rho}")
    A = _stack(attention)
    if A.dim() == 2:
        A = A[None]
    elif A.dim() == 4:
        A = A.mean(dim=1)
    eye = torch.eye(A.shape[-1], dtype=A.dtype)
    return rho * A + (1.0 - rho) * eye


def attention_entropy(
    attention: AttentionInput, *, reduction: Literal["mean", "none"] = "mean"
) -> Tensor:
    r"""Shannon entropy (nats) of each attention row, per head and layer.

    ``H_i = - sum_j A[i, j] log A[i, j]`` (``0 log 0 = 0``), between 0 (one key) and
    ``log n``. ``reduction="none"`` returns ``[..., n]`` (one value per query row);
    ``"mean"`` averages the rows, giving ``[...]`` (e.g. ``[L, H]``).

    Complexity: ``O(L H n^2)``.

    Reference: e.g. Zhai et al., *Stabilizing transformer training by preventing attention
    entropy collapse*, ICML 2023.

    Examples
    --------
    >>> A = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    >>> attention_entropy(A, reduction="none")
    tensor([0.0000, 0.6931], dtype=torch.float64)
    """
    A = _stack(attention)
    H = -torch.special.xlogy(A, A).sum(dim=-1)
    if reduction == "none":
        return H
    if reduction != "mean":
        raise OptionError(f"reduction: expected 'mean' or 'none', got {reduction!r}")
    return H.mean(dim=-1)


def sink_mass(attention: AttentionInput) -> Tensor:
    r"""Sink mass ``alpha_k = mean_{t >= k} A[t, k]`` of every key position ``k`` (Gu et al.).

    The average attention that the queries at or after ``k`` give to key ``k``; for causal
    attention these are all the queries that can see ``k``. Returns ``[..., n]``.

    Complexity: ``O(L H n^2)``.

    Reference: X. Gu et al., *When attention sink emerges in language models: an empirical
    view*, ICLR 2025 (arXiv 2410.10781, 2024).

    Examples
    --------
    >>> A = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.2, 0.0], [0.6, 0.2, 0.2]])
    >>> sink_mass(A)
    tensor([0.8000, 0.2000, 0.2000], dtype=torch.float64)
    """
    A = _stack(attention)
    n = A.shape[-1]
    lower = torch.tril(torch.ones(n, n, dtype=A.dtype))
    counts = torch.arange(n, 0, -1, dtype=A.dtype)
    return (A * lower).sum(dim=-2) / counts


def sink_rate(attention: AttentionInput, *, eps: float = 0.3, position: int = 0) -> float:
    r"""Fraction of heads whose sink mass on ``position`` exceeds ``eps`` (Gu et al., 0.3).

    ``Sink = (1 / (L H)) sum_{l, h} 1[alpha_position^{l, h} > eps]`` with ``alpha`` from
    :func:`sink_mass`, over all leading dimensions of the input (``[n, n]`` counts as one head).

    Complexity: ``O(L H n^2)``.

    Reference: X. Gu et al., *When attention sink emerges in language models* (2024).

    Examples
    --------
    >>> A = torch.tensor([[[1.0, 0.0], [0.9, 0.1]], [[1.0, 0.0], [0.1, 0.9]]])
    >>> sink_rate(A)   # head 0: alpha_0 = 0.95; head 1: 0.55 > 0.3 too
    1.0
    >>> sink_rate(A, eps=0.6)
    0.5
    """
    threshold = real(eps, "eps", ShapeError)  # NaN compared False everywhere: a rate of 0
    alpha = sink_mass(attention)
    n = alpha.shape[-1]
    if not -n <= integer(position, "position", error=ShapeError) < n:
        raise ShapeError(f"position: expected an index in [-{n}, {n}), got {position}")
    return float((alpha[..., integer(position, "position")] > threshold).to(torch.float64).mean())


def attention_rollout(attention: AttentionInput, *, rho: float = 0.5) -> Tensor:
    r"""Attention rollout ``Phi = Ahat_{L-1} ... Ahat_1 Ahat_0`` with ``Ahat = rho A + (1-rho) I``.

    ``Phi[i, j]`` is the share of output token ``i`` that flows from input token ``j`` through
    the unrolled graph; rows sum to one. A 3-D tensor is ``[L, n, n]`` (one matrix per layer);
    ``[L, H, n, n]`` and per-layer ``[H, n, n]`` lists are averaged over heads; ``[n, n]`` is
    one layer. Abnar & Zuidema use ``rho = 1/2``.

    Complexity: ``O(L n^3)``. Computed by :func:`tgnn.theory.rollout_matrix` (one rollout for the
    whole library; it refuses more than ``tgnn.theory.DENSE_MAX_NODES`` tokens and names the
    one-row alternative :func:`tgnn.theory.rollout_row`).

    Reference: S. Abnar, W. Zuidema, *Quantifying attention flow in transformers*, ACL 2020.

    Examples
    --------
    >>> A = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    >>> attention_rollout([A, A])
    tensor([[1.0000, 0.0000],
            [0.7500, 0.2500]], dtype=torch.float64)
    """
    from tgnn.theory.rollout import rollout_matrix  # the one rollout of tgnn

    if not 0.0 <= real(rho, "rho", ShapeError) <= 1.0:
        raise ShapeError(f"rho: expected a residual share in [0, 1], got {rho}")
    stack = _stack(attention)
    layers = stack[None] if stack.dim() == 2 else stack  # [L, n, n] or [L, H, n, n]
    return torch.from_numpy(rollout_matrix(layers.double().numpy(), rho, causal=False))


def unrolled_flow_network(attention: AttentionInput, *, rho: float = 0.5) -> nx.DiGraph:
    """The unrolled graph as a networkx ``DiGraph`` with ``capacity`` attributes.

    Nodes ``(l, t)``; an edge ``(l, j) -> (l + 1, i)`` of capacity ``Ahat_l[i, j]`` wherever that
    is positive. For cross-checks with ``networkx.maximum_flow_value`` (slow: use
    :func:`attention_flow`).

    Examples
    --------
    >>> G = unrolled_flow_network(torch.eye(2))
    >>> sorted(G.edges(data="capacity"))
    [((0, 0), (1, 0), 1.0), ((0, 1), (1, 1), 1.0)]
    """
    layers = _layers(attention, rho).numpy()
    G = nx.DiGraph()
    for l, a in enumerate(layers):
        for i, j in zip(*np.nonzero(a), strict=True):
            G.add_edge((l, int(j)), (l + 1, int(i)), capacity=float(a[i, j]))
    return G


def attention_flow(attention: AttentionInput, *, rho: float = 0.5) -> Tensor:
    r"""Attention flow: maximum flow from each input token to each output token.

    ``F[i, j]`` is the value of a maximum flow from node ``(0, j)`` to node ``(L, i)`` of the
    unrolled graph with capacities ``Ahat_l[i, j] = rho A_l[i, j] + (1 - rho) [i == j]`` on the
    edges ``(l, j) -> (l + 1, i)`` (heads averaged, as in :func:`attention_rollout`).

    Algorithm: Dinic's blocking flows on the float capacities, compiled (numba), one problem
    per pair; ``n^2`` problems on ``(L + 1) n`` nodes and ``L n^2`` edges, each
    ``O(V^2 E)`` in the worst case and far less on these layered graphs.

    Reference: S. Abnar, W. Zuidema, *Quantifying attention flow in transformers*, ACL 2020.

    Examples
    --------
    >>> A = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    >>> attention_flow([A, A])   # rollout gives 0.25 at [1, 1]; one path of capacity 0.5
    tensor([[1.0000, 0.0000],
            [1.0000, 0.5000]], dtype=torch.float64)
    """
    layers = _layers(attention, rho).numpy()
    L, n = layers.shape[0], layers.shape[-1]
    tails, heads, caps = [], [], []
    for l, a in enumerate(layers):
        i, j = np.nonzero(a)
        tails.append(l * n + j)
        heads.append((l + 1) * n + i)
        caps.append(a[i, j])
    tail, head = np.concatenate(tails), np.concatenate(heads)
    # edge 2e is tail -> head with its capacity, edge 2e + 1 its reverse with capacity 0
    ends = np.stack([head, tail], axis=1).ravel()
    starts = np.stack([tail, head], axis=1).ravel()
    cap = np.stack([np.concatenate(caps), np.zeros(len(tail))], axis=1).ravel()
    order = np.argsort(starts, kind="stable")
    first = np.searchsorted(starts[order], np.arange((L + 1) * n + 1))
    out = _all_flows(first, order, ends, cap, n, L)
    return torch.from_numpy(out)


@numba.njit(cache=True)
def _max_flow(
    first: np.ndarray, order: np.ndarray, ends: np.ndarray, cap0: np.ndarray, s: int, t: int
) -> float:
    """Dinic's algorithm on float capacities (edge ``e ^ 1`` is the reverse of edge ``e``)."""
    nodes = first.shape[0] - 1
    cap = cap0.copy()
    level = np.empty(nodes, dtype=np.int64)
    it = np.empty(nodes, dtype=np.int64)
    queue = np.empty(nodes, dtype=np.int64)
    path = np.empty(nodes, dtype=np.int64)
    tol = 1e-14
    total = 0.0
    while True:
        level[:] = -1
        level[s] = 0
        queue[0], lo, hi = s, 0, 1
        while lo < hi:
            u = queue[lo]
            lo += 1
            for p in range(first[u], first[u + 1]):
                e = order[p]
                v = ends[e]
                if cap[e] > tol and level[v] < 0:
                    level[v] = level[u] + 1
                    queue[hi] = v
                    hi += 1
        if level[t] < 0:
            return total
        it[:] = first[:-1]
        u, depth = s, 0
        while True:
            if u == t:
                f = np.inf
                for k in range(depth):
                    f = min(f, cap[path[k]])
                for k in range(depth):
                    cap[path[k]] -= f
                    cap[path[k] ^ 1] += f
                total += f
                u, depth = s, 0
                continue
            advanced = False
            while it[u] < first[u + 1]:
                e = order[it[u]]
                if cap[e] > tol and level[ends[e]] == level[u] + 1:
                    path[depth] = e
                    depth += 1
                    u = ends[e]
                    advanced = True
                    break
                it[u] += 1
            if not advanced:
                if u == s:
                    break
                level[u] = -1
                depth -= 1
                u = ends[path[depth] ^ 1]
                it[u] += 1


@numba.njit(cache=True)
def _all_flows(
    first: np.ndarray, order: np.ndarray, ends: np.ndarray, cap: np.ndarray, n: int, L: int
) -> np.ndarray:
    out = np.zeros((n, n))
    for j in range(n):
        for i in range(n):
            out[i, j] = _max_flow(first, order, ends, cap, j, L * n + i)
    return out
