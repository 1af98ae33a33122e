"""SDRF: curvature kernels against closed forms, incremental updates, rewiring effect."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from rewire_measure import attention_data, row_sums, spectral_gap, total_resistance
from torch_geometric.data import Data

from tgnn.graphs import (
    barbell_graph,
    binary_tree,
    clique_path,
    from_networkx_undirected,
    path_graph,
    ring_graph,
    sliding_window,
)
from tgnn.metrics._balanced_forman import affected_edges, bfc_edge, bfc_pairs, bfc_reference_edge
from tgnn.transforms import SDRF, sdrf_rewire
from tgnn.transforms._rewire import undirected_view
from tgnn.transforms.sdrf import _sample


def _edges(graph: nx.Graph) -> tuple[sp.csr_matrix, np.ndarray, list[set[int]]]:
    graph = nx.convert_node_labels_to_integers(graph, ordering="sorted")
    adj = sp.csr_matrix(nx.to_scipy_sparse_array(graph, format="csr", dtype=float))
    pairs = np.array(sorted((min(a, b), max(a, b)) for a, b in graph.edges()))
    return adj, pairs, [set(graph[k]) for k in range(graph.number_of_nodes())]


@pytest.mark.parametrize(
    ("graph", "edge", "expected"),
    [
        (nx.complete_graph(5), (0, 1), 5 / 4),
        (nx.complete_graph(3), (0, 1), 3 / 2),
        (nx.cycle_graph(4), (0, 1), 1.0),
        (nx.cycle_graph(6), (0, 1), 0.0),
        (nx.grid_2d_graph(3, 3), (0, 1), 1 / 3),
        (nx.star_graph(4), (0, 1), 0.0),
    ],
)
def test_paper_curvature_closed_forms(graph: nx.Graph, edge: tuple[int, int], expected: float):
    adj, pairs, sets = _edges(graph)
    full = bfc_pairs(adj, pairs[:, 0], pairs[:, 1])
    row = int(np.flatnonzero((pairs[:, 0] == edge[0]) & (pairs[:, 1] == edge[1]))[0])
    assert full[row] == pytest.approx(expected, abs=1e-12)
    assert bfc_edge(sets, *edge) == pytest.approx(expected, abs=1e-12)


def test_reference_curvature_is_the_legacy_formula():
    _, _, sets = _edges(nx.complete_graph(5))
    # released code on K_5: 1/2 + 1/2 - 2 + (1/2 + 1/4) * 3 + 8 / (4 * 4) = 7/4, not 5/4
    assert bfc_reference_edge(sets, 0, 1) == pytest.approx(7 / 4)


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_equals_local_curvature(seed: int):
    adj, pairs, sets = _edges(nx.gnp_random_graph(40, 0.12, seed=seed))
    local = [bfc_edge(sets, a, b) for a, b in pairs]
    np.testing.assert_allclose(bfc_pairs(adj, pairs[:, 0], pairs[:, 1]), local, atol=1e-12)


def test_affected_edges_cover_every_change():
    rng = np.random.default_rng(1)
    graph = nx.gnp_random_graph(30, 0.15, seed=3)
    _, _, sets = _edges(graph)
    for _ in range(30):
        a, b = (int(x) for x in rng.choice(30, 2, replace=False))
        edges = {(min(x, y), max(x, y)) for x in range(30) for y in sets[x]}
        before = {e: bfc_edge(sets, *e) for e in edges}
        touched = affected_edges(sets, a, b) if b in sets[a] else set()
        sets[a] ^= {b}
        sets[b] ^= {a}
        touched |= affected_edges(sets, a, b) if b in sets[a] else set()
        for e in edges & {(min(x, y), max(x, y)) for x in range(30) for y in sets[x]}:
            if e not in touched:
                assert bfc_edge(sets, *e) == before[e]


def test_hand_checked_path():
    # P4: all curvatures 0; first edge (0, 1); the only candidate in B1(0) x B1(1) is (0, 2),
    # which makes Ric(0, 1) = 1 + 1 - 2 + 2/2 + 1/2 = 3/2; then Ric(0, 1) = 3/2 > C+ = 1/2 is
    # the most positive edge and gets removed.
    added, removed = sdrf_rewire(undirected_view(path_graph(4)), 1, removal_bound=float("inf"))
    assert added == [(0, 2)] and removed == set()
    added, removed = sdrf_rewire(undirected_view(path_graph(4)), 1, removal_bound=0.5)
    assert added == [(0, 2)] and removed == {(0, 1)}
    out = SDRF(num_iterations=1)(path_graph(4))
    assert out.edge_index[:, out.edge_added].tolist() == [[0, 2], [2, 0]]
    assert sorted(map(tuple, out.edge_index.t().tolist())) == [
        (0, 2),
        (1, 2),
        (2, 0),
        (2, 1),
        (2, 3),
        (3, 2),
    ]


@pytest.mark.parametrize(
    ("data", "iterations"),
    [
        (barbell_graph(5, 1), 10),
        (ring_graph(16), 10),
        (clique_path(4, 4), 10),
        (binary_tree(4), 20),
    ],
)
def test_sdrf_raises_gap_and_lowers_resistance(data: Data, iterations: int):
    out = SDRF(num_iterations=iterations, removal_bound=float("inf"), seed=0)(data)
    assert int(out.edge_added.sum()) > 0
    assert spectral_gap(out) > spectral_gap(data)
    assert total_resistance(out) < total_resistance(data)


def test_deterministic_and_input_untouched():
    data = clique_path(3, 4)
    before = data.edge_index.clone()
    a, b = SDRF(seed=3)(data), SDRF(seed=3)(data)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_added, b.edge_added)
    assert torch.equal(data.edge_index, before) and "edge_added" not in data


def test_isolated_nodes_components_self_loops_weights():
    graph = nx.disjoint_union(nx.path_graph(5), nx.cycle_graph(5))
    data = from_networkx_undirected(graph)
    data.num_nodes = 12  # two trailing isolated nodes
    loops = torch.tensor([[11, 3], [11, 3]])
    data.edge_index = torch.cat([data.edge_index, loops], 1)
    data.edge_weight = torch.cat([data.edge_weight * 2.5, torch.ones(2, dtype=torch.float64)])
    out = SDRF(num_iterations=5, removal_bound=float("inf"))(data)
    assert out.num_nodes == 12 and out.edge_added.size(0) == out.num_edges
    kept = ~out.edge_added
    assert torch.equal(out.edge_index[:, kept], data.edge_index)
    assert torch.equal(out.edge_weight[kept], data.edge_weight)
    assert torch.all(out.edge_weight[out.edge_added] == 1.0)


def test_causal_attention_stays_causal_and_stochastic():
    attention = sliding_window(24, 3)
    data = attention_data(attention, causal=True)
    out = SDRF(num_iterations=8, seed=0)(data)
    src, dst = out.edge_index
    assert int(out.edge_added.sum()) > 0
    assert bool((src <= dst).all())
    torch.testing.assert_close(row_sums(out), torch.ones(24, dtype=torch.float64))
    assert total_resistance(out) < total_resistance(data)


def test_infinite_tau_is_greedy_and_large_tau_does_not_overflow():
    """``tau=inf`` is the documented greedy limit (it raised 'Probabilities contain NaN');
    ``tau=1e308`` overflowed ``tau * gain`` the same way."""
    rng = np.random.default_rng(0)
    gains = np.array([0.1, 0.5, 0.5, 0.2])
    picks = {_sample(gains, float("inf"), rng) for _ in range(50)}
    assert picks == {1, 2}  # the largest gains, ties drawn uniformly
    assert {_sample(gains, 0.0, rng) for _ in range(200)} == {0, 1, 2, 3}
    view = undirected_view(clique_path(3, 4))
    for seed in range(3):
        greedy = sdrf_rewire(view, 4, tau=float("inf"), removal_bound=1.0, seed=seed)
        assert greedy == sdrf_rewire(view, 4, tau=1e308, removal_bound=1.0, seed=seed)
        assert len(greedy[0]) == 4
    out = SDRF(num_iterations=3, tau=float("inf"))(barbell_graph(4))
    assert int(out.edge_added.sum()) > 0
