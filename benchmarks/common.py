"""Helpers the experiments share: cached models, sample inputs, captured attention, plotting.

Nothing here computes a metric: metrics come from ``tgnn.metrics`` and ``tgnn.theory``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

__all__ = [
    "RANDOM_GPT2",
    "attention_stack",
    "causal_lm_loss",
    "load_model",
    "pyplot",
    "sample_ids",
]

RANDOM_GPT2 = "gpt2-random"


@functools.lru_cache(maxsize=8)
def load_model(name: str, dtype: str = "fp32") -> tuple[Any, Any]:
    """``(model, tokenizer)`` by name, cached per process; ``gpt2-random``: seeded 4-layer GPT-2.

    Capture works with the model's own attention implementation (tgnn registers its own);
    Jacobians need plain differentiable attention, so models load with ``eager``.
    """
    from tgnn.models import load, random_config_model

    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    if name == RANDOM_GPT2:
        return random_config_model("gpt2", seed=0, n_layer=4, n_head=4, hidden=64, n_ctx=512,
                                   dtype=torch_dtype)
    return load(name, attn_implementation="eager", dtype=torch_dtype)


def sample_ids(tokenizer: Any, n: int, seed: int = 0) -> torch.Tensor:
    """``[1, n]`` token ids of a seeded slice of the tiny model's corpus (specials included)."""
    from tgnn.models.tiny import corpus_text

    text = corpus_text()
    start = int(np.random.default_rng(seed).integers(0, len(text) - 8 * n))
    ids = tokenizer(text[start : start + 8 * n], return_tensors="pt")["input_ids"]
    if ids.shape[1] > n:
        special = set(getattr(tokenizer, "all_special_ids", []))
        tail = [int(i) for i in ids[0, -1:] if int(i) in special]  # keep [SEP]-like endings
        ids = torch.cat([ids[:, : n - len(tail)], torch.tensor([tail], dtype=ids.dtype)], dim=1)
    return ids[:, :n]


def attention_stack(model: Any, input_ids: torch.Tensor,
                    attention_mask: torch.Tensor | None = None) -> np.ndarray:
    """``[L, n, n]`` float64 head-averaged attention of every layer (one forward, tgnn capture).

    ``attention_mask``: ``[1, n]`` padding mask or a 4D additive mask (e.g. from
    :func:`tgnn.graph_to_attention_mask`); default all ones.
    """
    from tgnn import capture_attention

    mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
    inputs = {"input_ids": input_ids, "attention_mask": mask}
    with torch.no_grad():
        layers = [item.weights[0].double().mean(0).cpu().numpy()
                  for item in capture_attention(model, inputs)]
    return np.stack(layers)


def causal_lm_loss(model: Any, input_ids: torch.Tensor, positions: list[int] | None = None,
                   attention_mask: torch.Tensor | None = None) -> float:
    """Mean next-token cross-entropy (nats) of a causal LM over consecutive ``positions`` pairs.

    ``positions`` (default all) are the sequence indices whose next entry in the list is the
    target: position ``positions[k]`` predicts the token at ``positions[k + 1]``.
    """
    pos = list(range(input_ids.shape[1])) if positions is None else positions
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[0]
    src, dst = torch.tensor(pos[:-1]), torch.tensor(pos[1:])
    return float(torch.nn.functional.cross_entropy(logits[src].float(), input_ids[0, dst]))


def pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
