"""Classical GNN benchmark graph families as undirected PyG ``Data``.

Every graph stores both directions of each undirected edge, unit ``edge_weight`` (float64) and
an explicit ``num_nodes``. These are the families over-squashing papers use (Topping et al. 2022;
Black et al. 2023; Karhadkar et al. 2023): paths, rings, grids, trees, barbells, clique-paths and
lollipops.
"""

from __future__ import annotations

import math

import networkx as nx
import torch
from torch_geometric.data import Data

from tgnn._params import check_count
from tgnn.errors import GraphError, NonFiniteError, ShapeError

__all__ = [
    "from_networkx_undirected",
    "path_graph",
    "ring_graph",
    "grid_graph",
    "binary_tree",
    "barbell_graph",
    "clique_path",
    "lollipop_graph",
]


def from_networkx_undirected(graph: nx.Graph, name: str = "graph") -> Data:
    """Turn an undirected networkx graph with nodes ``0..n-1`` into a symmetric ``Data``.

    Edge attribute ``weight`` (default 1) becomes ``edge_weight``; both directions are stored.
    A weight that is not a real number raises :class:`~tgnn.errors.ShapeError`, a NaN or
    infinite one :class:`~tgnn.errors.NonFiniteError`; a directed graph raises
    :class:`~tgnn.errors.GraphError` (its reciprocal edges would be stored twice).

    Examples
    --------
    >>> data = from_networkx_undirected(nx.path_graph(3))
    >>> data.edge_index.tolist(), data.num_nodes
    ([[0, 1, 1, 2], [1, 0, 2, 1]], 3)
    """
    if graph.is_directed():
        raise GraphError(
            "graph: expected an undirected networkx graph, got a directed one (u -> v and v -> u "
            "would each be stored in both directions); pass graph.to_undirected() or build a "
            "directed Data yourself"
        )
    n = graph.number_of_nodes()
    graph = nx.convert_node_labels_to_integers(graph, ordering="sorted")
    rows, cols, weights = [], [], []
    for u, v, w in graph.edges(data="weight", default=1.0):
        rows += [u, v]
        cols += [v, u]
        weights += [_weight(w, u, v)] * 2
    edge_index = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)
    order = torch.argsort(edge_index[0] * max(n, 1) + edge_index[1])
    return Data(
        edge_index=edge_index[:, order],
        edge_weight=torch.tensor(weights, dtype=torch.float64)[order],
        num_nodes=n,
        name=name,
    )


def _weight(value: object, u: int, v: int) -> float:
    try:
        weight = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ShapeError(
            f"graph: expected a real 'weight' on every edge, got {value!r} on edge ({u}, {v})"
        ) from None
    if not math.isfinite(weight):
        raise NonFiniteError(
            f"graph: expected a finite 'weight' on every edge, got {weight} on edge ({u}, {v})"
        )
    return weight


def _positive(value: int, name: str, minimum: int = 1) -> None:
    check_count(value, name, minimum)


def path_graph(n: int) -> Data:
    """Path ``0 - 1 - ... - (n-1)``.

    Examples
    --------
    >>> path_graph(4).num_edges
    6
    """
    _positive(n, "n")
    return from_networkx_undirected(nx.path_graph(n), f"path({n})")


def ring_graph(n: int) -> Data:
    """Cycle on ``n >= 3`` nodes.

    Examples
    --------
    >>> ring_graph(5).num_edges
    10
    """
    _positive(n, "n", 3)
    return from_networkx_undirected(nx.cycle_graph(n), f"ring({n})")


def grid_graph(rows: int, cols: int) -> Data:
    """``rows x cols`` 2D grid; node ``r * cols + c`` is cell ``(r, c)``.

    Examples
    --------
    >>> grid_graph(3, 3).num_edges
    24
    """
    _positive(rows, "rows")
    _positive(cols, "cols")
    return from_networkx_undirected(nx.grid_2d_graph(rows, cols), f"grid({rows}x{cols})")


def binary_tree(depth: int) -> Data:
    """Complete binary tree with ``2^(depth+1) - 1`` nodes (root 0, children ``2k+1``, ``2k+2``).

    Examples
    --------
    >>> binary_tree(2).num_nodes
    7
    """
    _positive(depth, "depth", 0)
    return from_networkx_undirected(nx.balanced_tree(2, depth), f"tree({depth})")


def barbell_graph(clique_size: int, bridge_length: int = 0) -> Data:
    """Two cliques of ``clique_size`` nodes joined by a path of ``bridge_length`` inner nodes.

    Examples
    --------
    >>> barbell_graph(3).num_nodes
    6
    """
    _positive(clique_size, "clique_size", 2)
    _positive(bridge_length, "bridge_length", 0)
    graph = nx.barbell_graph(clique_size, bridge_length)
    return from_networkx_undirected(graph, f"barbell({clique_size},{bridge_length})")


def clique_path(num_cliques: int, clique_size: int) -> Data:
    """A path of ``num_cliques`` cliques of ``clique_size`` nodes, neighbours joined by one edge.

    Clique ``k`` holds nodes ``k * clique_size ... (k + 1) * clique_size - 1``; its last node is
    joined to the first node of clique ``k + 1``. Dense communities behind single-edge
    bottlenecks: the setting where curvature-based rewiring helps most.

    Examples
    --------
    >>> clique_path(3, 4).num_nodes, clique_path(3, 4).num_edges // 2
    (12, 20)
    """
    _positive(num_cliques, "num_cliques")
    _positive(clique_size, "clique_size", 2)
    graph = nx.Graph()
    for k in range(num_cliques):
        members = range(k * clique_size, (k + 1) * clique_size)
        graph.add_edges_from((u, v) for u in members for v in members if u < v)
        if k:
            graph.add_edge(k * clique_size - 1, k * clique_size)
    return from_networkx_undirected(graph, f"clique_path({num_cliques},{clique_size})")


def lollipop_graph(clique_size: int, path_length: int) -> Data:
    """A clique of ``clique_size`` nodes with a path of ``path_length`` nodes hanging off it.

    The graph where over-squashing along the tail was first shown (Topping et al. 2022);
    networkx's ``lollipop_graph``.

    Examples
    --------
    >>> lollipop_graph(3, 2).num_nodes, lollipop_graph(3, 2).num_edges // 2
    (5, 5)
    """
    _positive(clique_size, "clique_size", 2)
    _positive(path_length, "path_length", 1)
    graph = nx.lollipop_graph(clique_size, path_length)
    return from_networkx_undirected(graph, f"lollipop({clique_size},{path_length})")
