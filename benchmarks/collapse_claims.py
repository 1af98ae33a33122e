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


def _decay_claim(slopes: dict[str, list[float]], family: str, source: str, statement: str,
                 span: str) -> Claim:
    ours, interval, _, high = _interval(slopes[family], "seeds")
    verdict = "reproduced" if high < 0 else "contradicted"
    return Claim(f"{PAPER}, {source}", statement, f"log-log slope {ours} (1/n: -1)", interval,
                 verdict, "fp32 random-init rotary Llama (rotary positions stand for the "
                 f"decaying positional information, not checked separately), {span}; ||.||_2 "
                 "of the final state after the last norm; the paper states no rate, so 1/n is "
                 "only our reference; reproduced when the whole interval of the slope is below "
                 "0 (the distance falls with n).")


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
    return Claim(f"{PAPER}, Sec. 4", "Over finite machine precision Transformers cannot "
                 "distinguish certain prompts \"if the sequence is long enough\"; a lower "
                 "precision makes the convergence of Thm 4.2 \"occur much sooner\" (no length "
                 "given).", ours, f"first equal length per seed, grid to {max_n}", verdict,
                 f"seeds: {len(low[0])}; bitwise-equal final states as the test of "
                 "indistinguishable; reproduced when bf16 is equal at some n for every seed in "
                 "both families and fp32 is not within the grid (sooner in lower precision).")


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
    return Claim(f"tgnn, after {PAPER}, Lemma B.1 and Sec. 4", "Not a statement of the paper "
                 "(it gives no length): tgnn's scale for Sec. 4's \"much sooner\" from Lemma "
                 "B.1's bounded logits: from n* = 1 + ceil(e^D (1-u)/u) on no weight exceeds the "
                 "unit roundoff u; sharper logits postpone it.", ours,
                 f"logit spreads D = {spreads} (query weights x {scales})", verdict,
                 f"repeated pair; reproduced when every measured first-equal length lies within "
                 f"a factor {LIMIT_FACTOR} of n*, or none is seen up to N < {LIMIT_FACTOR} n* (n* "
                 "bounds one attention step, so it is a scale, not a sharp threshold).")


def _negative_decay_claim(alternating: list[dict[str, float]]) -> Claim:
    """Prop. B.4 from the float64 total variations of the alternating logit pair."""
    paper = 2 * (math.e - 1) / (math.e + 1)
    values = [a["tv"] for a in alternating]
    exact = bool(values) and all(abs(v - paper) <= 1e-12 for v in values)
    ns = [a["n"] for a in alternating]
    return Claim(f"{PAPER}, App. B, Prop. B.4", "Negative decay result: for x = (1 0 1 0 ...) "
                 "and x* = (0 1 0 1 ...), n even, the total variation of their softmax does not "
                 "tend to 0 (limit 2(e-1)/(e+1) = 0.924); so Thm 4.2 needs positional "
                 "information that decays with distance.",
                 f"delta in [{min(values):.12f}, {max(values):.12f}] at n = {min(ns)}..{max(ns)}",
                 f"exact (float64), {len(values)} even lengths",
                 "reproduced" if exact else "contradicted",
                 "a property of softmax alone: tgnn.theory's softmax_total_variation at the "
                 "section's lengths (rounded down to even); reproduced when every value is "
                 f"2(e-1)/(e+1) = {paper:.12f} within 1e-12.")


def _copy_claim(slopes: dict[str, list[float]], sens: list[dict[str, Any]],
                equal: list[dict[str, Any]]) -> Claim:
    first = sum(1 for r in sens if r["argmax_sensitivity"] == 0)
    never = all(e["first_equal"] is None for e in equal if e["family"] == "copy")
    ours, interval, _, _ = _interval(slopes["copy"], "seeds")
    verdict = "reproduced" if first == len(sens) and never else "different"
    return Claim(f"{PAPER}, Fig. 1b, Prop. B.8", "Earlier tokens have more paths to the last "
                 "token (Fig. 1b); with equal attention in every layer and unit constants, y_n "
                 "becomes sensitive to the first token only as the depth L -> infinity "
                 "(Prop. B.8).",
                 f"argmax sensitivity at s = 0 in {first}/{len(sens)} seeds; copy slope {ours}; "
                 f"copy pair equal: {'never' if never else 'yes'}", interval, verdict,
                 "at finite depth; reproduced when s = 0 is the most sensitive "
                 "source (s < n-1) in every seed and the copy pair is never bitwise equal.")


