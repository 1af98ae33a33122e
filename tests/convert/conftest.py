"""Small random-init transformers models (seeded) for the converter tests."""

from __future__ import annotations

import pytest
import torch
from transformers import PreTrainedModel

from tgnn.models import random_config_model


def make_model(kind: str, attn_implementation: str = "sdpa") -> PreTrainedModel:
    """A 3-layer, 4-head random model: GPT-2, Llama-like (grouped-query attention) or BERT."""
    model, _ = random_config_model(kind, n_layer=3, attn_implementation=attn_implementation)
    return model


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
