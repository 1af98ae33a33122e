r"""Insert new nodes (sink, pause tokens, virtual node) into a single-sequence attention graph.

Old node ``t`` becomes ``old_to_new[t]``; node-level tensors are scattered to the new ids (new
nodes get zeros; ``pos`` is set by the caller); incoming weights of every old edge are scaled by
``scale[target]`` (``edge_weight`` and a floating ``edge_attr [E, H]`` alike, the per-head
weights); the new edges are appended with their weight (the same for every head) and flagged
in ``edge_added``; new nodes are flagged in ``node_added``. The input is validated once
(:func:`tgnn.transforms._input_graph.checked_graph`: both rows of ``edge_index`` range-checked, so a
negative id is refused rather than read from the end of ``old_to_new``).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor
from torch_geometric.data import Data

from tgnn.errors import GraphError, ShapeError
from tgnn.transforms._input_graph import CheckedGraph, checked_graph

WEIGHT_KEYS = ("edge_weight", "edge_attr")


def check_single_sequence(data: Data, name: str) -> CheckedGraph:
    """A one-sequence attention graph, validated (``Batch``es and unrolled graphs rejected)."""
    graph = checked_graph(data, name)
    unrolled = isinstance(getattr(data, "layer", None), Tensor)
    if getattr(data, "num_graphs", 1) not in (None, 1) or unrolled:
        raise GraphError(
            f"data: {name} expects one single-layer attention graph, got a batch or an unrolled "
            "graph; apply it to each graph of Batch.to_data_list()"
        )
    return graph


def token_positions(data: Data, n: int) -> Tensor:
    """``data.pos`` (token positions, one row per node), or ``0..n-1`` when absent."""
    pos = getattr(data, "pos", None)
    if pos is None:
        return torch.arange(n)
    if not isinstance(pos, Tensor) or pos.dim() == 0 or pos.size(0) != n:
        shape = tuple(pos.shape) if isinstance(pos, Tensor) else type(pos).__name__
        raise ShapeError(
            f"data.pos: expected one position per node, [{n}] or [{n}, d], got {shape}"
        )
    return pos.reshape(n, -1)[:, 0].long()


def insert_nodes(
    data: Data,
    graph: CheckedGraph,
    old_to_new: Tensor,
    total: int,
    new_pos: Tensor,
    scale: Tensor,
    new_edges: Tensor,
    new_weight: Tensor,
) -> Data:
    """Shallow copy of ``data`` (validated as ``graph``) with the nodes and edges inserted
    (see module docstring)."""
    n, ei = graph.num_nodes, graph.edge_index
    num_edges = ei.size(1)
    out = copy.copy(data)
    for key, value in data.items():
        if not isinstance(value, Tensor) or key in ("edge_index", "pos", "edge_added"):
            continue
        if data.is_node_attr(key) and value.dim() >= 1 and value.size(0) == n:
            fresh = torch.zeros((total, *value.shape[1:]), dtype=value.dtype)
            fresh[old_to_new] = value
            out[key] = fresh
        elif data.is_edge_attr(key) and value.dim() >= 1 and value.size(0) == num_edges:
            k = new_edges.size(1)
            if key in WEIGHT_KEYS and value.is_floating_point():
                factor = scale[old_to_new[ei[1]]].to(value.dtype)
                old = value * factor.reshape(-1, *([1] * (value.dim() - 1)))
                pad = new_weight.to(value.dtype).reshape(-1, *([1] * (value.dim() - 1)))
                pad = pad.expand(k, *value.shape[1:])
            else:
                old = value
                pad = torch.zeros((k, *value.shape[1:]), dtype=value.dtype)
            out[key] = torch.cat([old, pad], dim=0)
    flag = data.edge_added if "edge_added" in data else torch.zeros(num_edges, dtype=torch.bool)
    out.edge_added = torch.cat([flag, torch.ones(new_edges.size(1), dtype=torch.bool)])
    node_flag = torch.ones(total, dtype=torch.bool)
    node_flag[old_to_new] = data.node_added if "node_added" in data else False
    out.node_added = node_flag
    out.edge_index = torch.cat([old_to_new[ei], new_edges], dim=1)
    out.pos = new_pos
    out.num_nodes = total
    return out
