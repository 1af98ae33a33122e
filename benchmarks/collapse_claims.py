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

__all__ = ["LIMIT_FACTOR", "collapse_claims", "limit_pairs"]

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


def limit_pairs(limits: list[dict[str, Any]], equal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Measured first-equal length of the repeated pair beside ``n*`` per setting and low
    precision, with ``consistent``: within a factor :data:`LIMIT_FACTOR` of ``n*``, or never
    equal up to a ``N`` below ``LIMIT_FACTOR n*`` (the collapse may still come after ``N``)."""
    out = []
    for lim in limits:
        for e in equal:
            if (e["family"], e["dtype"] in ("bf16", "fp16")) != ("repeated", True) or \
                    (e["seed"], e["logit_scale"]) != (lim["seed"], lim["logit_scale"]):
                continue
            n_star, n = lim["limit"][e["dtype"]], e["first_equal"]
            ok = (e["max_n"] < LIMIT_FACTOR * n_star if n is None else
                  n_star / LIMIT_FACTOR <= n <= n_star * LIMIT_FACTOR)
            out.append({"seed": lim["seed"], "logit_scale": lim["logit_scale"],
                        "spread": lim["spread"], "dtype": e["dtype"], "n_star": n_star,
                        "first_equal": n, "max_n": e["max_n"], "consistent": ok})
    return out


def _limit_claim(pairs: list[dict[str, Any]]) -> Claim:
    verdict = "reproduced" if pairs and all(p["consistent"] for p in pairs) else "different"
    ours = "; ".join(f"x{p['logit_scale']:g} {p['dtype']}: {_length(p['first_equal'], p['max_n'])}"
                     f" vs n* {p['n_star']}" for p in pairs)
    spreads = ", ".join(sorted({f"{p['spread']:.2f}" for p in pairs}))
    scales = ", ".join(f"{v:g}" for v in sorted({p["logit_scale"] for p in pairs}))
    return Claim(f"{PAPER}, App. B, Prop. B.4", "Bounded logits cannot keep one token separated: "
                 "from n* = 1 + ceil(e^D (1-u)/u) on no weight exceeds the unit roundoff u, the "
                 "length scale of collapse in that precision; sharper logits postpone it.", ours,
                 f"logit spreads D = {spreads} (query weights x {scales})", verdict,
                 f"repeated pair; reproduced when every measured first-equal length lies within "
                 f"a factor {LIMIT_FACTOR} of n*, or none is seen up to N < {LIMIT_FACTOR} n* (the "
                 "limit is a scale, not a sharp threshold).")


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


def _bound_claims(sens: list[dict[str, Any]], held: dict[str, Any], n: int) -> list[Claim]:
    ours, interval, low, _ = _interval([r["spearman"] for r in sens], "seeds")
    rare = held["violations"] <= 0.01 * held["held_out_positions"]
    transfers = rare and held["worst_ratio_over_C_fit"] <= 1.25
    statement = "||dy_n/dv_s|| <= C x path sum of (A + I) over causal paths"
    return [
        Claim(f"{PAPER}, Thm 5.1", f"{statement}: the sensitivity profile over sources s follows "
              "the path sum.", f"Spearman(log S, log B) {ours}", interval,
              "reproduced" if low > 0.8 else "different",
              f"n = {n} text tokens, fp32, s < n-1; reproduced when the interval's low end is "
              "above 0.8."),
        Claim(f"{PAPER}, Thm 5.1", f"{statement}, one constant C for all inputs.",
              f"C fitted on seed 0 = {held['C_fit']:.3g}; {held['violations']} violations in "
              f"{held['held_out_positions']} held-out positions, worst ratio "
              f"{held['worst_ratio_over_C_fit']:.3g}", f"{len(sens) - 1} held-out seeds",
              "reproduced" if transfers else "different",
              "the constant fitted on one seed estimates a supremum; reproduced when held-out "
              "seeds exceed it at under 1% of positions and by at most 25%."),
    ]


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
    slopes, every = summary["slopes"], summary["equality"]
    if any(math.isnan(s) for values in slopes.values() for s in values):
        raise ValueError("slopes: expected finite slopes for every seed (three or more non-zero "
                         "distances in the fitted span)")
    rotary = [e for e in every if e["logit_scale"] == 1.0]
    span = summary["slope_span"]
    claims = [
        _decay_claim(slopes, "repeated", "||y_n - y*_{n+1}|| -> 0: a sequence and the same with "
                     "its last token repeated get arbitrarily close final representations.", span),
        _decay_claim(slopes, "counting", "Ones closed by a zero, counts n and n+1 (Fig. 1): the "
                     "final representations converge, so the count cannot be read out.", span),
        _precision_claim(rotary),
        _limit_claim(limit_pairs(summary["limits"], every)),
        _copy_claim(slopes, summary["sensitivity"], rotary),
        *_bound_claims(summary["sensitivity"], summary["held_out"], summary["sensitivity_n"]),
        _trained_claim(summary["trained"]),
    ]
    return claims
