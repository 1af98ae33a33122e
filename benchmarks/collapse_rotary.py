"""Final-token distances of causal models over length and precision (Barbero et al. 2024, Sec. 4).

Three pair families, with the tokenizer's BOS kept in front (``1`` and ``0`` are the ids of the
characters "1" and "0"), built by :func:`tgnn.metrics.representation.sequence_pair`:

* ``"repeated"``: ``BOS 1^n`` against ``BOS 1^(n+1)``: the last token repeated once more
  (Barbero et al. 2024, Thm 4.2);
* ``"counting"``: ``BOS 1^n 0`` against ``BOS 1^(n+1) 0``: ones closed by a zero, counts one
  apart (their Fig. 1 and Sec. 6: the answer to "how many ones" differs);
* ``"copy"``: ``BOS 1^n`` against ``BOS 0 1^(n-1)``: the first token changed (copying it needs
  the difference to survive).

Each sequence is its own forward pass: the rows of one long causal forward are not bitwise the
rows of shorter forwards (the kernels block the sums differently), and bitwise equality is what
is measured. The distance is ``||y_a - y_b||_2`` of the final hidden state of the last token
(after the final norm, the input of the LM head), in float64 from the model's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tgnn.errors import ShapeError

__all__ = ["FAMILIES", "ROTARY", "collapse_point", "distance_rows", "equality_lengths",
           "family_pair", "length_grid", "logit_spread", "loglog_slope", "rotary_model"]

FAMILIES = ("repeated", "counting", "copy")
ROTARY = "llama-rotary"
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def rotary_model(seed: int, dtype: str = "fp32", max_len: int = 4096, size: str = "small",
                 logit_scale: float = 1.0) -> tuple[Any, Any]:
    """A seeded random-init Llama (rotary positions, grouped-query attention, SDPA kernels).

    ``size``: ``"small"`` (4 layers, 4 heads, width 64) or ``"tiny"`` (2 layers, width 32).
    Weights are drawn in fp32 with the Llama initialiser (std 0.02), the query projections are
    multiplied by ``logit_scale`` (every attention logit ``q·k / sqrt(d)`` becomes that many
    times the default init's: sharper attention, a wider logit spread), and the model is then
    cast, so the three precisions hold the same model rounded.
    """
    shape = {"small": {"n_layer": 4, "n_head": 4, "hidden": 64},
             "tiny": {"n_layer": 2, "n_head": 4, "hidden": 32}}
    if size not in shape:
        raise ShapeError(f"size: expected one of {tuple(shape)}, got {size!r}")
    from tgnn.models import random_config_model

    model, tok = random_config_model("llama", seed=seed, n_ctx=max_len + 8,
                                     attn_implementation="sdpa", **shape[size])
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(float(logit_scale))
    return model.to(_DTYPES[dtype]), tok


def length_grid(n_min: int, n_max: int, per_octave: int = 2) -> list[int]:
    """Geometric lengths from ``n_min`` to ``n_max`` (both kept), ``per_octave`` per doubling.

    Examples
    --------
    >>> length_grid(16, 64, per_octave=2)
    [16, 23, 32, 45, 64]
    """
    if not 1 <= n_min <= n_max or per_octave < 1:
        raise ShapeError(f"n_min, n_max, per_octave: expected 1 <= n_min <= n_max and "
                         f"per_octave >= 1, got {n_min}, {n_max}, {per_octave}")
    steps = round(per_octave * math.log2(n_max / n_min))
    grid = {round(n_min * 2 ** (k / per_octave)) for k in range(steps + 1)}
    return sorted(grid | {n_max})


def family_pair(family: str, n: int, one: int, zero: int, prefix: Sequence[int] = (),
                suffix: Sequence[int] = ()) -> tuple[list[int], list[int]]:
    """The two id sequences of ``family`` (see the module docstring) at body length ``n``.

    Examples
    --------
    >>> family_pair("counting", 2, one=4, zero=3, prefix=[1])
    ([1, 4, 4, 3], [1, 4, 4, 4, 3])
    """
    from tgnn.metrics.representation import sequence_pair

    if family == "repeated":
        return sequence_pair("counting", n, one, zero, prefix, suffix)
    if family == "counting":
        return sequence_pair("counting", n, one, zero, prefix, [zero, *suffix])
    if family == "copy":
        a, b = sequence_pair("changed", n, one, zero, prefix, suffix, position=0)
        return a, b
    raise ShapeError(f"family: expected one of {FAMILIES}, got {family!r}")


@torch.no_grad()
def _final_state(model: Any, ids: Sequence[int]) -> torch.Tensor:
    base = getattr(model, "base_model", model)
    dev = next(model.parameters()).device
    return base(input_ids=torch.tensor([list(ids)], device=dev)).last_hidden_state[0, -1]


def distance_rows(model: Any, tokenizer: Any, lengths: Sequence[int],
                  families: Sequence[str] = FAMILIES) -> list[dict[str, Any]]:
    """One row per family and length: ``family, n, distance, relative, equal``.

    ``relative`` is the distance over ``||y_a||``; ``equal`` is bitwise equality of the two
    final states in the model's dtype. Sequences shared by two families run once.
    """
    from tgnn.metrics.representation import split_specials

    prefix, one, suffix = split_specials(tokenizer, "1")
    _, zero, _ = split_specials(tokenizer, "0")
    states: dict[tuple[int, ...], torch.Tensor] = {}

    def state(ids: list[int]) -> torch.Tensor:
        key = tuple(ids)
        if key not in states:
            states[key] = _final_state(model, ids)
        return states[key]

    rows = []
    for n in lengths:
        for family in families:
            a, b = family_pair(family, int(n), one, zero, prefix, suffix)
            ya, yb = state(a), state(b)
            dist = float(torch.linalg.vector_norm(ya.double() - yb.double()))
            norm = float(torch.linalg.vector_norm(ya.double()))
            rows.append({"family": family, "n": int(n), "distance": dist,
                         "relative": dist / max(norm, 1e-300), "equal": bool(torch.equal(ya, yb))})
        states.clear()  # the next length shares no sequence with this one
    return rows


def logit_spread(model: Any, tokenizer: Any, n: int) -> float:
    r"""Largest logit spread of the last query over its keys, over layers and heads.

    On ``BOS 1^n``: ``Δ = max_{l,h} (max_j log A^(l,h)[-1, j] - min_j log A^(l,h)[-1, j])``,
    which equals ``max_j s_j - min_j s_j`` of the scaled logits ``s_j = q·k_j / sqrt(d)``
    (softmax keeps logit differences as log-weight differences). ``inf`` where a weight
    underflows to 0 in fp32.
    """
    from tgnn import capture_attention
    from tgnn.metrics.representation import split_specials

    prefix, one, suffix = split_specials(tokenizer, "1")
    ids = torch.tensor([[*prefix, *[one] * n, *suffix]])
    spread = 0.0
    with torch.no_grad():
        for item in capture_attention(model, {"input_ids": ids,
                                              "attention_mask": torch.ones_like(ids)}):
            last = item.weights[0, :, -1, :].double()
            if bool((last <= 0).any()):
                return math.inf
            logs = torch.log(last)
            spread = max(spread, float((logs.max(1).values - logs.min(1).values).max()))
    return spread


def collapse_point(point: dict[str, Any]) -> dict[str, Any]:
    """One sweep point ``{"model", "seed", "dtype", "lengths"}`` -> distance rows.

    ``model`` is :data:`ROTARY` (random-init rotary Llama, seeded; optional ``size`` and
    ``logit_scale``, see :func:`rotary_model`) or an embedded model name; ``families``
    (default all). Given ``spread_n``, the point also measures the logit spread of the rotary
    model (in fp32, whatever the point's dtype) at that length.
    """
    from tgnn.benchmarks.common import load_model

    lengths = [int(n) for n in point["lengths"]]
    if point["model"] == ROTARY:
        model, tok = rotary_model(int(point["seed"]), point["dtype"], max(lengths) + 2,
                                  point.get("size", "small"), point.get("logit_scale", 1.0))
    else:
        model, tok = load_model(point["model"], point["dtype"])
    families = point.get("families", FAMILIES)
    rows = [{**r, "dtype": point["dtype"]} for r in distance_rows(model, tok, lengths, families)]
    out: dict[str, Any] = {"rows": rows}
    if point["model"] == ROTARY and point.get("spread_n"):
        if point["dtype"] != "fp32":  # the spread is measured on the fp32 model
            model, tok = rotary_model(int(point["seed"]), "fp32", int(point["spread_n"]) + 2,
                                      point.get("size", "small"), point.get("logit_scale", 1.0))
        out["spread"] = logit_spread(model, tok, int(point["spread_n"]))
    return out


def equality_lengths(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """First grid length with bitwise-equal states, and the length from which all stay equal.

    Returns ``{"first_equal": n or None, "equal_from": n or None, "max_n": N}`` over the rows
    of one family and dtype (``None``: never equal up to ``N``).

    Examples
    --------
    >>> rows = [{"n": n, "equal": e} for n, e in [(8, False), (16, True), (32, False), (64, True)]]
    >>> equality_lengths(rows)
    {'first_equal': 16, 'equal_from': 64, 'max_n': 64}
    """
    ordered = sorted(rows, key=lambda r: r["n"])
    first = next((r["n"] for r in ordered if r["equal"]), None)
    since: int | None = None
    for r in ordered:
        since = (r["n"] if since is None else since) if r["equal"] else None
    return {"first_equal": first, "equal_from": since, "max_n": ordered[-1]["n"]}


def loglog_slope(rows: Sequence[dict[str, Any]], n_min: int = 32) -> float:
    """Least-squares slope of ``log distance`` against ``log n`` over rows with ``n >= n_min``
    and a non-zero distance (``nan`` with fewer than three such rows)."""
    pts = np.array([(r["n"], r["distance"]) for r in rows if r["n"] >= n_min and r["distance"] > 0],
                   dtype=float).reshape(-1, 2)
    if len(pts) < 3:
        return math.nan
    return float(np.polyfit(np.log(pts[:, 0]), np.log(pts[:, 1]), 1)[0])
