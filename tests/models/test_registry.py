"""load() and random_config_model(): offline loading, safety, seeding, grouped-query attention."""

from __future__ import annotations

import pytest
import torch

from tgnn.errors import ShapeError
from tgnn.models import load, random_config_model
from tgnn.models.train import train_tiny


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_random_models_seeded(kind: str) -> None:
    m1, tok = random_config_model(kind, seed=3)
    m2, _ = random_config_model(kind, seed=3)
    m3, _ = random_config_model(kind, seed=4)
    assert not m1.training
    inputs = tok(["hello", "hi"])
    out1 = m1(**inputs, output_hidden_states=True).hidden_states[-1]
    out2 = m2(**inputs, output_hidden_states=True).hidden_states[-1]
    out3 = m3(**inputs, output_hidden_states=True).hidden_states[-1]
    assert torch.equal(out1, out2) and not torch.allclose(out1, out3)
    assert out1.shape == (2, 6, 32)


def test_llama_is_grouped_query() -> None:
    m, _ = random_config_model("llama", n_head=4, hidden=32)
    assert m.config.num_key_value_heads == 2 < m.config.num_attention_heads
    k_proj = m.model.layers[0].self_attn.k_proj
    assert k_proj.out_features == 2 * 8  # two key/value heads of size 8


def test_random_model_errors() -> None:
    with pytest.raises(ShapeError):
        random_config_model("t5")
    with pytest.raises(ShapeError):
        random_config_model("gpt2", hidden=30, n_head=4)


def test_minilm_offline() -> None:
    model, tok = load("minilm")
    enc = tok("attention sinks", return_tensors="pt")
    out = model(**enc)
    assert type(model).__name__ == "BertModel" and not model.training
    assert out.last_hidden_state.shape == (1, enc["input_ids"].shape[1], 384)


def test_load_dtype_and_attn() -> None:
    model, _ = load("tgnn-gpt2-tiny", dtype=torch.float64, attn_implementation="eager")
    assert next(model.parameters()).dtype == torch.float64
    assert model.config._attn_implementation == "eager"


def test_unknown_name_is_an_error() -> None:
    with pytest.raises((OSError, ValueError)):
        load("/nonexistent/checkpoint", local_files_only=True)


@pytest.mark.slow
def test_train_script_is_deterministic_and_loadable(tmp_path) -> None:
    kw = {"steps": 2, "batch": 2, "progress": False, "eval_windows": 2}
    meta = train_tiny(out=tmp_path / "a", **kw)
    train_tiny(out=tmp_path / "b", **kw)
    a, tok = load(str(tmp_path / "a" / "tgnn-gpt2-tiny.safetensors"))
    b, _ = load(str(tmp_path / "b" / "tgnn-gpt2-tiny.safetensors"))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert meta["steps_done"] == 2 and len(meta["first_token_mass_per_layer"]) == 4
    assert tok.add_bos and a.lm_head.weight.data_ptr() == a.transformer.wte.weight.data_ptr()
