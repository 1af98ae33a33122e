"""Effective resistance against networkx, closed forms and Foster / Rayleigh invariants."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tgnn.errors import GraphError, ShapeError
from tgnn.metrics import (
    commute_time,
    edge_resistance,
    effective_resistance,
    total_effective_resistance,
)

from ._helpers import undirected, weighted


def _nx_matrix(G: nx.Graph) -> np.ndarray:
    R = nx.resistance_distance(G, weight="weight", invert_weight=False)
    n = G.number_of_nodes()
    return np.array([[R[i][j] for j in range(n)] for i in range(n)])


@pytest.fixture(scope="module")
def small() -> tuple[nx.Graph, np.ndarray]:
    G = weighted(nx.connected_watts_strogatz_graph(50, 4, 0.3, seed=1))
    return G, _nx_matrix(G)


def test_all_pairs_source_pairs_equal_networkx(small: tuple[nx.Graph, np.ndarray]) -> None:
    G, ref = small
    ei, w, n = undirected(G, "weight")
    np.testing.assert_allclose(effective_resistance(ei, w, n).numpy(), ref, atol=1e-9)
    for s in (0, 17):
        got = effective_resistance(ei, w, n, source=s).numpy()
        np.testing.assert_allclose(got, ref[s], atol=1e-9)
    pairs = torch.randint(0, n, (2, 40), generator=torch.Generator().manual_seed(0))
    ref_p = ref[pairs[0], pairs[1]]
    for dense_max in (3000, 1):  # dense gather and sparse solves
        got = effective_resistance(ei, w, n, pairs=pairs, dense_max=dense_max).numpy()
        np.testing.assert_allclose(got, ref_p, atol=1e-9)


def test_commute_time_and_kirchhoff(small: tuple[nx.Graph, np.ndarray]) -> None:
    G, ref = small
    ei, w, n = undirected(G, "weight")
    vol = 2.0 * G.size(weight="weight")
    np.testing.assert_allclose(commute_time(ei, w, n).numpy(), vol * ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(commute_time(ei, w, n, source=3).numpy(), vol * ref[3], atol=1e-8)
    kf = ref.sum() / 2.0
    assert total_effective_resistance(ei, w, n) == pytest.approx(kf, rel=1e-12)
    assert total_effective_resistance(ei, w, n, dense_max=1) == pytest.approx(kf, rel=1e-12)


def test_closed_forms() -> None:
    ei, w, n = undirected(nx.complete_graph(6))
    R = effective_resistance(ei, w, n)
    np.testing.assert_allclose(R.numpy(), (2.0 / 6) * (1 - np.eye(6)), atol=1e-14)
    ei, w, n = undirected(nx.cycle_graph(7))  # R(0, k) = k (7 - k) / 7
    expected = [k * (7 - k) / 7 for k in range(7)]
    np.testing.assert_allclose(effective_resistance(ei, w, n, source=0).numpy(), expected)
    assert total_effective_resistance(ei, w, n) == pytest.approx((7**3 - 7) / 12)


def test_disconnected_isolated_and_self_loops() -> None:
    ei = torch.tensor([[0, 1, 2, 3, 4], [1, 0, 3, 2, 4]])  # two edges, a self-loop on node 4
    R = effective_resistance(ei, None, 6)
    assert float(R[0, 1]) == pytest.approx(1.0) and R[4, 4] == 0.0
    assert math.isinf(float(R[0, 2]))
    assert math.isinf(float(R[4, 5]))
    src = effective_resistance(ei, None, 6, source=5)
    assert src[5] == 0.0 and torch.isinf(src[:5]).all()
    pairs = torch.tensor([[0, 0, 2, 4], [1, 2, 3, 4]])
    for dm in (3000, 1):
        got = effective_resistance(ei, None, 6, pairs=pairs, dense_max=dm).numpy()
        np.testing.assert_allclose(got, [1.0, math.inf, 1.0, 0.0], atol=1e-12)
    assert total_effective_resistance(ei, None, 6) == math.inf
    assert total_effective_resistance(torch.zeros(2, 0, dtype=torch.long), None, 1) == 0.0
    np.testing.assert_allclose(edge_resistance(ei, None, 6).numpy(), [1, 1, 1, 1, 0], atol=1e-12)
    ct = commute_time(ei, None, 6, pairs=pairs).numpy()
    np.testing.assert_allclose(ct, [2.0, math.inf, 2.0, 0.0], atol=1e-12)


def test_bad_arguments() -> None:
    ei, w, n = undirected(nx.path_graph(3))
    with pytest.raises(GraphError, match="source"):
        effective_resistance(ei, w, n, source=3)
    with pytest.raises(GraphError, match="at most one"):
        effective_resistance(ei, w, n, source=0, pairs=ei)
    with pytest.raises(ShapeError, match="pairs"):
        effective_resistance(ei, w, n, pairs=ei.T)
    with pytest.raises(GraphError, match="epsilon"):
        edge_resistance(ei, w, n, epsilon=1.5)


def test_approximate_edges_within_epsilon() -> None:
    G = weighted(nx.random_regular_graph(4, 200, seed=3))
    ei, w, n = undirected(G, "weight")
    exact = edge_resistance(ei, w, n)
    approx = edge_resistance(ei, w, n, epsilon=0.3, seed=1)
    assert float(((approx - exact).abs() / exact).max()) <= 0.3
    again = edge_resistance(ei, w, n, epsilon=0.3, seed=1)
    assert torch.equal(approx, again)
    coarse = edge_resistance(ei, w, n, num_projections=16, seed=1)
    assert float(((coarse - exact).abs() / exact).max()) > 0.01  # really a sketch


def test_weights_are_conductances() -> None:
    ei = torch.tensor([[0, 1], [1, 0]])
    w = torch.tensor([4.0, 4.0], dtype=torch.float64)
    assert effective_resistance(ei, w, 2)[0, 1] == 0.25


graph_seeds = st.tuples(st.integers(3, 12), st.integers(0, 10_000))


@settings(max_examples=25, deadline=None)
@given(graph_seeds)
def test_foster_theorem(params: tuple[int, int]) -> None:
    n, seed = params
    G = weighted(nx.connected_watts_strogatz_graph(n, 2, 0.5, seed=seed), seed=seed)
    ei, w, n = undirected(G, "weight")
    R = edge_resistance(ei, w, n)
    assert float((w * R).sum() / 2.0) == pytest.approx(n - 1, rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(graph_seeds, st.floats(0.1, 5.0))
def test_rayleigh_monotonicity(params: tuple[int, int], extra: float) -> None:
    n, seed = params
    G = weighted(nx.connected_watts_strogatz_graph(n, 2, 0.5, seed=seed), seed=seed)
    ei, w, n = undirected(G, "weight")
    before = effective_resistance(ei, w, n)
    rng = np.random.default_rng(seed)
    u, v = (int(x) for x in rng.choice(n, size=2, replace=False))
    ei2 = torch.cat([ei, torch.tensor([[u, v], [v, u]])], dim=1)
    w2 = torch.cat([w, torch.tensor([extra, extra], dtype=torch.float64)])
    after = effective_resistance(ei2, w2, n)
    assert bool((after <= before + 1e-12).all())
    assert float(after[u, v]) < float(before[u, v])


@pytest.mark.parametrize("source", [1.5, 1.0, True, -1, 3, torch.tensor(1.0)])
def test_source_must_be_an_integer_node_id(source: object) -> None:
    """A float source was truncated (1.5 -> node 1); -1 counts from nowhere."""
    path = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    with pytest.raises(GraphError, match="source: expected"):
        effective_resistance(path, None, 3, source=source)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="source: expected"):
        commute_time(path, None, 3, source=source)  # type: ignore[arg-type]
    for ok in (np.int64(1), torch.tensor(1)):
        assert effective_resistance(path, None, 3, source=ok).tolist() == [1.0, 0.0, 1.0]  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_num_projections_must_be_a_positive_integer(k: object) -> None:
    """num_projections <= 0 returned all-zero resistances."""
    tri = torch.tensor([[0, 1, 2], [1, 2, 0]])
    with pytest.raises(GraphError, match="num_projections: expected an integer"):
        edge_resistance(tri, None, 3, num_projections=k)  # type: ignore[arg-type]


def test_commute_time_from_an_isolated_node_is_inf() -> None:
    """An isolated node has volume 0, and 0 * inf gave NaN (one-sided, with a warning)."""
    edge = torch.tensor([[0, 1], [1, 0]])
    C = commute_time(edge, None, 3)
    assert C.tolist() == [[0.0, 2.0, math.inf], [2.0, 0.0, math.inf], [math.inf, math.inf, 0.0]]
    assert commute_time(edge, None, 3, source=2).tolist() == [math.inf, math.inf, 0.0]
    empty = commute_time(torch.zeros(2, 0, dtype=torch.long), None, 2)
    assert empty.tolist() == [[0.0, math.inf], [math.inf, 0.0]]
