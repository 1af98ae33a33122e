r"""Per-row top-k edge lists of one layer for the explorer page, from dense or sparse attention.

Each query keeps its ``top_k`` strongest keys per slot (a slot is one head, or the head-mean).
Keys are stored as ``uint16`` and weights as IEEE ``float16`` (relative rounding error at most
``2^-11``; weights below ``6e-8`` round to zero). A weight of 0 marks a slot with no edge (rows
with fewer than ``top_k`` non-zero keys). With the edges comes what they leave out, per row:
the *drawn mass* ``sum_{j kept} A[i, j]`` of exact (float32) weights, so the page can say how
much of each row it shows, not only how many edges.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tgnn.errors import ShapeError

__all__ = ["EdgeBlock", "encode_top_k", "encode_sparse_rows", "MAX_TOKENS"]

MAX_TOKENS = 65535
"""Longest input a page can hold (keys are ``uint16``)."""


@dataclass
class EdgeBlock:
    """Top-k edges of ``S`` slots (heads, then the head-mean) of one layer.

    Attributes
    ----------
    keys
        ``[S, n, k]`` ``uint16`` key index per query slot.
    weights
        ``[S, n, k]`` ``float16`` weights, strongest first; 0 means no edge.
    drawn
        ``[S, n]`` ``float32`` share of each query's attention row carried by its stored edges.
    """

    keys: np.ndarray
    weights: np.ndarray
    drawn: np.ndarray

    def encoded(self) -> tuple[str, str]:
        """Base64 of the little-endian ``keys`` and ``weights`` (the page decodes both)."""
        keys = base64.b64encode(self.keys.astype("<u2").tobytes()).decode("ascii")
        weights = base64.b64encode(self.weights.astype("<f2").tobytes()).decode("ascii")
        return keys, weights


def _check_top_k(top_k: int, n: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ShapeError(f"top_k: expected a positive integer, got {top_k!r}")
    if n > MAX_TOKENS:
        raise ShapeError(f"attention: expected at most {MAX_TOKENS} tokens for the page, got {n}")
    return min(top_k, n)


def _block(values: Tensor, keys: Tensor) -> EdgeBlock:
    """Pack sorted ``[S, n, k]`` values (<= 0: no edge) and their keys."""
    stored = values.clamp_min(0.0)
    half = stored.to(torch.float16)
    drawn = (stored * (half > 0)).sum(-1)
    return EdgeBlock(
        keys=torch.where(half > 0, keys, 0).to(torch.int32).numpy().astype(np.uint16),
        weights=half.numpy(),
        drawn=drawn.to(torch.float32).numpy(),
    )


def encode_top_k(attention: Tensor, top_k: int) -> EdgeBlock:
    """Keep the ``top_k`` strongest keys of every query of dense ``attention`` ``[S, n, n]``.

    Cost ``O(S n^2 log k)``; output ``O(S n k)`` bytes.

    Examples
    --------
    >>> A = torch.tensor([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.1, 0.3, 0.6]]])
    >>> block = encode_top_k(A, 2)
    >>> block.keys[0, 2].tolist(), block.weights[0, 0].tolist(), block.drawn[0].round(4).tolist()
    ([2, 1], [1.0, 0.0], [1.0, 1.0, 0.9])
    """
    if attention.dim() != 3 or attention.shape[-1] != attention.shape[-2]:
        raise ShapeError(f"attention: expected [S, n, n], got {tuple(attention.shape)}")
    k = _check_top_k(top_k, attention.shape[-1])
    values, keys = attention.float().topk(k, dim=-1, sorted=True)
    return _block(values, keys)


def encode_sparse_rows(edge_index: Tensor, weights: Tensor, n: int, top_k: int) -> EdgeBlock:
    """Keep the ``top_k`` strongest stored keys of every query of a sparse layer.

    Parameters
    ----------
    edge_index
        ``[2, E]`` edges ``j -> i`` (row 0 the key ``j``, row 1 the query ``i``), as in a PyG
        graph of attention.
    weights
        ``[E, S]`` weight of each edge in each slot (``A^s[i, j]``); rows may hold any subset
        of keys (e.g. the union over heads of each head's top-k).
    n
        Number of tokens.
    top_k
        Keys kept per query and slot.

    Notes
    -----
    Cost ``O(E S + n M S log k)`` with ``M`` the most stored keys of one row; memory
    ``O(n M S)``, never ``n^2``.

    Examples
    --------
    >>> ei = torch.tensor([[0, 0, 1, 0, 1, 2], [0, 1, 1, 2, 2, 2]])
    >>> w = torch.tensor([[1.0], [0.5], [0.5], [0.1], [0.3], [0.6]])
    >>> block = encode_sparse_rows(ei, w, 3, 2)
    >>> block.keys[0, 2].tolist(), block.drawn[0].round(4).tolist()
    ([2, 1], [1.0, 1.0, 0.9])
    """
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ShapeError(f"edge_index: expected [2, E], got {tuple(edge_index.shape)}")
    if weights.dim() != 2 or weights.shape[0] != edge_index.shape[1]:
        raise ShapeError(f"weights: expected [E={edge_index.shape[1]}, S], got "
                         f"{tuple(weights.shape)}")
    k = _check_top_k(top_k, n)
    key, query = edge_index.cpu().long()
    order = torch.argsort(query, stable=True)
    key, query, w = key[order], query[order], weights.cpu().float()[order]
    counts = torch.bincount(query, minlength=n)
    width = max(int(counts.max()) if counts.numel() else 0, k)
    start = torch.cumsum(counts, 0) - counts
    column = torch.arange(query.numel()) - start[query]
    padded = torch.full((w.shape[1], n, width), -1.0)
    padded[:, query, column] = w.T
    key_pad = torch.zeros(n, width, dtype=torch.long)
    key_pad[query, column] = key
    values, slots = padded.topk(k, dim=-1, sorted=True)
    keys = torch.gather(key_pad.expand(w.shape[1], n, width), 2, slots)
    return _block(values, keys)
