"""The base layer of checks: attention tensors' shape, finiteness, row sums and causality.

One place for the checks that every entry point (converter, metrics, theory, explorer) runs on
attention it is given, so that bad input fails early with a message that names the argument. It
sits beside :mod:`tgnn.errors` and imports nothing else of tgnn, so that ``tgnn.metrics`` and
``tgnn.theory`` need nothing from the converter (``tgnn.convert.validate`` re-exports it).
"""

from __future__ import annotations

import torch
from torch import Tensor

from tgnn.errors import (
    EmptyInputError,
    NonFiniteError,
    NotCausalError,
    NotStochasticError,
    ShapeError,
)

__all__ = ["row_sum_tolerance", "check_attention", "check_finite", "check_causal"]


def row_sum_tolerance(dtype: torch.dtype, n: int = 1) -> float:
    """Tolerance on ``|sum_j A[i, j] - 1|`` for attention stored in ``dtype``.

    Softmax rows are exact up to rounding: the error of a sum of ``n`` entries grows like
    ``n * eps`` in the worst case. We allow ``max(1e-4, 4 * sqrt(n) * eps)`` for float32 and
    wider types, and ``4 * n * eps`` (at least 1e-2) for the 16-bit types.

    Examples
    --------
    >>> row_sum_tolerance(torch.float64)
    0.0001
    >>> row_sum_tolerance(torch.bfloat16) >= 1e-2
    True
    """
    eps = torch.finfo(dtype).eps
    if torch.finfo(dtype).bits <= 16:
        return max(1e-2, 4.0 * n * eps)
    return max(1e-4, 4.0 * (n**0.5) * eps)


def check_finite(tensor: Tensor, name: str) -> None:
    """Raise :class:`~tgnn.errors.NonFiniteError` if ``tensor`` has NaN or Inf entries."""
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise NonFiniteError(f"{name}: expected finite values, got {bad} NaN/Inf entries")


def check_causal(attention: Tensor, name: str = "attention", atol: float = 0.0) -> None:
    """Raise :class:`~tgnn.errors.NotCausalError` if any weight lies above the diagonal.

    ``attention[..., i, j]`` with ``j > i`` (a query reading a later key) must be ``<= atol``.
    """
    n = attention.shape[-1]
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=attention.device), diagonal=1)
    above = attention.abs().masked_select(upper.expand_as(attention)) if n > 1 else attention[:0]
    if above.numel() and float(above.max()) > atol:
        raise NotCausalError(
            f"{name}: asserted causal (A[i, j] = 0 for j > i), got weight up to "
            f"{float(above.max()):.3g} above the diagonal"
        )


def check_attention(
    attention: Tensor,
    name: str = "attention",
    *,
    min_dim: int = 2,
    max_dim: int = 4,
    stochastic: bool = True,
    causal: bool = False,
    check_values: bool = True,
    row_mask: Tensor | None = None,
) -> None:
    """Check that ``attention`` is a stack of square, finite, row-stochastic matrices.

    Parameters
    ----------
    attention
        Tensor of shape ``[..., n, n]`` with ``min_dim <= attention.dim() <= max_dim``.
    name
        Argument name used in error messages.
    stochastic
        Require every (unmasked) row to sum to one within :func:`row_sum_tolerance`.
    causal
        Require ``attention[..., i, j] == 0`` for ``j > i``.
    check_values
        With ``False`` only the type and shape are checked (for a caller that checks values
        later, on a subset).
    row_mask
        Optional boolean tensor broadcastable to ``attention.shape[:-1]``; only rows where it is
        true are checked for their sum (padding rows are free).

    Raises
    ------
    ShapeError, EmptyInputError, NonFiniteError, NotStochasticError, NotCausalError

    Examples
    --------
    >>> check_attention(torch.tensor([[1.0, 0.0], [0.5, 0.5]]), causal=True)
    >>> check_attention(torch.ones(2, 3))
    Traceback (most recent call last):
    ...
    tgnn.errors.ShapeError: attention: expected square [..., n, n] attention, got shape (2, 3)
    """
    if not isinstance(attention, Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor, got {type(attention).__name__}")
    if not (min_dim <= attention.dim() <= max_dim):
        raise ShapeError(
            f"{name}: expected a tensor with {min_dim} to {max_dim} dimensions "
            f"([n, n], [H, n, n] or [B, H, n, n]), got shape {tuple(attention.shape)}"
        )
    if attention.shape[-1] != attention.shape[-2]:
        raise ShapeError(
            f"{name}: expected square [..., n, n] attention, got shape {tuple(attention.shape)}"
        )
    if attention.shape[-1] == 0:
        raise EmptyInputError(f"{name}: expected at least one token, got an empty sequence")
    if not attention.is_floating_point():
        raise ShapeError(f"{name}: expected a floating-point tensor, got dtype {attention.dtype}")
    if not check_values:
        return
    if not stochastic:
        check_finite(attention, name)
    else:
        _check_rows(attention, name, row_mask)
    if causal:
        check_causal(attention, name)


def _check_rows(attention: Tensor, name: str, row_mask: Tensor | None) -> None:
    """Rows sum to one and entries are non-negative (a finite row sum rules out NaN and Inf)."""
    accumulate = torch.float32 if torch.finfo(attention.dtype).bits <= 16 else attention.dtype
    sums = attention.sum(-1, dtype=accumulate)
    if not bool(torch.isfinite(sums).all()):
        check_finite(attention, name)
    deviation = (sums - 1.0).abs()
    if row_mask is not None:
        deviation = deviation * row_mask.to(deviation.dtype)
    tol = row_sum_tolerance(attention.dtype, attention.shape[-1])
    worst = float(deviation.max())
    if worst > tol:
        raise NotStochasticError(
            f"{name}: expected rows summing to one (tolerance {tol:.1e} for "
            f"{attention.dtype}), got a row sum off by {worst:.3g}"
        )
    smallest = float(attention.min())
    if smallest < -tol:
        raise NotStochasticError(
            f"{name}: expected non-negative weights, got minimum {smallest:.3g}"
        )
