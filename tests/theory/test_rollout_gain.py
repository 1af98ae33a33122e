"""gain_rollout_row: the first-order Jacobian path sum, against the rollout it generalises, the
Jacobian of the linear model it describes (autograd), and a closed form on uniform attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tgnn.theory.rollout import gain_rollout_row, rollout_row

from tgnn.errors import NotCausalError, ShapeError, TgnnError

from ._helpers import causal_layers, random_causal, uniform


@settings(max_examples=25, deadline=None)
@given(causal_layers(), st.integers(0, 2**32 - 1))
def test_constant_gain_is_a_scaled_rollout(layers: list[np.ndarray], seed: int) -> None:
    # I + c A = (1 + c) [rho A + (1 - rho) I] with rho = c / (1 + c), layer by layer
    n = len(layers[0])
    c = np.random.default_rng(seed).uniform(0.0, 3.0, len(layers))
    row = gain_rollout_row(layers, np.repeat(c[:, None], n, axis=1), target=seed % n)
    expected = np.prod(1.0 + c) * rollout_row(layers, seed % n, c / (1.0 + c))
    assert np.allclose(row, expected, rtol=1e-12, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 7), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_row_is_the_jacobian_of_the_linear_multi_head_model(n: int, depth: int, heads: int,
                                                          seed: int) -> None:
    # h^(l+1)_i = h_i + sum_h sum_j A^(l,h)_ij c^(l,h)_j h_j: d h^(L)_t / d x = the row
    rng = np.random.default_rng(seed)
    attn = np.stack([[random_causal(n, int(rng.integers(2**31)), 2.0) for _ in range(heads)]
                     for _ in range(depth)])
    gains = rng.uniform(0.0, 2.0, (depth, heads, n))
    x = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    h = x
    for a, c in zip(attn, gains, strict=True):
        h = h + torch.einsum("hij,hj,j->i", torch.from_numpy(a), torch.from_numpy(c), h)
    target = int(seed % n)
    h[target].backward()
    assert x.grad is not None
    assert np.allclose(gain_rollout_row(list(attn), gains, target), x.grad.numpy(), rtol=1e-12)


def test_uniform_attention_one_layer_closed_form() -> None:
    # (I + c U)[n-1, s] = c / n for s < n - 1 and 1 + c / n at s = n - 1
    n, c = 6, 0.75
    row = gain_rollout_row([uniform(n)], np.full((1, n), c))
    assert np.allclose(row[:-1], c / n) and row[-1] == pytest.approx(1 + c / n)


def test_heads_share_gains_given_per_layer() -> None:
    a = np.stack([random_causal(5, 1), random_causal(5, 2)])
    g = np.random.default_rng(0).uniform(0, 1, (1, 5))
    assert np.allclose(gain_rollout_row([a], g), gain_rollout_row([a], np.repeat(g[:, None], 2, 1)))


def test_errors_name_the_argument() -> None:
    u = uniform(4)
    with pytest.raises(ShapeError, match="key_gains"):
        gain_rollout_row([u, u], np.ones((1, 4)))
    with pytest.raises(TgnnError, match="key_gains"):
        gain_rollout_row([u], -np.ones((1, 4)))
    with pytest.raises(TgnnError, match="key_gains"):
        gain_rollout_row([u], np.full((1, 4), np.nan))
    with pytest.raises(ShapeError, match="key_gains"):
        gain_rollout_row([np.stack([u, u])], np.ones((1, 3, 4)))
    with pytest.raises(NotCausalError):
        gain_rollout_row([u.T / u.T.sum(1, keepdims=True)], np.ones((1, 4)))
