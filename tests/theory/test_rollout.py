from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tgnn.theory import (
    calibrated_residual_share,
    rollout_matrix,
    rollout_resistance,
    rollout_row,
    value_weighted_attention,
)
from tgnn.theory import closed_forms as cf

from tgnn.errors import (
    EmptyInputError,
    NonFiniteError,
    NotCausalError,
    NotStochasticError,
    ShapeError,
    TgnnError,
)

from ._helpers import assert_exact, causal_layers, random_causal, uniform


def rho_variants(layers: list[np.ndarray], seed: int) -> list[object]:
    count, n = len(layers), len(layers[0])
    rng = np.random.default_rng(seed)
    return [0.5, rng.uniform(0, 1, count), rng.uniform(0, 1, (count, n))]


@settings(max_examples=25, deadline=None)
@given(causal_layers(), st.integers(0, 2**32 - 1))
def test_row_matches_matrix_and_linear_model_jacobian(layers: list[np.ndarray], seed: int) -> None:
    n = len(layers[0])
    for rho in rho_variants(layers, seed):
        phi = rollout_matrix(layers, rho)
        assert np.allclose(phi.sum(1), 1.0) and np.allclose(np.triu(phi, 1), 0.0)
        target = seed % n
        assert np.allclose(rollout_row(layers, target, rho), phi[target], atol=1e-14)
        r = rollout_resistance(layers, rho=rho)
        assert np.allclose(rollout_resistance(layers, rho=rho, target=target), r[target])
        # Fact 0: the Jacobian of the linear attention-only model is the rollout
        shares = np.asarray(rho, float)
        shares = np.tile(shares.reshape(-1, 1) if shares.ndim < 2 else shares, (len(layers), 1))
        x = torch.zeros(n, 1, dtype=torch.float64, requires_grad=True)
        h = x
        for a, share in zip(layers, shares[: len(layers)], strict=True):
            s_t = torch.tensor(share, dtype=torch.float64).reshape(-1, 1)
            h = s_t * (torch.from_numpy(a) @ h) + (1 - s_t) * h
        h[target, 0].backward()
        assert x.grad is not None
        assert np.allclose(x.grad[:, 0].numpy(), phi[target], atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(causal_layers(max_layers=5), st.integers(1, 4))
def test_log_resistance_triangle_inequality_across_depths(
    layers: list[np.ndarray], cut: int
) -> None:
    cut = min(cut, len(layers))
    low, high = layers[:cut], layers[cut:] or [np.eye(len(layers[0]))]
    log_total = np.log(rollout_resistance(layers))
    log_low, log_high = np.log(rollout_resistance(low)), np.log(rollout_resistance(high))
    n = len(layers[0])
    for i in range(n):
        for s in range(i + 1):
            via = log_high[i, s : i + 1] + log_low[s : i + 1, s]  # through k with s <= k <= i
            assert log_total[i, s] <= via.min() + 1e-12


@pytest.mark.parametrize("rho", [sp.Integer(1), sp.Rational(1, 3)])
def test_uniform_closed_form_entries(rho: sp.Expr) -> None:
    n, layers = 6, 3
    phi = rollout_matrix([uniform(n)] * layers, float(rho))
    for i in range(n):
        for s in range(i + 1):
            exact = cf.uniform_rollout_entry(i, s, layers, rho)
            assert_exact(phi[i, s], exact)
    if rho != 1:  # residual: among s < n - 1 the rollout is smallest at s = n - 2 (0-based)
        assert int(np.argmin(phi[n - 1, : n - 1])) == n - 2


@pytest.mark.parametrize("layers", [2, 3, 4])
def test_uniform_first_column_in_harmonic_numbers(layers: int) -> None:
    for n in range(2, 9):
        numeric = rollout_matrix([uniform(n)] * layers, 1.0)[n - 1, 0]
        exact = cf.uniform_rollout_first(n, layers)
        alternating = sp.Rational(1, n) * sum(
            (-1) ** (k - 1) * sp.binomial(n, k) * sp.Rational(1, k) ** (layers - 1)
            for k in range(1, n + 1)
        )
        assert exact == alternating == cf.uniform_rollout_entry(n - 1, 0, layers)
        assert_exact(numeric, exact)


def test_sink_model_rollout() -> None:
    n, p, layers = 6, sp.Rational(1, 4), 3
    sink = np.array(cf.sink_attention(n, p), dtype=float)
    for rho in (sp.Integer(1), sp.Rational(1, 2)):
        exact = np.array(cf.sink_rollout_matrix(n, p, layers, rho), dtype=float)
        assert np.allclose(rollout_matrix([sink] * layers, float(rho)), exact, atol=1e-14)
    r_sink = rollout_resistance([sink] * layers, rho=1.0, target=n - 1)
    r_uniform = rollout_resistance([uniform(n)] * layers, rho=1.0, target=n - 1)
    assert np.allclose(r_sink[1:], (1 - float(p)) ** -layers * r_uniform[1:])


def test_path_count_closed_form() -> None:
    n, layers = 7, 3
    adjacency = np.tril(np.ones((n, n)))
    paths = np.linalg.matrix_power(adjacency, layers)
    for i in range(n):
        for s in range(i + 1):
            assert int(paths[i, s]) == int(cf.uniform_path_count(s, i, layers))


def test_streamed_rows_across_blocks() -> None:
    layers = [random_causal(150, seed=s, scale=2.0) for s in range(3)]
    rho = np.random.default_rng(0).uniform(0, 1, (3, 150))
    phi = rollout_matrix(layers, rho)
    for target in (0, 63, 64, 149):
        assert np.allclose(rollout_row(layers, target, rho), phi[target], atol=1e-15)
    dense = np.full((150, 150), 1 / 150)
    assert np.allclose(rollout_row([dense], 3, 1.0, causal=False), dense[3])


def test_input_formats_agree() -> None:
    heads = np.stack([np.stack([random_causal(5, 10 * l + h) for h in range(3)]) for l in range(2)])
    expected = rollout_matrix([heads[0].mean(0), heads[1].mean(0)])
    assert np.allclose(rollout_matrix(heads), expected)
    assert np.allclose(rollout_matrix([torch.from_numpy(h)[None] for h in heads]), expected)
    assert np.allclose(rollout_matrix({1: heads[1], 0: heads[0]}), expected)
    assert np.allclose(rollout_matrix(heads.mean(1)), expected)
    assert np.allclose(rollout_matrix(heads[0].mean(0)), rollout_matrix([heads[0]]))
    bidirectional = np.full((3, 3), 1 / 3)
    assert np.allclose(rollout_matrix([bidirectional], 1.0, causal=False), bidirectional)


def test_errors() -> None:
    layers = [random_causal(4, 1), random_causal(4, 2)]
    with pytest.raises(ShapeError, match="rho"):
        rollout_matrix(layers, np.ones(3))
    with pytest.raises(TgnnError, match="rho"):
        rollout_matrix(layers, 1.5)
    with pytest.raises(ShapeError, match=r"attentions\[1\]"):
        rollout_matrix([layers[0], random_causal(5, 3)])
    with pytest.raises(EmptyInputError):
        rollout_matrix([])
    with pytest.raises(NotCausalError):
        rollout_matrix([np.full((3, 3), 1 / 3)])
    with pytest.raises(NotStochasticError):
        rollout_matrix([2 * uniform(3)])
    with pytest.raises(NonFiniteError):
        rollout_matrix([np.full((2, 2), np.nan)])
    with pytest.raises(ShapeError, match="one sequence"):
        rollout_matrix([np.stack([uniform(3)[None]] * 2)])
    with pytest.raises(ShapeError, match="target"):
        rollout_row(layers, target=4)
    assert np.isinf(rollout_resistance(layers, target=1)[2:]).all()


def test_calibrated_share_and_value_weighting() -> None:
    rng = np.random.default_rng(0)
    outs = [rng.normal(size=(4, 8)) for _ in range(2)]
    ins = [torch.from_numpy(rng.normal(size=(1, 4, 8))) for _ in range(2)]
    rho = calibrated_residual_share(outs, ins)
    a_norm = np.linalg.norm(outs[1][2])
    x_norm = np.linalg.norm(ins[1][0, 2].numpy())
    assert rho.shape == (2, 4) and rho[1, 2] == pytest.approx(a_norm / (a_norm + x_norm))
    layers = [random_causal(4, 1), random_causal(4, 2)]
    assert np.allclose(rollout_matrix(layers, rho).sum(1), 1.0)
    with pytest.raises(ShapeError):
        calibrated_residual_share(outs, ins[:1])
    weighted = value_weighted_attention(np.stack(layers), rng.uniform(0.5, 2, (2, 4)))
    assert np.allclose(weighted.sum(1), 1.0) and np.allclose(np.triu(weighted, 1), 0.0)
    assert np.allclose(value_weighted_attention(layers[0], np.ones(4)), layers[0])
