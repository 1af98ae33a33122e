"""The one input check of every transform: one graph, its node count, edge_index and weights.

Every transform calls :func:`checked_graph` once on its input. The edge list goes through the
same validator as the graph metrics (:func:`tgnn.metrics._input.edges`), so a transform accepts
exactly the graphs a metric accepts:

* a :class:`~torch_geometric.data.Batch` of several graphs is refused (rewiring it as one graph
  would join its graphs); apply the transform to each graph of ``Batch.to_data_list()``;
* ``num_nodes`` must be set or given by a node-level tensor, an integer ``>= 0``
  (:func:`tgnn._params.check_num_nodes`);
* ``edge_index``: shape ``[2, E]``, an integer dtype, every id of *both* rows in
  ``[0, num_nodes)`` (negative ids are refused, not wrapped);
* ``edge_weight`` (optional): shape ``[E]``, real, finite, non-negative; any float dtype
  (bf16 included) is read in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from tgnn._params import check_num_nodes
from tgnn.errors import GraphError, ShapeError
from tgnn.metrics._input import edges as _edges
from tgnn.metrics.prepared import PreparedGraph

__all__ = ["CheckedGraph", "as_data", "checked_graph", "refuse_batch"]


@dataclass(frozen=True)
class CheckedGraph:
    """A validated graph: node count, ``edge_index`` as int64 and the edges as numpy arrays.

    ``weight`` is float64, one per edge (ones when the input has no ``edge_weight``).
    """

    num_nodes: int
    edge_index: Tensor
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray


def as_data(data: Data | PreparedGraph) -> Data:
    """``data`` itself, or a :class:`~tgnn.metrics.prepared.PreparedGraph` as a ``Data``."""
    return data.to_data() if isinstance(data, PreparedGraph) else data


def refuse_batch(data: Data, name: str) -> None:
    """Raise :class:`~tgnn.errors.GraphError` for a ``Batch`` of more than one graph."""
    num_graphs = getattr(data, "num_graphs", None)
    if isinstance(num_graphs, int) and num_graphs > 1:
        raise GraphError(
            f"data: {name} expects one graph, got a batch of {num_graphs}; apply it to each "
            "graph of Batch.to_data_list()"
        )


def _tensor(value: object, name: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise ShapeError(f"data.{name}: expected a torch.Tensor, got {type(value).__name__}")
    return value


def checked_graph(data: Data, name: str) -> CheckedGraph:
    """Validate ``data`` for the transform ``name`` (see the module docstring) and split it.

    Examples
    --------
    >>> graph = checked_graph(Data(edge_index=torch.tensor([[0], [1]]), num_nodes=3), "SDRF")
    >>> graph.num_nodes, graph.src.tolist(), graph.weight.tolist()
    (3, [0], [1.0])
    >>> checked_graph(Data(edge_index=torch.tensor([[0], [-1]]), num_nodes=3), "SDRF")
    Traceback (most recent call last):
    tgnn.errors.GraphError: edge_index: expected node ids in [0, 3), got range [-1, 0]...
    """
    refuse_batch(data, name)
    n = check_num_nodes(data)
    raw = data.edge_index if "edge_index" in data else None
    edge_index = torch.zeros(2, 0, dtype=torch.long) if raw is None else _tensor(raw, "edge_index")
    weight = data.edge_weight if "edge_weight" in data else None
    if weight is not None:
        weight = _tensor(weight, "edge_weight")
        if weight.is_complex() or weight.dtype == torch.bool:
            raise ShapeError(f"edge_weight: expected real weights, got dtype {weight.dtype}")
        weight = weight.detach().to(torch.float64)
    if n == 0 and edge_index.numel():  # the metrics' validator needs n >= 1
        raise GraphError(
            f"edge_index: expected no edges on a graph of 0 nodes, got shape "
            f"{tuple(edge_index.shape)}"
        )
    src, dst, w, _ = _edges(edge_index.detach(), weight, max(n, 1))
    return CheckedGraph(n, edge_index.long(), src, dst, w)
