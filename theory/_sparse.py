"""Sparse attention input of :mod:`tgnn.theory`: scipy sparse matrices and PyG ``Data``.

A long-context capture gives, per layer, the kept edges of the attention graph, never an n x n
array. This module turns such a layer into a validated float64 CSR ``A`` (row ``i`` is query
``i``: ``A[i, j]`` is how much ``i`` reads ``j``) with the checks of the dense path
(:func:`tgnn.theory._inputs.as_matrix`) and the same error types, and holds the size guard of the
dense paths (:data:`DENSE_MAX_NODES`).

Accepted per layer:

- a scipy sparse array or matrix ``[n, n]`` (any format), read as ``A[i, j]``;
- a PyG ``Data`` whose column ``edge_index[:, e] = [j, i]`` carries ``A[i, j]`` in
  ``edge_weight[e]`` (or the mean over heads of ``edge_attr[e]`` ``[E, H]``), with ``num_nodes``
  nodes (the graph convention of the project: information flows ``j -> i``).

Repeated entries add up. Rows are checked as on the dense path, except that a row may also sum to
less than one where the caller allows it (``substochastic``): the mass of the dropped edges of a
top-k / top-p sparsification. Rows within the dtype's tolerance of one are renormalised exactly
as on the dense path, so that both paths give the same numbers on the same matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from tgnn._checks import row_sum_tolerance
from tgnn.errors import (
    EmptyInputError,
    GraphError,
    NonFiniteError,
    NotCausalError,
    NotStochasticError,
    ShapeError,
    SizeLimitError,
)

__all__ = [
    "DENSE_MAX_NODES",
    "is_sparse_input",
    "sparse_size",
    "sparse_attention",
    "check_dense_size",
]

#: Largest number of tokens that a dense (n x n) path of :mod:`tgnn.theory` accepts: above it an
#: n x n float64 array needs more than 3 GiB, and the O(n^3) solves take hours on a laptop.
DENSE_MAX_NODES = 20_000


def _is_data(value: Any) -> bool:
    return hasattr(value, "edge_index") and not isinstance(value, (torch.Tensor, np.ndarray))


def is_sparse_input(value: Any) -> bool:
    """True for a scipy sparse array / matrix or a PyG ``Data`` (one sparse attention layer)."""
    return bool(sp.issparse(value)) or _is_data(value)


def check_dense_size(n: int, name: str, what: str, alternative: str) -> None:
    """Raise :class:`~tgnn.errors.SizeLimitError` when ``n > DENSE_MAX_NODES``.

    ``what`` names the function whose dense path would run, ``alternative`` the sparse call to
    use instead.
    """
    if n > DENSE_MAX_NODES:
        gib = 8.0 * n * n / 2**30
        raise SizeLimitError(
            f"{name}: {what} needs dense n x n work, allowed up to n = {DENSE_MAX_NODES} tokens "
            f"(tgnn.theory.DENSE_MAX_NODES), got n = {n} (one n x n float64 array alone would "
            f"take {gib:.1f} GiB); use {alternative} instead"
        )


def _numpy(value: Any, name: str) -> tuple[np.ndarray, torch.dtype]:
    """``value`` as numpy (bfloat16 widened to float32) and its dtype for the row tolerance."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        wide = tensor.float() if tensor.dtype == torch.bfloat16 else tensor
        return wide.numpy(), tensor.dtype
    if isinstance(value, np.ndarray):
        kind = value.dtype if value.dtype.kind == "f" else np.dtype(np.float64)
        return value, torch.from_numpy(np.zeros(0, dtype=kind)).dtype
    got = type(value).__name__
    raise ShapeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {got}")


def _data_weights(data: Any, name: str, edges: int) -> tuple[np.ndarray, torch.dtype]:
    weight = getattr(data, "edge_weight", None)
    field = "edge_weight"
    if weight is None:
        weight, field = getattr(data, "edge_attr", None), "edge_attr"
    if weight is None:
        raise GraphError(
            f"{name}.edge_weight: expected the attention weight of each edge (edge_weight [E] or "
            f"edge_attr [E, H]), got neither"
        )
    w, dtype = _numpy(weight, f"{name}.{field}")
    if w.dtype.kind != "f":
        raise ShapeError(f"{name}.{field}: expected a floating-point dtype, got {w.dtype}")
    if w.ndim == 2 and field == "edge_attr":
        w = w.astype(np.float64).mean(axis=1)  # heads averaged, as for dense [H, n, n]
    if w.ndim != 1 or w.shape[0] != edges:
        raise ShapeError(
            f"{name}.{field}: expected shape [{edges}] (or [{edges}, H] for edge_attr), got "
            f"{tuple(np.shape(weight))}"
        )
    return w, dtype


def _from_data(data: Any, name: str) -> tuple[sp.csr_array, torch.dtype]:
    ei, _ = _numpy(data.edge_index, f"{name}.edge_index")
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ShapeError(f"{name}.edge_index: expected shape [2, E], got {tuple(ei.shape)}")
    if ei.size and not np.issubdtype(ei.dtype, np.integer):
        raise ShapeError(f"{name}.edge_index: expected an integer dtype, got {ei.dtype}")
    n = sparse_size(data, name)
    if n <= 0:
        raise EmptyInputError(f"{name}: expected at least one token, got an empty sequence")
    ei = ei.astype(np.int64, copy=False)
    if ei.size and (ei.min() < 0 or ei.max() >= n):
        raise GraphError(
            f"{name}.edge_index: expected node ids in [0, {n}), got range [{ei.min()}, {ei.max()}]"
        )
    w, dtype = _data_weights(data, name, ei.shape[1])
    # edge [j, i] carries A[i, j]: row = query i = edge_index[1], column = key j = edge_index[0]
    a = sp.csr_array((w.astype(np.float64), (ei[1], ei[0])), shape=(n, n))
    return a, dtype


