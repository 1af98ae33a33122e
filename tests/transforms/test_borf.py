"""BORF: Ollivier-Ricci kernel against networkx + POT, hand-checked barbell, rewiring effect."""

from __future__ import annotations

import networkx as nx
import numpy as np
import ot
import pytest
import torch
from rewire_measure import attention_data, row_sums, spectral_gap, total_resistance
from torch_geometric.data import Data

from tgnn.graphs import barbell_graph, binary_tree, clique_path, ring_graph, sliding_window
from tgnn.metrics._ollivier import orc_edge
from tgnn.transforms import BORF, borf_rewire
from tgnn.transforms._rewire import undirected_view


def _networkx_orc(graph: nx.Graph, u: int, v: int, alpha: float) -> float:
    dist = dict(nx.all_pairs_shortest_path_length(graph))

    def measure(x: int) -> dict[int, float]:
        m = {k: (1 - alpha) / graph.degree[x] for k in graph[x]}
        if alpha:
            m[x] = alpha
        return m

    mu, mv = measure(u), measure(v)
    cost = np.array([[dist[a][b] for b in mv] for a in mu], dtype=float)
    return 1 - float(ot.emd2(np.array(list(mu.values())), np.array(list(mv.values())), cost))


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_kernel_matches_networkx_distances(alpha: float):
    graph = nx.gnp_random_graph(25, 0.2, seed=4)
    sets = [set(graph[k]) for k in range(25)]
    for u, v in list(graph.edges())[:40]:
        assert orc_edge(sets, u, v, alpha)[0] == pytest.approx(_networkx_orc(graph, u, v, alpha))


def test_complete_graph_closed_form():
    sets = [set(range(6)) - {k} for k in range(6)]
    assert orc_edge(sets, 0, 1)[0] == pytest.approx(4 / 5)  # K_n, alpha 0: (n - 2) / (n - 1)


def test_hand_checked_barbell_and_flat_ring():
    # barbell(4): the bridge (3, 4) is the most negative edge; m_3 is uniform on {0, 1, 2, 4},
    # m_4 on {3, 5, 6, 7}; 4 -> 3 costs 1 hop, every other unit of 1/4 travels 3 hops, and the
    # first 3-hop pair in sorted order is (0, 7).
    assert borf_rewire(undirected_view(barbell_graph(4)), 1, 1, 0) == ([(0, 7)], set())
    # the published rule (largest transported mass: all entries are 1/4 here) also crosses
    [(p, q)], _ = borf_rewire(undirected_view(barbell_graph(4)), 1, 1, 0, pick="mass")
    assert p < 3 and q > 4
    # C_n is flat (kappa = 0, optimal plans move mass along edges only): BORF leaves it alone
    assert borf_rewire(undirected_view(ring_graph(12)), 3, 4, 2) == ([], set())


@pytest.mark.parametrize("data", [barbell_graph(5, 1), clique_path(4, 4), binary_tree(4)])
def test_borf_raises_gap_and_lowers_resistance(data: Data):
    out = BORF(num_iterations=3, batch_remove=2)(data)
    assert int(out.edge_added.sum()) > 0
    assert spectral_gap(out) > spectral_gap(data)
    assert total_resistance(out) < total_resistance(data)


def test_removal_drops_positive_edges_only():
    data = clique_path(3, 5)
    out = BORF(num_iterations=1, batch_add=0, batch_remove=3, removal_bound=0.5)(data)
    assert data.num_edges - out.num_edges == 6 and not bool(out.edge_added.any())
    assert BORF(num_iterations=2, batch_add=0, removal_bound=1.0)(data).num_edges == data.num_edges


def test_causal_attention_stays_causal_and_stochastic():
    data = attention_data(sliding_window(20, 3), causal=True)
    out = BORF(num_iterations=2, batch_remove=0)(data)
    src, dst = out.edge_index
    assert bool((src <= dst).all()) and int(out.edge_added.sum()) > 0
    torch.testing.assert_close(row_sums(out), torch.ones(20, dtype=torch.float64))
    assert total_resistance(out) < total_resistance(data)
