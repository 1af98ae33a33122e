r"""AddPauseTokens: insert pause tokens at the start and/or end of an attention graph."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.data.datapipes import functional_transform
from torch_geometric.transforms import BaseTransform

from tgnn._params import check_count, check_flag, check_real
from tgnn.metrics.prepared import PreparedGraph
from tgnn.transforms._input_graph import as_data
from tgnn.transforms._insert import check_single_sequence, insert_nodes, token_positions
from tgnn.transforms._rewire import resolve_causal

__all__ = ["AddPauseTokens"]


def _block(keys: Tensor, queries: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """All edges ``keys x queries`` (key -> query); ``weight[q]`` per query."""
    src = keys.repeat(queries.numel())
    dst = queries.repeat_interleave(keys.numel())
    return torch.stack([src, dst]), weight.repeat_interleave(keys.numel())


def pause_edges(
    n: int, num_start: int, num_end: int, pause_mass: float, causal: bool
) -> tuple[Tensor, Tensor]:
    """New edges and weights of :class:`AddPauseTokens` in the new node numbering."""
    s, m = num_start, num_start + n + num_end
    pauses = torch.cat([torch.arange(s), torch.arange(s + n, m)])
    content = torch.arange(s, s + n)
    parts: list[tuple[Tensor, Tensor]] = []
    content_keys = pauses[:s] if causal else pauses
    if content_keys.numel():
        w = torch.full((n,), pause_mass / content_keys.numel(), dtype=torch.float64)
        parts.append(_block(content_keys, content, w))
    for q in pauses.tolist():
        keys = pauses[pauses <= q] if causal else pauses
        reads_content = not causal or q >= s + n
        share = pause_mass if reads_content and n else 1.0
        one = torch.tensor([q])
        parts.append(_block(keys, one, torch.tensor([share / keys.numel()], dtype=torch.float64)))
        if reads_content and n:
            w = torch.tensor([(1.0 - share) / n], dtype=torch.float64)
            parts.append(_block(content, one, w))
    if not parts:
        return torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.float64)
    return torch.cat([p[0] for p in parts], 1), torch.cat([p[1] for p in parts])


@functional_transform("add_pause_tokens")
class AddPauseTokens(BaseTransform):
    r"""Insert ``num_start`` pause tokens before and ``num_end`` after the sequence.

    Semantics (Goyal et al. 2024, "Think before you speak: training language models with pause
    tokens"), on an attention graph of ``n`` tokens whose node order is token order: the result
    has ``m = num_start + n + num_end`` nodes; token ``t`` becomes node ``num_start + t``
    (``pos`` shifted by ``num_start``), start pauses are nodes ``0 .. num_start - 1`` and end
    pauses follow the last token. A key is visible to a query when it is not later (causal) or
    always (bidirectional). Then

    * a content query that sees ``P`` pause tokens reads each with ``pause_mass / P`` and keeps
      its old row scaled by ``1 - pause_mass`` (unchanged when it sees none);
    * a pause query reads its visible pauses uniformly with total ``pause_mass`` and its visible
      content tokens uniformly with the rest (a causal start pause sees no content: it reads the
      pauses up to itself with total mass 1).

    Rows stay stochastic and causal graphs stay causal. On uniform attention this reproduces
    :func:`tgnn.graphs.pause_tokens` exactly. New edges are flagged in ``edge_added``, pause
    nodes in ``node_added``; ``edge_attr`` (per-head weights) is scaled like ``edge_weight``.

    Parameters
    ----------
    num_start, num_end
        Number of pause tokens at the start and at the end, integers ``>= 0``.
    pause_mass
        Total mass a query puts on the pause tokens it sees, in ``[0, 1)``.
    causal
        ``None``: ``data.is_causal``.

    Raises
    ------
    ShapeError
        At construction, for a parameter outside the ranges above.

    Complexity: ``O(E + n (num_start + num_end))``.

    Examples
    --------
    >>> from tgnn.graphs import uniform_causal
    >>> from tgnn.convert import attention_to_data
    >>> out = AddPauseTokens(num_start=1)(attention_to_data(uniform_causal(2)))
    >>> out.num_nodes, out.pos.tolist(), out.node_added.tolist()
    (3, [0, 1, 2], [True, False, False])
    """

    def __init__(
        self,
        num_start: int = 1,
        num_end: int = 0,
        pause_mass: float = 0.5,
        causal: bool | None = None,
    ) -> None:
        self.num_start = check_count(num_start, "num_start")
        self.num_end = check_count(num_end, "num_end")
        self.pause_mass = check_real(pause_mass, "pause_mass", 0.0, 1.0, high_open=True)
        self.causal = check_flag(causal, "causal")

    def forward(self, data: Data | PreparedGraph) -> Data:
        data = as_data(data)
        graph = check_single_sequence(data, "AddPauseTokens")
        n = graph.num_nodes
        s, e = self.num_start, self.num_end
        causal = resolve_causal(data, self.causal)
        edges, weight = pause_edges(n, s, e, self.pause_mass, causal)
        pos = token_positions(data, n)
        last = int(pos.max()) + 1 if n else 0
        new_pos = torch.cat([torch.arange(s), pos + s, torch.arange(last + s, last + s + e)])
        sees_pause = s > 0 or (not causal and e > 0)
        scale = torch.full(
            (s + n + e,), 1.0 - self.pause_mass if sees_pause else 1.0, dtype=torch.float64
        )
        old_to_new = torch.arange(s, s + n)
        return insert_nodes(data, graph, old_to_new, s + n + e, new_pos, scale, edges, weight)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_start={self.num_start}, num_end={self.num_end}, "
            f"pause_mass={self.pause_mass})"
        )
