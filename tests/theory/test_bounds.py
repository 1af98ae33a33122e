from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tgnn.theory import (
    oversquashing_bound,
    predicted_sensitivity_profile,
    rollout_resistance,
    sensitivity_constant,
)

from tgnn.errors import TgnnError

from ._helpers import causal_layers


@settings(max_examples=25, deadline=None)
@given(causal_layers(), st.floats(0.0, 3.0), st.integers(0, 2**32 - 1))
def test_bound_is_path_sum_and_holds_for_linear_models(
    layers: list[np.ndarray], beta: float, seed: int
) -> None:
    n, count = len(layers[0]), len(layers)
    path_sum = np.eye(n)
    for a in layers:
        path_sum = (a + beta * np.eye(n)) @ path_sum
    bound = oversquashing_bound(layers, beta=beta, constant=1.0)
    assert np.allclose(bound, path_sum[-1], rtol=1e-12, atol=1e-14)
    rho = 1 / (1 + beta)
    resistance = rollout_resistance(layers, rho=rho, target=-1)
    assert np.allclose(bound, sensitivity_constant(count, beta=beta) / resistance)
    # linear model h <- (A h + beta h) W_l with ||W_l||_2 <= 1: the bound holds, tight for W = I
    rng = np.random.default_rng(seed)
    d = 3
    weights = []
    for _ in range(count):
        w = rng.normal(size=(d, d))
        weights.append(w / np.linalg.norm(w, 2))
    x = torch.zeros(n, d, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda v: _linear(v, layers, weights, beta), x)
    norms = np.array([np.linalg.norm(jac[:, s, :].numpy(), 2) for s in range(n)])
    assert np.all(norms <= bound + 1e-12)
    identity = [np.eye(d)] * count
    jac = torch.autograd.functional.jacobian(lambda v: _linear(v, layers, identity, beta), x)
    tight = np.array([np.linalg.norm(jac[:, s, :].numpy(), 2) for s in range(n)])
    assert np.allclose(tight, bound, atol=1e-12)


def _linear(
    x: torch.Tensor, layers: list[np.ndarray], weights: list[np.ndarray], beta: float
) -> torch.Tensor:
    for a, w in zip(layers, weights, strict=True):
        x = (torch.from_numpy(a) @ x + beta * x) @ torch.from_numpy(w)
    return x[-1]


def test_profile_is_rollout_distribution() -> None:
    rng = np.random.default_rng(0)
    layers = torch.softmax(
        torch.from_numpy(rng.normal(size=(3, 2, 6, 6))).masked_fill(
            torch.triu(torch.ones(6, 6, dtype=torch.bool), 1), float("-inf")
        ),
        -1,
    )
    profile = predicted_sensitivity_profile(layers)
    assert profile.shape == (6,) and profile.sum() == pytest.approx(1.0)
    assert np.allclose(profile, 1 / rollout_resistance(layers, rho=0.5, target=5))
    middle = predicted_sensitivity_profile(layers, target=2, rho=np.full(3, 0.7))
    assert np.all(middle[3:] == 0) and middle.sum() == pytest.approx(1.0)


def test_constant_errors() -> None:
    assert sensitivity_constant(0) == 1.0
    with pytest.raises(TgnnError):
        sensitivity_constant(2, beta=-1.0)