def _bound_claims(sens: list[dict[str, Any]], held: dict[str, Any], n: int) -> list[Claim]:
    ours, interval, low, _ = _interval([r["spearman"] for r in sens], "seeds")
    rare = held["violations"] <= 0.01 * held["held_out_positions"]
    transfers = rare and held["worst_ratio_over_C_fit"] <= 1.25
    statement = ("Thm 5.1 (Thm B.5): ||dy_n/dv_s|| <= C x the sum over causal paths s <= k_1 <= "
                 "... <= n of products of alpha/beta_1 + delta, C = (1/beta_3) prod_l (sigma_psi/"
                 "beta_2 + 1), assuming attention independent of the values and layer norms "
                 "acting as constant factors")
    return [
        Claim(f"{PAPER}, Thm 5.1", f"{statement}; its takeaway: the position of the token and "
              "the attention coefficients set the sensitivity.",
              f"Spearman(log S, log B) {ours}", interval,
              "reproduced" if low > 0.8 else "different",
              f"n = {n} text tokens, fp32, s < n-1, B: the path sum of (A + I) (beta_1 = 1, "
              "heads averaged); the theorem is a bound, its profile is our test; reproduced "
              "when the interval's low end is above 0.8."),
        Claim(f"{PAPER}, Thm 5.1", f"{statement}: C holds for all inputs of the model.",
              f"C fitted on seed 0 = {held['C_fit']:.3g}; {held['violations']} violations in "
              f"{held['held_out_positions']} held-out positions, worst ratio "
              f"{held['worst_ratio_over_C_fit']:.3g}", f"{len(sens) - 1} held-out seeds",
              "reproduced" if transfers else "different",
              "the constant fitted on one seed estimates a supremum; reproduced when held-out "
              "seeds exceed it at under 1% of positions and by at most 25%."),
    ]


TRAINED_STATEMENT = ("The collapse in trained LLMs: Gemma 7B's final states of count and copy "
                     "prompts (Fig. 5), Gemini 1.5's copying and counting errors.")


def _trained_claim(trained: list[dict[str, Any]]) -> Claim:
    if not trained:
        return Claim(PAPER, TRAINED_STATEMENT, "not run",
                     "", "outside our reach", "no trained rotary model is embedded and nothing is "
                     "downloaded; this configuration skips the trained GPT-2.")
    max_n = max(t["max_n"] for t in trained)
    equal = [t for t in trained if t["first_equal"] is not None]
    parts = ", ".join(f"{t['family']} {t['distance']:.3g}" for t in trained
                      if t["dtype"] == "fp32")
    ours = (f"{trained[0]['model']}: fp32 distance at n = {max_n}: {parts}; bitwise equal: "
            + (", ".join(f"{t['family']} {t['dtype']} from {t['first_equal']}" for t in equal)
               or f"never up to {max_n} in any precision"))
    return Claim(PAPER, TRAINED_STATEMENT, ours,
                 "one trained model", "outside our reach",
                 "no trained rotary model is embedded and nothing is downloaded; the embedded "
                 "tgnn-gpt2-tiny has learned absolute positions and 256 of context, so the last "
                 "tokens of a pair sit at different positions and Thm 4.2 does not apply.")


def collapse_claims(summary: dict[str, Any]) -> list[Claim]:
    """All of section 3's claims from its summary (``slopes``, ``equality``, ``limits``,
    ``alternating``, ``sensitivity``, ``held_out``, ``trained`` and the spans they were measured
    over)."""
    slopes, every = summary["slopes"], summary["equality"]
    if any(math.isnan(s) for values in slopes.values() for s in values):
        raise ValueError("slopes: expected finite slopes for every seed (three or more non-zero "
                         "distances in the fitted span)")
    rotary = [e for e in every if e["logit_scale"] == 1.0]
    span = summary["slope_span"]
    claims = [
        _decay_claim(slopes, "repeated", "Thm 4.2", "Thm 4.2 (Thm B.3): v* = v with its last "
                     "token repeated, tokens bounded, positional information decaying with "
                     "distance: ||v_n^(L) - v*_(n+1)^(L)||_1 < eps for n large enough.", span),
        _decay_claim(slopes, "counting", "Thm 4.2, Fig. 1a", "Fig. 1a (Thm 4.2): sequences of "
                     "repeated 1 tokens with a single 0 at the end get converging "
                     "representations as the length grows (so counts n and n+1 merge, "
                     "Cor. B.10).", span),
        _precision_claim(rotary),
        _limit_claim(limit_pairs(summary["limits"], every)),
        _negative_decay_claim(summary["alternating"]),
        _copy_claim(slopes, summary["sensitivity"], rotary),
        *_bound_claims(summary["sensitivity"], summary["held_out"], summary["sensitivity_n"]),
        _trained_claim(summary["trained"]),
    ]
    return claims
