"""One contract over every public graph metric, the way scikit-learn's estimator checks cover a
family: ``Data`` == triple == prepared graph, and each edge case a clear error or the documented
value (issue 18, item 6).

Every public function of :mod:`tgnn.metrics` that reads a graph is listed in ``METRICS`` (a test
fails when one is missing).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

import tgnn.metrics as metrics
from tgnn.errors import EmptyInputError, GraphError, NonFiniteError, SizeLimitError
from tgnn.metrics import PreparedGraph, prepare

PAIRS = torch.tensor([[0, 1], [2, 3]])

# name -> call(graph, edge_weight, num_nodes); every call returns floats or tensors.
METRICS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "laplacian": lambda g, w, n: metrics.laplacian(g, w, n).toarray(),
    "spectral_gap": lambda g, w, n: metrics.spectral_gap(g, w, n),
    "cheeger_bounds": lambda g, w, n: metrics.cheeger_bounds(g, w, n),
    "effective_resistance": lambda g, w, n: metrics.effective_resistance(g, w, n),
    "edge_resistance": lambda g, w, n: metrics.edge_resistance(g, w, n),
    "commute_time": lambda g, w, n: metrics.commute_time(g, w, n, pairs=PAIRS),
    "total_effective_resistance": lambda g, w, n: metrics.total_effective_resistance(g, w, n),
    "balanced_forman_curvature": lambda g, w, n: metrics.balanced_forman_curvature(g, w, n),
    "forman_curvature": lambda g, w, n: metrics.forman_curvature(g, w, n),
    "augmented_forman_curvature": lambda g, w, n: metrics.augmented_forman_curvature(g, w, n),
    "ollivier_ricci_curvature": lambda g, w, n: metrics.ollivier_ricci_curvature(g, w, n),
}
# Functions of tgnn.metrics that read attention, hidden states or models, not a graph.
NOT_GRAPH = {"residual", "mu", "residual_ratio", "mean_cosine", "effective_rank",
             "dirichlet_energy", "collapse_profile", "attention_entropy", "sink_mass",
             "sink_rate", "attention_rollout", "attention_flow", "unrolled_flow_network",
             "jacobian_sensitivity", "surrogate_sensitivity", "probe_sensitivity",
             "jacobian_seconds_estimate", "collapse_table", "collapse_length", "prepare"}

# A weighted, connected 6-node graph with a self-loop and a duplicated edge.
EI = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0, 0, 2, 1, 1],
                   [1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 0, 5, 3, 0, 1, 2]])
W = torch.tensor([1.0, 1.0, 2.0, 2.0, 0.5, 0.5, 1.5, 1.5, 1.0, 1.0, 3.0, 3.0, 0.7, 0.7, 4.0, 1.0])
N = 6


def _values(out: Any) -> list[np.ndarray]:
    items = out if isinstance(out, tuple) else (out,)
    return [np.atleast_1d(np.asarray(x.double() if isinstance(x, torch.Tensor) else x,
                                     dtype=np.float64)) for x in items]


def _assert_same(a: Any, b: Any, rtol: float = 1e-12) -> None:
    for x, y in zip(_values(a), _values(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)


def test_every_public_graph_metric_is_covered() -> None:
    public = {name for name in metrics.__all__ if inspect.isfunction(getattr(metrics, name))}
    assert public - NOT_GRAPH == set(METRICS)


@pytest.mark.parametrize("name", METRICS)
def test_data_triple_and_prepared_graph_agree(name: str) -> None:
    call = METRICS[name]
    triple = call(EI, W, N)
    _assert_same(call(Data(edge_index=EI, edge_weight=W, num_nodes=N), None, None), triple)
    prepared = prepare(EI, W, N)
    _assert_same(call(prepared, None, None), triple)
    _assert_same(call(prepared, None, None), triple)  # second call from the caches


@pytest.mark.parametrize("name", METRICS)
def test_results_do_not_alias_the_prepared_caches(name: str) -> None:
    prepared = prepare(EI, W, N)
    first = METRICS[name](prepared, None, None)
    expected = [x.copy() for x in _values(first)]
    for value in (first if isinstance(first, tuple) else (first,)):
        if isinstance(value, torch.Tensor):
            value.fill_(-7.0)
    for x, y in zip(_values(METRICS[name](prepared, None, None)), expected, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", METRICS)
def test_a_batch_is_refused_and_a_batch_of_one_is_its_graph(name: str) -> None:
    one = Data(edge_index=EI, edge_weight=W, num_nodes=N)
    with pytest.raises(GraphError, match="Batch of 2 graphs"):
        METRICS[name](Batch.from_data_list([one, one]), None, None)
    _assert_same(METRICS[name](Batch.from_data_list([one]), None, None),
                 METRICS[name](one, None, None))


BAD = {
    "negative id": (torch.tensor([[0, -1], [1, 0]]), None, 3, GraphError, "node ids in"),
    "id out of range": (torch.tensor([[0, 1], [1, 3]]), None, 3, GraphError, "node ids in"),
    "NaN weight": (torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0, math.nan]), 3,
                   NonFiniteError, "edge_weight"),
    "negative weight": (torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0, -1.0]), 3,
                        GraphError, "non-negative"),
    "empty graph": (torch.zeros(2, 0, dtype=torch.long), None, 0, EmptyInputError, "num_nodes"),
    "float num_nodes": (torch.tensor([[0, 1], [1, 0]]), None, 3.0, GraphError, "num_nodes"),
}


@pytest.mark.parametrize("case", BAD)
@pytest.mark.parametrize("name", METRICS)
def test_bad_input_is_a_clear_error(name: str, case: str) -> None:
    ei, w, n, error, match = BAD[case]
    with pytest.raises(error, match=match):
        METRICS[name](ei, w, n)
    with pytest.raises(error, match=match):
        prepare(ei, w, n)


PER_EDGE = {"edge_resistance", "balanced_forman_curvature", "forman_curvature",
            "augmented_forman_curvature", "ollivier_ricci_curvature"}


@pytest.mark.parametrize("name", METRICS)
def test_self_loops_are_dropped_and_duplicates_add_up(name: str) -> None:
    """Per-edge metrics give each input column the value of its undirected edge (a self-loop
    gets resistance 0 and curvature NaN, as documented); the others see the graph without
    self-loops and with duplicates summed."""
    call = METRICS[name]
    keep = EI[0] != EI[1]
    reference = call(EI[:, keep], W[keep], N)
    # the edge (1, 2) of weight 2 given as two columns, 1.5 + 0.5
    first = int(((EI[0][keep] == 1) & (EI[1][keep] == 2)).nonzero()[0])
    w = W[keep].clone()
    w[first] = 1.5
    doubled = call(torch.cat([EI[:, keep], torch.tensor([[1], [2]])], dim=1),
                   torch.cat([w, torch.tensor([0.5])]), N)
    looped = call(EI, W, N)
    if name in PER_EDGE:
        _assert_same(doubled[:-1], reference, rtol=1e-10)
        assert doubled[-1] == doubled[first]
        _assert_same(looped[keep], reference)
        loop = looped[~keep]
        assert (loop == 0).all() if name == "edge_resistance" else torch.isnan(loop).all()
    else:
        _assert_same(doubled, reference, rtol=1e-10)
        _assert_same(looped, reference)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", METRICS)
def test_low_precision_weights_give_the_float64_value(name: str, dtype: torch.dtype) -> None:
    """Weights exact in the dtype (multiples of 1/2): the value equals the float64 one."""
    w = torch.tensor([1.0, 2.0, 0.5, 1.5] * 4)
    _assert_same(METRICS[name](EI, w.to(dtype), N), METRICS[name](EI, w, N))


ONE_NODE: dict[str, Any] = {  # documented values on one node, or the documented error
    "laplacian": [0.0], "total_effective_resistance": 0.0,
    "effective_resistance": [0.0], "edge_resistance": [], "balanced_forman_curvature": [],
    "forman_curvature": [], "augmented_forman_curvature": [], "ollivier_ricci_curvature": [],
    "spectral_gap": GraphError, "cheeger_bounds": GraphError, "commute_time": GraphError,
}


@pytest.mark.parametrize("name", METRICS)
def test_one_node(name: str) -> None:
    ei = torch.zeros(2, 0, dtype=torch.long)
    expected = ONE_NODE[name]
    if isinstance(expected, type):
        with pytest.raises(expected):
            METRICS[name](ei, None, 1)
        return
    np.testing.assert_array_equal(_values(METRICS[name](ei, None, 1))[0].ravel(),
                                  np.asarray(expected, dtype=np.float64))


@pytest.mark.parametrize("name", METRICS)
def test_an_isolated_node_gives_the_documented_value(name: str) -> None:
    """Node 6 is isolated: gaps are 0 (with a warning), resistances to it infinite, curvatures
    of the other edges unchanged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = METRICS[name](EI, W, N + 1)
    connected = METRICS[name](EI, W, N)
    if name in ("spectral_gap", "cheeger_bounds"):
        assert all(v.item() == 0.0 for v in _values(out))
        assert any("connected components" in str(w.message) for w in caught)
    elif name == "total_effective_resistance":
        assert out == math.inf
    elif name == "effective_resistance":
        R = out.numpy()
        assert np.isinf(R[:N, N]).all() and R[N, N] == 0.0
        np.testing.assert_allclose(R[:N, :N], connected.numpy(), rtol=1e-12)
    elif name == "laplacian":
        L = out
        assert not L[N].any() and not L[:, N].any()
    else:  # per-edge values and pairs within the component do not see the isolated node
        _assert_same(out, connected)


