r"""An attention mask that is built a block of query rows at a time, never ``n x n`` at once.

Hugging Face ``transformers`` 5 builds each layer's mask through the function registered for the
model's attention implementation with ``AttentionMaskInterface``. Eager's function materialises a
``[B, 1, n, n]`` float mask (4 GB at ``n = 32k``). The function registered here,
:func:`row_mask_interface`, returns a :class:`RowMask` instead: it keeps what the model passed
(the mask function, which already encodes causality, sliding windows, chunking and padding, and
the offsets) and materialises rows ``[start, stop)`` on request by calling transformers' own
``masking_utils.sdpa_mask`` on that slice, so every row equals the eager mask's row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["RowMask", "row_mask_interface", "rows_of", "ROW_CACHE_BYTES"]

ROW_CACHE_BYTES = 64 * 2**20
"""Bytes of built rows a :class:`RowMask` keeps for the next layers (every layer of a forward
pass shares its mask): below about 8k tokens the whole mask is built once per forward."""


@dataclass(frozen=True)
class RowMask:
    """The mask of one attention call, materialised on demand, a block of query rows at a time.

    Attributes
    ----------
    batch_size, q_length, kv_length, q_offset, kv_offset
        As transformers passes them to a mask interface.
    mask_function
        ``(batch, head, q_idx, kv_idx) -> bool`` (causal, sliding window, ... as built by
        ``masking_utils``).
    padding
        ``[B, kv]`` boolean padding mask, or None.
    use_vmap
        Whether the mask function needs ``torch.vmap`` (custom patterns).
    device
        Where the rows are built.
    built
        Rows already built, by ``(start, stop)``, up to :data:`ROW_CACHE_BYTES` in all.
    """

    batch_size: int
    q_length: int
    kv_length: int
    q_offset: int
    kv_offset: int
    mask_function: Callable[..., Any]
    padding: Tensor | None
    use_vmap: bool
    device: torch.device | str
    built: dict[tuple[int, int], Tensor] = field(default_factory=dict, repr=False, compare=False)

    def rows(self, start: int, stop: int) -> Tensor:
        """Boolean ``[B, stop - start, kv_length]``: True where query row may read the key."""
        cached = self.built.get((start, stop))
        if cached is not None:
            return cached
        rows = self._build(start, stop)
        if sum(t.numel() for t in self.built.values()) + rows.numel() <= ROW_CACHE_BYTES:
            self.built[(start, stop)] = rows
        return rows

    def _build(self, start: int, stop: int) -> Tensor:
        from transformers.masking_utils import sdpa_mask

        block = sdpa_mask(
            batch_size=self.batch_size,
            q_length=stop - start,
            kv_length=self.kv_length,
            q_offset=self.q_offset + start,
            kv_offset=self.kv_offset,
            mask_function=self.mask_function,
            attention_mask=self.padding,
            allow_is_causal_skip=False,
            allow_is_bidirectional_skip=False,
            use_vmap=self.use_vmap,
            device=self.device,
        )
        assert block is not None  # both skips are off
        return block[:, 0].expand(self.batch_size, stop - start, self.kv_length).contiguous()


def row_mask_interface(
    batch_size: int,
    q_length: int,
    kv_length: int,
    q_offset: int = 0,
    kv_offset: int = 0,
    mask_function: Callable[..., Any] | None = None,
    attention_mask: Tensor | None = None,
    use_vmap: bool = False,
    device: torch.device | str = "cpu",
    **kwargs: Any,
) -> RowMask:
    """Mask function registered with ``AttentionMaskInterface``: returns a lazy :class:`RowMask`."""
    from transformers.masking_utils import causal_mask_function

    return RowMask(
        batch_size=batch_size,
        q_length=q_length,
        kv_length=kv_length,
        q_offset=int(q_offset),
        kv_offset=int(kv_offset),
        mask_function=mask_function or causal_mask_function,
        padding=attention_mask,
        use_vmap=use_vmap,
        device=device,
    )


def rows_of(
    mask: RowMask | Tensor | None, start: int, stop: int, shape: tuple[int, int, int],
    causal: bool, device: torch.device,
) -> tuple[Tensor, Tensor | None]:
    """Rows ``[start, stop)`` of any mask a model may pass: ``(allowed [B, r, kv], bias)``.

    A :class:`RowMask` or a boolean ``[B, 1|H, n, kv]`` tensor gives ``allowed`` and no bias; a
    float (additive) tensor gives ``allowed`` where it is above half the dtype's minimum and the
    additive ``bias`` rows. ``None`` allows everything, or the causal triangle when the attention
    module says it is causal (SDPA's ``is_causal``), so causality is never lost silently.
    ``shape`` is ``(B, n, kv)`` of the call; rows are built on ``device``.
    """
    batch, n, kv = shape
    if isinstance(mask, RowMask):
        return mask.rows(start, stop), None
    if mask is None:
        if not causal:
            return torch.ones(batch, stop - start, kv, dtype=torch.bool, device=device), None
        query = torch.arange(start, stop, device=device)[:, None] + (kv - n)
        allowed = torch.arange(kv, device=device)[None, :] <= query
        return allowed.expand(batch, -1, -1), None
    rows = mask[:, 0, start:stop, :kv]
    if rows.dtype == torch.bool:
        return rows.expand(batch, -1, -1), None
    allowed = rows > torch.finfo(rows.dtype).min / 2
    return allowed.expand(batch, -1, -1), rows.float().expand(batch, -1, -1)
