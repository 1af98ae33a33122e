"""Closed forms of Giorlandino & Goldt's signal propagation (tgnn.theory.signal_propagation),
checked against the paper's stated values and limits and against direct Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tgnn.theory import signal_propagation as sp

from tgnn.errors import TgnnError


def test_critical_beta_values_and_limits() -> None:
    assert sp.critical_beta(0.0) == pytest.approx(math.sqrt(2))  # REM: t_c = sqrt(2 ln n)
    assert sp.critical_beta(0.5) == pytest.approx(2.0)
    assert sp.critical_beta(0.9) == pytest.approx(math.sqrt(20))
    assert sp.critical_beta(1.0) == math.inf  # identical tokens: every logit equal
    with pytest.raises(TgnnError, match="rho"):
        sp.critical_beta(1.5)


def test_participation_ratio_rem_law() -> None:
    """Y2 = 0 up to beta_c, 1 - beta_c / beta above (REM, Derrida 1981): 1/2 at 2 beta_c."""
    for rho in (0.0, 0.3, 0.8):
        bc = sp.critical_beta(rho)
        assert sp.participation_ratio(0.99 * bc, rho) == 0.0
        assert sp.participation_ratio(2 * bc, rho) == pytest.approx(0.5)
        assert sp.participation_ratio(1e9, rho) == pytest.approx(1.0)


def _y2_monte_carlo(t: float, n: int, samples: int, seed: int) -> tuple[float, float]:
    g = np.random.default_rng(seed).standard_normal((samples, n)) * t
    w = np.exp(g - g.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    y2 = (w * w).sum(axis=1)
    return float(y2.mean()), float(y2.std() / math.sqrt(samples))


@pytest.mark.parametrize(("beta", "rho", "n"), [(1.0, 0.0, 16), (2.0, 0.5, 64), (6.0, 0.2, 64)])
def test_finite_n_participation_matches_monte_carlo(beta: float, rho: float, n: int) -> None:
    """The quadrature is exact for n i.i.d. Gaussian logits of std beta sqrt((1 - rho) ln n):
    4000 direct draws agree within 4 standard errors (a false alarm about 1 in 16000)."""
    t = beta * math.sqrt((1 - rho) * math.log(n))
    mean, se = _y2_monte_carlo(t, n, 4000, seed=n)
    assert sp.participation_ratio_finite(beta, rho, n) == pytest.approx(mean, abs=4 * se)


def test_finite_n_limits() -> None:
    assert sp.participation_ratio_finite(0.0, 0.0, 10) == pytest.approx(0.1, abs=1e-12)
    assert sp.participation_ratio_finite(3.0, 1.0, 10) == pytest.approx(0.1, abs=1e-12)
    # approaches the asymptotic law from above as ln n grows (corrections in 1/ln n)
    gaps = [sp.participation_ratio_finite(3.0, 0.0, n) - sp.participation_ratio(3.0)
            for n in (64, 10**4, 10**8)]
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert gaps[2] < 0.05


def test_attention_moments_softmax_and_gain_controlled() -> None:
    assert sp.attention_moments(1.0, 0.3, 0.5) == pytest.approx((0.3, 0.3))  # uniform rows
    y2 = sp.participation_ratio(4.0, 0.3)
    assert sp.attention_moments(1.0, 0.3, 4.0) == pytest.approx((0.3 + 0.7 * y2, 0.3))
    assert sp.attention_moments(1.0, 0.3, 4.0, gain_control=True) == pytest.approx(
        (0.7 * y2, 0.0))


def test_relu_kernel_and_mlp_against_monte_carlo() -> None:
    """E[relu(u) relu(v)] = q kappa(c) / 2 (Cho & Saul 2009), 2e5 Gaussian pairs."""
    rng = np.random.default_rng(0)
    c = 0.4
    z = rng.standard_normal((200_000, 2))
    u, v = z[:, 0], c * z[:, 0] + math.sqrt(1 - c * c) * z[:, 1]
    mc = float(np.mean(np.maximum(u, 0) * np.maximum(v, 0)))
    assert sp.relu_kernel(c) / 2 == pytest.approx(mc, abs=3e-3)
    assert sp.relu_kernel(1.0) == 1.0 and sp.relu_kernel(0.0) == pytest.approx(1 / math.pi)
    q, p = sp.mlp_moments(1.0, c, math.sqrt(2.0), 0.0)  # gain sqrt(2) per layer keeps q
    assert q == pytest.approx(1.0) and p == pytest.approx(sp.relu_kernel(c))


def test_gain_controlled_attention_and_the_critical_line() -> None:
    """Centred attention without MLP: above rho* = 1 - 2 / beta^2 (where beta < beta_c(rho))
    the centred output vanishes and rho stays; below it Y2 > 0 and rho decays to 0 (the
    fixed point rho = 0 has Y2 = 1 - sqrt(2) / beta: signal kept, attention frozen)."""
    beta = 3.0
    star = 1 - 2 / beta**2
    assert sp.critical_beta(star) == pytest.approx(beta)
    above = sp.correlation_trajectory(star + 0.05, 20, beta, gain_control=True, mlp=False)
    assert np.allclose(above, star + 0.05)
    below = sp.correlation_trajectory(star - 0.05, 400, beta, gain_control=True, mlp=False)
    assert np.all(np.diff(below) < 0) and below[-1] < 1e-3


def test_post_ln_block_collapses_below_critical_scale() -> None:
    """Below beta_c attention returns the mean token: rho = 1 is the attractor, and the first
    step is (1 + v) rho / (1 + v rho) with value gain v (no MLP, no bias)."""
    traj = sp.correlation_trajectory(0.2, 60, 0.5, var_v=0.2, mlp=False)
    assert traj[1] == pytest.approx(1.2 * 0.2 / (1 + 0.2 * 0.2))
    assert traj[-1] > 0.99 and np.all(np.diff(traj) > 0)


def test_pre_ln_keeps_the_residual_norm_growing() -> None:
    q, p = sp.block_update(1.0, 0.2, 0.5, placement="pre", mlp=False)
    assert q == pytest.approx(1.2) and p == pytest.approx(0.4)  # x + mean token (var_v = 1)


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(TgnnError, match="placement"):
        sp.block_update(1.0, 0.2, 1.0, placement="middle")  # type: ignore[arg-type]
    with pytest.raises(TgnnError, match="depth"):
        sp.correlation_trajectory(0.2, -1, 1.0)
    with pytest.raises(TgnnError, match="n:"):
        sp.participation_ratio_finite(1.0, 0.0, 0)
    with pytest.raises(TgnnError, match="beta"):
        sp.participation_ratio(-1.0)
