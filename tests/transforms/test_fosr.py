"""FoSR: best-first pair search, hand-checked path, isolated nodes, rewiring effect."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rewire_measure import attention_data, row_sums, spectral_gap, total_resistance
from torch_geometric.data import Data

from tgnn.graphs import (
    barbell_graph,
    binary_tree,
    clique_path,
    path_graph,
    ring_graph,
    sliding_window,
)
from tgnn.transforms import FoSR, fosr_rewire
from tgnn.transforms._pairs import least_product_non_edge
from tgnn.transforms._rewire import undirected_view


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(-3, 3, allow_nan=False), min_size=2, max_size=12),
    st.integers(0, 2**31 - 1),
    st.floats(0, 1),
)
def test_pair_search_matches_brute_force(values: list[float], seed: int, density: float):
    score = np.asarray(values)
    n = score.size
    rng = np.random.default_rng(seed)
    taken = {u * n + v for u in range(n) for v in range(u + 1, n) if rng.random() < density}
    free = [(u, v) for u in range(n) for v in range(u + 1, n) if u * n + v not in taken]
    got = least_product_non_edge(score, taken)
    if not free:
        assert got is None
        return
    assert got is not None and got[0] * n + got[1] not in taken
    assert score[got[0]] * score[got[1]] == min(score[u] * score[v] for u, v in free)


def test_hand_checked_path():
    # P5: the normalised-Laplacian Fiedler vector is x = (1, 1, 0, -1, -1) up to scale, so
    # x_u / sqrt(1 + d_u) = (1/sqrt2, 1/sqrt3, 0, -1/sqrt3, -1/sqrt2): the least product is
    # the pair of end points, and FoSR closes the path into C5.
    assert fosr_rewire(undirected_view(path_graph(5)), num_edges=1) == [(0, 4)]
    out = FoSR(num_edges=1)(path_graph(5))
    assert out.edge_index[:, out.edge_added].tolist() == [[0, 4], [4, 0]]


@pytest.mark.parametrize(
    "data", [barbell_graph(5, 1), ring_graph(16), clique_path(4, 4), binary_tree(4)]
)
def test_fosr_raises_gap_and_lowers_resistance(data: Data):
    out = FoSR(num_edges=10, seed=0)(data)
    assert int(out.edge_added.sum()) == 20
    assert spectral_gap(out) > spectral_gap(data)
    assert total_resistance(out) < total_resistance(data)


def test_isolated_nodes_are_connected_without_nan():
    data = ring_graph(6)
    data.num_nodes = 9  # nodes 6, 7, 8 isolated
    out = FoSR(num_edges=3)(data)
    touched = set(out.edge_index[:, out.edge_added].flatten().tolist())
    assert {6, 7, 8} <= touched
    assert torch.isfinite(out.edge_weight).all()
    assert total_resistance(out) < float("inf")


def test_complete_graph_stops_and_deterministic():
    full = barbell_graph(4)
    assert len(fosr_rewire(undirected_view(full), num_edges=100)) == 28 - 13
    a, b = FoSR(seed=5)(clique_path(3, 3)), FoSR(seed=5)(clique_path(3, 3))
    assert torch.equal(a.edge_index, b.edge_index)


def test_causal_attention_stays_causal_and_stochastic():
    data = attention_data(sliding_window(32, 2), causal=True)
    before = data.edge_weight.clone()
    out = FoSR(num_edges=6)(data)
    src, dst = out.edge_index
    assert bool((src <= dst).all()) and int(out.edge_added.sum()) == 6
    torch.testing.assert_close(row_sums(out), torch.ones(32, dtype=torch.float64))
    assert torch.equal(data.edge_weight, before)
    assert spectral_gap(out) > spectral_gap(data)
    assert total_resistance(out) < total_resistance(data)
