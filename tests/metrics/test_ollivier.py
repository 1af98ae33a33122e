"""Ollivier-Ricci's shortcuts (twin orbits, one distance matrix, reduced transports) against
POT's ``ot.emd2`` on networkx distances, edge by edge, to 1e-9."""

from __future__ import annotations

import networkx as nx
import numpy as np
import ot
import pytest
import torch

import tgnn.metrics._ollivier as orc
from tgnn import attention_to_unrolled
from tgnn.metrics import ollivier_ricci_curvature
from tgnn.metrics._transport import reduced_w1, transport
from tgnn.metrics._twins import edge_orbits, twin_classes

from ._helpers import undirected


def _emd2_curvature(G: nx.Graph, alpha: float) -> dict[tuple[int, int], float]:
    """kappa(x, y) = 1 - W1(m_x, m_y) / d(x, y) from first principles: lengths ``weight``
    (1 when absent), masses ``exp(-w^2)`` normalised, networkx distances, ``ot.emd2``."""
    dist = dict(nx.all_pairs_dijkstra_path_length(G))

    def measure(x: int) -> dict[int, float]:
        raw = {z: np.exp(-G[x][z].get("weight", 1.0) ** 2) for z in G[x]}
        total = sum(raw.values())
        return {x: alpha, **{z: (1 - alpha) * v / total for z, v in raw.items()}}

    out = {}
    for x, y in G.edges():
        mx, my = measure(x), measure(y)
        cost = np.array([[dist[a][b] for b in my] for a in mx])
        w1 = ot.emd2(np.array(list(mx.values())), np.array(list(my.values())), cost)
        out[(min(x, y), max(x, y))] = 1.0 - float(w1) / dist[x][y]
    return out


def _check_against_emd2(G: nx.Graph, alpha: float = 0.5) -> None:
    ei, w, n = undirected(G, "weight" if nx.is_weighted(G) else None)
    got = ollivier_ricci_curvature(ei, w, n, alpha=alpha).numpy()
    ref = _emd2_curvature(G, alpha)
    expected = [ref[(min(u, v), max(u, v))] for u, v in ei.T.tolist()]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def _with_twins(seed: int) -> nx.Graph:
    """A random graph whose nodes 0-3 are false twins and 4-6 true twins of each other."""
    rng = np.random.default_rng(seed)
    G = nx.gnp_random_graph(14, 0.35, seed=seed)
    G.remove_edges_from([(a, b) for a in range(7) for b in range(14) if a != b])
    shared = [int(v) for v in rng.choice(np.arange(7, 14), 3, replace=False)]
    G.add_edges_from((a, b) for a in range(4) for b in shared)
    G.add_edges_from((a, b) for a in range(4, 7) for b in [*range(4, 7), shared[0], 13] if a != b)
    return G


def test_twin_classes_are_the_planted_ones_and_orbits_cover_every_edge() -> None:
    W = nx.to_scipy_sparse_array(_with_twins(0), format="csr", dtype=float)
    labels = twin_classes(type(W)(W))
    assert len(set(labels[:4].tolist())) == 1 and len(set(labels[4:7].tolist())) == 1
    assert labels[0] != labels[4]
    i, j = np.nonzero(np.triu(W.toarray()))
    first, orbit = edge_orbits(labels, i, j)
    assert len(first) < len(i) and np.array_equal(orbit[first], np.arange(len(first)))
    pairs = {tuple(sorted((labels[a], labels[b]))) for a, b in zip(i, j, strict=True)}
    assert len(first) == len(pairs)


def test_unequal_weights_keep_false_twins_apart_and_drop_true_twins() -> None:
    """Twins must have equal rows of W: a weight of one leaf's edge splits the star's leaves,
    and the triangle's true twins only count with one length on every edge."""
    star = nx.star_graph(4)
    star[0][1]["weight"] = 2.0
    W = nx.to_scipy_sparse_array(star, format="csr", dtype=float)
    assert twin_classes(type(W)(W)).tolist() == [0, 1, 2, 2, 2]
    tri = nx.to_scipy_sparse_array(nx.complete_graph(3), format="csr", dtype=float)
    assert twin_classes(type(tri)(tri)).tolist() == [0, 0, 0]
    tri[0, 1] = tri[1, 0] = 2.0
    assert len(set(twin_classes(type(tri)(tri)).tolist())) == 3


@pytest.mark.parametrize("seed", [0, 1])
def test_curvature_with_twins_equals_emd2_edge_by_edge(seed: int) -> None:
    _check_against_emd2(_with_twins(seed))
    weighted = _with_twins(seed)
    rng = np.random.default_rng(seed)
    for u, v in weighted.edges():  # twins kept: each twin's edges get its partners' weights
        weighted[u][v]["weight"] = 1.0 + ((u % 7 if u > 6 else 7) + (v % 7 if v > 6 else 7)) / 10
    _check_against_emd2(weighted, alpha=0.25)
    for u, v in weighted.edges():
        weighted[u][v]["weight"] = float(rng.uniform(0.5, 2.0))
    _check_against_emd2(weighted, alpha=0.0)


def test_unrolled_dense_attention_equals_emd2_through_both_distance_paths(monkeypatch) -> None:
    """The bottleneck benchmark's graph in small: 3 dense layers of 7 tokens, unit lengths
    (4 twin classes, 3 orbits); one distance matrix or distances per batch alike."""
    att = torch.softmax(torch.randn(3, 7, 7, generator=torch.Generator().manual_seed(0)), -1)
    data = attention_to_unrolled(att, rho=0.5)
    G = nx.Graph()
    G.add_nodes_from(range(int(data.num_nodes)))
    G.add_edges_from(data.edge_index.T.tolist())
    ref = _emd2_curvature(G, 0.5)
    for whole in (True, False):
        monkeypatch.setattr(orc, "_whole_pays", lambda *_, w=whole: w)
        got = ollivier_ricci_curvature(data.edge_index, None, int(data.num_nodes),
                                       symmetrize="max").numpy()
        expected = [ref[(min(u, v), max(u, v))] for u, v in data.edge_index.T.tolist()]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_reduced_transport_equals_the_full_one_with_repeated_rows(seed: int) -> None:
    """Shared mass dropped and equal cost rows / columns merged: W1 unchanged (to 1e-12)."""
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 4, size=(12, 2)).astype(float)  # repeated points: equal rows
    cost = np.abs(points[:, None, :] - points[None, :, :]).sum(-1)  # L1 metric on the points
    sx, sy = np.sort(rng.choice(12, 8, replace=False)), np.sort(rng.choice(12, 9, replace=False))
    mx, my = rng.random(8), rng.random(9)
    mx, my = mx / mx.sum(), my / my.sum()
    block = cost[np.ix_(sx, sy)]
    full = float(ot.emd2(mx, my, block))
    assert reduced_w1(sx, mx, sy, my, block) == pytest.approx(full, abs=1e-12)
    assert transport(mx, my * mx.sum() / my.sum(), block)[1] == pytest.approx(full, abs=1e-12)
