"""Shared helpers of the metrics tests: networkx graphs as PyG-style undirected tensors."""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch
from torch import Tensor


def undirected(G: nx.Graph, weight: str | None = None) -> tuple[Tensor, Tensor, int]:
    """Both directions of every edge of ``G`` (nodes 0..n-1) with float64 weights."""
    edges = np.array(list(G.edges()), dtype=np.int64).reshape(-1, 2)
    w = np.array([G[u][v][weight] if weight else 1.0 for u, v in edges], dtype=np.float64)
    ei = torch.from_numpy(np.concatenate([edges, edges[:, ::-1]]).T.copy())
    return ei, torch.from_numpy(np.concatenate([w, w])), G.number_of_nodes()


def weighted(G: nx.Graph, seed: int = 0, low: float = 0.2, high: float = 3.0) -> nx.Graph:
    """``G`` relabelled 0..n-1 with uniform random weights in ``[low, high)``."""
    G = nx.convert_node_labels_to_integers(G)
    rng = np.random.default_rng(seed)
    for u, v in G.edges():
        G[u][v]["weight"] = float(rng.uniform(low, high))
    return G
