r"""Models of the position-bias study, and what one sequence's forward pass gives the predictors.

Model names: the embedded ``tgnn-gpt2-tiny`` and ``tgnn-gpt2-tiny-nobos``, ``minilm``
(bidirectional), and random-init 4-layer models ``gpt2-random@r`` / ``llama-random@r`` (width 64,
4 heads; ``llama`` with grouped-query attention and rotary positions) whose weights are
drawn with ``initializer_range = r`` (``gpt2-random@0.02`` is
:data:`~tgnn.benchmarks.common.RANDOM_GPT2`).

For one sequence, :func:`capture_sequence` records per layer ``l``, head ``h`` and token ``j``:

- ``heads[l, h]``: the attention (``tgnn.capture_attention``, float64);
- ``rho[l, j] = |a_j| / (|a_j| + |x_j|)``: the calibrated residual share
  (:func:`tgnn.theory.rollout.calibrated_residual_share`; ``a`` the attention output after
  ``W_O``, ``x`` the block input);
- ``value_norms[l, h, j] = ||(LN(x_j) W_V^h + b_V^h) W_O^h||`` (Kobayashi et al. 2020, "Attention
  is not only a weight", EMNLP);
- ``key_gains[l, h, j] = ||diag(gamma) W_V^h W_O^h||_F / (sqrt(d) sigma_j)``: the RMS gain of head
  ``h``'s value path at key ``j`` (``sigma_j`` the LayerNorm's standard deviation of ``x_j``, or
  the RMSNorm's root mean square; post-LN models such as BERT read ``x`` itself: ``gamma = 1``,
  ``sigma = 1``), for :func:`tgnn.theory.rollout.gain_rollout_row`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["ModelLayer", "capture_sequence", "load_position_model", "model_layers"]

EPS = 1e-5


@functools.lru_cache(maxsize=8)
def load_position_model(name: str) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a study name (see the module docstring), cached per process."""
    from tgnn.benchmarks.common import RANDOM_GPT2, load_model

    from tgnn.errors import OptionError
    from tgnn.models import random_config_model

    if "@" not in name:
        return load_model(name)
    kind, _, scale = name.partition("@")
    if kind not in ("gpt2-random", "llama-random"):
        raise OptionError(f"name: expected 'gpt2-random@r' or 'llama-random@r', got {name!r}")
    r = float(scale)
    if kind == "gpt2-random" and r == 0.02:
        return load_model(RANDOM_GPT2)
    model, tok = random_config_model(kind.split("-")[0], seed=0, n_layer=4, n_head=4, hidden=64,
                                     n_ctx=512)
    model.config.initializer_range = r
    torch.manual_seed(0)
    model.apply(model._init_weights)  # transformers' own init, at the new scale
    return model.eval(), tok


@dataclass(frozen=True)
class ModelLayer:
    """What the predictors need of one attention layer (row-vector convention ``x W``).

    ``attention_in`` is the module whose input is the attention's input (``LN(x)``), ``output``
    the module whose output is the attention output after ``W_O``; ``w_vo[h] = W_V^h W_O^h``
    ``[d, d]``, ``w_v[h]`` ``[d, dh]``, ``b_v[h]`` ``[dh]``, ``w_o[h]`` ``[dh, d]``; ``gamma``
    the pre-attention norm's scale (``None``: post-LN, attention reads ``x``) and ``centered``
    whether that norm subtracts the mean (LayerNorm) or not (RMSNorm).
    """

    block: Any
    attention_in: Any
    output: Any
    w_v: list[np.ndarray]
    b_v: list[np.ndarray]
    w_o: list[np.ndarray]
    gamma: np.ndarray | None
    centered: bool


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().double().cpu().numpy())


