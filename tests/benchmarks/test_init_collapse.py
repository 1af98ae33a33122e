"""Section 4's reproduced figures as regression tests (Giorlandino & Goldt 2025): the paper's
block simulated on CPU with fixed seeds against tgnn.theory.signal_propagation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tgnn.benchmarks.init_block import BlockConfig, block_forward, participation_sweep
from tgnn.benchmarks.init_collapse import VARIANTS, init_point, theory_kwargs
from tgnn.theory.signal_propagation import (
    correlation_map,
    correlation_trajectory,
    participation_ratio_finite,
)

from tgnn.errors import TgnnError


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.8])
def test_y2_follows_the_finite_n_rem(rho: float) -> None:
    """Fig. "Y2 vs beta": one attention layer, n = d = 64, 32 seeds. The paper's REM mapping
    makes Y2 the participation ratio of n Gaussian logits of std beta sqrt((1 - rho) ln n);
    its exact finite-n value must match within 0.04: the seed-mean standard error is <= 0.012
    here and finite width adds a systematic shortfall of at most 0.03 (the quick run's worst
    cell over 48 is 0.031), so a wrong rho-dependence (e.g. the rho = 0 critical scale applied
    at rho = 0.8, which predicts 0.47 instead of 0.13 at beta = 2) fails it."""
    betas = [1.0, 2.0, 4.0]
    cfg = BlockConfig(n=64, d=64, seeds=32, seed=3, dtype=torch.float32)
    measured = participation_sweep(cfg, rho, betas)[0].double().mean(1).numpy()
    predicted = [participation_ratio_finite(b, rho, 64) for b in betas]
    assert np.allclose(measured, predicted, atol=0.04)


def test_one_block_correlation_map() -> None:
    """Fig. "correlation map": one post-LN block of the paper (var_v = var_w = 0.2), n = 64,
    d = 128, 8 seeds. Tolerance 0.03: the quick run's 48 cells agree to 0.006; the mean over
    n(n-1) token pairs and 8 seeds has a standard error below 0.005."""
    for beta in (0.5, 3.0):
        for rho in (0.2, 0.6):
            cfg = BlockConfig(n=64, d=128, depth=1, beta=beta, seeds=8, seed=1,
                              dtype=torch.float32)
            cos = block_forward(cfg, rho).cosine.double().mean(0).numpy()
            assert cos[1] == pytest.approx(
                correlation_map(float(cos[0]), beta, **theory_kwargs(cfg)), abs=0.03)


def test_heads_and_output_projection_keep_the_map() -> None:
    """Four heads with W_O (N(0, 1/d), gain 1): each head is its own REM with the same logit
    variance, so the predicted map is unchanged; n = 64, d = 128, 8 seeds, within 0.02 (the
    one-head cells agree to 0.006, four heads with W_O to 0.009)."""
    cfg = BlockConfig(n=64, d=128, depth=1, beta=3.0, heads=4, w_o=True, seeds=8, seed=1,
                      dtype=torch.float32)
    cos = block_forward(cfg, 0.6).cosine.double().mean(0).numpy()
    assert cos[1] == pytest.approx(correlation_map(float(cos[0]), 3.0, **theory_kwargs(cfg)),
                                   abs=0.02)


def test_depth_profile_rank_collapse_at_low_beta() -> None:
    """Fig. 1 (beta = 0.5): the paper's block from rho = 0.2 to depth 40, n = 32, d = 64,
    4 seeds: the iterated map within 0.05 on average over layers (the quick run's profiles at
    n = d = 64 are within 0.04 at this beta) and rank collapse (cosine > 0.98; predicted
    0.998) at the end."""
    cfg = BlockConfig(n=32, d=64, depth=40, beta=0.5, seeds=4, seed=2, dtype=torch.float32)
    cos = block_forward(cfg, 0.2).cosine.double().mean(0).numpy()
    theory = correlation_trajectory(float(cos[0]), 40, 0.5, **theory_kwargs(cfg))
    assert np.abs(cos - theory).mean() < 0.05
    assert cos[-1] > 0.98 and theory[-1] > 0.98


def test_gain_controlled_attention_keeps_the_correlation() -> None:
    """Fig. 4 (beta = 0.1, value gain 1, rho_0 = 0.2, depth 30): vanilla post-LN collapses
    (cosine > 0.99, prediction too) while centred attention stays within 0.05 of its
    prediction (which rises only through the ReLU MLP and biases, to about 0.3)."""
    ends = {}
    for name in ("post-LN", "GC post-LN"):
        cfg = BlockConfig(n=32, d=64, depth=30, beta=0.1, var_v=1.0, seeds=4, seed=5,
                          dtype=torch.float32, **VARIANTS[name])
        cos = block_forward(cfg, 0.2).cosine.double().mean(0).numpy()
        theory = correlation_trajectory(float(cos[0]), 30, 0.1, **theory_kwargs(cfg))
        ends[name] = (cos[-1], theory[-1])
    assert ends["post-LN"][0] > 0.99 and ends["post-LN"][1] > 0.99
    measured, predicted = ends["GC post-LN"]
    assert measured == pytest.approx(predicted, abs=0.05) and measured < 0.4


def test_phase_point_large_beta_delays_collapse() -> None:
    """Phase diagram at alpha = 1, depth 24, n = 32: beta = 0.5 is collapsing (cosine 0.94,
    predicted 0.96) while beta = 16 keeps it 0.2 lower and freezes attention (last-layer
    Y2 > 0.5; measured 0.80)."""
    low = init_point({"beta": 0.5, "alpha": 1.0, "n": 32, "depth": 24, "seed": 0, "seeds": 2})
    high = init_point({"beta": 16.0, "alpha": 1.0, "n": 32, "depth": 24, "seed": 0, "seeds": 2})
    assert low["cosine"][-1] > 0.9 and high["cosine"][-1] < low["cosine"][-1] - 0.2
    assert high["y2"][-1] > 0.5 and low["y2"][-1] < 0.1
    assert high["grad_ratio"] > 0 and low["grad_ratio"] > 0


def test_block_config_refuses_bad_options() -> None:
    with pytest.raises(TgnnError, match="placement"):
        BlockConfig(placement="sandwich")
    with pytest.raises(TgnnError, match="heads"):
        BlockConfig(d=10, heads=3)
