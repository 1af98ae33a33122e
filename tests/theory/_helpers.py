"""Shared generators for the theory tests: random causal attention (softmax with a causal mask)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import strategies as st


def random_causal(n: int, seed: int, scale: float = 1.0, sink: float = 0.0) -> np.ndarray:
    """Causal softmax attention in float64 with logits ~ N(0, scale^2) and a bias on token 0."""
    rng = np.random.default_rng(seed)
    logits = scale * rng.normal(size=(n, n))
    logits[:, 0] += sink
    logits[np.triu_indices(n, 1)] = -np.inf
    weights = np.exp(logits - logits.max(1, keepdims=True))
    return weights / weights.sum(1, keepdims=True)


def uniform(n: int) -> np.ndarray:
    """Uniform causal attention U[i, j] = 1 / (i + 1) for j <= i."""
    return np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]


def as_fraction(x: float, max_denominator: int = 10**6) -> Fraction:
    """The simplest fraction within float rounding of ``x`` (for exact rational comparisons)."""
    return Fraction(float(x)).limit_denominator(max_denominator)


@st.composite
def causal_attention(draw: st.DrawFn, min_n: int = 2, max_n: int = 9) -> np.ndarray:
    """Hypothesis strategy: random causal attention of random size, sharpness and sink bias."""
    n = draw(st.integers(min_n, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.floats(0.1, 3.0))
    sink = draw(st.floats(0.0, 3.0))
    return random_causal(n, seed, scale, sink)


@st.composite
def causal_layers(draw: st.DrawFn, max_layers: int = 4) -> list[np.ndarray]:
    """Hypothesis strategy: 1 to ``max_layers`` random causal attention layers of one size."""
    n = draw(st.integers(2, 8))
    count = draw(st.integers(1, max_layers))
    seeds = draw(st.lists(st.integers(0, 2**32 - 1), min_size=count, max_size=count))
    scale = draw(st.floats(0.1, 3.0))
    return [random_causal(n, seed, scale) for seed in seeds]


def assert_exact(x: float, exact: object, rel: float = 1e-12) -> None:
    """``x`` equals the sympy/Fraction rational ``exact``: to ``rel`` and, for small
    denominators, as the rational recovered from the float."""
    value = Fraction(str(exact))
    assert abs(float(x) - float(value)) <= rel * max(1.0, abs(float(value))), (x, value)
    if value.denominator < 10**5:
        assert as_fraction(x, 10**6) == value, (x, value)
