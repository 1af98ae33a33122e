"""GTR: greedy choice against brute force, hand-checked path, components, rewiring effect."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
import torch
from rewire_measure import attention_data, row_sums, spectral_gap, total_resistance
from torch_geometric.data import Data

from tgnn.errors import SizeLimitError
from tgnn.graphs import (
    barbell_graph,
    binary_tree,
    clique_path,
    from_networkx_undirected,
    path_graph,
    ring_graph,
    sliding_window,
)
from tgnn.transforms import GTR, gtr_rewire
from tgnn.transforms._rewire import undirected_view


def _with(data: Data, pair: tuple[int, int]) -> Data:
    extra = torch.tensor([[pair[0], pair[1]], [pair[1], pair[0]]])
    return Data(edge_index=torch.cat([data.edge_index, extra], 1), num_nodes=data.num_nodes)


def test_hand_checked_path():
    # P4 has R_tot = 1+2+3+1+2+1 = 10. Closing it into C4 gives 4 * 3/4 + 2 * 1 = 5; the chords
    # (0, 2) and (1, 3) give 3 * 2/3 + 1 + 2 * 5/3 = 19/3, so GTR picks (0, 3).
    assert gtr_rewire(undirected_view(path_graph(4)), num_edges=1) == [(0, 3)]
    out = GTR(num_edges=1)(path_graph(4))
    assert total_resistance(path_graph(4)) == pytest.approx(10.0)
    assert total_resistance(out) == pytest.approx(5.0)


def test_each_step_is_the_brute_force_optimum():
    data = binary_tree(3)
    n = data.num_nodes
    chosen = gtr_rewire(undirected_view(data), num_edges=3)
    current = Data(edge_index=data.edge_index, num_nodes=n)
    for pair in chosen:
        present = set(zip(*current.edge_index.tolist(), strict=True))
        best = min(
            total_resistance(_with(current, p))
            for p in itertools.combinations(range(n), 2)
            if p not in present
        )
        current = _with(current, pair)
        assert total_resistance(current) == pytest.approx(best, rel=1e-10)


@pytest.mark.parametrize(
    "data", [barbell_graph(5, 1), ring_graph(16), clique_path(4, 4), binary_tree(4)]
)
def test_gtr_raises_gap_and_lowers_resistance(data: Data):
    out = GTR(num_edges=10)(data)
    assert int(out.edge_added.sum()) == 20
    assert spectral_gap(out) > spectral_gap(data)
    assert total_resistance(out) < total_resistance(data)


def test_components_and_isolated_nodes_are_joined_at_centres():
    graph = nx.disjoint_union(nx.star_graph(4), nx.path_graph(3))
    data = from_networkx_undirected(graph)
    data.num_nodes = 9  # node 8 isolated
    added = gtr_rewire(undirected_view(data), num_edges=2)
    # star centre 0 (largest component) joins the middle 6 of the path, then the isolated node
    assert added[0] == (0, 6)
    assert 8 in added[1]
    assert total_resistance(GTR(num_edges=2)(data)) < float("inf")


def test_weighted_conductances_are_used():
    data = path_graph(4)
    data.edge_weight = torch.tensor([1.0, 1.0, 9.0, 9.0, 1.0, 1.0], dtype=torch.float64)
    out = GTR(num_edges=1, added_weight=2.0)(data)
    assert torch.equal(out.edge_weight[~out.edge_added], data.edge_weight)
    assert torch.all(out.edge_weight[out.edge_added] == 2.0)


def test_causal_attention_stays_causal_and_stochastic():
    data = attention_data(sliding_window(24, 2), causal=True)
    out = GTR(num_edges=5)(data)
    src, dst = out.edge_index
    assert bool((src <= dst).all()) and int(out.edge_added.sum()) == 5
    torch.testing.assert_close(row_sums(out), torch.ones(24, dtype=torch.float64))
    assert total_resistance(out) < total_resistance(data)


def test_dense_size_guard_before_allocating(monkeypatch: pytest.MonkeyPatch):
    # before: the n x n arrays were allocated whatever n (n = 200,000 fails only for memory)
    monkeypatch.setattr("tgnn.metrics._limits.DENSE_MAX_NODES", 10)
    data = path_graph(11)
    with pytest.raises(SizeLimitError, match="GTR.*n = 10 nodes.*got n = 11.*FoSR or SDRF"):
        GTR(num_edges=1)(data)
    assert int(GTR(num_edges=1)(path_graph(10)).edge_added.sum()) == 2
