r"""Exact attention of one layer, computed a block of query rows at a time.

For a block of queries ``Q_B`` of one sequence the scores against the keys the block may read,
``S = Q_B K^T \cdot scale`` (soft-capped, masked, with the learned sink logit as an extra
column where the model has one), give exact softmax rows ``P = softmax(S)``; the layer output of
the block is ``P V`` (eager's arithmetic). Only ``H x rows x keys`` floats are alive at a time,
with ``rows`` chosen from a memory budget, so a layer never holds ``H x n x n``. Grouped-query
attention is handled by grouping the query heads of each key/value head in one product (no
expanded copy of K or V). Each block's rows are handed to a consumer (the sparse graph builder)
before they are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from tgnn.convert import fused_kernel
from tgnn.convert.row_mask import RowMask, rows_of

__all__ = ["RowBlock", "Workspace", "BYTES_PER_ENTRY", "block_rows", "blockwise_attention"]

BYTES_PER_ENTRY = 16
"""Bytes alive per ``(head, row, key)`` entry of a block: scores, weights and temporaries."""

CACHE_ENTRIES = 2**20
"""Entries per block when the budget allows more: a block's scores then stay in the CPU caches
across the passes over them (measured on 2 cores: 4-8 MiB float32 blocks beat 128 MiB ones
1.5x), and a causal layer's blocks skip more of the keys above their diagonal."""

MIN_ROWS = 32
"""Fewest query rows per block the cache target may choose (fewer make the per-block overhead
of some 40 tensor operations dominate); the memory budget can still ask for fewer."""


