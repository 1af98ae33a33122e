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


def bfc_from_induced_cycles(G: nx.Graph) -> dict[tuple[int, int], float]:
    """Balanced Forman curvature (Topping et al. 2022, Def. 1) by listing, for each edge
    ``i ~ j``, its chordless 4-cycles ``i - k - w - j`` one by one: the test oracle.

    ``#sq^i`` is the set of the cycles' ``k``, ``#sq^j`` the set of their ``w``; ``gamma_max``
    the most cycles through one ``k`` or one ``w``. Keys are ``(min(i, j), max(i, j))``.
    """
    out: dict[tuple[int, int], float] = {}
    for i, j in G.edges():
        if i == j:
            continue
        ni, nj = set(G[i]) - {i}, set(G[j]) - {j}
        d_max, d_min = max(len(ni), len(nj)), min(len(ni), len(nj))
        if d_min == 1:
            out[min(i, j), max(i, j)] = 0.0
            continue
        cycles = [(k, w) for k in ni - nj - {j} for w in nj - ni - {i} if G.has_edge(k, w)]
        through = [c[0] for c in cycles] + [("w", c[1]) for c in cycles]  # k and w kept apart
        gamma = max((through.count(x) for x in set(through)), default=0)
        tri = len(ni & nj)
        value = 2 / len(ni) + 2 / len(nj) - 2 + 2 * tri / d_max + tri / d_min
        if gamma:
            value += (len({c[0] for c in cycles}) + len({c[1] for c in cycles})) / (gamma * d_max)
        out[min(i, j), max(i, j)] = value
    return out
