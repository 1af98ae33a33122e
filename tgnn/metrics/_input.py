"""Checks of the raw input of the graph metrics: the graph, its weights and integer parameters.

:func:`edges` is the one door through which every graph metric reads ``Data`` or
``edge_index, edge_weight, num_nodes`` (see :mod:`tgnn.metrics._graph` for the rules). Every
refusal is a :mod:`tgnn.errors` type whose message names the argument, what was expected and
what came.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch

from tgnn.errors import EmptyInputError, GraphError, NonFiniteError, ShapeError, TgnnError

__all__ = [
    "as_numpy", "integer", "real", "node_id", "positions", "size_limits", "unpack", "edges",
]

GraphInput = Any  # a torch_geometric Data, or an edge_index tensor / array


def as_numpy(x: Any, name: str) -> np.ndarray:
    """A tensor (any device; bfloat16 and other types numpy lacks widened to float32) or an
    array as a numpy array; anything else is a :class:`~tgnn.errors.ShapeError`."""
    if isinstance(x, Tensor):
        x = x.detach().cpu()
        if x.is_floating_point() and x.dtype not in (torch.float16, torch.float32, torch.float64):
            x = x.to(torch.float32)
        elif x.dtype == torch.complex32:
            x = x.to(torch.complex64)
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x
    raise ShapeError(f"{name}: expected a torch.Tensor or numpy array, got {type(x).__name__}")


def integer(
    value: Any, name: str, minimum: int | None = None, error: type[TgnnError] = GraphError
) -> int:
    """``value`` as a Python int: an int, numpy integer or one-element integer tensor.

    Floats (even ``8.0``), bools and anything else raise ``error``
    (:class:`~tgnn.errors.GraphError` by default) rather than being truncated; so does a value
    below ``minimum``.
    """
    item = value
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        item = value.item()
    if isinstance(item, (bool, np.bool_)):
        raise error(f"{name}: expected an integer, got the bool {value!r}")
    try:
        out = operator.index(item)
    except TypeError:
        raise error(
            f"{name}: expected an integer, got {value!r} ({type(value).__name__}); "
            "non-integers are not truncated"
        ) from None
    if minimum is not None and out < minimum:
        raise error(f"{name}: expected an integer >= {minimum}, got {out}")
    return out


def real(value: Any, name: str, error: type[TgnnError] = GraphError) -> float:
    """``value`` as a finite Python float: an int, float, numpy number or one-element real
    tensor. NaN, infinities, bools, strings and complex numbers raise ``error``
    (:class:`~tgnn.errors.GraphError` by default)."""
    item = value.item() if isinstance(value, Tensor) and value.numel() == 1 else value
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, float, np.number)) \
            or isinstance(item, (complex, np.complexfloating)):
        raise error(f"{name}: expected a real number, got {value!r} ({type(value).__name__})")
    out = float(item)
    if not np.isfinite(out):
        raise error(f"{name}: expected a finite number, got {out}")
    return out


def positions(
    values: Any, name: str, n: int, error: type[TgnnError] = GraphError, upper: bool = False,
    from_end: bool = False,
) -> list[int]:
    """A non-empty sequence of integer indices in ``[0, n)`` (``[0, n]`` with ``upper``):
    floats are refused rather than truncated; negative ids count from the end only with
    ``from_end`` (``-1`` is the last token, as in Python), and are returned as ``n + id``."""
    items = list(values.reshape(-1)) if isinstance(values, (Tensor, np.ndarray)) else list(values)
    out = [integer(v, name, error=error) for v in items]
    top = n + 1 if upper else n
    low = -top if from_end else 0
    if not out or min(out) < low or max(out) >= top:
        raise error(f"{name}: expected indices in [{low}, {top}), got {out}")
    return [v + top if v < 0 else v for v in out]


def size_limits(dense_max: Any, factor_max: Any) -> tuple[int, int | None]:
    """``dense_max`` (an integer >= 0) and ``factor_max`` (None or an integer >= 1)."""
    dense = integer(dense_max, "dense_max", minimum=0)
    return dense, None if factor_max is None else integer(factor_max, "factor_max", minimum=1)


def node_id(value: Any, name: str, n: int) -> int:
    """An integer node id in ``[0, n)`` (negative ids do not count from the end)."""
    out = integer(value, name)
    if not 0 <= out < n:
        raise GraphError(f"{name}: expected a node id in [0, {n}), got {out}")
    return out


def unpack(
    graph: GraphInput, edge_weight: Any, num_nodes: Any
) -> tuple[Any, Any, Any]:
    """Split a ``Data`` into its parts; a bare edge_index passes through.

    A PyG ``Batch`` of several graphs is refused (its nodes would be read as one disconnected
    graph); a ``Batch`` of one graph is that graph.
    """
    if isinstance(graph, Batch) and graph.num_graphs > 1:
        raise GraphError(
            f"graph: expected one graph, got a torch_geometric Batch of {graph.num_graphs} "
            "graphs (it would be read as one disconnected graph); call the metric per graph: "
            "[f(g) for g in batch.to_data_list()]"
        )
    if hasattr(graph, "edge_index") and not isinstance(graph, (Tensor, np.ndarray)):
        if edge_weight is None:
            edge_weight = getattr(graph, "edge_weight", None)
        if num_nodes is None:
            num_nodes = graph.num_nodes
        graph = graph.edge_index
    return graph, edge_weight, num_nodes


def _weights(edge_weight: Any, m: int) -> np.ndarray:
    """Finite, non-negative, real float64 weights, one per edge column."""
    if edge_weight is None:
        return np.ones(m, dtype=np.float64)
    raw = as_numpy(edge_weight, "edge_weight")
    if np.iscomplexobj(raw):
        raise ShapeError(
            f"edge_weight: expected real weights, got dtype {raw.dtype} (the imaginary part "
            "would be dropped); pass .real or .abs() explicitly"
        )
    if not (np.issubdtype(raw.dtype, np.number) or raw.dtype == np.bool_):
        raise ShapeError(f"edge_weight: expected a numeric dtype, got {raw.dtype}")
    w = raw.astype(np.float64, copy=False)
    if w.ndim != 1 or w.shape[0] != m:
        raise ShapeError(
            f"edge_weight: expected shape [{m}] (one weight per edge_index column), "
            f"got {tuple(w.shape)}"
        )
    if not np.isfinite(w).all():
        raise NonFiniteError(
            f"edge_weight: expected finite values, got {int((~np.isfinite(w)).sum())} NaN/Inf"
        )
    if (w < 0).any():
        raise GraphError(f"edge_weight: expected non-negative weights, got minimum {w.min():.3g}")
    return w


def edges(
    graph: GraphInput, edge_weight: Any, num_nodes: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Validated ``(row, col, weight, n)`` of the input, self-loops kept.

    Both rows of ``edge_index`` are range-checked against ``[0, num_nodes)``.
    """
    graph, edge_weight, num_nodes = unpack(graph, edge_weight, num_nodes)
    if num_nodes is None:
        raise GraphError("num_nodes: expected the number of nodes explicitly, got None")
    n = integer(num_nodes, "num_nodes")
    if n <= 0:
        raise EmptyInputError(f"num_nodes: expected a graph with at least one node, got {n}")
    ei = as_numpy(graph, "edge_index")
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ShapeError(f"edge_index: expected shape [2, E], got {tuple(ei.shape)}")
    if ei.size and not np.issubdtype(ei.dtype, np.integer):  # an empty one has no ids to misread
        raise ShapeError(f"edge_index: expected an integer dtype, got {ei.dtype}")
    if ei.size and (ei.min() < 0 or ei.max() >= n):
        bad = int(((ei < 0) | (ei >= n)).sum())
        raise GraphError(
            f"edge_index: expected node ids in [0, {n}), got range [{ei.min()}, {ei.max()}] "
            f"({bad} ids out of range)"
        )
    ei = ei.astype(np.int64, copy=False)
    return ei[0], ei[1], _weights(edge_weight, ei.shape[1]), n
