"""Representational collapse harness (Barbero et al. 2024, "Transformers need glasses!").

Two input families whose final-token representations should differ but, as the length ``n``
grows, get arbitrarily close (Barbero et al. 2024, Thm. 4.2), and in low precision become
exactly equal:

* ``"changed"``: ``[t] * n`` against the same with the token at ``position`` replaced by ``u``;
* ``"counting"``: ``[t] * n`` against ``[t] * (n + 1)`` (same last token, different counts).

The tokenizer's special tokens (BOS, or [CLS] ... [SEP]) are kept around the body. Distances
are ``||y_a - y_b||_2`` of the last position's final hidden state, computed in float64 from
the model's output in each dtype (the model runs in that dtype: fp32, bf16, fp16).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from tgnn.errors import EmptyInputError, OptionError, ShapeError
from tgnn.metrics._input import integer

__all__ = ["split_specials", "sequence_pair", "final_token_distance", "collapse_table",
           "collapse_length", "FAMILIES"]

FAMILIES = ("changed", "counting")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def split_specials(tokenizer: Any, token: str) -> tuple[list[int], int, list[int]]:
    """Encode one token and split it into (special prefix ids, token id, special suffix ids).

    Examples
    --------
    >>> from tgnn.models import CharTokenizer
    >>> split_specials(CharTokenizer.from_text("01"), "1")
    ([1], 4, [])
    """
    ids = [int(i) for i in tokenizer(token, return_tensors="pt")["input_ids"][0]]
    special = set(getattr(tokenizer, "all_special_ids", []))
    body = [k for k, i in enumerate(ids) if i not in special]
    if len(body) != 1:
        raise ShapeError(
            f"token: expected text that encodes to one ordinary token, got {token!r} -> {ids}"
        )
    return ids[: body[0]], ids[body[0]], ids[body[0] + 1 :]


def sequence_pair(
    family: str, n: int, token: int, other: int, prefix: Sequence[int] = (),
    suffix: Sequence[int] = (), position: int | None = None,
) -> tuple[list[int], list[int]]:
    """The two id sequences of ``family`` at length ``n`` (body length, specials excluded).

    ``position`` (``"changed"`` only) is the body index replaced by ``other`` (default 0, the
    earliest token, the one a causal model over-squashes most).

    Examples
    --------
    >>> sequence_pair("changed", 3, 7, 8, prefix=[1])
    ([1, 7, 7, 7], [1, 8, 7, 7])
    >>> sequence_pair("counting", 2, 7, 8, suffix=[2])
    ([7, 7, 2], [7, 7, 7, 2])
    """
    n = integer(n, "n", minimum=1, error=ShapeError)  # a float was a raw TypeError
    a = [token] * n
    if family == "changed":
        p = 0 if position is None else integer(position, "position", error=ShapeError)
        if not 0 <= p < n:
            raise ShapeError(f"position: expected in [0, {n}), got {p}")
        b = a.copy()
        b[p] = other
    elif family == "counting":
        b = [token] * (n + 1)
    else:
        raise OptionError(f"family: expected one of {FAMILIES}, got {family!r}")
    return [*prefix, *a, *suffix], [*prefix, *b, *suffix]


@torch.no_grad()
def _final_states(
    model: Any, a: Sequence[int], b: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    base = getattr(model, "base_model", model)
    dev = next(model.parameters()).device
    ys = [base(input_ids=torch.tensor([list(ids)], device=dev), output_hidden_states=True)
          .hidden_states[-1][0, -1].double() for ids in (a, b)]
    return ys[0], ys[1]


def final_token_distance(model: Any, a: Sequence[int], b: Sequence[int]) -> float:
    """``||y_a[-1] - y_b[-1]||_2`` of the last hidden states (float64 from the model's dtype).

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> m, _ = random_config_model("gpt2", seed=0)
    >>> final_token_distance(m, [1, 5, 5], [1, 5, 5])
    0.0
    """
    ya, yb = _final_states(model, a, b)
    return float(torch.linalg.vector_norm(ya - yb))


def collapse_table(
    model: Any, tokenizer: Any, lengths: Sequence[int], families: Sequence[str] = FAMILIES,
    dtypes: Sequence[str] = ("fp32", "bf16", "fp16"), token: str = "1", other: str = "0",
) -> list[dict[str, Any]]:
    """Final-token distance of each family, length and dtype, as a list of rows.

    Each row has ``family, dtype, n, distance, relative`` (distance over the norm of ``y_a``)
    and ``equal`` (bitwise-equal representations). The model is deep-copied once per dtype
    (memory: one extra copy). Cost: ``2 * len(families) * len(dtypes) * len(lengths)``
    forward passes.

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> m, tok = random_config_model("gpt2", seed=0)
    >>> rows = collapse_table(m, tok, [4], families=["counting"], dtypes=["fp32"])
    >>> rows[0]["n"], rows[0]["equal"]
    (4, False)
    """
    if not lengths:
        raise EmptyInputError("lengths: expected at least one length, got none")
    prefix, t_id, suffix = split_specials(tokenizer, token)
    _, o_id, _ = split_specials(tokenizer, other)
    limit = getattr(model.config, "max_position_embeddings", None) or 10**9
    if max(lengths) + 1 + len(prefix) + len(suffix) > limit:
        raise ShapeError(f"lengths: expected sequences within the model's {limit} positions")
    rows: list[dict[str, Any]] = []
    for name in dtypes:
        if name not in _DTYPES:
            raise ShapeError(f"dtypes: expected names among {tuple(_DTYPES)}, got {name!r}")
        cast = copy.deepcopy(model).to(_DTYPES[name]).eval()
        for fam in families:
            for n in lengths:
                a, b = sequence_pair(fam, n, t_id, o_id, prefix, suffix)
                ya, yb = _final_states(cast, a, b)
                dist = float(torch.linalg.vector_norm(ya - yb))
                rel = dist / max(float(torch.linalg.vector_norm(ya)), 1e-300)
                rows.append({"family": fam, "dtype": name, "n": int(n), "distance": dist,
                             "relative": rel, "equal": bool(torch.equal(ya, yb))})
        del cast
    return rows


def collapse_length(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int | None]:
    """Smallest length ``n`` from which on the pair's representations stay exactly equal.

    Returns ``{(family, dtype): n or None}`` (``None``: never equal in the lengths tried).

    Examples
    --------
    >>> rows = [{"family": "f", "dtype": "bf16", "n": n, "equal": n >= 8} for n in (2, 4, 8, 16)]
    >>> collapse_length(rows)
    {('f', 'bf16'): 8}
    """
    out: dict[tuple[str, str], int | None] = {}
    keys = sorted({(r["family"], r["dtype"]) for r in rows})
    for key in keys:
        sel = sorted((r for r in rows if (r["family"], r["dtype"]) == key), key=lambda r: r["n"])
        first: int | None = None
        for r in sel:
            first = (r["n"] if first is None else first) if r["equal"] else None
        out[key] = first
    return out
