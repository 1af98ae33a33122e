"""Curvatures against closed forms, a set-based reference and GraphRicciCurvature fixtures."""

from __future__ import annotations

import json
import pathlib

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tgnn.errors import GraphError
from tgnn.metrics import (
    augmented_forman_curvature,
    balanced_forman_curvature,
    forman_curvature,
    ollivier_ricci_curvature,
)

from ._helpers import bfc_from_induced_cycles, undirected, weighted

FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures" / "orc" / "orc_fixtures.json"


def _bfc(G: nx.Graph, **kwargs: object) -> np.ndarray:
    ei, w, n = undirected(nx.convert_node_labels_to_integers(G))
    return balanced_forman_curvature(ei, w, n, **kwargs).numpy()  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [3, 4, 5, 8])
def test_bfc_complete_graph(n: int) -> None:
    np.testing.assert_allclose(_bfc(nx.complete_graph(n)), n / (n - 1), atol=1e-14)


@pytest.mark.parametrize(("n", "value"), [(4, 1.0), (5, 0.0), (6, 0.0), (9, 0.0)])
def test_bfc_cycles(n: int, value: float) -> None:
    np.testing.assert_allclose(_bfc(nx.cycle_graph(n)), value, atol=1e-14)


def test_bfc_grid_corner_and_degree_one() -> None:
    G = nx.grid_2d_graph(3, 3)
    index = {v: k for k, v in enumerate(G)}
    ei, w, n = undirected(nx.relabel_nodes(G, index))
    values = balanced_forman_curvature(ei, w, n).numpy()
    corner = (ei[0] == index[(0, 0)]).numpy()
    np.testing.assert_allclose(values[corner], 1.0 / 3.0, atol=1e-14)
    np.testing.assert_array_equal(_bfc(nx.star_graph(4)), 0.0)
    lollipop = _bfc(nx.lollipop_graph(4, 2))  # the pendant edge has a degree-1 end
    assert lollipop[-1] == 0.0


def test_bfc_legacy_variant_differs_where_documented() -> None:
    np.testing.assert_allclose(_bfc(nx.complete_graph(5), variant="sdrf"), 1.75)
    np.testing.assert_allclose(_bfc(nx.cycle_graph(6), variant="sdrf"), 1.0)
    np.testing.assert_allclose(_bfc(nx.cycle_graph(4), variant="sdrf"), 1.0)
    with pytest.raises(GraphError, match="variant"):
        _bfc(nx.cycle_graph(4), variant="other")


@settings(max_examples=25, deadline=None)
@given(st.integers(4, 16), st.floats(0.15, 0.6), st.integers(0, 10_000))
def test_bfc_equals_set_based_reference(n: int, p: float, seed: int) -> None:
    G = nx.gnp_random_graph(n, p, seed=seed)
    ei, w, n = undirected(G)
    ours = balanced_forman_curvature(ei, w, n).numpy()
    ref = bfc_from_induced_cycles(G)
    expected = [ref[(min(u, v), max(u, v))] for u, v in ei.T.tolist()]
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def _expected_bfc(G: nx.Graph, ei: torch.Tensor) -> list[float]:
    ref = bfc_from_induced_cycles(G)
    return [ref[(min(u, v), max(u, v))] for u, v in ei.T.tolist()]


@pytest.mark.parametrize(
    ("setting", "kernel"),
    [
        ({}, "cycle"),
        ({"RECORD_BUDGET": 8}, "edge"),  # too many records: the cycle pass stops, edges take over
        ({"EDGES_PER_THREAD": 16, "kernel_threads": lambda: 3}, "edge"),  # 3 edge threads
    ],
    ids=["cycle", "over-budget", "edge-threads"],
)
def test_bfc_kernels_equal_set_based_reference(monkeypatch, setting: dict, kernel: str) -> None:
    from tgnn.metrics._balanced_forman import kernels as _bfc

    for name, value in setting.items():
        monkeypatch.setattr(_bfc, name, value)
    ran = []
    edge_entries = _bfc._edge_entries
    monkeypatch.setattr(_bfc, "_edge_entries", lambda *a: ran.append("edge") or edge_entries(*a))
    G = nx.gnm_random_graph(40, 160, seed=5)
    ei, w, n = undirected(G)
    np.testing.assert_allclose(balanced_forman_curvature(ei, w, n).numpy(),
                               _expected_bfc(G, ei), atol=1e-12)
    assert ran == ([] if kernel == "cycle" else ["edge"])


