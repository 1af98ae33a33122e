r"""Compact, sparsified edge lists of one layer's attention for the explorer page.

Each query keeps its ``top_k`` strongest keys. Keys are stored as ``uint16`` and weights as
``uint8`` on a square-root scale, ``q = round(255 sqrt(w))`` (decoded ``w = (q / 255)^2``),
which keeps weights down to about ``1.5e-5`` visible while a linear byte would zero everything
below ``2e-3``. ``q = 0`` marks a slot with no edge (rows shorter than ``top_k``, or weight too
small to store). The page reports what was dropped: the share of non-zero edges and of
attention mass that is not drawn.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tgnn.errors import ShapeError

__all__ = ["EdgeBlock", "encode_top_k", "quantize", "dequantize"]

_LEVELS = 255


def quantize(weights: Tensor) -> Tensor:
    """Square-root byte code of weights in ``[0, 1]``: ``round(255 sqrt(w))`` as ``uint8``.

    Examples
    --------
    >>> quantize(torch.tensor([0.0, 0.25, 1.0])).tolist()
    [0, 128, 255]
    """
    return torch.round(weights.clamp(0.0, 1.0).sqrt() * _LEVELS).to(torch.uint8)


def dequantize(codes: Tensor) -> Tensor:
    """Inverse of :func:`quantize` (up to rounding): ``(q / 255)^2`` in float32.

    Examples
    --------
    >>> dequantize(torch.tensor([0, 255], dtype=torch.uint8)).tolist()
    [0.0, 1.0]
    """
    return (codes.float() / _LEVELS) ** 2


@dataclass
class EdgeBlock:
    """Top-k edges of ``S`` attention matrices (heads and head-mean) of one layer.

    Attributes
    ----------
    keys
        ``[S, n, k]`` ``uint16`` key index per query slot.
    codes
        ``[S, n, k]`` ``uint8`` weight codes (:func:`quantize`); 0 means no edge.
    nonzero
        ``[S]`` number of non-zero attention entries (the edges before sparsification).
    kept
        ``[S]`` number of stored edges (``codes > 0``).
    mass
        ``[S]`` share of the total attention mass carried by the stored edges (exact weights).
    """

    keys: np.ndarray
    codes: np.ndarray
    nonzero: np.ndarray
    kept: np.ndarray
    mass: np.ndarray

    def encoded(self) -> tuple[str, str]:
        """Base64 of the little-endian ``keys`` and of ``codes`` (the page decodes both)."""
        keys = base64.b64encode(self.keys.astype("<u2").tobytes()).decode("ascii")
        codes = base64.b64encode(self.codes.tobytes()).decode("ascii")
        return keys, codes


def encode_top_k(attention: Tensor, top_k: int) -> EdgeBlock:
    """Keep the ``top_k`` strongest keys of every query of ``attention`` ``[S, n, n]``.

    Cost ``O(S n^2 log k)``; output ``O(S n k)`` bytes.

    Parameters
    ----------
    attention
        ``[S, n, n]`` non-negative attention (query rows), e.g. the heads of one layer followed
        by their mean.
    top_k
        Keys kept per query (at most ``n`` and at most 65535 tokens).

    Examples
    --------
    >>> A = torch.tensor([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.1, 0.3, 0.6]]])
    >>> block = encode_top_k(A, 2)
    >>> block.keys[0, 2].tolist(), block.kept.tolist(), round(float(block.mass[0]), 4)
    ([2, 1], [5], 0.9667)
    """
    if attention.dim() != 3 or attention.shape[-1] != attention.shape[-2]:
        raise ShapeError(f"attention: expected [S, n, n], got {tuple(attention.shape)}")
    if not isinstance(top_k, int) or top_k < 1:
        raise ShapeError(f"top_k: expected a positive integer, got {top_k!r}")
    n = attention.shape[-1]
    if n > 65535:
        raise ShapeError(f"attention: expected at most 65535 tokens for the page, got {n}")
    values, keys = attention.float().topk(min(top_k, n), dim=-1, sorted=True)
    codes = quantize(values)
    stored = codes > 0
    total = attention.float().sum(dim=(1, 2)).clamp_min(torch.finfo(torch.float32).tiny)
    return EdgeBlock(
        keys=keys.to(torch.int32).numpy().astype(np.uint16),
        codes=codes.numpy(),
        nonzero=(attention > 0).sum(dim=(1, 2)).numpy(),
        kept=stored.sum(dim=(1, 2)).numpy(),
        mass=((values * stored).sum(dim=(1, 2)) / total).numpy(),
    )
