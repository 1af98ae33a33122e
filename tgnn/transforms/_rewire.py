r"""Shared plumbing of the rewiring transforms: an undirected view in, a rewired ``Data`` out.

Every rewiring algorithm (SDRF, FoSR, BORF, GTR) works on the *undirected simple support* of the
input: self-loops dropped, both directions merged, weights symmetrised as ``(W + W^T) / 2``
(the DESIGN.md default). It returns the node pairs ``u < v`` it added and removed; this module
writes them back onto the original (possibly directed, weighted, attention) graph:

* undirected / bidirectional input: an added pair becomes the two edges ``u -> v`` and
  ``v -> u``; a removed pair drops every edge between ``u`` and ``v``;
* causal attention input (``causal=True``): an added pair ``u < v`` becomes only the edge
  ``u -> v`` (key ``u`` read by the later query ``v``, i.e. ``A[v, u]``), so the graph stays a
  DAG up to self-loops and attention stays lower triangular;
* ``renormalize=True`` (default for attention graphs, i.e. ``Data`` with ``is_causal``): an added
  edge ``j -> i`` first gets the mean weight of ``i``'s incoming edges (``1 / deg_in(i)`` for
  uniform attention, 1 when it has none), then the incoming weights of every node are rescaled
  to their original total (one for row-stochastic attention), so rows stay stochastic.

Kept edges keep their order and attributes; added edges are appended and flagged in the boolean
``edge_added`` mask (chained transforms keep earlier flags). ``edge_weight`` of an added edge is
``added_weight`` when not renormalising; other edge-level tensors get zeros.

The input is validated once by :func:`tgnn.transforms._input_graph.checked_graph` (both rows of
``edge_index`` range-checked, weights finite and non-negative, ``num_nodes`` explicit); the
write-back options once when the transform is constructed.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from tgnn._params import check_flag, check_real
from tgnn.metrics.prepared import PreparedGraph
from tgnn.transforms._input_graph import CheckedGraph, as_data, checked_graph

Pair = tuple[int, int]


@dataclass(frozen=True)
class UndirectedView:
    """Undirected simple support of a graph: ``u < v`` pairs with symmetrised weights."""

    num_nodes: int
    u: np.ndarray
    v: np.ndarray
    weight: np.ndarray

    def adjacency(self, weighted: bool = True) -> sp.csr_matrix:
        """Symmetric ``[n, n]`` CSR adjacency (weights or 0/1), no diagonal."""
        w = self.weight if weighted else np.ones_like(self.weight)
        rows = np.concatenate([self.u, self.v])
        cols = np.concatenate([self.v, self.u])
        n = self.num_nodes
        return sp.csr_matrix((np.concatenate([w, w]), (rows, cols)), shape=(n, n))

    def neighbour_sets(self) -> list[set[int]]:
        """Adjacency as a list of Python sets (for local, incremental kernels)."""
        csr = self.adjacency(weighted=False)
        ptr, idx = csr.indptr, csr.indices.tolist()
        return [set(idx[ptr[k] : ptr[k + 1]]) for k in range(self.num_nodes)]


def check_added_weight(added_weight: float) -> float:
    """``added_weight`` as a float after checking it is finite and positive.

    Zero would add edges that are no edges (a later step may add the same pair again), a
    negative value negative edges.
    """
    return check_real(added_weight, "added_weight", 0.0, math.inf, low_open=True, high_open=True)


def undirected_view(data: Data | CheckedGraph) -> UndirectedView:
    """Symmetrised simple support of ``data`` (self-loops dropped, duplicates summed).

    Weight of pair ``{u, v}`` is ``(w_uv + w_vu) / 2`` summed over parallel edges; missing
    ``edge_weight`` counts as one per edge. Zero-weight edges are ignored. A ``Data`` is
    validated first (:func:`~tgnn.transforms._input_graph.checked_graph`).
    """
    graph = data if isinstance(data, CheckedGraph) else checked_graph(data, "undirected_view")
    n, src, dst, weight = graph.num_nodes, graph.src, graph.dst, graph.weight
    if src.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return UndirectedView(n, empty, empty, np.zeros(0))
    keep = (src != dst) & (weight > 0)
    a, b, weight = src[keep], dst[keep], weight[keep] / 2.0
    sym = sp.coo_matrix((weight, (np.minimum(a, b), np.maximum(a, b))), shape=(n, n)).tocsr()
    sym.sum_duplicates()
    coo = sym.tocoo()
    order = np.lexsort((coo.col, coo.row))
    return UndirectedView(
        n,
        coo.row[order].astype(np.int64),
        coo.col[order].astype(np.int64),
        coo.data[order].astype(np.float64),
    )


def is_attention_graph(data: Data) -> bool:
    """An attention graph from tgnn's converter carries ``is_causal``."""
    return "is_causal" in data


def resolve_causal(data: Data, causal: bool | None) -> bool:
    """``causal`` if given, else ``data.is_causal`` (False when absent)."""
    if causal is not None:
        return causal
    flag = getattr(data, "is_causal", False)
    return bool(flag.all()) if isinstance(flag, Tensor) else bool(flag)


def resolve_renormalize(data: Data, renormalize: bool | None) -> bool:
    """``renormalize`` if given, else True exactly for attention graphs."""
    return is_attention_graph(data) if renormalize is None else renormalize


