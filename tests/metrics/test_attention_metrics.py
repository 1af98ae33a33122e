"""Attention metrics against networkx max-flow, direct products and closed forms."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch

from tgnn.errors import EmptyInputError, NotStochasticError, ShapeError
from tgnn.metrics import (
    attention_entropy,
    attention_flow,
    attention_rollout,
    sink_mass,
    sink_rate,
    unrolled_flow_network,
)


def _random(*shape: int, seed: int = 0, causal: bool = False) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(*shape, generator=gen, dtype=torch.float64) * 2.0
    if causal:
        n = shape[-1]
        logits = logits.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), -math.inf)
    return torch.softmax(logits, dim=-1)


def test_entropy_shapes_and_values() -> None:
    A = _random(3, 2, 5, 5)
    H = attention_entropy(A, reduction="none")
    assert H.shape == (3, 2, 5)
    a = A.numpy()
    np.testing.assert_allclose(H.numpy(), -(a * np.log(a)).sum(-1), rtol=1e-12)
    assert attention_entropy(A).shape == (3, 2)
    uniform = torch.full((4, 4), 0.25)
    np.testing.assert_allclose(attention_entropy(uniform).item(), math.log(4))
    assert attention_entropy([A[0], A[1]]).shape == (2, 2)


def test_sink_mass_and_rate() -> None:
    A = _random(2, 3, 6, 6, causal=True)
    a = A.numpy()
    ref = np.stack([a[..., k:, k].mean(-1) for k in range(6)], axis=-1)
    np.testing.assert_allclose(sink_mass(A).numpy(), ref, rtol=1e-12)
    assert sink_rate(A) == pytest.approx(float((ref[..., 0] > 0.3).mean()))
    sink = torch.zeros(4, 4)
    sink[:, 0] = 1.0
    assert sink_rate(sink) == 1.0 and sink_rate(torch.eye(4)) == 0.0
    with pytest.raises(ShapeError, match="position"):
        sink_rate(sink, position=4)


def test_rollout_is_the_product_of_residual_layers() -> None:
    A = _random(4, 2, 5, 5)
    rho = 0.3
    hat = [rho * A[l].mean(0) + (1 - rho) * torch.eye(5, dtype=torch.float64) for l in range(4)]
    ref = hat[3] @ hat[2] @ hat[1] @ hat[0]
    np.testing.assert_allclose(attention_rollout(A, rho=rho).numpy(), ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(attention_rollout(A).sum(-1).numpy(), 1.0, rtol=1e-12)
    with pytest.raises(ShapeError, match="rho"):
        attention_rollout(A, rho=1.5)


@pytest.mark.parametrize(("layers", "n", "causal"), [(2, 5, False), (3, 6, True), (4, 4, False)])
def test_flow_equals_networkx(layers: int, n: int, causal: bool) -> None:
    A = _random(layers, n, n, seed=layers, causal=causal)
    F = attention_flow(A, rho=0.4)
    G = unrolled_flow_network(A, rho=0.4)
    for i in range(n):
        for j in range(n):
            ref = nx.maximum_flow_value(G, (0, j), (layers, i)) if (0, j) in G else 0.0
            assert float(F[i, j]) == pytest.approx(ref, abs=1e-12)
    assert bool((F <= 1.0 + 1e-12).all())  # the sink's in-capacity is a row sum, 1
    if causal:
        assert float(F.triu(1).abs().max()) == 0.0


def test_bad_attention() -> None:
    with pytest.raises(NotStochasticError):
        attention_entropy(torch.ones(3, 3))
    with pytest.raises(ShapeError, match="square"):
        sink_mass(torch.ones(2, 3) / 3)
    with pytest.raises(EmptyInputError, match="empty list"):
        attention_flow([])
    with pytest.raises(ShapeError, match="one shape"):
        attention_rollout([torch.eye(2), torch.eye(3)])


def test_sink_rate_and_rollout_options_are_checked() -> None:
    """position=1.5 ended in torch's raw IndexError, eps=NaN returned a rate of 0.0 and
    rho='a' a raw TypeError."""
    A = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(ShapeError, match="position: expected an integer, got 1.5"):
        sink_rate(A, position=1.5)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"position: expected an index in \[-2, 2\), got 2"):
        sink_rate(A, position=2)
    with pytest.raises(ShapeError, match="eps: expected a finite number, got nan"):
        sink_rate(A, eps=float("nan"))
    with pytest.raises(ShapeError, match="rho: expected a real number, got 'a'"):
        attention_rollout(A, rho="a")  # type: ignore[arg-type]
    assert sink_rate(A, position=np.int64(-2)) == sink_rate(A, position=0) == 1.0  # type: ignore[arg-type]
