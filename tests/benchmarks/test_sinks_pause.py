"""Section 6 (attention sinks and pause tokens): the pieces against independent computations, and
the reproduced figures of the shipped model as regression tests (fixed seeds, CPU, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from tgnn.benchmarks.common import load_model
from tgnn.benchmarks.pause_data import PauseLayout, held_out_windows, pause_id, with_pauses
from tgnn.benchmarks.pause_finetune import finetune, training_batch
from tgnn.benchmarks.sinks_claims import uniform_sink_mass
from tgnn.benchmarks.sinks_measure import Condition, measure, nearest_neighbour_distance
from tgnn.benchmarks.sinks_pause import SIZES, _sink_masked

from tgnn.errors import ShapeError


def test_nearest_neighbour_distance_matches_scipy() -> None:
    h = np.random.default_rng(0).normal(size=(7, 5))
    dist = cdist(h, h)
    np.fill_diagonal(dist, np.inf)
    expected = dist.min(axis=1) / np.linalg.norm(h, axis=1).mean()
    assert np.allclose(nearest_neighbour_distance(h), expected, rtol=1e-12)
    assert np.allclose(nearest_neighbour_distance(3.0 * h), expected, rtol=1e-12)  # scale-free
    with pytest.raises(ShapeError):
        nearest_neighbour_distance(h[:1])


def test_uniform_sink_mass_is_the_metric_on_uniform_attention() -> None:
    from tgnn.graphs import uniform_causal
    from tgnn.metrics import sink_mass

    for n in (2, 5, 33):
        assert uniform_sink_mass(n) == pytest.approx(float(sink_mass(uniform_causal(n))[0]))


def test_held_out_windows_are_disjoint_blocks_of_held_out_text() -> None:
    from tgnn.benchmarks.pause_data import split_ids

    tok = load_model("tgnn-gpt2-tiny")[1]
    windows = held_out_windows(tok, 20, 16, seed=3)
    assert torch.equal(windows, held_out_windows(tok, 20, 16, seed=3))  # seeded
    assert not torch.equal(windows, held_out_windows(tok, 20, 16, seed=4))
    held = split_ids(tok, "held-out")
    starts = []  # each window is one block held[21 b : 21 (b + 1)], no block twice
    for w in windows:
        hits = [b for b in range(len(held) // 21) if torch.equal(held[21 * b : 21 * b + 21], w)]
        starts.append(next(b for b in hits if b not in starts))
    assert len(set(starts)) == 16
    with pytest.raises(ShapeError):
        held_out_windows(tok, 20, 10**6, seed=0)


def test_training_batch_loss_is_content_only() -> None:
    """The Hugging Face loss with the batch's labels equals the mean cross-entropy of the
    content predictions, computed by hand: pauses and BOS are never targets."""
    model, tok = load_model("tgnn-gpt2-tiny")
    windows = held_out_windows(tok, 12, 3, seed=0)
    ids, labels = training_batch(windows, pauses=2, pause=pause_id(tok))
    lay = PauseLayout(12, 2, 2)
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels)
    logp = torch.log_softmax(out.logits.double(), -1)
    src = [lay.first - 1, *lay.content[:-1], lay.last]  # c_1 from the last start pause ...
    dst = [*lay.content, lay.length]  # ... and c_{m+1} from the last end pause
    manual = -logp[:, src].gather(-1, ids[:, dst, None]).mean()
    assert float(out.loss) == pytest.approx(float(manual), rel=1e-5)
    assert int((labels != -100).sum()) == 3 * 13


def test_finetune_leaves_the_model_and_is_seeded() -> None:
    model, tok = load_model("tgnn-gpt2-tiny")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a = finetune(model, tok, pauses=1, m=8, steps=2, batch=2, seed=0)
    b = finetune(model, tok, pauses=1, m=8, steps=2, batch=2, seed=0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
    assert not a.training and model.config._attn_implementation == "eager"


def _condition(label: str, mask: bool = False, start: int = 0, end: int = 0) -> Condition:
    model, tok = load_model("tgnn-gpt2-tiny")
    windows = held_out_windows(tok, 32, 8, seed=0)
    lay = PauseLayout(32, start, end)
    return Condition(label, model, with_pauses(windows, lay, pause_id(tok)), lay,
                     windows[:, -1], "test", _sink_masked(lay.length) if mask else None)


def test_shipped_model_has_a_bos_sink_and_needs_it() -> None:
    """Regression of section 6's sink figures (8 held-out sequences of 32 characters, seed 0).

    Measured at this commit: BOS draws 1.59x its uniform-causal sink mass on average (every
    sequence 1.32-1.83x), and masking the BOS key out raises the content loss by 0.62 nats on
    average (every sequence by 0.02-1.66). The asserted bounds (mean ratio > 1.4, every ratio
    > 1; mean loss rise > 0.3 nats, a rise in at least 7 of 8 sequences) leave room for
    floating-point and library changes but fail for a model whose first token drew only its
    uniform share (ratio 1) or that lost nothing without it (rise 0).
    """
    base, masked = measure(_condition("BOS")), measure(_condition("masked", mask=True))
    ratio = base["sink_mass_0"] / uniform_sink_mass(33)
    assert ratio.mean() > 1.4 and ratio.min() > 1.0
    rise = masked["loss"] - base["loss"]
    assert rise.mean() > 0.3 and int((rise > 0).sum()) >= 7
    assert np.isnan(masked["R_abs"]).all()  # token 0 unreachable: assumption H fails


def test_end_pauses_leave_content_loss_exactly() -> None:
    """Causality: pauses after the content cannot change any content prediction."""
    base, end = measure(_condition("BOS")), measure(_condition("end", end=3))
    assert np.allclose(base["loss"], end["loss"], atol=1e-5)
    assert not np.allclose(base["last_loss"], end["last_loss"])


def test_sizes_meet_the_brief() -> None:
    assert SIZES["quick"]["S"] >= 32 and SIZES["full"]["S"] >= 32 and SIZES["smoke"]["S"] == 2