@pytest.mark.parametrize(
    "G",
    [
        nx.barabasi_albert_graph(120, 3, seed=2),  # hubs: the highest node is rarely an end
        nx.hypercube_graph(5),  # every 4-cycle induced, many per edge
        nx.complete_multipartite_graph(3, 4, 5),  # induced 4-cycles next to chords
        nx.wheel_graph(9),
        nx.grid_2d_graph(6, 7),
        nx.circular_ladder_graph(9),
        nx.watts_strogatz_graph(80, 6, 0.2, seed=3),
    ],
    ids=["ba", "hypercube", "multipartite", "wheel", "grid", "ladder", "small-world"],
)
def test_bfc_families_equal_set_based_reference(G: nx.Graph) -> None:
    G = nx.convert_node_labels_to_integers(G)
    ei, w, n = undirected(G)
    np.testing.assert_array_equal(balanced_forman_curvature(ei, w, n).numpy(),
                                  _expected_bfc(G, ei))


def test_bfc_cycle_kernel_grows_its_record_buffer(monkeypatch) -> None:
    from tgnn.metrics._balanced_forman import kernels as _bfc

    calls = []
    cycle_pass = _bfc.cycle_pass
    monkeypatch.setattr(_bfc, "cycle_pass", lambda *a: calls.append(a[2]) or cycle_pass(*a))
    G = nx.complete_bipartite_graph(9, 9)  # C(9,2)^2 = 1296 induced 4-cycles, 10368 records
    ei, w, n = undirected(G)
    got = balanced_forman_curvature(ei, w, n).numpy()
    assert calls == [81 * 2 + 1024, 10368]
    np.testing.assert_allclose(got, _expected_bfc(G, ei), atol=1e-12)


def test_nan_for_self_loops_and_directed_input_symmetrised() -> None:
    ei = torch.tensor([[0, 1, 2, 3, 0, 2], [1, 2, 3, 0, 0, 2]])  # directed 4-cycle + 2 loops
    values = balanced_forman_curvature(ei, None, 4).numpy()
    np.testing.assert_array_equal(values[:4], 1.0)
    assert np.isnan(values[4:]).all()
    with pytest.raises(GraphError, match="undirected"):
        balanced_forman_curvature(ei, None, 4, symmetrize=None)


def test_forman_weighted_and_unweighted() -> None:
    G = weighted(nx.petersen_graph())
    ei, w, n = undirected(G, "weight")
    got = forman_curvature(ei, w, n).numpy()
    for col, (u, v) in enumerate(ei.T.tolist()):
        we = G[u][v]["weight"]
        rest = [G[u][k]["weight"] for k in G[u] if k != v]
        rest += [G[v][k]["weight"] for k in G[v] if k != u]
        expected = we * (2.0 / we - sum(1.0 / np.sqrt(we * x) for x in rest))
        assert got[col] == pytest.approx(expected, rel=1e-12)
    ei, w, n = undirected(nx.petersen_graph())
    np.testing.assert_array_equal(forman_curvature(ei, w, n).numpy(), 4 - 3 - 3)


def _four_cycles(G: nx.Graph, u: int, v: int) -> int:
    return sum(
        1 for k in G[u] for x in G[v] if k != v and x != u and k != x and G.has_edge(k, x)
    )


def test_augmented_forman() -> None:
    G = nx.gnp_random_graph(14, 0.35, seed=4)
    ei, w, n = undirected(G)
    afrc3 = augmented_forman_curvature(ei, w, n).numpy()
    afrc4 = augmented_forman_curvature(ei, w, n, cycles=4).numpy()
    for col, (u, v) in enumerate(ei.T.tolist()):
        tri = len(set(G[u]) & set(G[v]))
        base = 4 - G.degree(u) - G.degree(v) + 3 * tri
        assert afrc3[col] == base
        assert afrc4[col] == base + 2 * _four_cycles(G, u, v)
    with pytest.raises(GraphError, match="cycles"):
        augmented_forman_curvature(ei, w, n, cycles=5)  # type: ignore[arg-type]


