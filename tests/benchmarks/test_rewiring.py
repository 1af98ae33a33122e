"""Section 7 (rewiring): the random-edge baseline, the finite rollout facts under a mask (closed
forms), and the reproduced graph figure as a regression test (fixed seeds, CPU, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tgnn.benchmarks.rewiring_model import rollout_facts
from tgnn.benchmarks.rewiring_random import added_pairs, random_rewiring

from tgnn import attention_to_data, metrics, to_dense_attention
from tgnn.errors import ShapeError
from tgnn.graphs import barbell_graph, sliding_window


def _pairs(data) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    ei = data.edge_index
    return {(min(a, b), max(a, b)) for a, b in ei.t().tolist() if a != b}


def test_random_rewiring_adds_new_causal_pairs_and_keeps_rows_stochastic() -> None:
    base = attention_to_data(sliding_window(16, 3))
    out = random_rewiring(base, 5, seed=1)
    new = _pairs(out) - _pairs(base)
    assert len(new) == 5 == added_pairs(out) and _pairs(base) <= _pairs(out)
    src, dst = out.edge_index[:, out.edge_added]
    assert bool((src < dst).all())  # key before query: the mask stays causal
    dense = to_dense_attention(out).double()
    assert torch.allclose(dense.sum(1), torch.ones(16, dtype=torch.float64))
    assert torch.equal(dense, dense.tril())
    assert _pairs(random_rewiring(base, 5, seed=1)) == _pairs(out)  # seeded
    with pytest.raises(ShapeError):
        random_rewiring(base, 10**4, seed=0)


def test_random_rewiring_undirected_adds_both_directions() -> None:
    base = barbell_graph(4, 1)
    out = random_rewiring(base, 3, seed=0)
    assert int(out.edge_added.sum()) == 6 and added_pairs(out) == 3


@pytest.mark.parametrize(("n", "w", "layers"), [(10, 2, 2), (20, 4, 4), (13, 4, 4), (9, 3, 1)])
def test_rollout_reach_is_the_window_closed_form(n: int, w: int, layers: int) -> None:
    """Under a causal window of w tokens, L layers of rollout reach back exactly L (w - 1)
    tokens: reach = min(n, L (w - 1) + 1) / n, and R_roll(0, n-1) is finite iff token 0 is
    within reach; R_abs (no depth limit) is always finite on the connected window graph."""
    a = sliding_window(n, w).numpy()
    facts = rollout_facts(np.stack([a] * layers))
    assert facts["reach"] == pytest.approx(min(n, layers * (w - 1) + 1) / n)
    assert np.isfinite(facts["R_roll"]) == (n - 1 <= layers * (w - 1))
    assert np.isfinite(facts["R_abs"]) and facts["lookback"] > 0


def test_targeted_rewiring_beats_random_edges_on_its_objective() -> None:
    """Regression of section 7's graph figure, 4 added pairs against 8 random rewirings with
    the same count (seeds 0-7). Measured at this commit: GTR leaves 0.202 of the total
    resistance of a barbell of two 8-cliques joined by a 4-edge path (random 0.213-0.265) and
    0.343 of a 4-clique path (random 0.375-0.562); FoSR raises the barbell's spectral gap to
    0.122 (random 0.037-0.102). Each transform beats every random seed on the quantity it
    optimises, by 5-20%, so a change in the transforms, the baseline or the metrics shows up,
    not sampling (all seeds fixed). FoSR is *not* asserted to lower total resistance more than
    random edges: it does not (0.238 on the barbell, 0.545 on the clique path), and the
    report says so."""
    from tgnn.graphs import clique_path
    from tgnn.transforms import GTR, FoSR

    for base in (barbell_graph(8, 4), clique_path(4, 4)):
        before = metrics.total_effective_resistance(base)
        randoms = [metrics.total_effective_resistance(random_rewiring(base, 4, seed=s))
                   for s in range(8)]
        out = GTR(num_edges=4)(base)
        assert added_pairs(out) == 4
        assert metrics.total_effective_resistance(out) < min(randoms) < before
    base = barbell_graph(8, 4)
    gaps = [metrics.spectral_gap(random_rewiring(base, 4, seed=s)) for s in range(8)]
    assert metrics.spectral_gap(FoSR(num_edges=4, seed=0)(base)) > max(gaps)