def _split(w_v: np.ndarray, b_v: np.ndarray, w_o: np.ndarray, heads: int, kv: int
           ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    dh = w_o.shape[0] // heads
    group = heads // kv  # grouped-query attention: query head h reads value head h // group
    cols = [slice((h // group) * dh, (h // group + 1) * dh) for h in range(heads)]
    return ([w_v[:, c] for c in cols], [b_v[c] for c in cols],
            [w_o[h * dh : (h + 1) * dh] for h in range(heads)])


def model_layers(model: Any) -> list[ModelLayer]:
    """The :class:`ModelLayer` of every layer of a GPT-2, Llama or BERT model."""
    from tgnn.errors import OptionError

    cfg = model.config
    heads = int(cfg.num_attention_heads)
    out = []
    if cfg.model_type == "gpt2":
        d = int(cfg.n_embd)
        for b in model.transformer.h:
            w = _np(b.attn.c_attn.weight)
            parts = _split(w[:, 2 * d :], _np(b.attn.c_attn.bias)[2 * d :],
                           _np(b.attn.c_proj.weight), heads, heads)
            out.append(ModelLayer(b, b.attn, b.attn.c_proj, *parts, _np(b.ln_1.weight), True))
    elif cfg.model_type == "llama":
        kv = int(cfg.num_key_value_heads)
        for b in model.model.layers:
            a = b.self_attn
            w_v = _np(a.v_proj.weight).T
            bias = _np(a.v_proj.bias) if a.v_proj.bias is not None else np.zeros(w_v.shape[1])
            parts = _split(w_v, bias, _np(a.o_proj.weight).T, heads, kv)
            out.append(ModelLayer(b, a, a.o_proj, *parts, _np(b.input_layernorm.weight), False))
    elif cfg.model_type == "bert":
        for b in model.encoder.layer:
            s = b.attention.self
            parts = _split(_np(s.value.weight).T, _np(s.value.bias),
                           _np(b.attention.output.dense.weight).T, heads, heads)
            out.append(ModelLayer(b, b.attention, b.attention.output.dense, *parts, None, True))
    else:
        raise OptionError(f"model: expected a GPT-2, Llama or BERT model, got {cfg.model_type!r}")
    return out


def _first(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    return (args[0] if args else kwargs["hidden_states"])[0].detach().double()


def _output(out: Any) -> torch.Tensor:
    return (out[0] if isinstance(out, tuple) else out)[0].detach().double()


def _forward(model: Any, ids: torch.Tensor, layers: list[ModelLayer]
             ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """One captured forward: heads [L, H, n, n] and per layer block inputs, LN(x), outputs."""
    from tgnn import capture_attention

    xs: list[torch.Tensor] = []
    lns: list[torch.Tensor] = []
    outs: list[torch.Tensor] = []
    hooks = [h for layer in layers for h in (
        layer.block.register_forward_pre_hook(lambda m, a, kw: xs.append(_first(a, kw)),
                                              with_kwargs=True),
        layer.attention_in.register_forward_pre_hook(lambda m, a, kw: lns.append(_first(a, kw)),
                                                     with_kwargs=True),
        layer.output.register_forward_hook(lambda m, a, o: outs.append(_output(o))),
    )]
    try:
        with torch.no_grad():
            heads = np.stack([item.weights[0].double().cpu().numpy() for item in
                              capture_attention(model, {"input_ids": ids,
                                                        "attention_mask": torch.ones_like(ids)})])
    finally:
        for hook in hooks:
            hook.remove()
    return heads, [x.numpy() for x in xs], [x.numpy() for x in lns], [x.numpy() for x in outs]


def capture_sequence(model: Any, ids: torch.Tensor) -> dict[str, np.ndarray]:
    """``heads``, ``rho``, ``value_norms`` and ``key_gains`` of one ``[1, n]`` sequence."""
    from tgnn.theory.rollout import calibrated_residual_share

    layers = model_layers(model)
    heads, xs, lns, outs = _forward(model, ids, layers)
    value_norms, key_gains = [], []
    for layer, x, ln in zip(layers, xs, lns, strict=True):
        d = x.shape[-1]
        value_norms.append([np.linalg.norm((ln @ w_v + b_v) @ w_o, axis=-1)
                            for w_v, b_v, w_o in zip(layer.w_v, layer.b_v, layer.w_o, strict=True)])
        if layer.gamma is None:
            gamma, sigma = np.ones(d), np.ones(len(x))
        else:
            centred = x - x.mean(-1, keepdims=True) if layer.centered else x
            gamma, sigma = layer.gamma, np.sqrt((centred**2).mean(-1) + EPS)
        head_gain = [np.linalg.norm(gamma[:, None] * (w_v @ w_o)) / np.sqrt(d)
                     for w_v, w_o in zip(layer.w_v, layer.w_o, strict=True)]
        key_gains.append(np.asarray(head_gain)[:, None] / sigma[None, :])
    return {"heads": heads, "rho": calibrated_residual_share(outs, xs),
            "value_norms": np.asarray(value_norms), "key_gains": np.asarray(key_gains)}
