"""Small random-init transformers models (seeded) for the converter tests."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
)


def make_model(kind: str, attn_implementation: str = "sdpa") -> PreTrainedModel:
    torch.manual_seed(0)
    if kind == "gpt2":
        config = GPT2Config(n_layer=3, n_head=4, n_embd=32, vocab_size=50, n_positions=64)
        model: PreTrainedModel = GPT2LMHeadModel(config)
    elif kind == "llama":
        config = LlamaConfig(
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            hidden_size=32,
            intermediate_size=64,
            vocab_size=50,
            max_position_embeddings=64,
        )
        model = LlamaForCausalLM(config)
    elif kind == "bert":
        config = BertConfig(
            num_hidden_layers=2,
            num_attention_heads=4,
            hidden_size=32,
            intermediate_size=64,
            vocab_size=50,
            max_position_embeddings=64,
        )
        model = BertModel(config)
    else:
        raise ValueError(kind)
    model.set_attn_implementation(attn_implementation)
    return model.eval()


@pytest.fixture(params=["gpt2", "llama", "bert"])
def model_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def padded_inputs(batch: int = 2, n: int = 7, left: bool = True) -> dict[str, torch.Tensor]:
    """Token ids with the second sequence padded by 3 tokens (left or right)."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 50, (batch, n), generator=generator)
    mask = torch.ones(batch, n, dtype=torch.long)
    if batch > 1:
        if left:
            mask[1, :3] = 0
        else:
            mask[1, -3:] = 0
        ids[1][mask[1] == 0] = 0
    return {"input_ids": ids, "attention_mask": mask}
