r"""VirtualNode: a global token that reads every token and that every token reads."""

from __future__ import annotations

import torch
from torch_geometric.data import Data
from torch_geometric.data.datapipes import functional_transform
from torch_geometric.transforms import BaseTransform

from tgnn._params import check_flag, check_real
from tgnn.errors import NotCausalError
from tgnn.metrics.prepared import PreparedGraph
from tgnn.transforms._input_graph import as_data
from tgnn.transforms._insert import check_single_sequence, insert_nodes, token_positions
from tgnn.transforms._rewire import resolve_causal

__all__ = ["VirtualNode"]


@functional_transform("attention_virtual_node")
class VirtualNode(BaseTransform):
    r"""Append a virtual (global) node to a bidirectional attention graph.

    Semantics on an attention graph of ``n`` tokens: node ``n`` is added (``pos = max(pos) + 1``),
    it reads every token uniformly and every token reads it with mass ``p``:

    .. math:: A'[n, j] = 1/n,\qquad A'[i, n] = p,\qquad A'[i, j] = (1 - p) A[i, j]

    (rows stay stochastic; the virtual node has no self-loop). Its ``2 n`` edges are flagged in
    ``edge_added`` and the node in ``node_added``. This is the attention analogue of PyG's
    ``VirtualNode`` (Gilmer et al. 2017) and of global tokens in Longformer / BigBird, and it
    makes every pair of tokens two hops apart.

    A virtual node breaks causality (token ``i`` would read, through it, tokens after ``i``),
    so causal graphs are rejected with :class:`~tgnn.errors.NotCausalError`; the causal
    counterpart is :class:`~tgnn.transforms.AddSinkNode` (a global node at position 0 that reads
    only itself). Pass ``causal=False`` to force it on a causal graph.

    Parameters
    ----------
    p
        Mass every token sends to the virtual node, in ``[0, 1]``.
    causal
        ``None``: ``data.is_causal``.

    Raises
    ------
    ShapeError
        At construction, for ``p`` outside ``[0, 1]`` or ``causal`` not a bool or None.

    Examples
    --------
    >>> from tgnn.graphs import uniform_bidirectional
    >>> from tgnn.convert import attention_to_data
    >>> out = VirtualNode(p=0.5)(attention_to_data(uniform_bidirectional(2)))
    >>> out.num_nodes, int(out.edge_added.sum()), out.node_added.tolist()
    (3, 4, [False, False, True])
    """

    def __init__(self, p: float = 0.2, causal: bool | None = None) -> None:
        self.p = check_real(p, "p", 0.0, 1.0)
        self.causal = check_flag(causal, "causal")

    def forward(self, data: Data | PreparedGraph) -> Data:
        data = as_data(data)
        graph = check_single_sequence(data, "VirtualNode")
        n = graph.num_nodes
        if resolve_causal(data, self.causal):
            raise NotCausalError(
                "data: VirtualNode expects a bidirectional attention graph, got is_causal=True "
                "(a node reading all tokens leaks the future); use AddSinkNode or causal=False"
            )
        tokens = torch.arange(n)
        hub = torch.full((n,), n, dtype=torch.long)
        edges = torch.cat([torch.stack([hub, tokens]), torch.stack([tokens, hub])], dim=1)
        weight = torch.full((2 * n,), 1.0 / max(n, 1), dtype=torch.float64)
        weight[:n] = self.p  # in float64 (p rounded to float32 left rows 1e-8 off one)
        scale = torch.full((n + 1,), 1.0 - self.p, dtype=torch.float64)
        pos = token_positions(data, n)
        new_pos = torch.cat([pos, torch.tensor([int(pos.max()) + 1 if n else 0])])
        return insert_nodes(data, graph, tokens, n + 1, new_pos, scale, edges, weight)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"
