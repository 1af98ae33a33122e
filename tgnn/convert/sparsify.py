"""Row-wise sparsification of attention: threshold, top-k and cumulative mass (top-p).

Each function takes attention ``[..., n, n]`` and returns a boolean keep-mask of the same shape.
Rows are queries; what is dropped is a key a query reads weakly. Weights are never renormalised
here: the kept weights are the model's own.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tgnn.errors import ShapeError

__all__ = ["threshold_mask", "top_k_mask", "top_p_mask", "sparsify_mask", "top_k_entries"]


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


def top_k_entries(attention: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Row and column indices of the entries that ``sparsify_mask(attention, top_k=k)`` keeps.

    The same entries in the same (row-major) order as ``sparsify_mask(...).nonzero()``, for
    ``attention`` ``[r, c]``, without building the mask of every row: one ``topk(k)`` per row
    gives the k largest; a row with more than k entries at or above its k-th value (a tie,
    which includes a row with fewer than k non-zero entries) goes through
    :func:`sparsify_mask`, where the earliest keys win. Cost O(r c log k) plus the mask's cost
    for the tied rows only.

    Examples
    --------
    >>> rows, cols = top_k_entries(torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.5, 0.0]]), 2)
    >>> rows.tolist(), cols.tolist()
    ([0, 0, 1, 1], [1, 2, 0, 1])
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ShapeError(f"top_k: expected a positive integer, got {k!r}")
    count, width = attention.shape
    if k >= width:
        rows, cols = sparsify_mask(attention, top_k=k).nonzero(as_tuple=True)
        return rows, cols
    values, index = attention.topk(k, dim=-1, sorted=False)  # torch is fastest for k <= 8
    kth = values.amin(-1, keepdim=True)
    cols = index.sort(dim=-1).values
    valid = torch.ones_like(cols, dtype=torch.bool)
    tied = ((attention >= kth).sum(-1) > k).nonzero().flatten()
    if tied.numel():
        keep = sparsify_mask(attention[tied], top_k=k)  # exactly min(k, non-zero) per row
        room = torch.arange(k, device=cols.device).expand(tied.numel(), k)
        valid[tied] = room < keep.sum(-1, keepdim=True)
        cols[tied] = torch.where(valid[tied], _first_true_columns(keep, k), 0)
    rows = torch.arange(count, device=cols.device)[:, None].expand(count, k)
    return rows[valid], cols[valid]


def _first_true_columns(keep: Tensor, k: int) -> Tensor:
    """``[r, k]``: the column indices of each row's True entries, ascending, padded with 0."""
    order = torch.arange(keep.shape[-1], 0, -1, device=keep.device)  # earlier columns rank higher
    return (keep * order).topk(k, dim=-1).indices  # True entries first, by column; then zeros


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
