"""The data of one explorer page: top-k edges, per-row facts, profiles and per-layer numbers.

Two sources give the same page: dense attention (``L`` layers of ``[H, n, n]``, for short
inputs) and the graphs of a sparse capture (:func:`tgnn.capture_sparse_graphs` with
``head_reduction=None``, for long ones; see :mod:`tgnn.explorer.sparse_payload`). Layers are
consumed one at a time. Large arrays go into the page as base64 (``uint16`` keys, ``float16``
weights, ``float32`` values); the rest is plain JSON. Size: about
``L (H + 1) (4 k + 16) + 8 L`` bytes per token before base64 (4/3).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from tgnn._checks import check_attention
from tgnn.errors import EmptyInputError, ShapeError
from tgnn.explorer.edges import EdgeBlock, encode_top_k
from tgnn.explorer.quantities import (
    LAYER_NUMBERS,
    PROFILES,
    ROW_QUANTITIES,
    dense_row_facts,
    layer_numbers,
    rollout_resistance_rows,
)

__all__ = ["LayerRecord", "Sensitivity", "build_payload", "assemble_payload", "PANEL_MAX_TOKENS"]

PANEL_MAX_TOKENS = 256
"""Longest input for which the per-layer graph numbers (dense O(n^3)) are computed."""


@dataclass
class LayerRecord:
    """What one layer contributes to the page (``S = H + 1`` slots: heads, then the mean)."""

    block: EdgeBlock
    facts: dict[str, np.ndarray]  # key -> [S, n]
    mean: Any  # head-mean layer for the rollout: dense [n, n] array or scipy sparse matrix
    causal: bool


@dataclass
class Sensitivity:
    """Measured (or estimated) sensitivity of the last token, ``[L, n]``, or why it is missing."""

    values: np.ndarray | None = None
    stderr: np.ndarray | None = None
    method: str = ""
    note: str = "no model given"


def _b64_float32(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def _finite_or_none(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _as_layer(raw: Any, index: int, n: int) -> Tensor:
    layer = torch.as_tensor(raw).detach().to("cpu", torch.float32)
    layer = layer[None] if layer.dim() == 2 else layer
    if layer.dim() == 4 and layer.shape[0] == 1:
        layer = layer[0]
    name = f"attentions[{index}]"
    if layer.dim() != 3:
        raise ShapeError(f"{name}: expected [H, n, n] (or [n, n]), got {tuple(layer.shape)}")
    check_attention(layer, name, min_dim=3, max_dim=3)
    if layer.shape[-1] != n:
        raise ShapeError(f"{name}: expected {n} tokens like the tokens list, got {layer.shape[-1]}")
    return layer


def dense_records(attentions: Iterable[Any], n: int, top_k: int) -> Iterator[LayerRecord]:
    """One :class:`LayerRecord` per dense ``[H, n, n]`` layer. Cost O(H n^2 log k) each."""
    for index, raw in enumerate(attentions):
        layer = _as_layer(raw, index, n)
        causal = bool(torch.equal(layer, layer.tril()))
        stack = torch.cat([layer, layer.mean(0, keepdim=True)])
        yield LayerRecord(encode_top_k(stack, top_k), dense_row_facts(layer, causal),
                          stack[-1].double().numpy(), causal)


def _panel(blocks: list[EdgeBlock], n: int) -> dict[str, Any]:
    """Per-layer numbers of the drawn head-mean graphs (only up to ``PANEL_MAX_TOKENS``)."""
    from torch_geometric.data import Data

    values: dict[str, list[float | None]] = {key: [] for key, _ in LAYER_NUMBERS}
    for block in blocks:
        keys = torch.from_numpy(block.keys[-1].astype(np.int64))
        weights = torch.from_numpy(block.weights[-1].astype(np.float64))
        stored = weights > 0
        queries = torch.arange(n)[:, None].expand_as(keys)
        graph = Data(edge_index=torch.stack([keys[stored], queries[stored]]),
                     edge_weight=weights[stored], num_nodes=n)
        numbers = layer_numbers(graph)
        for key, _ in LAYER_NUMBERS:
            values[key].append(_finite_or_none(numbers[key]))
    return {"names": [list(pair) for pair in LAYER_NUMBERS], "values": values}


def _stack_rows(records: list[LayerRecord]) -> list[dict[str, Any]]:
    out = []
    for q in ROW_QUANTITIES:
        if q.key == "drawn_mass":
            data = np.stack([r.block.drawn for r in records])
        else:
            data = np.stack([r.facts[q.key] for r in records])
        out.append({"key": q.key, "label": q.label, "scale": q.scale, "note": q.note,
                    "data": _b64_float32(data)})
    return out


def _profiles(
    records: list[LayerRecord], rho: float, causal: bool, sensitivity: Sensitivity, n: int,
    unavailable: dict[str, str],
) -> list[dict[str, Any]]:
    rollout = rollout_resistance_rows([r.mean for r in records], rho, causal)
    values: dict[str, tuple[np.ndarray, np.ndarray | None]] = {"rollout_resistance": (rollout,
                                                                                     None)}
    if sensitivity.values is not None:
        if np.shape(sensitivity.values) != (len(records), n):
            raise ShapeError(f"sensitivity: expected [{len(records)}, {n}], "
                             f"got {list(np.shape(sensitivity.values))}")
        values["sensitivity"] = (sensitivity.values, sensitivity.stderr)
    else:
        unavailable["sensitivity"] = sensitivity.note
    out = []
    for q in PROFILES:
        if q.key not in values:
            continue
        data, stderr = values[q.key]
        note = q.note + (f" ({sensitivity.method})" if q.key == "sensitivity" else "")
        item = {"key": q.key, "label": q.label, "scale": q.scale, "note": note,
                "data": _b64_float32(data)}
        if stderr is not None:
            item["stderr"] = _b64_float32(stderr)
        out.append(item)
    return out


def assemble_payload(
    records: Iterable[LayerRecord], tokens: Sequence[str], *, top_k: int, rho: float,
    sensitivity: Sensitivity, title: str, source: str,
) -> dict[str, Any]:
    """The page's JSON from per-layer records (see :func:`build_payload`)."""
    n = len(tokens)
    layers = list(records)
    if not layers:
        raise EmptyInputError("attentions: expected at least one layer, got none")
    slots = {r.block.weights.shape[0] for r in layers}
    if len(slots) > 1:
        raise ShapeError(f"attentions: expected one number of heads, got {sorted(slots)}")
    causal = all(r.causal for r in layers)
    unavailable: dict[str, str] = {}
    panel = None
    if n <= PANEL_MAX_TOKENS:
        panel = _panel([r.block for r in layers], n)
    else:
        unavailable["panel"] = (f"per-layer graph numbers are dense O(n^3): computed up to "
                                f"{PANEL_MAX_TOKENS} tokens, this input has {n}")
    edges = []
    for r in layers:
        keys, weights = r.block.encoded()
        edges.append({"keys": keys, "weights": weights})
    return {
        "version": 2, "title": title, "tokens": [str(t) for t in tokens], "n": n,
        "layers": len(layers), "heads": slots.pop() - 1, "top_k": min(top_k, n), "rho": rho,
        "causal": causal, "source": source, "edges": edges, "rows": _stack_rows(layers),
        "profiles": _profiles(layers, rho, causal, sensitivity, n, unavailable),
        "unavailable": unavailable, "panel": panel,
    }


