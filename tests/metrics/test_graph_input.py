"""Input normalisation and bad inputs of the graph metrics (tgnn.metrics._graph)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Data

from tgnn.errors import EmptyInputError, GraphError, NonFiniteError, ShapeError
from tgnn.metrics import effective_resistance, spectral_gap
from tgnn.metrics._graph import pattern_with_slots, to_adjacency, to_pattern

EI = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])


def test_symmetrize_rules_on_a_directed_edge() -> None:
    ei = torch.tensor([[0], [1]])
    w = torch.tensor([4.0])
    assert to_adjacency(ei, w, 2).toarray()[0, 1] == 2.0
    assert to_adjacency(ei, w, 2, symmetrize="sum").toarray()[1, 0] == 4.0
    assert to_adjacency(ei, w, 2, symmetrize="max").toarray()[1, 0] == 4.0
    with pytest.raises(GraphError, match="undirected"):
        to_adjacency(ei, w, 2, symmetrize=None)
    with pytest.raises(GraphError, match="symmetrize"):
        to_adjacency(ei, w, 2, symmetrize="min")  # type: ignore[arg-type]


def test_undirected_input_is_unchanged_and_self_loops_dropped() -> None:
    ei = torch.cat([EI, torch.tensor([[1], [1]])], dim=1)
    W = to_adjacency(ei, torch.tensor([1.0, 1.0, 2.0, 2.0, 5.0]), 3, symmetrize=None)
    np.testing.assert_array_equal(W.toarray(), [[0, 1, 0], [1, 0, 2], [0, 2, 0]])


def test_multi_edges_add_up() -> None:
    ei = torch.tensor([[0, 0, 1, 1], [1, 1, 0, 0]])
    assert to_adjacency(ei, None, 2).toarray()[0, 1] == 2.0


def test_data_input_equals_triple() -> None:
    w = torch.tensor([1.0, 1.0, 3.0, 3.0], dtype=torch.float64)
    data = Data(edge_index=EI, edge_weight=w, num_nodes=4)
    a = effective_resistance(data)
    b = effective_resistance(EI, w, 4)
    assert torch.equal(a, b)
    assert math.isinf(float(a[0, 3]))  # trailing isolated node kept


@pytest.mark.parametrize(
    ("weight", "error", "match"),
    [
        (torch.tensor([1.0, -1.0, 1.0, 1.0]), GraphError, "non-negative"),
        (torch.tensor([1.0, float("nan"), 1.0, 1.0]), NonFiniteError, "NaN"),
        (torch.tensor([1.0, float("inf"), 1.0, 1.0]), NonFiniteError, "NaN/Inf"),
        (torch.tensor([1.0, 1.0, 1.0]), ShapeError, r"edge_weight: expected shape \[4\]"),
    ],
)
def test_bad_weights(weight: torch.Tensor, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        spectral_gap(EI, weight, 3)


def test_bad_structure() -> None:
    with pytest.raises(EmptyInputError, match="num_nodes"):
        spectral_gap(torch.zeros(2, 0, dtype=torch.long), None, 0)
    with pytest.raises(GraphError, match="num_nodes: expected the number of nodes"):
        spectral_gap(EI)
    with pytest.raises(GraphError, match=r"node ids in \[0, 2\)"):
        spectral_gap(EI, None, 2)
    with pytest.raises(ShapeError, match=r"shape \[2, E\]"):
        spectral_gap(EI.T, None, 3)
    with pytest.raises(ShapeError, match="integer"):
        spectral_gap(EI.float(), None, 3)


def test_edgeless_graph_and_numpy_input() -> None:
    empty = np.zeros((2, 0), dtype=np.int64)
    R = effective_resistance(empty, None, 2)
    assert R[0, 0] == 0 and math.isinf(float(R[0, 1]))
    assert to_adjacency(empty, np.zeros(0), 3).nnz == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(0, 60), st.integers(0, 10_000),
       st.sampled_from(["mean", "sum", "max"]))
def test_pattern_equals_the_adjacency_pattern(n: int, m: int, seed: int, rule: str) -> None:
    rng = np.random.default_rng(seed)
    ei = torch.from_numpy(rng.integers(0, n, (2, m)))  # duplicates, self-loops, one direction
    w = torch.from_numpy(rng.choice([0.0, 0.5, 2.0], m))  # zero weights drop edges
    W = to_adjacency(ei, w, n, symmetrize=rule)  # type: ignore[arg-type]
    P = to_pattern(ei, w, n, symmetrize=rule)  # type: ignore[arg-type]
    assert np.array_equal(P.indptr, W.indptr) and np.array_equal(P.indices, W.indices)
    assert (P.data == 1.0).all()
    _, slots = pattern_with_slots(ei, w, n, symmetrize=rule)  # type: ignore[arg-type]
    for (u, v), slot in zip(ei.T.tolist(), slots.tolist(), strict=True):
        lo, hi = min(u, v), max(u, v)
        if u == v or W[lo, hi] == 0:  # self-loop, or no weight in either direction
            assert slot == -1
        else:  # the stored entry (lo, hi)
            assert P.indices[slot] == hi and P.indptr[lo] <= slot < P.indptr[lo + 1]


def test_pattern_keeps_the_symmetry_check() -> None:
    with pytest.raises(GraphError, match="undirected"):
        to_pattern(torch.tensor([[0], [1]]), None, 2, symmetrize=None)
    sym, slots = pattern_with_slots(EI, None, 3, symmetrize=None)
    assert sym.toarray().tolist() == [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    assert [(int(sym.indices[s]) if s >= 0 else -1) for s in slots.tolist()] == [
        max(u, v) if u != v else -1 for u, v in EI.T.tolist()
    ]


def _each_graph_metric() -> list:
    from tgnn.metrics import (
        augmented_forman_curvature,
        balanced_forman_curvature,
        commute_time,
        edge_resistance,
        forman_curvature,
        laplacian,
        ollivier_ricci_curvature,
        total_effective_resistance,
    )

    return [spectral_gap, effective_resistance, edge_resistance, commute_time,
            total_effective_resistance, laplacian, balanced_forman_curvature,
            forman_curvature, augmented_forman_curvature, ollivier_ricci_curvature]


@pytest.mark.parametrize("metric", _each_graph_metric(), ids=lambda f: f.__name__)
def test_a_batch_of_several_graphs_is_refused_by_every_metric(metric: object) -> None:
    """A Batch was read as one disconnected graph (spectral_gap(batch) returned 0.0)."""
    from torch_geometric.data import Batch

    one = Data(edge_index=EI, num_nodes=3)
    with pytest.raises(GraphError, match=r"Batch of 2 graphs.*batch.to_data_list\(\)"):
        metric(Batch.from_data_list([one, one]))  # type: ignore[operator]
    single = metric(Batch.from_data_list([one]))  # type: ignore[operator]
    if isinstance(single, torch.Tensor):  # one graph in a Batch is that graph
        assert torch.equal(single, metric(one))  # type: ignore[operator]


@pytest.mark.parametrize("num_nodes", [3.0, 3.7, True, "3", torch.tensor(3.0)])
def test_num_nodes_must_be_an_integer(num_nodes: object) -> None:
    """A float num_nodes was silently truncated (8.7 -> 8)."""
    with pytest.raises(GraphError, match="num_nodes: expected an integer"):
        spectral_gap(EI, None, num_nodes)  # type: ignore[arg-type]


def test_integer_num_nodes_of_every_kind() -> None:
    ref = spectral_gap(EI, None, 3)
    for n in (np.int64(3), torch.tensor(3), np.array(3)):
        assert spectral_gap(EI, None, n) == ref  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        (torch.ones(4, dtype=torch.complex128) * (1 + 1j), "real weights, got dtype complex128"),
        (np.array(["a", "b", "c", "d"], dtype=object), "numeric dtype, got object"),
    ],
)
def test_complex_and_non_numeric_weights_are_refused(weight: object, match: str) -> None:
    """The imaginary part of complex weights was dropped with a numpy warning."""
    with pytest.raises(ShapeError, match=match):
        effective_resistance(EI, weight, 3)


def test_low_precision_weights_are_read() -> None:
    """bfloat16 weights ended in torch's raw 'Got unsupported ScalarType BFloat16'."""
    ref = effective_resistance(EI, torch.full((4,), 2.0), 3)
    for dtype in (torch.bfloat16, torch.float16):
        assert torch.equal(effective_resistance(EI, torch.full((4,), 2.0, dtype=dtype), 3), ref)