def _from_scipy(value: Any, name: str) -> tuple[sp.csr_array, torch.dtype]:
    if value.ndim != 2 or value.shape[0] != value.shape[1]:
        raise ShapeError(f"{name}: expected square sparse attention [n, n], got {value.shape}")
    if value.shape[0] == 0:
        raise EmptyInputError(f"{name}: expected at least one token, got an empty sequence")
    if value.dtype.kind != "f":
        raise ShapeError(
            f"{name}: expected a floating-point sparse matrix, got dtype {value.dtype}"
        )
    kind = value.dtype if value.dtype.itemsize <= 8 else np.dtype(np.float64)
    dtype = torch.from_numpy(np.zeros(0, dtype=kind)).dtype
    return sp.csr_array(value, dtype=np.float64, copy=True), dtype


def sparse_size(value: Any, name: str = "attention") -> int:
    """Number of tokens of one sparse layer (shape check only)."""
    if _is_data(value):
        graphs = getattr(value, "num_graphs", 1)
        if isinstance(graphs, int) and graphs > 1:
            raise ShapeError(
                f"{name}: expected one sequence (a Data), got a Batch of {graphs} graphs; "
                f"select one sequence first (batch[k] or batch.get_example(k))"
            )
        if getattr(value, "num_nodes", None) is None:
            raise GraphError(f"{name}.num_nodes: expected the number of tokens, got None")
        return int(value.num_nodes)
    if value.ndim != 2 or value.shape[0] != value.shape[1]:
        raise ShapeError(f"{name}: expected square sparse attention [n, n], got {value.shape}")
    return int(value.shape[0])


def _rows_of(a: sp.csr_array) -> np.ndarray:
    return np.repeat(np.arange(a.shape[0]), np.diff(a.indptr))


def _check_causal(a: sp.csr_array, name: str) -> None:
    above = a.data[a.indices > _rows_of(a)]
    worst = float(np.abs(above).max(initial=0.0))
    if worst > 0:
        raise NotCausalError(
            f"{name}: asserted causal (A[i, j] = 0 for j > i), got weight up to "
            f"{worst:.3g} above the diagonal"
        )


def _check_stochastic(a: sp.csr_array, tol: float, name: str, substochastic: bool) -> bool:
    """Check row sums and signs, renormalise rows within ``tol`` of one; True if all are."""
    sums = np.asarray(a.sum(axis=1)).ravel()
    worst = float((sums - 1.0).max(initial=0.0)) if substochastic else float(
        np.abs(sums - 1.0).max(initial=0.0)
    )
    if worst > tol:
        expected = "at most one" if substochastic else "to one"
        raise NotStochasticError(
            f"{name}: expected rows summing {expected} (tolerance {tol:.1e}), got a row sum off "
            f"by {worst:.3g}"
        )
    low = float(a.data.min(initial=0.0))
    if low < 0:
        if low < -tol:
            raise NotStochasticError(
                f"{name}: expected non-negative weights, got minimum {low:.3g}"
            )
        np.maximum(a.data, 0.0, out=a.data)
        sums = np.asarray(a.sum(axis=1)).ravel()
    full = np.abs(sums - 1.0) <= tol
    scale = np.where(full & (sums > 0), sums, 1.0)
    a.data /= np.repeat(scale, np.diff(a.indptr))
    return bool(full.all())


def sparse_attention(
    value: Any,
    name: str = "attention",
    *,
    causal: bool = True,
    stochastic: bool = True,
    substochastic: bool = False,
) -> tuple[sp.csr_array, bool]:
    """Validated float64 CSR ``A`` of one sparse layer and whether every row sums to one.

    Checks, with the error types of the dense path: shape and dtype (:class:`ShapeError`), no
    tokens (:class:`EmptyInputError`), NaN / Inf (:class:`NonFiniteError`), row sums within
    :func:`~tgnn.convert.validate.row_sum_tolerance` of one, or at most one with
    ``substochastic`` (:class:`NotStochasticError`), signs, and no weight above the diagonal
    with ``causal`` (:class:`NotCausalError`). Without ``stochastic`` the weights need only be
    non-negative (:class:`GraphError`). Cost O(nnz + n); no n x n array.
    """
    a, dtype = _from_data(value, name) if _is_data(value) else _from_scipy(value, name)
    a.sum_duplicates()
    bad = int((~np.isfinite(a.data)).sum())
    if bad:
        raise NonFiniteError(f"{name}: expected finite values, got {bad} NaN/Inf entries")
    full = True
    if stochastic:
        tol = row_sum_tolerance(dtype, a.shape[0])
        full = _check_stochastic(a, tol, name, substochastic)
    elif a.data.size and a.data.min() < 0:
        raise GraphError(
            f"{name}: expected non-negative edge weights, got minimum {a.data.min():.3g}"
        )
    if causal:
        _check_causal(a, name)
    a.eliminate_zeros()
    return a, full
