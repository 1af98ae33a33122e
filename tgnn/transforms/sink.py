r"""AddSinkNode: put an explicit attention sink at position 0 of an attention graph."""

from __future__ import annotations

import torch
from torch_geometric.data import Data
from torch_geometric.data.datapipes import functional_transform
from torch_geometric.transforms import BaseTransform

from tgnn._params import check_real
from tgnn.metrics.prepared import PreparedGraph
from tgnn.transforms._input_graph import as_data
from tgnn.transforms._insert import check_single_sequence, insert_nodes, token_positions

__all__ = ["AddSinkNode"]


@functional_transform("add_sink_node")
class AddSinkNode(BaseTransform):
    r"""Prepend a sink token that every token reads with mass ``p``.

    Semantics on an attention graph of ``n`` tokens (``edge_weight[e] = A[i, j]`` on ``j -> i``):
    the result has ``n + 1`` nodes; the sink is node 0 at position 0, token ``t`` becomes node
    ``t + 1`` at position ``pos[t] + 1``. The new attention is

    .. math:: A'[0, 0] = 1,\qquad A'[i + 1, 0] = p,\qquad A'[i + 1, j + 1] = (1 - p) A[i, j]

    so rows stay stochastic and causality is kept (the sink reads only itself). ``edge_attr``
    (per-head weights) is scaled the same way. The ``n + 1`` new edges (``0 -> t``, and the
    sink's self-loop) are flagged in ``edge_added``, the sink in ``node_added``; other
    node-level tensors get zeros at the sink. On ``sink_mixture``-style uniform attention this
    is the ``A_p = p E + (1 - p) U`` model of the causal-resistance theory, with the sink
    explicit.

    Parameters
    ----------
    p
        Mass every token sends to the sink, in ``[0, 1]`` (else :class:`~tgnn.errors.ShapeError`
        at construction).

    Complexity: ``O(n + E)``.

    Examples
    --------
    >>> import torch
    >>> from torch_geometric.data import Data
    >>> data = Data(edge_index=torch.tensor([[0, 0, 1], [0, 1, 1]]),
    ...             edge_weight=torch.tensor([1.0, 0.5, 0.5]), num_nodes=2, is_causal=True)
    >>> out = AddSinkNode(p=0.5)(data)
    >>> out.num_nodes, out.edge_index.tolist(), out.edge_weight.tolist()
    (3, [[1, 1, 2, 0, 0, 0], [1, 2, 2, 0, 1, 2]], [0.5, 0.25, 0.25, 1.0, 0.5, 0.5])
    """

    def __init__(self, p: float = 0.2) -> None:
        self.p = check_real(p, "p", 0.0, 1.0)

    def forward(self, data: Data | PreparedGraph) -> Data:
        data = as_data(data)
        graph = check_single_sequence(data, "AddSinkNode")
        n = graph.num_nodes
        pos = token_positions(data, n)
        targets = torch.arange(n + 1)
        new_edges = torch.stack([torch.zeros(n + 1, dtype=torch.long), targets])
        weight = torch.full((n + 1,), self.p, dtype=torch.float64)
        weight[0] = 1.0
        scale = torch.full((n + 1,), 1.0 - self.p, dtype=torch.float64)
        new_pos = torch.cat([torch.zeros(1, dtype=pos.dtype), pos + 1])
        old_to_new = torch.arange(1, n + 1)
        return insert_nodes(data, graph, old_to_new, n + 1, new_pos, scale, new_edges, weight)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"
