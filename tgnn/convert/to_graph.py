r"""Attention tensors to PyTorch Geometric graphs, and back.

Convention (DESIGN.md): ``A[i, j]`` is how much query token ``i`` reads key token ``j``, so
information flows ``j -> i``; in PyG that is the edge ``edge_index[:, e] = [j, i]`` with
``edge_weight[e] = A[i, j]``. Incoming weights of every node sum to one. One GNN step with
``aggr="add"`` and these weights is therefore exactly ``A @ x``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from tgnn.convert.sparsify import sparsify_mask
from tgnn.convert.validate import check_attention, check_causal
from tgnn.errors import EmptyInputError, MaskError, OptionError, ShapeError

__all__ = ["HeadReduction", "attention_to_data", "to_dense_attention", "attention_to_unrolled"]

HeadReduction = Literal["mean", "max", "sum"] | None


def _graph_dtype(attention: Tensor) -> torch.dtype:
    """Graph weights are float32 (float64 when the attention already is)."""
    return torch.float64 if attention.dtype == torch.float64 else torch.float32


def _as_bhnn(attention: Tensor) -> Tensor:
    """View ``[n, n]``, ``[H, n, n]`` or ``[B, H, n, n]`` as ``[B, H, n, n]``."""
    check_attention(attention, "attention", stochastic=False, check_values=False)
    while attention.dim() < 4:
        attention = attention.unsqueeze(0)
    return attention


def _padding_mask(mask: Tensor | None, batch: int, n: int, device: torch.device) -> Tensor:
    """Return a boolean ``[B, n]`` keep-mask (True = real token)."""
    if mask is None:
        return torch.ones(batch, n, dtype=torch.bool, device=device)
    if mask.dim() == 1:
        mask = mask.unsqueeze(0)
    if tuple(mask.shape) != (batch, n):
        raise MaskError(
            f"mask: expected shape [B, n] = [{batch}, {n}] matching the attention, "
            f"got {tuple(mask.shape)}"
        )
    keep = mask.to(device=device).bool()
    empty = (~keep.any(-1)).nonzero().flatten().tolist()
    if empty:
        raise EmptyInputError(f"mask: sequences {empty} have no unmasked token")
    return keep


def _reduce_heads(attention: Tensor, head_reduction: HeadReduction) -> Tensor | None:
    if head_reduction is None:
        return None
    if head_reduction == "mean":
        return attention.mean(0)
    if head_reduction == "max":
        return attention.amax(0)
    if head_reduction == "sum":
        return attention.sum(0)
    raise OptionError(
        f"head_reduction: expected 'mean', 'max', 'sum' or None, got {head_reduction!r}"
    )


def _per_token(value: Tensor | None, name: str, batch: int, n: int) -> Tensor | None:
    """Return per-token ``value`` as ``[B, n, ...]`` (unbatched ``[n, ...]`` is shared)."""
    if value is None:
        return None
    unbatched = value.dim() == (2 if name == "x" else 1)
    batched = value.unsqueeze(0).expand(batch, *value.shape) if unbatched else value
    if batched.dim() < 2 or tuple(batched.shape[:2]) != (batch, n):
        raise ShapeError(
            f"{name}: expected per-token values of shape [n, ...] or [B, n, ...] with "
            f"B={batch}, n={n}, got {tuple(value.shape)}"
        )
    return batched


def _one_graph(
    attention: Tensor,
    keep: Tensor,
    *,
    head_reduction: HeadReduction,
    sparsify: Callable[[Tensor], Tensor],
    self_loops: bool,
    is_causal: bool | None,
) -> Data:
    """Build the graph of one sequence: ``attention`` is ``[H, n, n]``, ``keep`` is ``[n]``."""
    sub = attention if bool(keep.all()) else attention[:, keep][:, :, keep]
    check_attention(sub, "attention (padding dropped)", min_dim=3, max_dim=3)
    sub = sub.to(_graph_dtype(attention))
    causal = bool(is_causal)
    if is_causal is not False:  # asserted (checked) or to be inferred
        peak = torch.maximum(sub.amax(0), sub.amin(0).neg_())  # max_h |A_h[i, j]|, [n, n]
        if is_causal:
            check_causal(peak, "attention")
        causal = True if is_causal else not bool(peak.triu(1).any())
    reduced = _reduce_heads(sub, head_reduction)
    if reduced is not None:
        edges = sparsify(reduced)
    else:
        edges = sparsify(sub).any(0)
    if not self_loops:
        edges &= ~torch.eye(edges.shape[-1], dtype=torch.bool, device=edges.device)
    query, key = edges.nonzero(as_tuple=True)
    data = Data(edge_index=torch.stack([key, query]), num_nodes=int(keep.sum()), is_causal=causal)
    if reduced is not None:
        data.edge_weight = reduced[edges]  # row-major, the order of nonzero()
    else:
        data.edge_attr = sub[:, edges].T.contiguous()
    data.head_reduction = head_reduction or "none"
    return data


def attention_to_data(
    attention: Tensor,
    mask: Tensor | None = None,
    *,
    head_reduction: HeadReduction = "mean",
    threshold: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    self_loops: bool = True,
    x: Tensor | None = None,
    pos: Tensor | None = None,
    token: Tensor | None = None,
    is_causal: bool | None = None,
    layer: int | None = None,
    head: int | None = None,
) -> Data | Batch:
    r"""Convert attention weights to a PyG graph (edge ``j -> i`` with weight ``A[i, j]``).

    Parameters
    ----------
    attention
        ``[n, n]``, ``[H, n, n]`` or ``[B, H, n, n]`` attention; rows (queries) sum to one.
    mask
        Optional ``[B, n]`` (or ``[n]``) padding mask, 1 for real tokens. Padded tokens are
        dropped, not kept as isolated nodes; ``pos`` keeps the original positions.
    head_reduction
        ``"mean"`` (rows stay stochastic), ``"max"`` or ``"sum"`` over heads into ``edge_weight
        [E]``; ``None`` keeps every head in ``edge_attr [E, H]`` (edges: union over heads).
    threshold, top_k, top_p
        Row-wise sparsification (:mod:`tgnn.convert.sparsify`), applied to the reduced matrix, or
        to each head when ``head_reduction=None``. Kept weights are not renormalised.
    self_loops
        Keep the diagonal ``A[i, i]`` as self-loop edges (default) or drop it.
    x, pos, token
        Optional node features ``[n, d]`` / ``[B, n, d]`` (hidden states), positions and token ids
        ``[n]`` / ``[B, n]``. ``pos`` defaults to the token position in the unpadded input.
    is_causal
        ``True`` asserts causality and raises :class:`~tgnn.errors.NotCausalError` on weight above
        the diagonal; ``None`` infers it (lower triangular); stored as ``data.is_causal``.
    layer, head
        Stored on the graph as ``data.layer`` / ``data.head`` when given.

    Returns
    -------
    Data or Batch
        One ``Data`` per sequence (a ``Batch`` when ``B > 1``) with ``num_nodes``, ``edge_index``,
        ``edge_weight`` or ``edge_attr`` (float32, float64 if the input is), ``pos``,
        ``is_causal``, ``head_reduction`` and the optional attributes. Edges are ordered by target
        then source. Cost O(B H n^2).

    Examples
    --------
    >>> A = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    >>> data = attention_to_data(A)
    >>> data.edge_index.tolist(), data.edge_weight.tolist(), data.is_causal
    ([[0, 0, 1], [0, 1, 1]], [1.0, 0.25, 0.75], True)
    """
    full = _as_bhnn(attention)
    batch, _, n, _ = full.shape
    keep = _padding_mask(mask, batch, n, full.device)
    default_pos = torch.arange(n, device=full.device) if pos is None else pos
    per_token = {
        name: _per_token(value, name, batch, n)
        for name, value in (("x", x), ("pos", default_pos), ("token", token))
    }
    sparsify = functools.partial(sparsify_mask, threshold=threshold, top_k=top_k, top_p=top_p)
    graphs = []
    for b in range(batch):
        data = _one_graph(
            full[b],
            keep[b],
            head_reduction=head_reduction,
            sparsify=sparsify,
            self_loops=self_loops,
            is_causal=is_causal,
        )
        for name, value in per_token.items():
            if value is not None:
                data[name] = value[b][keep[b]]
        if layer is not None:
            data.layer = layer
        if head is not None:
            data.head = head
        graphs.append(data)
    return graphs[0] if batch == 1 else Batch.from_data_list(graphs)


def to_dense_attention(data: Data) -> Tensor:
    """Invert :func:`attention_to_data`: the dense ``[n, n]`` (or ``[H, n, n]``) attention.

    Entries without an edge (sparsified away, masked, or zero) are zero. For a ``Batch`` call it
    on each graph of ``batch.to_data_list()``.

    Examples
    --------
    >>> A = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    >>> torch.equal(to_dense_attention(attention_to_data(A)), A)
    True
    """
    if isinstance(data, Batch):
        raise ShapeError(
            "data: expected a single Data, got a Batch; use [to_dense_attention(d) for d in "
            "batch.to_data_list()]"
        )
    n = int(data.num_nodes)
    source, target = data.edge_index
    weights = data.edge_weight if data.get("edge_weight") is not None else data.get("edge_attr")
    if weights is None:
        raise ShapeError("data: expected edge_weight [E] or edge_attr [E, H], found neither")
    if weights.dim() == 1:
        dense = weights.new_zeros(n, n)
        dense[target, source] = weights
        return dense
    dense = weights.new_zeros(weights.shape[1], n, n)
    dense[:, target, source] = weights.T
    return dense


def _layer_stack(attentions: Sequence[Tensor] | Tensor, head_reduction: HeadReduction) -> Tensor:
    """Validate per-layer attention and return ``[L, n, n]`` (heads reduced)."""
    if len(attentions) == 0:
        raise EmptyInputError("attentions: expected at least one layer, got none")
    layers = []
    for index, layer in enumerate(attentions):
        check_attention(layer, f"attentions[{index}]", max_dim=3)
        reduced = _reduce_heads(layer.unsqueeze(0) if layer.dim() == 2 else layer, head_reduction)
        layers.append((reduced if reduced is not None else layer).to(_graph_dtype(layer)))
    if len({tuple(a.shape) for a in layers}) != 1:
        shapes = [tuple(a.shape) for a in layers]
        raise ShapeError(f"attentions: expected every layer to have the same [n, n], got {shapes}")
    return torch.stack(layers)


def attention_to_unrolled(
    attentions: Sequence[Tensor] | Tensor,
    rho: float = 0.5,
    *,
    head_reduction: Literal["mean", "max", "sum"] = "mean",
    threshold: float | None = None,
) -> Data:
    r"""The unrolled multi-layer graph: one copy of the tokens per depth, edges layer to layer.

    Node ``l * n + t`` is token ``t`` at depth ``l`` (``l = 0 .. L``). Layer ``l``'s residual
    attention :math:`\hat A_l = \rho A_l + (1 - \rho) I` gives the edges
    ``(l, j) -> (l + 1, i)`` with weight :math:`\hat A_l[i, j]` (Abnar & Zuidema 2020, attention
    rollout). Propagating one-hot features from depth 0 along these edges gives, at depth ``L``,
    the rollout :math:`\Phi_L = \hat A_{L-1} \cdots \hat A_0`.

    Parameters
    ----------
    attentions
        ``L`` layers of ``[n, n]`` or ``[H, n, n]`` attention (a list, or a ``[L, (H,) n, n]``
        tensor), heads reduced with ``head_reduction``.
    rho
        Residual share in ``[0, 1]`` (1: attention only; 1/2: attention rollout).
    threshold
        Drop edges of residual weight below it.

    Returns
    -------
    Data
        ``num_nodes = (L + 1) n``, ``edge_index``, ``edge_weight``, node attributes ``layer`` and
        ``pos``, and ``rho``. Cost O(L n^2).

    Examples
    --------
    >>> A = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    >>> g = attention_to_unrolled([A, A], rho=0.5)
    >>> g.num_nodes, g.edge_index.shape[1], g.layer.tolist()
    (6, 6, [0, 0, 1, 1, 2, 2])
    """
    if not 0.0 <= rho <= 1.0:
        raise ShapeError(f"rho: expected a residual share in [0, 1], got {rho!r}")
    stack = _layer_stack(attentions, head_reduction)
    depth, n, _ = stack.shape
    eye = torch.eye(n, dtype=stack.dtype, device=stack.device)
    residual = rho * stack + (1.0 - rho) * eye
    keep = residual > 0 if threshold is None else residual >= max(threshold, 1e-300)
    layer, query, key = keep.nonzero(as_tuple=True)
    edge_index = torch.stack([layer * n + key, (layer + 1) * n + query])
    nodes = torch.arange((depth + 1) * n, device=stack.device)
    return Data(
        edge_index=edge_index,
        edge_weight=residual[layer, query, key],
        num_nodes=(depth + 1) * n,
        layer=nodes // n,
        pos=nodes % n,
        rho=float(rho),
        is_causal=bool(torch.equal(stack, stack.tril())),
    )