def build_payload(
    attentions: Iterable[Any],
    tokens: Sequence[str],
    *,
    top_k: int = 8,
    rho: float = 0.5,
    sensitivity: Sensitivity | None = None,
    title: str = "",
) -> dict[str, Any]:
    """Everything the page draws, from dense attention, as a JSON-ready dict.

    Parameters
    ----------
    attentions
        ``L`` layers of ``[H, n, n]`` (or ``[n, n]``) row-stochastic attention, query rows.
    tokens
        ``n`` token strings, in order.
    top_k
        Keys kept per query and per head (and head-mean) for drawing.
    rho
        Residual share of the rollout (1/2: Abnar & Zuidema 2020).
    sensitivity
        Optional measured sensitivity of the last token (``[L, n]``), or why it is missing.
    title
        Page heading.

    Returns
    -------
    dict
        ``tokens``, shape fields, base64 ``edges`` per layer, ``rows`` (per layer and slot),
        ``profiles`` (per layer), ``unavailable``, ``panel``. Cost ``O(L H n^2 log k)`` plus
        ``O(L n^3)`` for the panel (``n <= PANEL_MAX_TOKENS``).

    Examples
    --------
    >>> u = torch.tril(torch.ones(3, 3)) / torch.arange(1, 4)[:, None]
    >>> p = build_payload([u[None], u[None]], ["a", "b", "c"], top_k=2)
    >>> p["layers"], p["heads"], p["causal"], p["source"]
    (2, 1, True, 'dense')
    """
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise EmptyInputError("tokens: expected at least one token, got none")
    records = list(dense_records(attentions, len(tokens), top_k))
    return assemble_payload(records, tokens, top_k=top_k, rho=rho,
                            sensitivity=sensitivity or Sensitivity(), title=title,
                            source="dense")
