"""Checks of a model call's arguments, made before the model runs (one line naming what is wrong).

Without them a non-Hugging Face model, a tensor passed instead of the inputs mapping, token ids
outside the vocabulary, inputs on another device or ``layers=[99]`` end in a raw
``AttributeError`` / ``IndexError`` / CUDA assert from deep inside torch or transformers, or in
an error that blames the attention interface after the whole forward pass has run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from tgnn.errors import AttentionUnavailableError, ShapeError

__all__ = ["LayerCounter", "check_model_call", "num_layers"]


@dataclass
class LayerCounter:
    """Which layer an attention call belongs to, during one forward pass of a capture."""

    calls: int = 0

    def layer_of(self, module: Any) -> int:
        """The module's ``layer_idx`` where it has one, else the number of calls before."""
        index = getattr(module, "layer_idx", None)
        layer = index if isinstance(index, int) else self.calls
        self.calls += 1
        return layer


def _text_config(model: Any) -> Any:
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def num_layers(model: Any) -> int:
    """Number of transformer layers of a Hugging Face model (its text part for multimodal ones)."""
    return int(_text_config(model).num_hidden_layers)


def _check_model(model: Any, caller: str) -> None:
    if getattr(model, "config", None) is None or not callable(
        getattr(model, "set_attn_implementation", None)
    ):
        raise AttentionUnavailableError(
            f"model: {caller} expected a transformers PreTrainedModel (with .config and "
            f"set_attn_implementation), got {type(model).__name__}"
        )


def _check_ids(ids: Any, model: Any) -> None:
    if not isinstance(ids, Tensor) or ids.is_floating_point() or ids.is_complex() or ids.dim() != 2:
        shown = tuple(ids.shape) if isinstance(ids, Tensor) else type(ids).__name__
        dtype = f" {ids.dtype}" if isinstance(ids, Tensor) else ""
        raise ShapeError(
            f"inputs['input_ids']: expected an integer tensor [B, n], got{dtype} {shown}"
        )
    vocab = getattr(_text_config(model), "vocab_size", None)
    if ids.numel() and isinstance(vocab, int):
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= vocab:
            raise ShapeError(
                f"inputs['input_ids']: expected token ids in 0 .. {vocab - 1} (the model's "
                f"vocab_size), got ids from {low} to {high}"
            )
    parameter = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    if parameter is not None and ids.device != parameter.device:
        raise ShapeError(
            f"inputs: expected tensors on the model's device {parameter.device}, got "
            f"{ids.device}; move them with {{k: v.to({str(parameter.device)!r}) ...}}"
        )


def check_model_call(
    model: Any, inputs: Any, layers: Collection[int] | None, caller: str
) -> None:
    """Raise a named error for a model, inputs or layer selection the capture cannot run.

    Checks: ``model`` is a ``transformers`` model; ``inputs`` is a mapping (what a tokenizer
    returns), its ``input_ids`` an integer ``[B, n]`` tensor of ids inside the vocabulary on the
    model's device; ``layers`` are indices of existing layers.

    Examples
    --------
    >>> import torch
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10))
    >>> check_model_call(model, {"input_ids": torch.tensor([[3, 12]])}, None, "capture_graphs")
    Traceback (most recent call last):
    ...
    tgnn.errors.ShapeError: inputs['input_ids']: expected token ids in 0 .. 9 (the model's \
vocab_size), got ids from 3 to 12
    """
    _check_model(model, caller)
    if isinstance(inputs, Tensor) or not isinstance(inputs, Mapping):
        raise ShapeError(
            f"inputs: {caller} expected a mapping of model inputs, e.g. tokenizer(text, "
            f"return_tensors='pt') or {{'input_ids': ids}}, got {type(inputs).__name__}"
        )
    if inputs.get("input_ids") is not None:
        _check_ids(inputs["input_ids"], model)
    if layers is not None:
        depth = num_layers(model)
        wrong = [layer for layer in layers
                 if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < depth]
        if wrong:
            raise ShapeError(
                f"layers: expected indices in 0 .. {depth - 1} (the model has {depth} layers), "
                f"got {wrong}"
            )
