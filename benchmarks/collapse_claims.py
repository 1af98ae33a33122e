"""Section 3's claim rows: Barbero et al. (2024) beside the measured collapse, limits and bound.

Each function turns the section's summaries (built by ``representational_collapse.run``) into
:class:`~tgnn.benchmarks.claims.Claim` rows, with the rule that decides the verdict stated in
the row's ``why``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tgnn.benchmarks.claims import Claim, bootstrap_interval

__all__ = ["collapse_claims"]

PAPER = "Barbero et al. 2024"
LIMIT_FACTOR = 8  # an order-of-magnitude scale: within 3 octaves of the measured length


def _interval(values: Sequence[float], what: str) -> tuple[str, str, float, float]:
    mean, low, high = bootstrap_interval(values)
    return (f"{mean:.2f}", f"95% CI [{low:.2f}, {high:.2f}], {len(values)} {what}", low, high)


def _length(n: int | None, max_n: int) -> str:
    return f"never up to {max_n}" if n is None else str(n)


def _decay_claim(slopes: dict[str, list[float]], family: str, statement: str,
                 span: str) -> Claim:
    ours, interval, _, high = _interval(slopes[family], "seeds")
    verdict = "reproduced" if high < 0 else "contradicted"
    return Claim(f"{PAPER}, Thm 4.2", statement, f"log-log slope {ours} (1/n: -1)", interval,
                 verdict, f"fp32 random-init rotary Llama, {span}; reproduced when the whole "
                 "interval of the slope is below 0 (the distance falls with n).")


def _precision_claim(equal: list[dict[str, Any]]) -> Claim:
    def cell(dtype: str, family: str) -> list[int | None]:
        return [e["first_equal"] for e in equal if (e["dtype"], e["family"]) == (dtype, family)]

    max_n = max(e["max_n"] for e in equal)
    low = [cell(d, f) for d in ("bf16", "fp16") for f in ("repeated", "counting")]
    fp32 = cell("fp32", "repeated") + cell("fp32", "counting")
    bf16_all = all(n is not None for n in cell("bf16", "repeated") + cell("bf16", "counting"))
    verdict = "reproduced" if bf16_all and all(n is None for n in fp32) else "different"
    ours = "; ".join(f"{d} {f}: " + ", ".join(_length(n, max_n) for n in cell(d, f))
                     for d in ("bf16", "fp16", "fp32") for f in ("repeated", "counting"))
    return Claim(f"{PAPER}, Sec. 4", "Low precision turns the collapse into equality: distinct "
                 "sequences get bitwise-equal final representations at finite n (bf16).",
                 ours, f"first equal length per seed, grid to {max_n}", verdict,
                 f"seeds: {len(low[0])}; reproduced when bf16 is equal at some n for every seed in "
                 "both families and fp32 never is.")


def _limit_claim(limits: list[dict[str, Any]], equal: list[dict[str, Any]]) -> Claim:
    ratios = []
    for lim in limits:
        for e in equal:
            if (e["seed"], e["family"]) == (lim["seed"], "repeated") and e["dtype"] in ("bf16",
                                                                                      "fp16"):
                n_star = lim["limit"][e["dtype"]]
                ratios.append((e["dtype"], e["first_equal"], n_star, e["max_n"]))
    inside = [r for r in ratios if r[1] is not None and
              r[2] / LIMIT_FACTOR <= r[1] <= r[2] * LIMIT_FACTOR]
    verdict = "reproduced" if ratios and len(inside) == len(ratios) else "different"
    ours = "; ".join(f"{d}: measured {_length(n, m)} vs n* {s}" for d, n, s, m in ratios)
    spreads = ", ".join(f"{lim['spread']:.3f}" for lim in limits)
    return Claim(f"{PAPER}, App. B, Prop. B.4", "Bounded logits cannot keep one token separated: "
                 "from n* = 1 + ceil(e^D (1-u)/u) on no weight exceeds the unit roundoff u, the "
                 "length scale of collapse in that precision.", ours,
                 f"logit spread D = {spreads} (last query, max over layers and heads)", verdict,
                 f"repeated family; reproduced when every measured first-equal length lies within "
                 f"a factor {LIMIT_FACTOR} of n* (the limit is a scale, not a sharp threshold).")


def _copy_claim(slopes: dict[str, list[float]], sens: list[dict[str, Any]],
                equal: list[dict[str, Any]]) -> Claim:
    first = sum(1 for r in sens if r["argmax_sensitivity"] == 0)
    never = all(e["first_equal"] is None for e in equal if e["family"] == "copy")
    ours, interval, _, _ = _interval(slopes["copy"], "seeds")
    verdict = "reproduced" if first == len(sens) and never else "different"
    return Claim(f"{PAPER}, Thm 5.1, Fig. 1b", "Earlier tokens have more paths to the last "
                 "token: the first token is the one the last token is most sensitive to, and "
                 "changing it is not squashed away.",
                 f"argmax sensitivity at s = 0 in {first}/{len(sens)} seeds; copy slope {ours}; "
                 f"copy pair equal: {'never' if never else 'yes'}", interval, verdict,
                 "reproduced when s = 0 is the most sensitive source (s < n-1) in every seed and "
                 "the copy pair is never bitwise equal.")


def _bound_claim(sens: list[dict[str, Any]], held: dict[str, Any], n: int) -> Claim:
    ours, interval, low, _ = _interval([r["spearman"] for r in sens], "seeds")
    rare = held["violations"] <= 0.01 * held["held_out_positions"]
    verdict = ("reproduced" if low > 0.8 and rare and held["worst_ratio_over_C_fit"] <= 1.25
               else "different")
    return Claim(f"{PAPER}, Thm 5.1", "||dy_n/dv_s|| <= C x path sum of (A + I) over causal "
                 "paths: the sensitivity profile follows the path sum.",
                 f"Spearman(log S, log B) {ours}; C fitted on seed 0 = {held['C_fit']:.3g}, "
                 f"{held['violations']} violations in {held['held_out_positions']} held-out "
                 f"positions (worst ratio {held['worst_ratio_over_C_fit']:.3g})", interval,
                 verdict, f"n = {n} text tokens, fp32; reproduced when the interval's low end is "
                 "above 0.8 and the held-out seeds exceed the constant fitted on one seed (itself "
                 "an estimate of a supremum) at under 1% of positions and by at most 25%.")


def _trained_claim(trained: list[dict[str, Any]]) -> Claim:
    if not trained:
        return Claim(PAPER, "The collapse in trained LLMs (Gemma 7B, Gemini 1.5).", "not run",
                     "", "outside our reach", "no trained rotary model is embedded and nothing is "
                     "downloaded; this configuration skips the trained GPT-2.")
    max_n = max(t["max_n"] for t in trained)
    equal = [t for t in trained if t["first_equal"] is not None]
    parts = ", ".join(f"{t['family']} {t['distance']:.3g}" for t in trained
                      if t["dtype"] == "fp32")
    ours = (f"{trained[0]['model']}: fp32 distance at n = {max_n}: {parts}; bitwise equal: "
            + (", ".join(f"{t['family']} {t['dtype']} from {t['first_equal']}" for t in equal)
               or f"never up to {max_n} in any precision"))
    return Claim(PAPER, "The collapse in trained LLMs (Gemma 7B, Gemini 1.5).", ours,
                 "one trained model", "outside our reach",
                 "no trained rotary model is embedded and nothing is downloaded; the embedded "
                 "tgnn-gpt2-tiny has learned absolute positions and 256 of context, so the last "
                 "tokens of a pair sit at different positions and Thm 4.2 does not apply.")


def collapse_claims(summary: dict[str, Any]) -> list[Claim]:
    """All of section 3's claims from its summary (``slopes``, ``equality``, ``limits``,
    ``sensitivity``, ``held_out``, ``trained`` and the spans they were measured over)."""
    slopes, equal = summary["slopes"], summary["equality"]
    if any(math.isnan(s) for values in slopes.values() for s in values):
        raise ValueError("slopes: expected finite slopes for every seed (three or more non-zero "
                         "distances in the fitted span)")
    rotary = [e for e in equal if e["model"] != "tgnn-gpt2-tiny"]
    span = summary["slope_span"]
    claims = [
        _decay_claim(slopes, "repeated", "||y_n - y*_{n+1}|| -> 0: a sequence and the same with "
                     "its last token repeated get arbitrarily close final representations.", span),
        _decay_claim(slopes, "counting", "Ones closed by a zero, counts n and n+1 (Fig. 1): the "
                     "final representations converge, so the count cannot be read out.", span),
        _precision_claim(rotary),
        _limit_claim(summary["limits"], rotary),
        _copy_claim(slopes, summary["sensitivity"], rotary),
        _bound_claim(summary["sensitivity"], summary["held_out"], summary["sensitivity_n"]),
        _trained_claim(summary["trained"]),
    ]
    return claims
