"""The softmax-separation limit against a direct computation: softmax of explicit logit vectors
(scipy's, in float64) scanned over n, and the bound checked on random logits of a given spread;
the total variation against scipy and against Barbero et al. (2024), Prop. B.4's value
2(e-1)/(e+1) (arXiv:2406.04267v2, App. B.1, p. 16) and Lemma B.2's decay."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from tgnn.theory import max_softmax_weight, softmax_separation_limit, unit_roundoff
from tgnn.theory.representational_collapse import softmax_total_variation

from tgnn.errors import TgnnError


def _direct_max_weight(n: int, spread: float) -> float:
    """Top weight of softmax([spread, 0, ..., 0]) computed from the n logits themselves."""
    logits = np.zeros(n)
    logits[0] = spread
    return float(softmax(logits)[0])


def _direct_limit(spread: float, u: float, upper: int) -> int:
    """Smallest n <= upper with top weight <= u, by bisection on the direct softmax (the top
    weight falls with n, so the predicate is monotone)."""
    lo, hi = 1, upper
    assert _direct_max_weight(hi, spread) <= u
    while lo < hi:
        mid = (lo + hi) // 2
        if _direct_max_weight(mid, spread) <= u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@pytest.mark.parametrize(("spread", "u"), [(0.0, 2.0**-8), (0.0, 2.0**-11), (1.3, 2.0**-8),
                                           (math.log(2.0), 2.0**-8), (2.5, 0.01), (0.0, 0.5)])
def test_limit_equals_direct_scan(spread: float, u: float) -> None:
    expected = _direct_limit(spread, u, upper=200_000)
    assert softmax_separation_limit(spread, u) == expected


def test_named_precisions_are_their_unit_roundoffs() -> None:
    assert unit_roundoff("fp32") == 2.0**-24
    assert unit_roundoff(torch.bfloat16) == 2.0**-8
    assert unit_roundoff("fp16") == 2.0**-11
    # uniform logits: n* = 1 / u exactly, since 1/n <= u first holds at n = 1/u
    assert softmax_separation_limit(0.0, "fp32") == 2**24
    assert softmax_separation_limit(0.0, "bf16") == 256


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 400), st.floats(0.0, 6.0), st.integers(0, 2**32 - 1))
def test_max_weight_bounds_random_logits_and_is_attained(n: int, spread: float,
                                                         seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.uniform(0.0, spread, size=n)
    bound = max_softmax_weight(n, spread)
    assert softmax(logits).max() <= bound * (1 + 1e-12)
    assert bound == pytest.approx(_direct_max_weight(n, spread), rel=1e-12)


@pytest.mark.parametrize("bad", [-0.1, math.inf, math.nan])
def test_bad_spread_is_refused(bad: float) -> None:
    with pytest.raises(TgnnError, match="spread"):
        softmax_separation_limit(bad, "bf16")


@pytest.mark.parametrize("bad", ["fp8", 0.0, 0.75, torch.int32])
def test_bad_precision_is_refused(bad: object) -> None:
    with pytest.raises(TgnnError, match="precision"):
        unit_roundoff(bad)  # type: ignore[arg-type]


def test_bad_n_and_huge_limit_are_refused() -> None:
    with pytest.raises(TgnnError, match="n: expected"):
        max_softmax_weight(0, 1.0)
    with pytest.raises(TgnnError, match="2\\^1000"):
        softmax_separation_limit(800.0, "fp32")


def _direct_tv(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(softmax(x) - softmax(y)).sum())


@pytest.mark.parametrize("n", [2, 4, 64, 4096, 2**20])
def test_prop_b4_alternating_logits_keep_their_total_variation(n: int) -> None:
    """Prop. B.4: x = (1 0 1 0 ...), x* = (0 1 0 1 ...), n even: delta does not tend to 0; the
    paper's value is 2(e-1)/(e+1) (= 2 tanh(1/2), 0.924), here at every even n, not only in
    the limit. Tolerance 1e-12: float64 sums of up to 2^20 terms of size ~1/n."""
    x = np.tile([1.0, 0.0], n // 2)
    y = np.tile([0.0, 1.0], n // 2)
    paper = 2 * (math.e - 1) / (math.e + 1)
    assert softmax_total_variation(x, y) == pytest.approx(paper, abs=1e-12)
    assert _direct_tv(x, y) == pytest.approx(paper, abs=1e-12)


def test_lemma_b2_total_variation_decays_when_the_logits_converge() -> None:
    """Lemma B.2: bounded x, x* with |x_i - x*_i| = 1/i -> 0 give delta -> 0 (here about
    ln(n)/n); a gap of 1 on every other entry (the hypothesis broken, as in Prop. B.4) keeps
    delta above 0.4."""
    values = []
    for n in (10, 1_000, 100_000):
        rng = np.random.default_rng(n)
        x = rng.uniform(-1.0, 1.0, size=n)
        gap = 1.0 / np.arange(1, n + 1)
        tv = softmax_total_variation(x, x + gap)
        assert tv == pytest.approx(_direct_tv(x, x + gap), rel=1e-10)
        every_other = np.where(np.arange(n) % 2, x + 1.0, x)
        assert softmax_total_variation(torch.from_numpy(x), every_other) > 0.4
        values.append(tv)
    assert values[0] > values[1] > values[2] and values[2] < 1e-3


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.floats(0.0, 40.0), st.integers(0, 2**32 - 1))
def test_total_variation_matches_scipy(n: int, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0.0, scale, size=(2, n))
    tv = softmax_total_variation(list(x), y)
    assert 0.0 <= tv <= 2.0 + 1e-12  # delta is an L1 distance of two distributions
    assert tv == pytest.approx(_direct_tv(x, y), abs=1e-12)
    assert softmax_total_variation(x, x + 7.5) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("x", "y", "match"), [
    ([0.0, 1.0], [0.0], "y: expected 2 logits"),
    ([], [], "x: expected a non-empty 1-D"),
    ([[0.0, 1.0]], [[0.0, 1.0]], "x: expected a non-empty 1-D"),
    ([0.0, math.nan], [0.0, 1.0], "x: expected finite"),
    ([0.0, 1.0], [math.inf, 1.0], "y: expected finite"),
])
def test_bad_logits_are_refused(x: list, y: list, match: str) -> None:
    with pytest.raises(TgnnError, match=match):
        softmax_total_variation(x, y)
