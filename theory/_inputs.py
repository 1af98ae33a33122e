"""Input handling shared by the theory modules: attention -> validated float64 numpy.

Every public function of :mod:`tgnn.theory` accepts dense attention as a torch tensor or a numpy
array. A single matrix is ``[n, n]``; ``[H, n, n]`` (or ``[1, H, n, n]``, a batch of one) is
reduced over heads by the mean, which keeps rows stochastic and causal. Computation is float64.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import torch

from tgnn._checks import check_finite, row_sum_tolerance
from tgnn.errors import (
    EmptyInputError,
    GraphError,
    NotCausalError,
    NotReachableError,
    NotStochasticError,
    ShapeError,
    TgnnError,
)

from ._sparse import check_dense_size, is_sparse_input, sparse_attention, sparse_size

ArrayLike: TypeAlias = np.ndarray | torch.Tensor

_ONE_ROW = "a one-row function on sparse input (rollout_row, absorbing_resistance(target=...))"
RhoLike: TypeAlias = float | Sequence[float] | np.ndarray | torch.Tensor

__all__ = [
    "ArrayLike",
    "RhoLike",
    "as_matrix",
    "row_blocks",
    "matrix_size",
    "layer_list",
    "residual_shares",
    "check_assumption_h",
    "resolve_token",
]


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    raise ShapeError(
        f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(value).__name__}"
    )


def _reduce_heads(tensor: torch.Tensor, name: str) -> torch.Tensor:
    if tensor.dim() == 4:
        if tensor.shape[0] != 1:
            raise ShapeError(
                f"{name}: expected one sequence ([1, H, n, n]), got a batch of shape "
                f"{tuple(tensor.shape)}; select one sequence first"
            )
        tensor = tensor[0]
    if tensor.dim() == 3:
        tensor = tensor.mean(0, dtype=torch.float64)
    return tensor


def _check_shape(tensor: torch.Tensor, name: str) -> None:
    """Shape and dtype checks of :func:`~tgnn.convert.validate.check_attention` (cheap part)."""
    if not 2 <= tensor.dim() <= 4 or tensor.shape[-1] != tensor.shape[-2]:
        raise ShapeError(
            f"{name}: expected square attention [n, n], [H, n, n] or [1, H, n, n], got shape "
            f"{tuple(tensor.shape)}"
        )
    if tensor.shape[-1] == 0:
        raise EmptyInputError(f"{name}: expected at least one token, got an empty sequence")
    if not tensor.is_floating_point():
        raise ShapeError(f"{name}: expected a floating-point tensor, got dtype {tensor.dtype}")


def _check_block(block: np.ndarray, first: int, name: str, causal: bool) -> None:
    """Weight above the diagonal in rows ``first ..`` of ``block`` must be exactly 0."""
    if not causal:
        return
    rows = len(block)
    right = block[:, first + 1 :]  # local column c holds key first + 1 + c; forbidden: c >= row
    above = max(
        float(np.abs(np.triu(right[:, :rows])).max(initial=0.0)),
        float(np.abs(right[:, rows:]).max(initial=0.0)),
    )
    if above > 0:
        raise NotCausalError(
            f"{name}: asserted causal (A[i, j] = 0 for j > i), got weight up to "
            f"{above:.3g} above the diagonal"
        )


def _check_rows(block: np.ndarray, tol: float, name: str, stochastic: bool) -> bool:
    """Check (and renormalise, if stochastic) a block of rows; False if it holds NaN or Inf."""
    sums = block.sum(axis=1)
    if not np.isfinite(sums).all():  # NaN and Inf entries propagate to the row sums
        return False
    low = float(block.min(initial=0.0))
    if not stochastic:
        if low < 0:
            raise GraphError(f"{name}: expected non-negative edge weights, got minimum {low:.3g}")
        return True
    worst = float(np.abs(sums - 1.0).max(initial=0.0))
    if worst > tol:
        raise NotStochasticError(
            f"{name}: expected rows summing to one (tolerance {tol:.1e}), got a row sum off by "
            f"{worst:.3g}"
        )
    if low < 0:
        if low < -tol:
            raise NotStochasticError(
                f"{name}: expected non-negative weights, got minimum {low:.3g}"
            )
        np.maximum(block, 0.0, out=block)
        sums = block.sum(axis=1)
    block /= sums[:, None]
    return True


def as_matrix(
    value: ArrayLike,
    name: str = "attention",
    *,
    causal: bool = True,
    stochastic: bool = True,
    rows: int = 64,
    what: str = "this function",
    alternative: str = _ONE_ROW,
) -> np.ndarray:
    """Validate ``value`` ([n, n], [H, n, n] or [1, H, n, n]) and return a new float64 [n, n].

    Shape and dtype are checked first; finiteness (:func:`~tgnn.convert.validate.check_finite`
    on failure), row sums (tolerance :func:`~tgnn.convert.validate.row_sum_tolerance` of the
    input dtype), signs and causality are checked on the head mean while it is converted to
    float64 in blocks of ``rows`` rows (one pass over memory, no n x n mask). Stochastic rows
    are renormalised in float64 so that the identities of the theory hold to rounding. Without
    ``stochastic`` the weights must be non-negative (a weighted digraph).

    Sparse input (a scipy sparse matrix or a PyG ``Data``, see :mod:`tgnn.theory._sparse`) is
    validated by the same rules and densified. Above
    :data:`~tgnn.theory._sparse.DENSE_MAX_NODES` tokens this raises
    :class:`~tgnn.errors.SizeLimitError` naming ``what`` and the sparse ``alternative``.
    """
    check_dense_size(matrix_size(value, name), name, what, alternative)
    if is_sparse_input(value):
        return sparse_attention(value, name, causal=causal, stochastic=stochastic)[0].toarray()
    n, blocks = row_blocks(value, name, causal=causal, stochastic=stochastic, rows=rows)
    out = np.empty((n, n))
    for first, block in blocks:
        out[first : first + len(block)] = block
    return out


def row_blocks(
    value: ArrayLike,
    name: str = "attention",
    *,
    causal: bool = True,
    stochastic: bool = True,
    rows: int = 64,
    reverse: bool = False,
) -> tuple[int, Iterator[tuple[int, np.ndarray]]]:
    """Stream ``value`` as validated float64 blocks of rows: ``(n, iterator of (first, block))``.

    The checks of :func:`as_matrix`, one cache-sized block at a time (last block first when
    ``reverse``), so that one-row computations read the attention once and never hold an
    n x n float64 copy. Shape errors are raised at once, row errors when the block is reached.
    """
    tensor = _as_tensor(value, name)
    _check_shape(tensor, name)
    source = _reduce_heads(tensor, name)
    if source.dtype not in (torch.float32, torch.float64):
        source = source.to(torch.float32)
    src = source.numpy()
    n = len(src)
    tol = row_sum_tolerance(tensor.dtype, n)
    starts = range(0, n, rows)

    def blocks() -> Iterator[tuple[int, np.ndarray]]:
        for first in reversed(starts) if reverse else starts:
            block = np.array(src[first : first + rows], dtype=np.float64)
            if not _check_rows(block, tol, name, stochastic):
                check_finite(tensor, name)
            _check_block(block, first, name, causal)
            yield first, block

    return n, blocks()


def matrix_size(value: Any, name: str = "attention") -> int:
    """Number of tokens ``n`` of an [n, n], [H, n, n] or [1, H, n, n] matrix (shape check only)."""
    if is_sparse_input(value):
        return sparse_size(value, name)
    tensor = _as_tensor(value, name)
    _check_shape(tensor, name)
    return int(tensor.shape[-1])


def layer_list(attentions: Any, name: str = "attentions") -> list[Any]:
    """Split per-layer attention into a list of raw layers, first layer first.

    Accepts a sequence of matrices (each [n, n], [H, n, n] or [1, H, n, n], as captured from a
    model), a mapping ``{layer_index: matrix}`` (sorted by index), a single [n, n] matrix (one
    layer), an [L, n, n] stack or an [L, H, n, n] stack (heads averaged per layer). A single
    sparse layer (a scipy sparse matrix or a PyG ``Data``) is one layer.
    """
    if is_sparse_input(attentions):
        layers = [attentions]
    elif isinstance(attentions, Mapping):
        layers = [attentions[k] for k in sorted(attentions)]
    elif isinstance(attentions, (np.ndarray, torch.Tensor)):
        if attentions.ndim == 2:
            layers = [attentions]
        elif attentions.ndim in (3, 4):
            layers = list(attentions)
        else:
            raise ShapeError(
                f"{name}: expected [n, n], [L, n, n] or [L, H, n, n], got shape "
                f"{tuple(attentions.shape)}"
            )
    elif isinstance(attentions, Sequence):
        layers = list(attentions)
    else:
        raise ShapeError(
            f"{name}: expected a list of attention matrices or an array, got "
            f"{type(attentions).__name__}"
        )
    if not layers:
        raise EmptyInputError(f"{name}: expected at least one layer, got none")
    return layers


def residual_shares(rho: RhoLike, num_layers: int, n: int, name: str = "rho") -> np.ndarray:
    """Broadcast ``rho`` (a float, an [L] or an [L, n] array) to float64 [L, n] in [0, 1]."""
    arr = np.asarray(rho.detach().cpu() if isinstance(rho, torch.Tensor) else rho, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full((num_layers, n), float(arr))
    elif arr.shape == (num_layers,):
        arr = np.repeat(arr[:, None], n, axis=1)
    elif arr.shape != (num_layers, n):
        raise ShapeError(
            f"{name}: expected a float, an [L] = [{num_layers}] or an [L, n] = [{num_layers}, {n}] "
            f"array, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or arr.min() < 0.0 or arr.max() > 1.0:
        raise TgnnError(f"{name}: expected residual shares in [0, 1], got values outside")
    return arr


def check_assumption_h(matrix: np.ndarray, name: str = "attention") -> None:
    """Raise :class:`~tgnn.errors.NotReachableError` if some token j >= 1 reads only itself.

    Assumption H: ``A[j, j] < 1`` for every ``j >= 1`` (a softmax with a causal mask always
    satisfies it). Without it token j is a second absorbing state, and token 0 is not globally
    reachable.
    """
    escape = 1.0 - np.diag(matrix)[1:]
    bad = np.flatnonzero(escape <= 1e-14)
    if bad.size:
        j = int(bad[0]) + 1
        raise NotReachableError(
            f"{name}: assumption H (A[j, j] < 1 for every token j >= 1) fails at token {j}: "
            f"A[{j}, {j}] = {matrix[j, j]:.6g}, so token 0 is not reachable from token {j}"
        )


def resolve_token(index: int, n: int, name: str = "target") -> int:
    """Turn a (possibly negative, Python-style) token index into ``0 <= index < n``."""
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise ShapeError(f"{name}: expected an integer token index, got {type(index).__name__}")
    if not -n <= int(index) < n:
        raise ShapeError(f"{name}: expected a token index in [-{n}, {n}), got {index}")
    return int(index) % n