@pytest.mark.parametrize(
    "ei", [torch.tensor([[0, 1], [1, 3]]), torch.tensor([[0, 3], [1, 0]]),
           torch.tensor([[0, -1], [1, 0]]), torch.tensor([[0, 1], [-3, 0]])],
)
def test_both_rows_are_range_checked(ei: torch.Tensor) -> None:
    with pytest.raises(GraphError, match=r"edge_index: expected node ids in \[0, 3\).*1 ids"):
        effective_resistance(ei, None, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"factor_max": 0}, "factor_max: expected an integer >= 1, got 0"),
        ({"factor_max": -1}, "factor_max: expected an integer >= 1"),
        ({"factor_max": 1.5}, "factor_max: expected an integer, got 1.5"),
        ({"factor_max": float("nan")}, "factor_max: expected an integer, got nan"),
        ({"dense_max": float("nan")}, "dense_max: expected an integer, got nan"),
        ({"dense_max": None}, "dense_max: expected an integer, got None"),
        ({"dense_max": -1}, "dense_max: expected an integer >= 0"),
    ],
)
def test_size_limits_are_integers(kwargs: dict, match: str) -> None:
    """factor_max 0 / -1 / 1.5 were accepted by spectral_gap (NaN gave numpy's raw 'cannot
    convert float NaN to integer'); dense_max=None gave a raw TypeError, NaN meant 'sparse'."""
    from tgnn.metrics import total_effective_resistance

    ring = torch.tensor([[0, 1, 2, 3, 1, 2, 3, 0], [1, 2, 3, 0, 0, 1, 2, 3]])
    pairs = torch.tensor([[0], [2]])
    for call in (lambda: spectral_gap(ring, None, 4, method="sparse", **kwargs),
                 lambda: effective_resistance(ring, None, 4, pairs=pairs, **kwargs),
                 lambda: effective_resistance(ring, None, 4, source=0, **kwargs),
                 lambda: total_effective_resistance(ring, None, 4, **kwargs)):
        with pytest.raises(GraphError, match=match):
            call()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"epsilon": "x"}, "epsilon: expected a real number, got 'x'"),
     ({"epsilon": float("nan")}, "epsilon: expected a finite number"),
     ({"num_projections": 8, "seed": -1}, "seed: expected an integer >= 0, got -1"),
     ({"num_projections": 8, "seed": 1.5}, "seed: expected an integer, got 1.5")],
)
def test_approximate_resistance_options(kwargs: dict, match: str) -> None:
    """A string epsilon and a negative seed ended in raw ValueErrors from float() and numpy."""
    from tgnn.metrics import edge_resistance

    with pytest.raises(GraphError, match=match):
        edge_resistance(EI, None, 3, **kwargs)


@pytest.mark.parametrize("name", ["alpha", "exp_power", "base"])
def test_ollivier_options_must_be_real_numbers(name: str) -> None:
    """alpha='a' ended in a raw TypeError from a comparison."""
    from tgnn.metrics import ollivier_ricci_curvature

    with pytest.raises(GraphError, match=f"{name}: expected a real number, got 'a'"):
        ollivier_ricci_curvature(EI, None, 3, **{name: "a"})  # type: ignore[arg-type]
