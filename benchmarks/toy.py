"""A random-init toy transformer with explicit knobs, for the initialisation and depth studies.

Layer ``l`` (``x_l`` is ``[n, d]``): ``h = LN(x_l)`` (or ``h = x_l`` without LayerNorm),
per head ``A = softmax(beta * (h W_Q)(h W_K)^T / sqrt(d_h) + mask)``, ``a = concat_h(A h W_V)
W_O``, and ``x_{l+1} = alpha * x_l + sqrt(1 - alpha^2) * a`` (residual strength ``alpha``: 0 is
attention only, 1 the identity). ``W_Q, W_K, W_V, W_O`` have i.i.d. ``N(0, 1/d)`` entries, so
with unit-variance inputs ``beta`` is the standard deviation of the attention logits at
initialisation (the axis of Giorlandino & Goldt 2025's phase diagram). ``identity_values``
sets ``W_V = W_O = I`` (the pure consensus dynamics ``x_{l+1} = A x_l`` of Rodriguez Abella et
al. when ``alpha = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ToyConfig", "toy_forward"]


@dataclass(frozen=True)
class ToyConfig:
    """Knobs of the toy transformer (see the module docstring)."""

    n: int = 32
    d: int = 64
    heads: int = 4
    depth: int = 8
    beta: float = 1.0
    alpha: float = 0.0
    layernorm: bool = True
    causal: bool = False
    identity_values: bool = False
    seed: int = 0


def _weights(cfg: ToyConfig, gen: torch.Generator) -> list[dict[str, Tensor]]:
    def gauss() -> Tensor:
        return torch.randn(cfg.d, cfg.d, generator=gen, dtype=torch.float64) / math.sqrt(cfg.d)

    eye = torch.eye(cfg.d, dtype=torch.float64)
    return [{"q": gauss(), "k": gauss(),
             "v": eye if cfg.identity_values else gauss(),
             "o": eye if cfg.identity_values else gauss()} for _ in range(cfg.depth)]


def _attention(h: Tensor, w: dict[str, Tensor], cfg: ToyConfig) -> tuple[Tensor, Tensor]:
    n, dh = h.shape[0], cfg.d // cfg.heads
    q, k, v = ((h @ w[key]).reshape(n, cfg.heads, dh).transpose(0, 1) for key in "qkv")
    logits = cfg.beta * q @ k.transpose(1, 2) / math.sqrt(dh)
    if cfg.causal:
        logits = logits.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    attn = torch.softmax(logits, dim=-1)
    out = (attn @ v).transpose(0, 1).reshape(n, cfg.d) @ w["o"]
    return out, attn


def toy_forward(cfg: ToyConfig, x0: Tensor | None = None) -> tuple[list[Tensor], list[Tensor]]:
    """Run the toy model; return the hidden states ``[x_0 .. x_L]`` and attentions ``[H, n, n]``.

    ``x0`` defaults to seeded i.i.d. standard Gaussian tokens ``[n, d]`` (float64); pass one
    with ``requires_grad`` to take gradients through the stack.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    if x0 is None:
        x0 = torch.randn(cfg.n, cfg.d, generator=gen, dtype=torch.float64)
    layers = _weights(cfg, gen)
    skip, branch = cfg.alpha, math.sqrt(max(0.0, 1.0 - cfg.alpha**2))
    hidden, attentions = [x0], []
    for w in layers:
        x = hidden[-1]
        h = torch.nn.functional.layer_norm(x, (cfg.d,)) if cfg.layernorm else x
        out, attn = _attention(h, w, cfg)
        hidden.append(skip * x + branch * out)
        attentions.append(attn)
    return hidden, attentions
