"""The data of one explorer page: sparsified edges, token colourings and per-layer numbers.

Layers are consumed one at a time (an iterable works: a capture stream), so only one layer's
``[H, n, n]`` weights and the ``L`` head-mean matrices are alive at once. Large arrays go into
the page as base64 (``uint16`` keys, ``uint8`` weight codes, ``float32`` values); the rest is
plain JSON.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from tgnn._checks import check_attention
from tgnn.errors import EmptyInputError, ShapeError
from tgnn.explorer.edges import encode_top_k
from tgnn.explorer.quantities import (
    LAYER_NUMBERS,
    TOKEN_QUANTITIES,
    head_token_values,
    layer_numbers,
    rollout_to_last,
)

__all__ = ["build_payload", "PANEL_PER_HEAD_MAX"]

PANEL_PER_HEAD_MAX = 64
"""Longest sequence for which the side-panel numbers are computed for every head too."""


def _b64_float32(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def _finite_or_none(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _as_layer(raw: Any, index: int, n: int | None) -> Tensor:
    layer = torch.as_tensor(raw).detach().to("cpu", torch.float32)
    layer = layer[None] if layer.dim() == 2 else layer
    if layer.dim() == 4 and layer.shape[0] == 1:
        layer = layer[0]
    name = f"attentions[{index}]"
    if layer.dim() != 3:
        raise ShapeError(f"{name}: expected [H, n, n] (or [n, n]), got {tuple(layer.shape)}")
    check_attention(layer, name, min_dim=3, max_dim=3)
    if n is not None and layer.shape[-1] != n:
        raise ShapeError(f"{name}: expected {n} tokens like the tokens list, got {layer.shape[-1]}")
    return layer


class _Collector:
    """Accumulates what each layer contributes to the page."""

    def __init__(self, per_head_panel: bool) -> None:
        self.per_head_panel = per_head_panel
        self.edges: list[dict[str, str]] = []
        self.stats: dict[str, list[list[float]]] = {"nonzero": [], "kept": [], "mass": []}
        self.token_values: dict[str, list[np.ndarray]] = {}
        self.panel: dict[str, list[list[float | None]]] = {k: [] for k, _ in LAYER_NUMBERS}
        self.means: list[np.ndarray] = []
        self.causal = True

    def add(self, layer: Tensor, top_k: int) -> None:
        """Encode one ``[H, n, n]`` layer and compute its numbers."""
        stack = torch.cat([layer, layer.mean(0, keepdim=True)])
        block = encode_top_k(stack, top_k)
        keys, codes = block.encoded()
        self.edges.append({"keys": keys, "codes": codes})
        self.stats["nonzero"].append(block.nonzero.tolist())
        self.stats["kept"].append(block.kept.tolist())
        self.stats["mass"].append([round(float(m), 6) for m in block.mass])
        self.causal &= bool(torch.equal(layer, layer.tril()))
        for key, values in head_token_values(stack, self.causal).items():
            self.token_values.setdefault(key, []).append(values)
        matrices = stack if self.per_head_panel else stack[-1:]
        numbers = [layer_numbers(m, top_k) for m in matrices]
        for key, _ in LAYER_NUMBERS:
            self.panel[key].append([_finite_or_none(row[key]) for row in numbers])
        self.means.append(stack[-1].double().numpy())


def _quantities(
    collected: _Collector, rho: float, sensitivity: np.ndarray | None, unavailable: dict[str, str]
) -> list[dict[str, Any]]:
    values = {key: np.stack(rows) for key, rows in collected.token_values.items()}  # [L, S, n]
    if not collected.causal:
        values.pop("absorbing_resistance", None)
        unavailable["absorbing_resistance"] = "needs causal attention"
    values["rollout_resistance"] = rollout_to_last(collected.means, rho, collected.causal)[:, None]
    if sensitivity is not None:
        values["sensitivity"] = np.asarray(sensitivity, dtype=np.float64)[:, None]
    out = []
    for q in TOKEN_QUANTITIES:
        if q.key not in values:
            unavailable.setdefault(q.key, "not provided by the installed tgnn")
            continue
        data = values[q.key]
        out.append({"key": q.key, "label": q.label, "scale": q.scale, "note": q.note,
                    "rows": int(data.shape[1]), "data": _b64_float32(data)})
    return out


def build_payload(
    attentions: Iterable[Any],
    tokens: Sequence[str],
    *,
    top_k: int = 8,
    rho: float = 0.5,
    sensitivity: np.ndarray | None = None,
    sensitivity_note: str = "no model given",
    title: str = "",
    per_head_panel: bool | None = None,
) -> dict[str, Any]:
    """Everything the page draws, as a JSON-ready dict.

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
        Optional ``[L, n]`` measured Jacobian sensitivity of the last token at each layer output.
    sensitivity_note
        Why ``sensitivity`` is missing (shown in the page when it is ``None``).
    title
        Page heading.
    per_head_panel
        Compute the side-panel graph numbers for every head too (default: ``n <= 64``).

    Returns
    -------
    dict
        ``tokens``, shape fields, base64 ``edges`` per layer, ``edge_stats``, ``quantities``,
        ``unavailable``, ``panel``. Cost ``O(L H n^2 log k + L n^3)``.

    Examples
    --------
    >>> u = torch.tril(torch.ones(3, 3)) / torch.arange(1, 4)[:, None]
    >>> p = build_payload([u[None], u[None]], ["a", "b", "c"], top_k=2)
    >>> p["layers"], p["heads"], p["causal"], p["edge_stats"]["kept"][0]
    (2, 1, True, [5, 5])
    """
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise EmptyInputError("tokens: expected at least one token, got none")
    n = len(tokens)
    collected = _Collector(n <= PANEL_PER_HEAD_MAX if per_head_panel is None else per_head_panel)
    heads = None
    for index, raw in enumerate(attentions):
        layer = _as_layer(raw, index, n)
        if heads is not None and layer.shape[0] != heads:
            raise ShapeError(f"attentions[{index}]: expected {heads} heads, got {layer.shape[0]}")
        heads = layer.shape[0]
        collected.add(layer, top_k)
    if heads is None:
        raise EmptyInputError("attentions: expected at least one layer, got none")
    unavailable: dict[str, str] = {}
    if sensitivity is None:
        unavailable["sensitivity"] = sensitivity_note
    elif np.shape(sensitivity) != (len(collected.edges), n):
        raise ShapeError(f"sensitivity: expected [{len(collected.edges)}, {n}], "
                         f"got {list(np.shape(sensitivity))}")
    quantities = _quantities(collected, rho, sensitivity, unavailable)
    return {
        "version": 1, "title": title, "tokens": tokens, "n": n, "layers": len(collected.edges),
        "heads": heads, "top_k": min(top_k, n), "rho": rho, "causal": collected.causal,
        "edges": collected.edges, "edge_stats": collected.stats, "quantities": quantities,
        "unavailable": unavailable,
        "panel": {"names": [list(pair) for pair in LAYER_NUMBERS], "values": collected.panel,
                  "per_head": collected.per_head_panel},
    }
