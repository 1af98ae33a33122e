"""The claim table and the bootstrap interval of the report's evidence sections."""

import numpy as np
import pytest
from tgnn.benchmarks.claims import Claim, bootstrap_interval, claims_numbers, claims_table


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_samples() -> None:
    rng = np.random.default_rng(1)
    small = rng.normal(size=16)
    large = rng.normal(size=1024)
    value, low, high = bootstrap_interval(small)
    assert value == pytest.approx(small.mean())
    assert low < value < high
    _, low_large, high_large = bootstrap_interval(large)
    assert high_large - low_large < high - low
    # The normal-theory width 2 * 1.96 / sqrt(1024) ~ 0.1225 for unit variance.
    assert high_large - low_large == pytest.approx(2 * 1.96 * large.std() / 32, rel=0.15)


def test_bootstrap_interval_is_deterministic_and_checks_its_input() -> None:
    data = np.arange(10.0)
    assert bootstrap_interval(data) == bootstrap_interval(data)
    with pytest.raises(ValueError, match="samples"):
        bootstrap_interval([1.0])
    with pytest.raises(ValueError, match="samples"):
        bootstrap_interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval(data, level=1.0)


def test_claims_table_and_numbers() -> None:
    claim = Claim("P 2024, Thm 1", "x | y holds", "0.9", "", "reproduced", "because")
    table = claims_table([claim])
    assert "x \\| y holds" in table and "**reproduced**" in table and "| exact |" in table
    assert claims_numbers([claim])[0]["verdict"] == "reproduced"
    with pytest.raises(ValueError, match="verdict"):
        Claim("p", "s", "o", "i", "maybe", "w")


def test_bootstrap_leaves_out_undefined_resamples_and_refuses_mostly_undefined() -> None:
    values = np.arange(6, dtype=float)

    def sometimes(sample: np.ndarray) -> float:  # undefined when the resample starts with 0
        return float("nan") if sample[0] == 0 else float(sample.mean())

    value, low, high = bootstrap_interval(values, sometimes, seed=1)
    assert np.isfinite([low, high]).all() and low <= high
    with pytest.raises(ValueError, match="undefined"):
        bootstrap_interval(values, lambda sample: float("nan"))
