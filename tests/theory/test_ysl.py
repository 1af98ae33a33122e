from __future__ import annotations

from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
import scipy.linalg as sl
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tgnn.theory import closed_forms as cf
from tgnn.theory import globally_reachable_nodes, ysl_resistance

from tgnn.errors import NotCausalError, NotReachableError, ShapeError

from ._helpers import as_fraction, causal_attention, random_causal, uniform


def scipy_reference(weights: np.ndarray) -> np.ndarray:
    """The definition verbatim: null-space basis, scipy's Lyapunov solver, X = 2 Q^T S Q."""
    n = len(weights)
    lap = np.diag(weights.sum(1)) - weights
    q = sl.null_space(np.ones((1, n))).T
    sigma = sl.solve_continuous_lyapunov(q @ lap @ q.T, np.eye(n - 1))
    x = 2 * q.T @ sigma @ q
    d = np.diag(x)
    return d[:, None] + d[None, :] - 2 * x


@settings(max_examples=25, deadline=None)
@given(causal_attention())
def test_causal_and_lyapunov_paths_match_definition(a: np.ndarray) -> None:
    ref = scipy_reference(a)
    fast = ysl_resistance(a)
    assert np.allclose(fast, ref, rtol=1e-9, atol=1e-9)
    assert np.allclose(ysl_resistance(a, method="lyapunov"), ref, rtol=1e-9, atol=1e-9)


def test_blocked_solver_large_causal_matches_generic() -> None:
    a = random_causal(150, seed=3, scale=2.0)  # several recursion levels and 2x2 Schur blocks
    fast, slow = ysl_resistance(a), ysl_resistance(a, method="lyapunov")
    assert np.max(np.abs(fast - slow)) <= 1e-9 * np.max(slow)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 8), st.integers(0, 2**32 - 1))
def test_generic_digraph_and_independence_of_q(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w = rng.random((n, n)) * (rng.random((n, n)) < 0.7)
    w[np.arange(n - 1), np.arange(1, n)] += 0.5  # a path keeps a globally reachable node
    ref = scipy_reference(w)
    assert np.allclose(ysl_resistance(w), ref, rtol=1e-8, atol=1e-9)
    rotation = sl.qr(rng.normal(size=(n - 1, n - 1)))[0]
    basis = rotation @ sl.null_space(np.ones((1, n))).T
    assert np.allclose(ysl_resistance(w, basis=basis), ref, rtol=1e-8, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 9), st.integers(0, 2**32 - 1))
def test_equals_effective_resistance_on_undirected_graphs(n: int, seed: int) -> None:
    if n > 3:
        graph = nx.connected_watts_strogatz_graph(n, 2, 0.5, seed=seed % 1000)
    else:
        graph = nx.path_graph(n)
    rng = np.random.default_rng(seed)
    for u, v in graph.edges:
        graph[u][v]["weight"] = float(rng.uniform(0.2, 3.0))
    w = nx.to_numpy_array(graph, nodelist=range(n))
    r = ysl_resistance(w)
    for u, v in [(0, n - 1), (0, n // 2)]:
        if u != v:
            expected = nx.resistance_distance(graph, u, v, weight="weight", invert_weight=False)
            assert r[u, v] == pytest.approx(expected, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(causal_attention(min_n=3))
def test_sqrt_is_a_metric_but_r_is_not_required_to_be(a: np.ndarray) -> None:
    d = np.sqrt(ysl_resistance(a))
    n = len(a)
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0) and np.all(d[~np.eye(n, dtype=bool)] > 0)
    triangle = d[:, None, :] - d[:, :, None] - d[None, :, :].transpose(0, 2, 1)
    assert triangle.max() <= 1e-9  # d(i, k) <= d(i, j) + d(j, k) for all i, j, k


def test_exact_rationals_uniform() -> None:
    for n, exact in [(2, Fraction(4)), (3, Fraction(31, 7)), (4, Fraction(8549, 1785))]:
        r = ysl_resistance(uniform(n))
        assert as_fraction(r[0, n - 1], 10**5) == exact
        assert r[0, n - 1] == pytest.approx(float(exact), rel=1e-13)


def test_exact_full_matrix_against_sympy_sink_model() -> None:
    import sympy as sp

    p = sp.Rational(1, 3)
    exact = cf.exact_ysl_resistance(cf.sink_attention(5, p))
    numeric = ysl_resistance(np.array(cf.sink_attention(5, p), dtype=float))
    assert np.allclose(numeric, np.array(exact, dtype=float), rtol=1e-12)


def test_uniform_values_bounds_and_consensus_caveat() -> None:
    values = {16: 6.79, 64: 8.98, 256: 11.27}
    for n, expected in values.items():
        r = ysl_resistance(uniform(n))
        assert round(float(r[0, n - 1]), 2) == expected
        assert r[0, n - 1] <= 4 * (1 + float(cf.harmonic(n - 1)))
        # consensus coupling, not influence: neighbours at the end look closest
        assert r[n - 2, n - 1] < r[0, n - 1] and r[n - 2, n - 1] == pytest.approx(2, abs=0.1)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_sink_model_bound(p: float) -> None:
    for n in (3, 10, 40):
        sink = p * np.outer(np.ones(n), np.eye(n)[0]) + (1 - p) * uniform(n)
        assert ysl_resistance(sink)[0, n - 1] <= float(cf.sink_ysl_bound(p)) + 1e-12


def test_errors_and_inputs() -> None:
    with pytest.raises(NotReachableError, match="globally reachable"):
        ysl_resistance(np.eye(3))  # three sinks
    bad = uniform(4)
    bad[2] = [0.0, 0.0, 1.0, 0.0]  # token 2 reads only itself: assumption H fails
    with pytest.raises(NotReachableError, match="assumption H"):
        ysl_resistance(bad)
    with pytest.raises(NotCausalError):
        ysl_resistance(np.full((3, 3), 1 / 3), method="causal")
    with pytest.raises(ShapeError, match="basis"):
        ysl_resistance(np.full((3, 3), 1 / 3), basis=np.eye(3))
    heads = np.stack([random_causal(5, 1), random_causal(5, 2)])
    assert np.allclose(ysl_resistance(torch.from_numpy(heads)[None]), ysl_resistance(heads.mean(0)))
    assert ysl_resistance(np.ones((1, 1))).shape == (1, 1)


def test_globally_reachable_nodes() -> None:
    assert globally_reachable_nodes(uniform(4)).tolist() == [0]
    ring = np.roll(np.eye(4), 1, axis=1)
    assert globally_reachable_nodes(ring).tolist() == [0, 1, 2, 3]
    assert globally_reachable_nodes(np.eye(3)).size == 0
