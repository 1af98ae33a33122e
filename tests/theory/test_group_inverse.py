from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from tgnn.theory import closed_forms as cf
from tgnn.theory import group_inverse, group_inverse_resistance

from tgnn.errors import NotReachableError

from ._helpers import assert_exact, causal_attention, uniform


@settings(max_examples=25, deadline=None)
@given(causal_attention())
def test_group_inverse_axioms(a: np.ndarray) -> None:
    m = np.eye(len(a)) - a
    g = group_inverse(a)
    assert np.allclose(m @ g @ m, m, atol=1e-9) and np.allclose(g @ m @ g, g, atol=1e-9)
    assert np.allclose(m @ g, g @ m, atol=1e-9)


def test_bidirectional_group_inverse() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((5, 5))
    a /= a.sum(1, keepdims=True)
    m, g = np.eye(5) - a, group_inverse(a, causal=False)
    assert np.allclose(m @ g @ m, m) and np.allclose(g @ m @ g, g) and np.allclose(m @ g, g @ m)
    with pytest.raises(NotReachableError):
        group_inverse(np.eye(3), causal=False)


def test_uniform_pitfall_closed_forms() -> None:
    for n in range(3, 9):
        r = group_inverse_resistance(uniform(n))
        for s in range(n - 1):
            assert_exact(r[s, n - 1], cf.uniform_group_inverse_resistance(s, n))
        assert int(np.argmax(r[n - 1, : n - 1])) == 0  # ranks the sink farthest