def test_ollivier_ricci_equals_graphriccicurvature_fixtures() -> None:
    records = json.loads(FIXTURES.read_text())["graphs"]
    assert len(records) >= 20
    for rec in records:
        edges = np.array(rec["edges"], dtype=np.int64).T
        ei = torch.from_numpy(np.concatenate([edges, edges[::-1]], axis=1))
        w = None
        if rec["weights"] is not None:
            w = torch.tensor(rec["weights"] * 2, dtype=torch.float64)
        got = ollivier_ricci_curvature(ei, w, rec["n"], alpha=rec["alpha"]).numpy()
        np.testing.assert_allclose(got[: edges.shape[1]], rec["values"], atol=1e-6,
                                   err_msg=f"{rec['name']} alpha={rec['alpha']}")


def test_ollivier_ricci_closed_form_and_bad_alpha() -> None:
    ei, w, n = undirected(nx.complete_graph(6))  # K_n, alpha = 0: (n - 2) / (n - 1)
    got = ollivier_ricci_curvature(ei, w, n, alpha=0.0).numpy()
    np.testing.assert_allclose(got, 4 / 5, atol=1e-12)
    with pytest.raises(GraphError, match="alpha"):
        ollivier_ricci_curvature(ei, w, n, alpha=1.5)


@settings(max_examples=25, deadline=None)
@given(st.integers(4, 30), st.floats(0.1, 0.6), st.integers(0, 10_000), st.floats(0.5, 3.0))
def test_ollivier_hop_distances_equal_dijkstra_on_the_supports(
    n: int, p: float, seed: int, length: float
) -> None:
    import scipy.sparse.csgraph as csg

    from tgnn.metrics._ollivier import _cost_blocks, _supports

    G = nx.gnp_random_graph(n, p, seed=seed)
    if G.number_of_edges() == 0:
        return
    W = nx.to_scipy_sparse_array(G, format="csr", dtype=float) * length
    W = type(W)(W)
    supp, _, ext_ptr = _supports(W, 0.5, 2.0, np.e)
    i, j = np.array(list(G.edges())).T
    exact = csg.dijkstra(W, directed=False)  # equal lengths: hop counts off the pattern
    for whole in (False, True):  # per batch of edges, or gathered from one n x n matrix
        blocks = _cost_blocks(W, supp, ext_ptr, 3.0 * length * (1 + 1e-9), whole)
        costs, offsets, lengths = blocks(i, j)
        for t, (x, y) in enumerate(zip(i, j, strict=True)):
            sx, sy = supp[ext_ptr[x] : ext_ptr[x + 1]], supp[ext_ptr[y] : ext_ptr[y + 1]]
            block = costs[offsets[t] : offsets[t + 1]].reshape(len(sx), len(sy))
            np.testing.assert_allclose(block, exact[np.ix_(sx, sy)], rtol=1e-12)
            assert lengths[t] == pytest.approx(exact[x, y], rel=1e-12)


def test_ollivier_batches_within_the_memory_budget_give_the_same_values(monkeypatch) -> None:
    import tgnn.metrics._ollivier as orc

    G = nx.gnm_random_graph(60, 200, seed=3)
    ei = torch.tensor(list(G.edges())).T
    w = torch.rand(ei.shape[1], generator=torch.Generator().manual_seed(1)) + 0.5
    whole = [ollivier_ricci_curvature(ei, x, 60, symmetrize="sum") for x in (None, w)]
    monkeypatch.setattr(orc, "MAX_DISTANCE_ENTRIES", 60 * 25)  # 25 distance rows per batch
    batches = orc._edge_batches(np.full(200, 12 * 60), 2048)
    assert len(batches) == 100 and all(stop - start == 2 for start, stop in batches)
    assert orc._edge_batches(np.full(3, 99 * 60), 2048) == [(0, 1), (1, 2), (2, 3)]
    for x, ref in zip((None, w), whole, strict=True):
        torch.testing.assert_close(ollivier_ricci_curvature(ei, x, 60, symmetrize="sum"), ref,
                                   atol=1e-12, rtol=0)


