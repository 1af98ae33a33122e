"""One contract over every transform: input untouched, bad input and bad parameters refused.

Every public transform of :mod:`tgnn.transforms` is listed in ``TRANSFORMS`` (a test fails when
one is missing), the way scikit-learn's estimator checks cover a whole family.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import BaseTransform

import tgnn.transforms as transforms
from tgnn.convert import attention_to_data
from tgnn.errors import GraphError, NonFiniteError, ShapeError
from tgnn.graphs import sliding_window, uniform_bidirectional
from tgnn.transforms import (
    BORF,
    GTR,
    SDRF,
    AddPauseTokens,
    AddSinkNode,
    FoSR,
    VirtualNode,
)

TRANSFORMS: dict[str, Callable[[], BaseTransform]] = {
    "SDRF": lambda: SDRF(num_iterations=3),
    "FoSR": lambda: FoSR(num_edges=2),
    "BORF": lambda: BORF(num_iterations=1),
    "GTR": lambda: GTR(num_edges=2),
    "AddSinkNode": lambda: AddSinkNode(p=0.3),
    "AddPauseTokens": lambda: AddPauseTokens(num_start=1, num_end=1),
    "VirtualNode": lambda: VirtualNode(p=0.3),
}
CAUSAL_OK = set(TRANSFORMS) - {"VirtualNode"}


def test_every_public_transform_is_covered():
    public = {
        name for name in transforms.__all__
        if isinstance(getattr(transforms, name), type)
        and issubclass(getattr(transforms, name), BaseTransform)
    }
    assert public == set(TRANSFORMS)


def _attention_graph(causal: bool) -> Data:
    """Two heads (edge_attr), head mean (edge_weight), hidden states x, pos, earlier flags."""
    n = 7
    one = sliding_window(n, 3, causal=causal) if causal else uniform_bidirectional(n)
    two = sliding_window(n, 2, causal=causal)
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    data = attention_to_data(torch.stack([one, two]).float(), head_reduction="mean", x=x)
    data.edge_attr = torch.stack([one, two])[:, data.edge_index[1], data.edge_index[0]].t()
    data.edge_added = torch.zeros(data.num_edges, dtype=torch.bool)
    return data


CASES = [(name, causal) for name in TRANSFORMS for causal in (True, False)
         if causal is False or name in CAUSAL_OK]


@pytest.mark.parametrize("direct", [False, True], ids=["call", "forward"])
@pytest.mark.parametrize(("name", "causal"), CASES)
def test_input_data_is_not_modified(name: str, causal: bool, direct: bool):
    """Neither ``transform(data)`` (PyG copies shallowly first) nor ``transform.forward(data)``
    replaces an attribute of the input or writes into one of its tensors."""
    data = _attention_graph(causal)
    keys = set(data.keys())
    tensors = {key: value for key, value in data.items() if isinstance(value, torch.Tensor)}
    copies = {key: value.clone() for key, value in tensors.items()}
    transform = TRANSFORMS[name]()
    out = transform.forward(data) if direct else transform(data)
    assert out is not data and set(data.keys()) == keys
    for key, value in tensors.items():
        assert data[key] is value, f"{name} replaced data.{key}"
        assert torch.equal(value, copies[key]), f"{name} wrote into data.{key}"
    assert out.num_nodes >= data.num_nodes and out.edge_added.size(0) == out.num_edges


def _plain(edge_index: Any, num_nodes: Any = 4, edge_weight: Any = None) -> Data:
    data = Data(edge_index=edge_index)
    if num_nodes is not None:
        data.num_nodes = num_nodes
    if edge_weight is not None:
        data.edge_weight = edge_weight
    return data


EDGES = torch.tensor([[0, 1, 2, 0], [1, 2, 3, 3]])
BAD_INPUTS: list[tuple[str, Callable[[], Data], type[Exception], str]] = [
    # before: scipy's "negative axis 0 index" (rewiring) or a silent wrap to the last node
    ("negative id in row 1", lambda: _plain(torch.tensor([[0, 1], [1, -1]])), GraphError,
     r"edge_index: expected node ids in \[0, 4\), got range \[-1"),
    ("negative id in row 0", lambda: _plain(torch.tensor([[0, -2], [1, 1]])), GraphError,
     r"\[0, 4\), got range \[-2"),
    ("id out of range in row 1", lambda: _plain(torch.tensor([[0, 1], [1, 4]])), GraphError,
     r"\[0, 4\), got range \[0, 4\]"),
    ("float edge_index", lambda: _plain(EDGES.float()), ShapeError, "integer dtype"),
    ("edge_index [3, E]", lambda: _plain(torch.zeros(3, 2, dtype=torch.long)), ShapeError,
     r"shape \[2, E\]"),
    ("float num_nodes", lambda: _plain(EDGES, 4.5), GraphError, "num_nodes: .*4.5"),
    ("negative num_nodes", lambda: _plain(EDGES, -1), GraphError, "num_nodes: .*-1"),
    ("num_nodes inferred", lambda: _plain(EDGES, None), GraphError, "num_nodes: .*explicitly"),
    ("NaN weight", lambda: _plain(EDGES, 4, torch.tensor([1.0, math.nan, 1.0, 1.0])),
     NonFiniteError, "edge_weight: expected finite"),
    ("negative weight", lambda: _plain(EDGES, 4, torch.tensor([1.0, -1.0, 1.0, 1.0])),
     GraphError, "edge_weight: expected non-negative"),
    ("weight length", lambda: _plain(EDGES, 4, torch.ones(3)), ShapeError,
     r"edge_weight: expected shape \[4\]"),
    ("complex weight", lambda: _plain(EDGES, 4, torch.ones(4, dtype=torch.complex64)),
     ShapeError, "edge_weight: expected real"),
    ("batch of two", lambda: Batch.from_data_list([_plain(EDGES), _plain(EDGES)]), GraphError,
     "batch of 2.*to_data_list"),
]


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize(("label", "make", "error", "message"), BAD_INPUTS,
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_raises_a_named_error(
    name: str, label: str, make: Callable[[], Data], error: type[Exception], message: str
):
    with pytest.raises(error, match=message):
        TRANSFORMS[name]()(make())


@pytest.mark.parametrize("name", TRANSFORMS)
def test_valid_variants_give_the_same_graph(name: str):
    """int32 ids and bf16 weights (exact here) give the int64 / float32 result; an empty graph
    passes through."""
    weight = torch.tensor([0.5, 1.0, 0.25, 1.0])
    reference = TRANSFORMS[name]()(_plain(EDGES, 5, weight))
    for variant in (_plain(EDGES.int(), 5, weight), _plain(EDGES, 5, weight.bfloat16())):
        assert torch.equal(TRANSFORMS[name]()(variant).edge_index, reference.edge_index)
    empty = TRANSFORMS[name]()(_plain(torch.zeros(2, 0, dtype=torch.long), 0))
    assert empty.edge_added.size(0) == empty.num_edges


BAD_PARAMETERS: list[tuple[Callable[[], BaseTransform], str]] = [
    (lambda: SDRF(num_iterations=-1), "num_iterations: expected an integer >= 0, got -1"),
    (lambda: SDRF(num_iterations=2.5), "num_iterations: .*2.5"),
    (lambda: SDRF(tau=math.nan), r"tau: expected a real number in \[0, inf\], got nan"),
    (lambda: SDRF(tau=-1.0), "tau: .*-1.0"),
    (lambda: SDRF(removal_bound=math.nan), "removal_bound: .*nan"),
    (lambda: SDRF(curvature="forman"), "curvature: .*'paper', 'reference'.*'forman'"),
    (lambda: SDRF(seed=-1), "seed: .*-1"),
    (lambda: SDRF(added_weight=0.0), r"added_weight: .*\(0, inf\), got 0.0"),
    (lambda: SDRF(causal="yes"), "causal: expected True, False or None"),
    (lambda: SDRF(renormalize=1), "renormalize: "),
    (lambda: FoSR(num_edges=-1), "num_edges: .*-1"),
    (lambda: FoSR(num_edges=1.5), "num_edges: .*1.5"),
    (lambda: FoSR(power_iters=-3), "power_iters: .*-3"),
    (lambda: FoSR(seed=0.5), "seed: "),
    (lambda: FoSR(added_weight=-1.0), "added_weight: .*-1.0"),
    (lambda: FoSR(added_weight=math.inf), "added_weight: .*inf"),
    (lambda: GTR(num_edges=-2), "num_edges: .*-2"),
    (lambda: GTR(added_weight=0.0), "added_weight: .*0.0"),
    (lambda: GTR(added_weight=math.nan), "added_weight: .*nan"),
    (lambda: BORF(alpha=1.5), r"alpha: expected a real number in \[0, 1\], got 1.5"),
    (lambda: BORF(alpha=math.nan), "alpha: .*nan"),
    (lambda: BORF(alpha=-0.1), "alpha: "),
    (lambda: BORF(num_iterations=-1), "num_iterations: "),
    (lambda: BORF(batch_add=-1), "batch_add: .*-1"),
    (lambda: BORF(batch_remove=-1), "batch_remove: .*-1"),
    (lambda: BORF(removal_bound=math.nan), "removal_bound: "),
    (lambda: BORF(pick="flow"), "pick: .*'flow'"),
    (lambda: BORF(added_weight=-2.0), "added_weight: "),
    (lambda: AddSinkNode(p="0.2"), "p: .*str"),
    (lambda: AddSinkNode(p=math.nan), "p: .*nan"),
    (lambda: AddPauseTokens(num_start=1.5), "num_start: .*1.5"),
    (lambda: AddPauseTokens(num_end=-1), "num_end: .*-1"),
    (lambda: AddPauseTokens(num_start=True), "num_start: .*bool"),
    (lambda: AddPauseTokens(pause_mass=math.nan), "pause_mass: "),
    (lambda: AddPauseTokens(causal="no"), "causal: "),
    (lambda: VirtualNode(p=1.5), "p: .*1.5"),
    (lambda: VirtualNode(causal=0), "causal: "),
]


@pytest.mark.parametrize(("make", "message"), BAD_PARAMETERS,
                         ids=[case[1].split(":")[0] + str(i) for i, case in
                              enumerate(BAD_PARAMETERS)])
def test_bad_parameters_raise_at_construction(make: Callable[[], BaseTransform], message: str):
    with pytest.raises(ShapeError, match=message):
        make()


def test_borf_alpha_one_is_allowed():
    out = BORF(num_iterations=1, alpha=1.0)(_plain(EDGES, 4))
    assert out.edge_added.size(0) == out.num_edges


@pytest.mark.parametrize("name", TRANSFORMS)
def test_a_prepared_graph_gives_what_its_data_gives(name: str):
    """Every transform accepts :func:`tgnn.metrics.prepare`'s graph in place of its ``Data``."""
    from tgnn.metrics import prepare

    source = _attention_graph(causal=False)
    plain = Data(edge_index=source.edge_index, edge_weight=source.edge_weight.double(),
                 num_nodes=source.num_nodes)
    expected = TRANSFORMS[name]()(plain)
    out = TRANSFORMS[name]()(prepare(plain))
    assert torch.equal(out.edge_index, expected.edge_index)
    assert torch.equal(out.edge_weight, expected.edge_weight)
    assert out.num_nodes == expected.num_nodes
