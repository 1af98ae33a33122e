"""Row-wise sparsification of attention: threshold, top-k and cumulative mass (top-p).

Each function takes attention ``[..., n, n]`` and returns a boolean keep-mask of the same shape.
Rows are queries; what is dropped is a key a query reads weakly. Weights are never renormalised
here: the kept weights are the model's own.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tgnn.errors import ShapeError

__all__ = ["threshold_mask", "top_k_mask", "top_p_mask", "sparsify_mask"]


def threshold_mask(attention: Tensor, threshold: float) -> Tensor:
    """Keep entries with ``A[i, j] >= threshold``.

    Examples
    --------
    >>> threshold_mask(torch.tensor([[0.7, 0.3]]), 0.5)
    tensor([[ True, False]])
    """
    if not 0.0 <= threshold <= 1.0:
        raise ShapeError(f"threshold: expected a weight in [0, 1], got {threshold!r}")
    return attention >= threshold


def top_k_mask(attention: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest entries of each row (all of them when the row is shorter).

    Ties at the k-th value are broken by position (the earliest key wins), so exactly
    ``min(k, n)`` entries are kept per row, the same ones whatever the row's length. Cost
    O(n^2 log k), plus O(n) per row that has ties at the k-th value.

    Examples
    --------
    >>> top_k_mask(torch.tensor([[0.2, 0.5, 0.3]]), 2)
    tensor([[False,  True,  True]])
    >>> top_k_mask(torch.tensor([[0.25, 0.25, 0.25, 0.25]]), 2)
    tensor([[ True,  True, False, False]])
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ShapeError(f"top_k: expected a positive integer, got {k!r}")
    k = min(k, attention.shape[-1])
    kth = attention.topk(k, dim=-1, sorted=False).values.amin(-1, keepdim=True)
    keep = attention >= kth
    width = attention.shape[-1]
    crowded = (keep.reshape(-1, width).sum(-1) > k).nonzero().flatten()  # ties at the k-th
    if crowded.numel():
        rows = attention.reshape(-1, width)[crowded]
        bound = kth.reshape(-1, 1)[crowded]
        above, ties = rows > bound, rows == bound
        room = k - above.sum(-1, keepdim=True)
        keep.view(-1, width)[crowded] = above | (ties & (ties.cumsum(-1) <= room))
    return keep


def top_p_mask(attention: Tensor, p: float) -> Tensor:
    """Keep, per row, the fewest largest entries whose cumulative mass reaches ``p``.

    Entries are sorted in decreasing order (equal entries by position, so the earliest of equal
    keys comes first, whatever the row's length); an entry is kept when the mass before it is
    below ``p`` (so the entry that crosses ``p`` is kept too, as in nucleus sampling, Holtzman
    et al. 2020). ``p = 1`` keeps every non-zero entry. Cost O(n^2 log n).

    Examples
    --------
    >>> top_p_mask(torch.tensor([[0.1, 0.6, 0.3]]), 0.8)
    tensor([[False,  True,  True]])
    """
    if not 0.0 < p <= 1.0:
        raise ShapeError(f"top_p: expected a cumulative mass in (0, 1], got {p!r}")
    values, order = attention.sort(dim=-1, descending=True, stable=True)  # ties: earliest first
    mass_before = values.cumsum(-1) - values
    keep_sorted = (mass_before < p) & (values > 0)
    return torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)


def sparsify_mask(
    attention: Tensor,
    threshold: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """Combine the requested criteria (an entry is kept when it passes all of them).

    Entries that are exactly zero are never kept: they are not edges.

    Examples
    --------
    >>> sparsify_mask(torch.tensor([[0.0, 0.6, 0.4]]), top_k=2, threshold=0.5)
    tensor([[False,  True, False]])
    """
    keep = attention > 0
    if threshold is not None:
        keep &= threshold_mask(attention, threshold)
    if top_k is not None:
        keep &= top_k_mask(attention, top_k)
    if top_p is not None:
        keep &= top_p_mask(attention, top_p)
    return keep
