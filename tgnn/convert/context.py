"""Fit tokenised inputs to a model's context window before anything runs.

A model with learned absolute positions (GPT-2, BERT) has a hard limit: position ``n_positions``
(or ``max_position_embeddings``) has no embedding, and running a longer input ends in an
``IndexError`` deep inside torch. Rotary models (Llama, Mistral, Qwen) run past
``max_position_embeddings``, but that is the length they were configured (and trained) for, so
it is checked the same way. :func:`max_positions` reads the limit from the model's config;
:func:`fit_context` checks an input mapping against it and, on overflow, raises
:class:`~tgnn.errors.ContextLengthError` (``overflow="error"``), truncates (``"keep_last"``,
``"keep_first"``) or splits into windows (``"windows"``). :func:`context_windows` does the same
and also says where each kept token came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import torch
from torch import Tensor

from tgnn.errors import ContextLengthError, EmptyInputError, OptionError, ShapeError

__all__ = ["Overflow", "ContextWindow", "max_positions", "context_windows", "fit_context"]

MODES = ("error", "keep_last", "keep_first", "windows")

_LIMIT_KEYS = ("n_positions", "max_position_embeddings", "n_ctx")
# RoBERTa-style models number positions from pad_token_id + 1: two rows of the table are unusable.
_PADDING_OFFSET = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert",
                             "roberta-prelayernorm", "data2vec-text"})


@dataclass(frozen=True)
class Overflow:
    """What to do with an input longer than the model's context.

    A plain string (``"error"``, ``"keep_last"``, ``"keep_first"``, ``"windows"``; hyphens are
    accepted too) is ``Overflow(mode)``; build one for the other options.

    Attributes
    ----------
    mode
        ``"error"``: raise :class:`~tgnn.errors.ContextLengthError`. ``"keep_last"`` /
        ``"keep_first"``: keep each sequence's last / first real tokens. ``"windows"``: split
        each sequence into consecutive windows of at most the limit.
    overlap
        Tokens that consecutive windows share (``"windows"`` only; 0: every token once).
    keep_prefix, keep_suffix
        Real tokens at the start / end of each sequence kept in every truncated input or window
        (for example 1 and 1 for BERT's ``[CLS] ... [SEP]``, or 1 and 0 for a BOS token). Off by
        default: the API cuts plain slices; ``tgnn convert`` and ``tgnn view`` keep the special
        tokens their tokenizer put at either end.

    Examples
    --------
    >>> Overflow("keep-last", keep_prefix=1)
    Overflow(mode='keep_last', overlap=0, keep_prefix=1, keep_suffix=0)
    """

    mode: str = "error"
    overlap: int = 0
    keep_prefix: int = 0
    keep_suffix: int = 0

    def __post_init__(self) -> None:
        mode = str(self.mode).replace("-", "_")
        if mode not in MODES:
            raise OptionError(f"overflow: expected one of {MODES}, got {self.mode!r}")
        object.__setattr__(self, "mode", mode)
        for name in ("overlap", "keep_prefix", "keep_suffix"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ShapeError(f"{name}: expected an integer >= 0, got {value!r}")


@dataclass(frozen=True)
class ContextWindow:
    """One input that fits the context, cut from a longer one.

    Attributes
    ----------
    inputs
        Keyword inputs for the model (same keys as the original, ``[B_w, m]`` with ``m`` at
        most the limit); for an input that already fits, the original mapping's values.
    positions
        ``[B_w, m]`` long: the column of the original inputs each slot holds (-1 for padding).
    rows
        ``[B_w]`` long: the original batch row of each sequence (a window may hold fewer rows
        than the batch once the shorter sequences have ended).
    index
        The window's number (0 for a truncated input or one that fits).
    """

    inputs: dict[str, Any]
    positions: Tensor
    rows: Tensor
    index: int = 0


def as_overflow(overflow: str | Overflow) -> Overflow:
    """``overflow`` as an :class:`Overflow` (a string is its mode)."""
    return overflow if isinstance(overflow, Overflow) else Overflow(overflow)


def _config(model: Any) -> Any:
    config = getattr(model, "config", model)
    get_text = getattr(config, "get_text_config", None)
    return get_text() if callable(get_text) else config


def _limit(model: Any) -> tuple[int | None, str]:
    """``(limit, "source = value")``; ``(None, "")`` where the config states no limit."""
    if model is None:
        return None, ""
    if isinstance(model, int) and not isinstance(model, bool):
        if model < 1:
            raise ShapeError(f"model: expected a model, a config or a limit >= 1, got {model}")
        return model, f"limit = {model}"
    config = _config(model)
    for key in _LIMIT_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            source = f"{key} = {value}"
            if getattr(config, "model_type", None) in _PADDING_OFFSET:
                offset = int(getattr(config, "pad_token_id", None) or 1) + 1
                return value - offset, f"{source} less the padding offset {offset}"
            return value, source
    return None, ""


def max_positions(model: Any) -> int | None:
    """The longest input ``model`` takes, from its config; None where it states no limit.

    Reads GPT-2's ``n_positions``, BERT's and Llama's ``max_position_embeddings`` (or ``n_ctx``),
    on ``config.get_text_config()`` for multimodal models. RoBERTa-style models, which number
    positions from ``pad_token_id + 1``, lose that offset.

    Parameters
    ----------
    model
        A ``transformers`` model, its config, an integer limit, or None (no limit).

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> max_positions(random_config_model("gpt2", n_ctx=16)[0])
    16
    >>> max_positions(random_config_model("bert", n_ctx=24)[0].config), max_positions(None)
    (24, None)
    """
    return _limit(model)[0]


def _describe(model: Any, name: str | None) -> str:
    if isinstance(model, int):
        return f"{name!r}" if name else "the model"
    config = getattr(model, "config", model)
    label = name or PurePath(str(getattr(config, "name_or_path", "") or "")).name
    kind = type(model).__name__
    return f"{kind} {label!r}" if label else kind


def _reference(inputs: Mapping[str, Any]) -> Tensor:
    reference = inputs.get("input_ids")
    if reference is None:
        reference = inputs.get("inputs_embeds")
    if not isinstance(reference, Tensor) or reference.dim() < 2:
        raise EmptyInputError("inputs: expected input_ids [B, n] or inputs_embeds [B, n, d], "
                              "got neither")
    return reference


def _selections(real: list[Tensor], limit: int, policy: Overflow) -> list[list[Tensor]]:
    """Per window, per row: the columns kept (increasing); rows that have ended are absent."""
    head, tail = policy.keep_prefix, policy.keep_suffix
    body = limit - head - tail
    if body < 1:
        raise ShapeError(f"overflow: keep_prefix + keep_suffix = {head + tail} leave no room for "
                         f"other tokens in a context of {limit}")
    step = body - policy.overlap
    if policy.mode == "windows" and step < 1:
        raise OptionError(f"overflow: expected overlap < {body} (the window less the kept "
                         f"prefix and suffix), got {policy.overlap}")
    windows: list[list[Tensor]] = []
    for b, columns in enumerate(real):
        if len(columns) <= head + tail:
            pieces = [columns]
        else:
            middle = columns[head: len(columns) - tail]
            ends = (columns[:head], columns[len(columns) - tail:])
            if policy.mode == "keep_first":
                chunks = [middle[:body]]
            elif policy.mode == "keep_last":
                chunks = [middle[max(len(middle) - body, 0):]]
            else:
                count = 1 + max(0, -(-(len(middle) - body) // step))
                chunks = [middle[w * step: w * step + body] for w in range(count)]
            pieces = [torch.cat([ends[0], chunk, ends[1]]) for chunk in chunks]
        for w, piece in enumerate(pieces):
            if w == len(windows):
                windows.append([torch.empty(0, dtype=torch.long)] * len(real))
            windows[w][b] = piece
    return windows


def _gather(value: Tensor, rows: Tensor, index: Tensor) -> Tensor:
    """``value[rows[r], index[r, s], ...]`` for a ``[B or 1, n, ...]`` tensor."""
    if value.shape[0] == 1:
        value = value.expand(int(rows.max()) + 1, *value.shape[1:])
    picked = value[rows.to(value.device)]
    index = index.to(value.device).view(*index.shape, *([1] * (value.dim() - 2)))
    return torch.gather(picked, 1, index.expand(-1, -1, *value.shape[2:]))


def _window(
    inputs: Mapping[str, Any], mask: Tensor, kept: list[Tensor], number: int
) -> ContextWindow:
    batch, n = mask.shape
    rows = torch.tensor([b for b in range(batch) if len(kept[b])], dtype=torch.long)
    width = max(len(kept[int(b)]) for b in rows)
    left = bool((~mask[:, 0]).any()) and not bool((~mask[:, -1]).any())
    index = torch.zeros(len(rows), width, dtype=torch.long)
    real = torch.zeros(len(rows), width, dtype=torch.bool)
    for r, b in enumerate(rows.tolist()):
        columns, pads = kept[b], (~mask[b]).nonzero().flatten()
        slots = slice(width - len(columns), width) if left else slice(0, len(columns))
        index[r] = int(pads[0]) if len(pads) else 0
        index[r, slots], real[r, slots] = columns, True
    fitted: dict[str, Any] = {}
    for key, value in inputs.items():
        if not isinstance(value, Tensor) or n not in value.shape[1:]:
            per_row = isinstance(value, Tensor) and value.dim() == 1 and len(value) == batch
            fitted[key] = value[rows.to(value.device)] if per_row else value
        elif value.dim() >= 2 and value.shape[1] == n and value.shape[0] in (1, batch):
            fitted[key] = _gather(value, rows, index)
        else:
            raise ShapeError(f"inputs[{key!r}]: expected the tokens on axis 1 ([B, n, ...] with "
                             f"n = {n}) to fit it to the context, got shape {tuple(value.shape)}")
    if "attention_mask" in fitted:
        fitted["attention_mask"] = real.to(fitted["attention_mask"])
    if "position_ids" in fitted:  # renumber from each row's first position: no gap, no overflow
        original = _gather(inputs["position_ids"], rows, mask[rows].long().argmax(1)[:, None])
        ranks = (real.long().cumsum(1) - 1).to(original)
        fitted["position_ids"] = torch.where(real.to(original.device), original + ranks,
                                             fitted["position_ids"])
    positions = torch.where(real, index, torch.full_like(index, -1))
    return ContextWindow(fitted, positions, rows, number)


def context_windows(
    inputs: Mapping[str, Any], model: Any, overflow: str | Overflow = "error", *,
    name: str | None = None,
) -> list[ContextWindow]:
    """Check ``inputs`` against ``model``'s context and fit them to it, keeping the provenance.

    Like :func:`fit_context`, but each result is a :class:`ContextWindow` that also says which
    original column (``positions``) and batch row (``rows``) each slot holds. An input that
    fits comes back unchanged as one window, whatever ``overflow`` says.

    Parameters
    ----------
    inputs, model, overflow, name
        As in :func:`fit_context`.

    Returns
    -------
    list of ContextWindow
        One (``"keep_last"``, ``"keep_first"``, or an input that fits), or one per window.

    Examples
    --------
    >>> ids = torch.arange(10, 20)[None]
    >>> windows = context_windows({"input_ids": ids}, 4, "windows")
    >>> [w.positions[0].tolist() for w in windows]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    >>> [w.inputs["input_ids"][0].tolist() for w in windows][-1]
    [18, 19]
    """
    policy = as_overflow(overflow)
    reference = _reference(inputs)
    batch, n = int(reference.shape[0]), int(reference.shape[1])
    limit, source = _limit(model)
    mask_value = inputs.get("attention_mask")
    pattern = mask_value is not None and mask_value.dim() == 4  # which keys each query reads
    mask = (torch.ones(batch, n, dtype=torch.bool) if mask_value is None or pattern
            else mask_value.detach().bool().cpu())
    if pattern and limit is not None and n > limit and policy.mode != "error":
        raise ShapeError(
            "inputs['attention_mask']: a [B, 1, n, n] attention mask cannot be cut to the "
            f"context ({policy.mode!r}); pass a shorter input, or a [B, n] padding mask"
        )
    if limit is None or n <= limit:
        columns = torch.arange(n).expand(batch, n)
        return [ContextWindow(dict(inputs), torch.where(mask, columns, -1), torch.arange(batch))]
    if policy.mode == "error":
        longest = int(mask.sum(1).max())
        padded = f" (padded; the longest sequence has {longest})" if longest < n else ""
        raise ContextLengthError(
            f"inputs: {n} tokens{padded} exceed the context of {_describe(model, name)} "
            f"({source}); pass overflow='keep_last', 'keep_first' or 'windows'",
            length=n, limit=limit, model=_describe(model, name), source=source,
        )
    real = [mask[b].nonzero().flatten() for b in range(batch)]
    if not any(len(columns) for columns in real):
        raise EmptyInputError("inputs: expected at least one real token, got only padding")
    return [_window(inputs, mask, kept, w)
            for w, kept in enumerate(_selections(real, limit, policy))]


def fit_context(
    inputs: Mapping[str, Any], model: Any, overflow: str | Overflow = "error", *,
    name: str | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Check ``inputs`` against ``model``'s context before it runs; truncate or split on overflow.

    Every tensor with the tokens on axis 1 (``input_ids``, ``attention_mask``,
    ``token_type_ids``, ``position_ids``, ``inputs_embeds``, ...) is cut the same way. Only
    real tokens are kept or counted: each row's tokens are chosen among its unmasked ones and
    packed again on the side the input was padded on (left or right), so a batch comes back
    at most ``limit`` wide. ``position_ids``, if given, are renumbered from each row's first
    position (no gap, none past the limit). The check is on the padded width ``n``, which is
    what the model indexes. BERT's ``[CLS]`` / ``[SEP]`` (or a BOS token) are only kept in
    each piece with ``Overflow(mode, keep_prefix=1, keep_suffix=1)``; by default pieces are
    plain slices of the real tokens.

    Parameters
    ----------
    inputs
        Keyword inputs of the model, ``[B, n]`` tensors (``[B, n, d]`` for ``inputs_embeds``).
    model
        A ``transformers`` model or config (limit from :func:`max_positions`), an integer limit,
        or None (no limit: ``inputs`` come back as they are).
    overflow
        ``"error"`` (default), ``"keep_last"``, ``"keep_first"``, ``"windows"``, or an
        :class:`Overflow` with the overlap of windows and the tokens to keep in every piece.
    name
        The model's name in the error message (default: the config's ``name_or_path``).

    Returns
    -------
    dict or list of dict
        The inputs (unchanged if they fit), or with ``"windows"`` a list of inputs, one per
        window (a list of one if they fit). :func:`context_windows` also gives each window's
        original positions.

    Raises
    ------
    ContextLengthError
        ``overflow="error"`` and ``n`` exceeds the limit: one line with the model, the limit
        and the length.

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> model, tok = random_config_model("gpt2", n_ctx=8)
    >>> inputs = tok("hello world")  # 12 tokens: <bos> and 11 characters
    >>> fit_context(inputs, model)
    Traceback (most recent call last):
    ...
    tgnn.errors.ContextLengthError: inputs: 12 tokens exceed the context of GPT2LMHeadModel \
(n_positions = 8); pass overflow='keep_last', 'keep_first' or 'windows'
    >>> tok.decode(fit_context(inputs, model, "keep_last")["input_ids"][0])
    'lo world'
    >>> last = fit_context(inputs, model, Overflow("keep_last", keep_prefix=1))["input_ids"][0]
    >>> tok.decode(last, skip_special_tokens=False)
    '<bos>o world'
    >>> [tok.decode(w["input_ids"][0]) for w in fit_context(inputs, model, "windows")]
    ['hello w', 'orld']
    """
    policy = as_overflow(overflow)
    windows = context_windows(inputs, model, policy, name=name)
    if policy.mode == "windows":
        return [window.inputs for window in windows]
    return windows[0].inputs


def fitted_inputs(
    inputs: Mapping[str, Any], model: Any, overflow: str | Overflow, caller: str
) -> Mapping[str, Any]:
    """``inputs`` fitted to ``model`` for one forward pass (``"windows"`` refused, naming why)."""
    policy = as_overflow(overflow)
    if policy.mode == "windows":
        raise ShapeError(
            f"overflow: {caller} runs one forward pass and cannot take 'windows'; use "
            "capture_graphs(..., overflow='windows'), or loop over "
            "fit_context(inputs, model, overflow='windows')"
        )
    return context_windows(inputs, model, policy)[0].inputs
