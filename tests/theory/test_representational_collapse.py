"""The softmax-separation limit against a direct computation: softmax of explicit logit vectors
(scipy's, in float64) scanned over n, and the bound checked on random logits of a given spread."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from tgnn.theory import max_softmax_weight, softmax_separation_limit, unit_roundoff

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
