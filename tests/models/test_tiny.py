"""The shipped tgnn-gpt2-tiny: loads offline, small, held-out loss, and an attention sink on BOS."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tgnn.models import load, weights_meta
from tgnn.models.tiny import (
    N_CTX,
    corpus_text,
    first_token_mass,
    split_text,
    uniform_first_mass,
)
from tgnn.models.train import WEIGHTS_DIR, held_out_loss, windows

HELD_OUT_LOSS_MAX = 1.5  # nats per character, whole held-out split (shipped: 1.400)
FIRST_WINDOWS_LOSS_MAX = 1.7  # its first 24 windows, recomputed here
SINK_FACTOR = 3.0


@pytest.fixture(scope="module")
def tiny():
    return load("tgnn-gpt2-tiny")


def _held_ids(tok) -> torch.Tensor:
    _, held = split_text(corpus_text())
    return torch.tensor(tok.encode(held)[int(tok.add_bos):], dtype=torch.long)


def test_shipped_files_are_small_and_safetensors() -> None:
    path = WEIGHTS_DIR / "tgnn-gpt2-tiny.safetensors"
    assert path.is_file() and path.stat().st_size < 5_000_000
    assert not list(Path(WEIGHTS_DIR).glob("*.bin")) and not list(Path(WEIGHTS_DIR).glob("*.pt"))


def test_architecture(tiny) -> None:
    model, tok = tiny
    c = model.config
    assert (c.n_layer, c.n_head, c.n_embd) == (4, 4, 128) and c.n_positions >= 256
    assert tok.add_bos and tok("x")["input_ids"][0, 0] == tok.bos_token_id == 1


def test_held_out_loss_below_threshold(tiny) -> None:
    model, tok = tiny
    loss = held_out_loss(model, _held_ids(tok), bos=True, max_windows=24)
    assert loss < FIRST_WINDOWS_LOSS_MAX  # a unigram model of the corpus gets about 3.3
    assert weights_meta()["held_out_loss"] < HELD_OUT_LOSS_MAX


def _bos_mass_over_uniform(tiny) -> torch.Tensor:
    """``[L, H]`` attention mass on BOS over that of uniform causal attention, 4 windows."""
    model, tok = tiny
    rows = windows(_held_ids(tok), torch.arange(0, 4 * (N_CTX - 1), N_CTX - 1), bos=True)
    return first_token_mass(model, rows) / uniform_first_mass(N_CTX)


def test_bos_sink_head(tiny) -> None:
    per_head = _bos_mass_over_uniform(tiny)
    assert float(per_head.max()) >= SINK_FACTOR  # shipped: 8.0x in layer 0
    assert int(per_head.max(dim=1).values.argmax()) == 0


def test_bos_is_an_attention_sink(tiny) -> None:
    per_layer = _bos_mass_over_uniform(tiny).mean(dim=1)  # shipped: 3.08x in layer 0
    assert float(per_layer.max()) >= SINK_FACTOR


def test_generation_is_text_like(tiny) -> None:
    model, tok = tiny
    ids = tok("def ")["input_ids"]
    with torch.no_grad():
        for _ in range(20):
            ids = torch.cat([ids, model(input_ids=ids).logits[:, -1:].argmax(-1)], dim=1)
    text = tok.decode(ids[0])
    assert text.startswith("def ") and text.isprintable() or "\n" in text


def test_nobos_twin_is_shipped_and_trained() -> None:
    model, tok = load("tgnn-gpt2-tiny-nobos")
    assert not tok.add_bos and tok("x")["input_ids"].shape == (1, 1)
    assert model.config.n_layer == 4 and model.config.n_positions >= N_CTX
    meta = weights_meta("tgnn-gpt2-tiny-nobos")
    assert meta["bos"] is False and meta["held_out_loss"] < HELD_OUT_LOSS_MAX
    assert held_out_loss(model, _held_ids(tok), bos=False, max_windows=24) < FIRST_WINDOWS_LOSS_MAX
