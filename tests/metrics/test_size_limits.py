"""Graph metrics at long-context scale: the fill prediction, the factor-free paths and the guards.

``factor_max=1`` forces the paths that large expander-like graphs take (plain Lanczos for the
spectral gap, conjugate gradients for resistance pairs); they must give the factorised / dense
numbers. The guards must refuse with :class:`~tgnn.errors.SizeLimitError` naming the argument,
the size and the alternative.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tgnn.errors import SizeLimitError
from tgnn.metrics import (
    effective_resistance,
    spectral_gap,
    total_effective_resistance,
)
from tgnn.metrics._limits import factor_size

from ._helpers import undirected, weighted


def _pattern(G: nx.Graph) -> sp.csr_array:
    return sp.csr_array(nx.to_scipy_sparse_array(nx.convert_node_labels_to_integers(G)))


def _true_fill(a: sp.csr_array, perm: np.ndarray) -> int:
    """Entries of the dense Cholesky factor of ``P (A + c I) P^T`` (exact zeros excluded)."""
    m = a[perm][:, perm].toarray()
    m = np.abs(m) + np.diag(np.abs(m).sum(1) + 1.0)  # SPD with the same pattern
    return int(np.count_nonzero(np.abs(np.linalg.cholesky(m)) > 1e-300))


def test_factor_size_closed_forms() -> None:
    n = 30
    assert factor_size(_pattern(nx.path_graph(n)))[0] == 2 * n - 1
    assert factor_size(_pattern(nx.star_graph(n - 1)))[0] == 2 * n - 1  # the hub goes last
    assert factor_size(_pattern(nx.complete_graph(n)))[0] == n * (n + 1) // 2
    assert factor_size(_pattern(nx.empty_graph(n)))[0] == n


@pytest.mark.parametrize("seed", range(4))
def test_factor_size_is_the_symbolic_factor_of_the_reversed_order(seed: int) -> None:
    """On graphs without hubs the first ordering is the reversed node order: count it densely."""
    G = nx.gnm_random_graph(40, 70, seed=seed)
    a = _pattern(G)
    assert factor_size(a, budget=10**6)[0] == _true_fill(a, np.arange(39, -1, -1))


def test_nested_dissection_fits_a_mesh_where_banded_orderings_do_not() -> None:
    a = _pattern(nx.grid_2d_graph(40, 40))
    banded = factor_size(a, budget=10**6)[0]  # the reversed order: bandwidth 40
    assert banded > 55_000
    entries = factor_size(a, budget=40_000)[0]
    assert entries <= 40_000  # nested dissection: O(n log n)
    ei, w, n = undirected(nx.convert_node_labels_to_integers(nx.grid_2d_graph(40, 40)))
    got = effective_resistance(ei, w, n, source=0, factor_max=40_000)
    assert torch.allclose(got, effective_resistance(ei, w, n, source=0), rtol=1e-12)


def test_factor_size_stops_at_the_budget() -> None:
    a = _pattern(nx.complete_graph(60))
    assert factor_size(a, budget=100) == (101, np.inf)


@pytest.mark.parametrize("normalization", ["sym", None])
@pytest.mark.parametrize("seed", range(3))
def test_factor_free_spectral_gap_matches_dense(normalization: str | None, seed: int) -> None:
    G = weighted(nx.connected_watts_strogatz_graph(120, 6, 0.3, seed=seed), seed)
    ei, w, n = undirected(G, "weight")
    dense = spectral_gap(ei, w, n, method="dense", normalization=normalization)
    for factor_max in (1, None):  # Lanczos without a factor; inverse Lanczos
        got = spectral_gap(ei, w, n, method="sparse", normalization=normalization,
                           factor_max=factor_max)
        assert got == pytest.approx(dense, rel=1e-8, abs=1e-10)


def test_factor_free_resistance_pairs_match_dense() -> None:
    G = weighted(nx.random_regular_graph(4, 80, seed=1), 2)
    ei, w, n = undirected(G, "weight")
    pairs = torch.tensor([[79, 79, 0, 5, 3], [0, 40, 1, 5, 77]])
    dense = effective_resistance(ei, w, n, pairs=pairs)
    got = effective_resistance(ei, w, n, pairs=pairs, dense_max=0, factor_max=1)
    assert torch.allclose(got, dense, rtol=1e-9, atol=1e-12)
    factored = effective_resistance(ei, w, n, pairs=pairs, dense_max=0)
    assert torch.allclose(factored, dense, rtol=1e-10)


def test_source_and_kirchhoff_refuse_a_filling_factor() -> None:
    ei, w, n = undirected(weighted(nx.random_regular_graph(4, 80, seed=1)), "weight")
    with pytest.raises(SizeLimitError, match=r"factor_max: effective_resistance\(source=") as e:
        effective_resistance(ei, w, n, source=n - 1, factor_max=50)
    assert "79 rows" in str(e.value) and "pairs=" in str(e.value) and "GiB" in str(e.value)
    with pytest.raises(SizeLimitError, match="factor_max: total_effective_resistance"):
        total_effective_resistance(ei, w, n, dense_max=0, factor_max=50)
    assert effective_resistance(ei, w, n, source=n - 1)[0] > 0  # the default budget fits


def test_dense_paths_refuse_above_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tgnn.metrics._limits.DENSE_MAX_NODES", 10)
    ei, w, n = undirected(nx.cycle_graph(12))
    for call, what in [
        (lambda: effective_resistance(ei, w, n), "all pairs"),
        (lambda: effective_resistance(ei, w, n, pairs=ei), "all pairs"),
        (lambda: spectral_gap(ei, w, n, method="dense"), "method='dense'"),
        (lambda: total_effective_resistance(ei, w, n), "total_effective_resistance"),
    ]:
        with pytest.raises(SizeLimitError, match=what) as info:
            call()
        assert "num_nodes" in str(info.value) and "n = 12" in str(info.value)
        assert "instead" in str(info.value)
    # the sparse paths are not limited by the node count
    assert effective_resistance(ei, w, n, source=0)[6] == pytest.approx(3.0)
    assert spectral_gap(ei, w, n, method="sparse") == pytest.approx(1 - np.cos(2 * np.pi / 12))
