"""Spectral gap, Laplacians and Cheeger bounds against networkx and closed forms."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tgnn.errors import DisconnectedGraphError, GraphError
from tgnn.metrics import cheeger_bounds, laplacian, spectral_gap

from ._helpers import undirected, weighted


@pytest.mark.parametrize("n", [5, 8, 13])
def test_cycle_closed_form(n: int) -> None:
    ei, w, n = undirected(nx.cycle_graph(n))
    expected = 1.0 - math.cos(2.0 * math.pi / n)
    assert spectral_gap(ei, w, n) == pytest.approx(expected, abs=1e-12)
    assert spectral_gap(ei, w, n, normalization="rw") == pytest.approx(expected, abs=1e-12)
    assert spectral_gap(ei, w, n, normalization=None) == pytest.approx(2 * expected, abs=1e-12)


@pytest.mark.parametrize("normalization", ["sym", None])
def test_weighted_against_networkx_dense_and_sparse(normalization: str | None) -> None:
    G = weighted(nx.connected_watts_strogatz_graph(40, 4, 0.3, seed=2))
    ei, w, n = undirected(G, "weight")
    if normalization == "sym":
        ref = np.sort(nx.normalized_laplacian_spectrum(G, weight="weight"))[1]
    else:
        ref = np.sort(nx.laplacian_spectrum(G, weight="weight"))[1]
    for method in ("dense", "sparse"):
        got = spectral_gap(ei, w, n, normalization=normalization, method=method)  # type: ignore[arg-type]
        assert got == pytest.approx(ref, rel=1e-9)


def test_laplacian_matrices() -> None:
    G = weighted(nx.petersen_graph())
    ei, w, n = undirected(G, "weight")
    ref = nx.normalized_laplacian_matrix(G, weight="weight").toarray()
    np.testing.assert_allclose(laplacian(ei, w, n, normalization="sym").toarray(), ref, atol=1e-14)
    rw = laplacian(ei, w, n, normalization="rw").toarray()
    np.testing.assert_allclose(rw.sum(axis=1), 0.0, atol=1e-14)
    with pytest.raises(GraphError, match="normalization"):
        laplacian(ei, w, n, normalization="bad")  # type: ignore[arg-type]


def test_isolated_node_row_is_zero_and_disconnected_handling() -> None:
    ei = torch.tensor([[0, 1], [1, 0]])
    assert not laplacian(ei, None, 3, normalization="sym").toarray()[2].any()
    with pytest.warns(RuntimeWarning, match="2 connected components"):
        assert spectral_gap(ei, None, 3) == 0.0
    with pytest.raises(DisconnectedGraphError, match="connected"):
        spectral_gap(ei, None, 3, on_disconnected="raise")
    with pytest.raises(GraphError, match="at least 2 nodes"):
        spectral_gap(torch.zeros(2, 0, dtype=torch.long), None, 1)


def test_directed_path_is_symmetrised() -> None:
    directed = torch.tensor([[0, 1, 2], [1, 2, 3]])
    ei, w, n = undirected(nx.path_graph(4))
    assert spectral_gap(directed, None, 4) == pytest.approx(spectral_gap(ei, w, n), abs=1e-12)


def _conductance(G: nx.Graph) -> float:
    nodes = list(G)
    best = math.inf
    for r in range(1, len(nodes)):
        for S in itertools.combinations(nodes, r):
            best = min(best, nx.conductance(G, S, weight="weight"))
    return best


@settings(max_examples=15, deadline=None)
@given(st.integers(4, 8), st.integers(0, 10_000))
def test_cheeger_inequality(n: int, seed: int) -> None:
    G = weighted(nx.gnp_random_graph(n, 0.5, seed=seed), seed=seed)
    if not nx.is_connected(G):
        return
    ei, w, n = undirected(G, "weight")
    lo, hi = cheeger_bounds(ei, w, n)
    h = _conductance(G)
    assert lo - 1e-12 <= h <= hi + 1e-12