def _orc_by_linear_program(lengths: dict[tuple[int, int], float], n: int, alpha: float
                           ) -> dict[tuple[int, int], float]:
    """Ollivier-Ricci curvature from first principles: masses in exact rationals of exp(-w^2)
    ratios (mpmath), distances by networkx, transport by scipy's linear program."""
    import mpmath
    from scipy.optimize import linprog

    graph = nx.Graph()
    graph.add_weighted_edges_from((a, b, w) for (a, b), w in lengths.items())
    dist = dict(nx.all_pairs_dijkstra_path_length(graph))

    def measure(x: int) -> dict[int, float]:
        raw = {z: mpmath.exp(-mpmath.mpf(graph[x][z]["weight"]) ** 2) for z in graph[x]}
        total = sum(raw.values())
        return {x: alpha, **{z: float((1 - alpha) * v / total) for z, v in raw.items()}}

    out = {}
    for a, b in lengths:
        mx, my = measure(a), measure(b)
        xs, ys = list(mx), list(my)
        cost = np.array([[dist[u][v] for v in ys] for u in xs]).ravel()
        rows = np.kron(np.eye(len(xs)), np.ones(len(ys)))
        cols = np.kron(np.ones(len(xs)), np.eye(len(ys)))
        rhs = np.concatenate([[mx[u] for u in xs], [my[v] for v in ys]])
        plan = linprog(cost, A_eq=np.vstack([rows, cols]), b_eq=rhs, bounds=(0, None))
        out[(a, b)] = 1.0 - plan.fun / dist[a][b]
    return out


def test_ollivier_ricci_with_long_edges_whose_masses_underflow() -> None:
    """Lengths near 28: every exp(-w^2) underflows to 0 in float64 (0 / 0 before); their
    ratios exp(w_a^2 - w_b^2) are of order one, so the masses are far from degenerate."""
    lengths = {(0, 1): 28.0, (1, 2): 28.01, (0, 2): 28.03, (2, 3): 28.02, (1, 3): 28.05}
    ei = torch.tensor(list(lengths)).T
    w = torch.tensor(list(lengths.values()), dtype=torch.float64)
    got = ollivier_ricci_curvature(ei, w, 4, alpha=0.5, symmetrize="sum").numpy()
    expected = _orc_by_linear_program(lengths, 4, alpha=0.5)
    np.testing.assert_allclose(got, [expected[e] for e in lengths], rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    ("option", "value"),
    [("exp_power", float("nan")), ("exp_power", -1.0), ("base", 0.0), ("base", float("inf")),
     ("chunk", 0), ("alpha", float("nan"))],
)
def test_ollivier_ricci_names_a_bad_option(option: str, value: float) -> None:
    ei = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(GraphError, match=option):
        ollivier_ricci_curvature(ei, num_nodes=3, **{option: value})


def test_forman_on_a_graph_without_edges() -> None:
    """scipy's raw 'unable to infer matrix dimensions' came out of an edgeless graph."""
    loops = torch.tensor([[0, 1], [0, 1]])  # self-loops only: no edge of the simple graph
    assert forman_curvature(loops, None, 2).isnan().all()
    assert forman_curvature(torch.zeros(2, 0, dtype=torch.long), None, 2).shape == (0,)


@pytest.mark.parametrize("weighted", [False, True])
def test_ollivier_ricci_on_the_unshared_mass_equals_the_full_transport(
    weighted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """W1 on (m_x - m_y)+ -> (m_x - m_y)- equals W1(m_x, m_y) (Kantorovich-Rubinstein), on
    dense graphs where the two supports share most nodes."""
    import tgnn.metrics._ollivier as orc

    graph = nx.gnp_random_graph(40, 0.85, seed=3)
    ei = torch.tensor(list(graph.edges())).T
    rng = np.random.default_rng(0)
    w = torch.tensor(rng.uniform(0.5, 2.0, ei.shape[1])) if weighted else None
    values = {}
    for size in (0, 10**9):  # every edge through the reduction, or none
        monkeypatch.setattr(orc, "REDUCE_MIN_SIZE", size)
        values[size] = ollivier_ricci_curvature(ei, w, 40, symmetrize="sum")
    torch.testing.assert_close(values[0], values[10**9], rtol=0, atol=1e-12)


def test_bfc_threads_follow_the_granted_cpus_and_torch_threads() -> None:
    """The edge kernel's threads: the CPUs granted to the process (affinity, cgroup quota: not
    os.cpu_count()), capped by torch.get_num_threads(), so torch.set_num_threads sets them."""
    from tgnn._cpus import available_cpus
    from tgnn.metrics._balanced_forman.kernels import _edge_workers

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert _edge_workers(10**8) == 1
        torch.set_num_threads(64)
        assert _edge_workers(10**8) == min(64, available_cpus())
    finally:
        torch.set_num_threads(before)
