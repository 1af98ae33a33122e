"""Generators refuse bad parameters with a named error instead of a wrong matrix or a raw error."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np
import pytest
import torch

from tgnn.errors import GraphError, NonFiniteError, ShapeError
from tgnn.graphs import (
    alibi_recency,
    barbell_graph,
    from_networkx_undirected,
    path_graph,
    pause_tokens,
    sink_mixture,
    sliding_window,
    uniform_causal,
)

BAD_CALLS: list[tuple[str, Callable[[], Any], str]] = [
    # NaN / infinite slope: a NaN matrix before (exp(-inf * 0) on the diagonal)
    ("alibi nan slope", lambda: alibi_recency(4, slope=math.nan), "slope: .*got nan"),
    ("alibi inf slope", lambda: alibi_recency(4, slope=math.inf), "slope: .*got inf"),
    ("alibi str slope", lambda: alibi_recency(4, slope="0.5"), "slope: .*str"),
    ("alibi negative slope", lambda: alibi_recency(4, slope=-1.0), r"slope: .*\[0, inf\)"),
    # non-integer and bool sizes: raw TypeErrors from torch before
    ("bool length", lambda: uniform_causal(True), "n: expected an integer >= 1.*bool"),
    ("float pause count", lambda: pause_tokens(3, num_start=1.5), "num_start: .*1.5"),
    ("bool pause count", lambda: pause_tokens(3, num_end=True), "num_end: .*bool"),
    ("negative pause count", lambda: pause_tokens(3, num_end=-1), "num_end: .*-1"),
    ("float window", lambda: sliding_window(4, 2.0), "window: expected an integer"),
    ("negative size", lambda: path_graph(-2), "n: expected an integer >= 1, got -2"),
    ("float size", lambda: path_graph(3.0), "n: expected an integer >= 1"),
    ("bool bridge", lambda: barbell_graph(3, True), "bridge_length: .*bool"),
    # probabilities outside [0, 1]
    ("sink p > 1", lambda: sink_mixture(4, 1.5), r"p: .*\[0, 1\], got 1.5"),
    ("sink p nan", lambda: sink_mixture(4, math.nan), "p: .*nan"),
    ("pause mass 1", lambda: pause_tokens(3, 1, pause_mass=1.0), r"pause_mass: .*\[0, 1\)"),
    ("pause mass negative", lambda: pause_tokens(3, 1, pause_mass=-0.1), "pause_mass"),
    # a string flag was read as True before
    ("string causal", lambda: sliding_window(4, 2, causal="no"), "causal: .*'no'"),
    ("string causal alibi", lambda: alibi_recency(4, causal="no"), "causal"),
]


@pytest.mark.parametrize(("label", "call", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_parameters_raise_a_named_error(label: str, call: Callable[[], Any], message: str):
    with pytest.raises(ShapeError, match=message):
        call()


def test_numpy_integers_are_sizes():
    torch.testing.assert_close(uniform_causal(np.int64(3)), uniform_causal(3))
    assert path_graph(np.int64(4)).num_nodes == 4


def test_large_finite_slope_is_the_identity_limit():
    torch.testing.assert_close(alibi_recency(4, slope=1e300), torch.eye(4, dtype=torch.float64))


@pytest.mark.parametrize("weight", [math.nan, math.inf])
def test_networkx_weights_must_be_finite(weight: float):
    graph = nx.path_graph(3)
    graph[0][1]["weight"] = weight
    with pytest.raises(NonFiniteError, match=r"weight.*edge \(0, 1\)"):
        from_networkx_undirected(graph)
    graph[0][1]["weight"] = "heavy"
    with pytest.raises(ShapeError, match="'heavy'"):
        from_networkx_undirected(graph)


def test_directed_networkx_graphs_are_refused():
    # before: 0 -> 1 and 1 -> 0 became four stored edges, each pair's weight counted twice
    with pytest.raises(GraphError, match="directed.*to_undirected"):
        from_networkx_undirected(nx.DiGraph([(0, 1), (1, 0)]))
