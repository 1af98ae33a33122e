"""Position bias: the regression target of issue 19 on the embedded model, and the statistics of
the study against scipy and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from tgnn.benchmarks.position_stats import (
    averaged_spearman,
    bound_held_out,
    position_alone,
    spearman_rows,
)


def test_calibrated_rollout_tracks_the_sensitivity_of_the_tiny_model() -> None:
    """Issue 19's target: on ``tgnn-gpt2-tiny`` with 32 sequences at n = 96 (seeds 0-31 of the
    section's sampler), the calibrated rollout ranks the sources of the last token's Jacobian
    with Spearman >= 0.95 on the averaged profile and >= 0.9 per sequence (mean). Measured:
    0.995 and 0.914 (a reviewer's independent run gave 0.995 / ~0.91); the margins, 0.045 and
    0.014, are about three and two standard errors of the mean over sequences (per-sequence
    standard deviation about 0.04). The Jacobian-gain path sum measured 0.925 per sequence:
    it must stay at least as good as the calibrated rollout (both on the same sequences)."""
    from tgnn.benchmarks.common import sample_ids
    from tgnn.benchmarks.position_bias import CHUNK
    from tgnn.benchmarks.position_models import capture_sequence, load_position_model
    from tgnn.theory.rollout import gain_rollout_row, rollout_row

    from tgnn.metrics.sensitivity import jacobian_sensitivity

    torch.manual_seed(0)
    model, tok = load_position_model("tgnn-gpt2-tiny")
    log_s, calibrated, gain = [], [], []
    for seed in range(32):
        ids = sample_ids(tok, 96, seed)
        sens = jacobian_sensitivity(model, ids, targets=[-1], chunk_size=CHUNK)[-1, 0]
        capture = capture_sequence(model, ids)
        log_s.append(np.log(sens.double().numpy()[:-1]))
        calibrated.append(np.log(rollout_row(list(capture["heads"].mean(1)), -1,
                                             capture["rho"])[:-1]))
        gain.append(np.log(gain_rollout_row(list(capture["heads"]), capture["key_gains"])[:-1]))
    per = [spearmanr(s, c).statistic for s, c in zip(log_s, calibrated, strict=True)]
    per_gain = [spearmanr(s, g).statistic for s, g in zip(log_s, gain, strict=True)]
    averaged = spearmanr(np.mean(log_s, 0), np.mean(calibrated, 0)).statistic
    assert averaged >= 0.95, averaged
    assert np.mean(per) >= 0.9, np.mean(per)
    assert np.mean(per_gain) >= np.mean(per), (np.mean(per_gain), np.mean(per))


def test_spearman_rows_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (6, 20)).astype(float)  # many ties
    y = rng.normal(size=(6, 20))
    expected = [spearmanr(a, b).statistic for a, b in zip(x, y, strict=True)]
    assert np.allclose(spearman_rows(x, y), expected, atol=1e-12)
    assert np.isnan(spearman_rows(np.ones(5), np.arange(5.0))[0])  # constant: undefined
    assert np.isnan(spearman_rows(np.array([1.0, np.inf, 2.0]), np.arange(3.0))[0])


def test_averaged_spearman_value_and_interval() -> None:
    rng = np.random.default_rng(1)
    trend = np.linspace(0, 3, 30)
    log_s = trend + rng.normal(0, 1.0, (40, 30))
    score = trend + rng.normal(0, 1.0, (40, 30))
    value, low, high = averaged_spearman(log_s, score)
    assert value == pytest.approx(spearmanr(log_s.mean(0), score.mean(0)).statistic)
    assert low <= value <= high and high - low > 0.01
    flat = averaged_spearman(rng.normal(size=(40, 30)), score)  # no shared trend
    assert flat[1] < 0.6 < value


def test_position_alone_detects_monotone_functions_of_position() -> None:
    n = 12
    monotone = np.tile(-np.log1p(np.arange(n, dtype=float)), (5, 1))
    assert position_alone(monotone, n - 1)[0]
    noisy = monotone + np.random.default_rng(2).normal(0, 0.5, monotone.shape)
    alone, low = position_alone(noisy, n - 1)
    assert not alone and low < 0.999


def test_bound_held_out_counts_violations_of_the_other_half() -> None:
    ratios = np.ones((4, 3))
    ratios[0, 1] = 2.0  # one sequence exceeds the others by 2x
    out = bound_held_out(ratios, seed=0)
    # the fold that fits without sequence 0 sees it break the constant once, by 2x
    assert out["violations"] == 1 and out["worst_ratio"] == pytest.approx(2.0)
    assert out["positions"] == 12
    assert bound_held_out(np.ones((4, 3)))["violations"] == 0
