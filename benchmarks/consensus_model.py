"""Consensus in a trained model: the embedded causal model's layers applied again and again.

Rodriguez Abella, Silvestre & Tabuada (2024) prove that in the continuous-depth attention
dynamics every token converges to one cluster as depth grows, and that with causal attention
the first token, which attends only to itself, stays where it is while the others converge to
it. A real block is not that dynamics: it has value and output maps, a residual stream, an MLP
and LayerNorm, and the first token's update ``x_0 + W_O W_V LN(x_0) + MLP(...)`` need not be 0.

:func:`repeated_passes` runs token embeddings through the ``L`` blocks of ``tgnn-gpt2-tiny``
``passes`` times (``L * passes`` layers, the model's own causal mask, weights unchanged), with
or without the MLP half of each block, and records per layer ``mu(X)`` (relative distance of
the hidden states to consensus, :func:`tgnn.metrics.mu`) and the first token's drift
``||x_0^(l) - x_0^(0)|| / ||x_0^(0)||``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["causal_mask", "layer_summary", "repeated_passes"]


def causal_mask(n: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Additive ``[1, 1, n, n]`` mask: 0 on and below the diagonal, ``-inf`` above."""
    upper = torch.ones(n, n, dtype=torch.bool).triu(1)
    return torch.zeros(n, n, dtype=dtype).masked_fill(upper, float("-inf"))[None, None]


def _block(block: Any, x: Tensor, mask: Tensor, mlp: bool) -> Tensor:
    """One GPT-2 block on ``x`` (``[B, n, d]``), its MLP half skipped when ``mlp`` is False."""
    if mlp:
        out: Tensor = block(x, attention_mask=mask)
        return out
    attended, _ = block.attn(block.ln_1(x), attention_mask=mask)
    return x + attended


def repeated_passes(model: Any, input_ids: Tensor, passes: int, mlp: bool = True) -> dict[str, Any]:
    """Apply the model's blocks ``passes`` times to the embeddings of ``input_ids`` (``[B, n]``).

    Returns ``{"mu": [B, L * passes + 1], "first_drift": [B, L * passes + 1]}`` as numpy
    arrays (layer 0 is the embeddings). Equal to the model's own hidden states for the first
    pass with the MLP (tested).
    """
    from tgnn.metrics import mu

    transformer = model.transformer
    n = int(input_ids.shape[-1])
    mask = causal_mask(n, transformer.wte.weight.dtype)
    mus, drifts = [], []
    with torch.no_grad():
        x = transformer.wte(input_ids) + transformer.wpe(torch.arange(n))[None]
        first = x[:, 0].clone()
        scale = first.norm(dim=-1)
        for layer in range(passes * len(transformer.h) + 1):
            if layer:
                x = _block(transformer.h[(layer - 1) % len(transformer.h)], x, mask, mlp)
            mus.append(mu(x))  # one value per sequence
            drifts.append((x[:, 0] - first).norm(dim=-1) / scale)
    return {"mu": torch.stack(mus, dim=1).double().numpy(),
            "first_drift": torch.stack(drifts, dim=1).double().numpy()}


def layer_summary(values: np.ndarray, layers: list[int]) -> list[dict[str, float]]:
    """Mean over sequences with its 95% bootstrap interval at the given layers."""
    from tgnn.benchmarks.claims import bootstrap_interval

    rows = []
    for layer in layers:
        value, low, high = bootstrap_interval(values[:, layer])
        rows.append({"layer": layer, "mean": value, "low": low, "high": high})
    return rows