class Workspace:
    """Float32 scratch arrays that every block of a capture reuses (scores and weights).

    A block's scores are a few MiB; allocating them afresh for every block costs page faults on
    their first touch (the allocator returns large arrays to the system when they are freed),
    which doubled the time of the score product and of the softmax in a 512-token MiniLM capture
    (measured on 2 cores: 78 ms -> 51 ms for the rows of 6 layers with one reused array each).
    One workspace per forward pass holds at most the memory budget's two arrays.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, Tensor] = {}

    def take(self, slot: str, shape: tuple[int, ...], device: torch.device) -> Tensor:
        """A float32 array of ``shape`` for ``slot`` (its contents are arbitrary)."""
        size = 1
        for extent in shape:
            size *= extent
        array = self._arrays.get(slot)
        if array is None or array.numel() < size or array.device != device:
            array = torch.empty(size, dtype=torch.float32, device=device)
            self._arrays[slot] = array
        return array[:size].view(shape)


@dataclass(frozen=True)
class RowBlock:
    """Exact softmax rows of one block of queries of one sequence.

    Attributes
    ----------
    batch
        Sequence index in the batch.
    start
        Index of the block's first query row.
    key_start
        Index of the key in the first key column of ``weights``.
    weights
        ``[H, rows, sink + keys]`` float32 softmax rows over the keys ``key_start ..`` (and, when
        ``sink`` is 1, the learned sink in column 0); every entry outside is exactly zero. The
        array belongs to the :class:`Workspace`: it is overwritten by the next block, so a
        consumer copies what it keeps.
    entropy
        ``[H, rows]`` entropy of each row (nats), from the full rows.
    allowed
        ``[rows, keys]`` boolean: which of those keys the mask lets each query read.
    sink
        1 when column 0 of ``weights`` is a learned sink logit's share, else 0.
    fused
        Whether the fused kernel computed the block (then its consumer may use the kernel's
        other passes too; the weights are not bitwise eager's).
    selected
        When the capture asked the kernel to select: the block's kept keys ``[rows, k]``, their
        reduced weights, their counts ``[rows]`` and the column sums ``[H, keys]`` (float64).
    """

    batch: int
    start: int
    key_start: int
    weights: Tensor
    entropy: Tensor
    allowed: Tensor
    sink: int
    fused: bool = False
    selected: tuple[Tensor, ...] | None = None


def block_rows(heads: int, keys: int, budget: int, bytes_per_entry: int = BYTES_PER_ENTRY) -> int:
    """Query rows per block: about :data:`CACHE_ENTRIES` entries (``heads x rows x keys``), at
    least :data:`MIN_ROWS` rows, and never more than ``budget`` bytes hold.

    Examples
    --------
    >>> block_rows(heads=8, keys=2048, budget=256 * 2**20)
    64
    >>> block_rows(heads=8, keys=32768, budget=256 * 2**20), block_rows(8, 32768, 2**20)
    (32, 1)
    """
    entries = heads * max(keys, 1)
    fits = max(1, budget // (bytes_per_entry * entries))
    return min(fits, max(MIN_ROWS, CACHE_ENTRIES // entries))


def _ranges(allowed: Tensor) -> tuple[int, int, int, int]:
    """Column ranges of a block's mask ``[r, kv]``: ``(lo, hi)`` holds every allowed key (all
    keys if a row allows none, as eager's uniform row), ``(mlo, mhi)`` every masked entry."""
    flags = allowed.view(torch.uint8)  # uint8 max/min over rows vectorise, bool any/all do not
    kv = allowed.shape[-1]
    if not bool(flags.amax(1).all()):
        lo, hi = 0, kv
    else:
        readable = flags.amax(0).nonzero()
        lo, hi = int(readable[0]), int(readable[-1]) + 1
    masked = (flags[:, lo:hi].amin(0) == 0).nonzero()
    if not masked.numel():
        return lo, hi, lo, lo
    return lo, hi, lo + int(masked[0]), lo + int(masked[-1]) + 1


def _softmax_rows(
    query: Tensor, key: Tensor, allowed: Tensor, masked: tuple[int, int], bias: Tensor | None,
    scale: float, softcap: float | None, sink_logits: Tensor | None, workspace: Workspace,
) -> tuple[Tensor, Tensor]:
    r"""Softmax rows in float32, ``[H, r, (1 +) m]``, and their entropies ``[H, r]``.

    ``masked`` is the column range (relative to ``key``) that holds every entry ``allowed``
    forbids; those scores get the float32 minimum, as eager's additive mask. With the scores
    shifted by their row maximum, :math:`s'_j = s_j - \max_k s_k \le 0`, and
    :math:`Z = \sum_j e^{s'_j}`, the entropy is :math:`H(p) = \log Z - \sum_j p_j s'_j`
    (since :math:`\log p_j = s'_j - \log Z`), and :math:`\log Z = -\log \max_j p_j`: one
    product per entry instead of a logarithm, and two non-negative terms (no cancellation).
    """
    heads, rows, dim = query.shape
    kv_heads = key.shape[0]
    grouped = query.float().reshape(kv_heads, (heads // kv_heads) * rows, dim)
    product = workspace.take("scores", (*grouped.shape[:2], key.shape[1]), query.device)
    scores = torch.matmul(grouped, key.float().transpose(-1, -2), out=product)
    scores = scores.view(heads, rows, -1).mul_(scale)
    if softcap is not None:
        scores = torch.tanh(scores / softcap).mul_(softcap)
    if bias is not None:
        scores.add_(bias)
    mlo, mhi = masked
    if mhi > mlo:
        blocked = ~allowed[:, mlo:mhi]
        scores[:, :, mlo:mhi].masked_fill_(blocked, torch.finfo(torch.float32).min)
    if sink_logits is not None:
        sink = sink_logits.float().view(heads, 1, 1).expand(heads, rows, 1)
        scores = torch.cat([sink, scores], dim=-1)
    scores.sub_(scores.amax(-1, keepdim=True))
    weights = workspace.take("weights", tuple(scores.shape), query.device)
    torch.ops.aten._softmax.out(scores, -1, False, out=weights)  # torch.softmax has no out=
    log_total = weights.amax(-1).log_().neg_()  # the largest weight is exp(0) / Z
    spread = scores.mul_(weights).sum(-1)  # the shifted scores are not needed any more
    return weights, log_total.sub_(spread)


def _fused_block(
    query: Tensor, key_t: Tensor, value: Tensor, bias: tuple[Tensor | None, int], scale: float,
    workspace: Workspace, selection: tuple[str, int] | None,
) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...] | None]:
    """Weights ``[H, r, m]``, entropies ``[H, r]`` and output ``[H, r, d]`` of one block by the
    fused kernel, in one call (on torch's threads), and with ``selection`` (head reduction,
    ``top_k``) the kept edges and column sums of :func:`~tgnn.convert.fused_kernel.
    attention_select` from the same pass. ``key_t`` ``[H_kv, d, >= padded(m)]``, ``bias``:
    ``[r, b]`` (0 / -inf) for the keys from the given start on, or None."""
    heads, rows, dim = query.shape
    kv_heads, keys = value.shape[0], value.shape[1]
    grouped = query.contiguous().view(kv_heads, -1, dim)
    width = fused_kernel.padded(keys)
    padded = workspace.take("weights", (kv_heads, (heads // kv_heads) * rows, width), query.device)
    entropy = query.new_empty(heads, rows)
    output = query.new_empty(heads, rows, dim)
    arrays = (grouped, key_t, value, bias[0], scale, padded, output.view(kv_heads, -1, dim),
              entropy.view(kv_heads, -1))
    selected = None
    if selection is None:
        fused_kernel.attention_heads(*arrays, bias_start=bias[1])
    else:
        selected = fused_kernel.attention_select(*arrays, rows, *selection, bias_start=bias[1])
    return padded.view(heads, rows, width)[..., :keys], entropy, output, selected


def _masked_band(allowed: Tensor, start: int, stop: int) -> tuple[Tensor | None, int]:
    """The fused kernel's mask: 0 / -inf over the columns ``start .. stop - 1`` that hold every
    masked key of the block (a causal block's diagonal band), and ``start``; None if none is."""
    if stop <= start:
        return None, 0
    band = torch.zeros(allowed.shape[0], stop - start, device=allowed.device)
    return band.masked_fill_(~allowed[:, start:stop], -math.inf), start


def _mix(weights: Tensor, value: Tensor, dtype: torch.dtype) -> Tensor:
    """``weights @ value`` per query head, value heads shared by groups: ``[H, r, d]``."""
    heads, rows, keys = weights.shape
    kv_heads = value.shape[0]
    grouped = weights.to(dtype).reshape(kv_heads, (heads // kv_heads) * rows, keys)
    return torch.matmul(grouped, value).view(heads, rows, -1)


def blockwise_attention(
    module: torch.nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: RowMask | Tensor | None,
    *,
    scale: float,
    softcap: float | None = None,
    sink_logits: Tensor | None = None,
    budget: int,
    bytes_per_entry: int = BYTES_PER_ENTRY,
    dropout: float = 0.0,
    consume: Callable[[RowBlock], None] | None = None,
    workspace: Workspace | None = None,
    fused: bool = False,
    selection: tuple[str, int] | None = None,
) -> Tensor:
    """The layer output ``[B, n, H, d]`` of eager attention, a block of query rows at a time.

    ``query`` is ``[B, H, n, d]``, ``key`` and ``value`` ``[B, H_kv, kv, d]`` (``H_kv`` divides
    ``H``); ``mask`` a :class:`~tgnn.convert.row_mask.RowMask`, a 4D mask tensor or None;
    ``sink_logits`` ``[H]`` learned sink logits (gpt-oss ``s_aux``) or None. Each block's
    :class:`RowBlock` goes to ``consume`` when given; the scratch arrays come from
    ``workspace`` (a new one when None; pass one to reuse it across layers). With ``fused``
    the blocks go through the compiled kernel of :mod:`~tgnn.convert.fused_kernel` wherever it
    applies (float32 on the CPU, head width a multiple of 16, no soft-capping, learned sinks,
    additive mask values or dropout): weights then agree with eager's to a few units in the last
    place instead of bitwise; with ``selection`` (head reduction, ``top_k``) the kernel also
    selects each fused block's edges in the same pass (``RowBlock.selected``). Peak memory
    O(H x rows x kv) with ``rows`` from :func:`block_rows` (at most
    ``budget / (bytes_per_entry H kv)``); time O(B H n kv d) as eager attention.
    """
    batch, heads, n, _ = query.shape
    kv = key.shape[2]
    output = value.new_empty(batch, heads, n, value.shape[-1])
    rows = block_rows(heads, kv, budget, bytes_per_entry)
    causal = bool(getattr(module, "is_causal", False))
    sink = 0 if sink_logits is None else 1
    workspace = Workspace() if workspace is None else workspace
    fused = fused and softcap is None and sink_logits is None and not (
        dropout and module.training) and fused_kernel.usable(query, key, value)
    if fused:  # K^T [B, H_kv, d, kv + PAD]: the kernel reads whole vectors past the last key
        key_t = key.new_zeros(*key.shape[:2], key.shape[-1], kv + fused_kernel.PAD)
        key_t[..., :kv] = key.transpose(-1, -2)
        value = value.contiguous()
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        allowed_rows, bias_rows = rows_of(mask, start, stop, (batch, n, kv), causal, query.device)
        for b in range(batch):
            lo, hi, mlo, mhi = _ranges(allowed_rows[b])
            allowed = allowed_rows[b, :, lo:hi]
            bias = None if bias_rows is None else bias_rows[b, :, lo:hi]
            if fused and bias is None:
                weights, entropy, block_output, selected = _fused_block(
                    query[b, :, start:stop], key_t[b, :, :, lo:], value[b, :, lo:hi],
                    _masked_band(allowed, mlo - lo, mhi - lo), scale, workspace, selection,
                )
                output[b, :, start:stop] = block_output
                if consume is not None:
                    consume(RowBlock(b, start, lo, weights, entropy, allowed, 0, fused=True,
                                     selected=selected))
                continue
            weights, entropy = _softmax_rows(
                query[b, :, start:stop], key[b, :, lo:hi], allowed, (mlo - lo, mhi - lo), bias,
                scale, softcap, sink_logits, workspace,
            )
            mixing = torch.nn.functional.dropout(weights[..., sink:], dropout, module.training)
            output[b, :, start:stop] = _mix(mixing, value[b, :, lo:hi], value.dtype)
            if consume is not None:
                consume(RowBlock(b, start, lo, weights, entropy, allowed, sink))
    return output.transpose(1, 2).contiguous()