@pytest.mark.parametrize("name", ["effective_resistance", "spectral_gap",
                                  "total_effective_resistance"])
def test_dense_paths_refuse_a_huge_graph_before_allocating(name: str) -> None:
    n = 200_000
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    options = {"spectral_gap": {"method": "dense"},
               "total_effective_resistance": {"dense_max": n}}.get(name, {})
    with pytest.raises(SizeLimitError, match=r"GiB|MiB"):
        getattr(metrics, name)(ring, None, n, **options)


def test_prepare_returns_a_prepared_graph_as_it_is_and_refuses_extra_parts() -> None:
    prepared = prepare(Data(edge_index=EI, edge_weight=W, num_nodes=N))
    assert isinstance(prepared, PreparedGraph) and prepare(prepared) is prepared
    assert prepared.num_nodes == N and prepared.num_edges == EI.shape[1]
    assert torch.equal(prepared.edge_index, EI) and torch.equal(prepared.edge_weight, W.double())
    with pytest.raises(GraphError, match="PreparedGraph"):
        prepare(prepared, num_nodes=N)
    assert "num_nodes=6" in repr(prepared)


def test_a_prepared_graph_factorises_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bottleneck study's measures (gap, Cheeger, all-pairs and total resistance, commute
    times) run one dense pseudo-inverse and one eigendecomposition on a prepared graph."""
    import scipy.linalg

    from tgnn.metrics import resistance, spectral

    calls = {"pinv": 0, "eigh": 0}
    pinv, eigh = resistance._dense_pinv_plus, scipy.linalg.eigh

    def counted_pinv(*args: Any, **kwargs: Any) -> Any:
        calls["pinv"] += 1
        return pinv(*args, **kwargs)

    def counted_eigh(*args: Any, **kwargs: Any) -> Any:
        calls["eigh"] += 1
        return eigh(*args, **kwargs)

    monkeypatch.setattr(resistance, "_dense_pinv_plus", counted_pinv)
    monkeypatch.setattr(spectral.sla, "eigh", counted_eigh)
    graph = prepare(EI, W, N)
    metrics.spectral_gap(graph)
    metrics.cheeger_bounds(graph)
    metrics.effective_resistance(graph)
    metrics.total_effective_resistance(graph)
    assert calls == {"pinv": 1, "eigh": 1}