def _edge_keys(data: Data, num_edges: int) -> list[str]:
    return [
        key
        for key, value in data.items()
        if isinstance(value, Tensor)
        and key not in ("edge_index", "edge_added")
        and data.is_edge_attr(key)
        and value.dim() >= 1
        and value.size(0) == num_edges
    ]


def _new_edges(added: list[Pair], causal: bool) -> tuple[Tensor, int]:
    """Directed edges for added pairs: ``u -> v`` only when causal, else both ways."""
    if not added:
        return torch.zeros(2, 0, dtype=torch.long), 0
    pairs = torch.tensor(added, dtype=torch.long).t()
    if causal:
        return pairs, pairs.size(1)
    both = torch.cat([pairs, pairs.flip(0)], dim=1)
    return both, both.size(1)


def renormalize_incoming(
    edge_index: Tensor, weight: Tensor, target_sum: Tensor, added: Tensor, num_nodes: int
) -> Tensor:
    """Give added edges the target's mean incoming weight, then rescale to ``target_sum``.

    ``target_sum[i]`` is the total incoming weight node ``i`` had before rewiring.
    """
    dst = edge_index[1]
    old = ~added
    ones = torch.ones_like(weight)
    count = torch.zeros(num_nodes, dtype=weight.dtype).index_add_(0, dst[old], ones[old])
    total = torch.zeros(num_nodes, dtype=weight.dtype).index_add_(0, dst[old], weight[old])
    mean = torch.where(count > 0, total / count.clamp(min=1), torch.ones_like(total))
    weight = torch.where(added, mean[dst], weight)
    new_total = torch.zeros(num_nodes, dtype=weight.dtype).index_add_(0, dst, weight)
    goal = torch.where(target_sum > 0, target_sum, new_total)
    scale = torch.where(new_total > 0, goal / new_total.clamp(min=1e-300), torch.ones_like(goal))
    return weight * scale[dst]


def apply_rewiring(
    data: Data,
    added: list[Pair],
    removed: set[Pair],
    *,
    causal: bool,
    renormalize: bool,
    added_weight: float = 1.0,
    graph: CheckedGraph | None = None,
) -> Data:
    """Write added / removed undirected pairs back onto ``data`` (a shallow copy).

    ``graph`` is ``data`` validated (:func:`~tgnn.transforms._input_graph.checked_graph`), checked
    here when not given.
    """
    graph = checked_graph(data, "apply_rewiring") if graph is None else graph
    n, ei = graph.num_nodes, graph.edge_index
    num_edges = ei.size(1)
    keep = torch.ones(num_edges, dtype=torch.bool)
    if removed:
        lo, hi = torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])
        gone = torch.tensor(sorted(a * n + b for a, b in removed), dtype=torch.long)
        keep = ~torch.isin(lo * n + hi, gone) | (ei[0] == ei[1])
    new_ei, k = _new_edges(added, causal)
    out = copy.copy(data)
    for key in _edge_keys(data, num_edges):
        value = data[key]
        pad = torch.zeros((k, *value.shape[1:]), dtype=value.dtype, device=value.device)
        if key == "edge_weight":
            pad = pad + added_weight
        out[key] = torch.cat([value[keep], pad], dim=0)
    old_flag = data.edge_added if "edge_added" in data else torch.zeros(num_edges, dtype=torch.bool)
    flag = torch.cat([old_flag[keep], torch.ones(k, dtype=torch.bool)])
    out.edge_index = torch.cat([ei[:, keep], new_ei.to(ei.device)], dim=1)
    out.edge_added = flag
    if renormalize and data.edge_weight is not None:
        w = data.edge_weight
        target = torch.zeros(n, dtype=w.dtype).index_add_(0, ei[1], w)
        fresh = torch.cat(
            [torch.zeros(int(keep.sum()), dtype=torch.bool), torch.ones(k, dtype=torch.bool)]
        )
        out.edge_weight = renormalize_incoming(out.edge_index, out.edge_weight, target, fresh, n)
    return out


def net_changes(
    original: set[Pair], final: set[Pair], order: list[Pair]
) -> tuple[list[Pair], set[Pair]]:
    """Added pairs (in first-added ``order``) and removed pairs between two pair sets."""
    added = [p for p in dict.fromkeys(order) if p in final and p not in original]
    return added, original - final


class RewiringTransform(BaseTransform):
    """Base of the rewiring transforms: rewire the undirected view, write the pairs back.

    A subclass implements :meth:`rewire`; ``causal``, ``renormalize`` and ``added_weight`` are
    the write-back options of :func:`apply_rewiring` (``None``: from the data), checked here:
    flags must be ``bool`` or ``None``, ``added_weight`` finite and positive.
    """

    def __init__(self, causal: bool | None, renormalize: bool | None, added_weight: float) -> None:
        self.causal = check_flag(causal, "causal")
        self.renormalize = check_flag(renormalize, "renormalize")
        self.added_weight = check_added_weight(added_weight)

    def rewire(self, view: UndirectedView) -> tuple[list[Pair], set[Pair]]:
        """Added pairs (in order) and removed pairs ``u < v`` of the undirected view."""
        raise NotImplementedError

    def forward(self, data: Data | PreparedGraph) -> Data:
        data = as_data(data)
        graph = checked_graph(data, type(self).__name__)
        added, removed = self.rewire(undirected_view(graph))
        return apply_rewiring(
            data,
            added,
            removed,
            causal=resolve_causal(data, self.causal),
            renormalize=resolve_renormalize(data, self.renormalize),
            added_weight=self.added_weight,
            graph=graph,
        )
