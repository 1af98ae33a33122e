"""Claims of section 10 (speed): per family of metrics, "our values match the published
definitions / independent anchors, and are faster", decided on the rows of
:mod:`tgnn.benchmarks.speed`.

A family's claim is "reproduced" when every row with an agreement figure agrees (``max_abs_diff
<= 1e-9``, ``rel_diff <= 1e-8``, ``same_edges``) and every row with a goal meets it;
"different" otherwise, with the figure, and when its module failed, with the error; "outside
our reach" when its module was skipped (say why). Our number is the row furthest from the
anchor: the smallest speed-up (``anchor_s / ours_s``), or for the capture the largest cost over
the SDPA forward (``ours_s / anchor_s``). Times vary run to run and each row keeps only the best
of its repeats, so the uncertainty given is the spread of the figure over the family's rows
(sizes, graphs) in this run, not a confidence interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tgnn.benchmarks.claims import Claim

__all__ = ["AGREE_ABS", "AGREE_REL", "FAMILIES", "agreement", "family", "speed_claims"]

AGREE_ABS = 1e-9
"""Largest absolute difference from an anchor that counts as agreeing (float64 round-off of
sums over ~1e3 terms stays near 1e-13; the perf modules' own checks use 1e-9)."""
AGREE_REL = 1e-8
"""Largest relative difference from an anchor that counts as agreeing (perf_theory's goal)."""

FAMILIES = {
    "theory": ("perf_theory", "causal resistance (tgnn.theory): YSL by the causal recursion "
               "against the generic Lyapunov solve and scipy; one target row of R^abs and "
               "R^roll against all pairs"),
    "resistance": ("perf_metrics", "effective resistance against networkx "
                   "resistance_distance; one source to all on a ~1e5-node grid"),
    "curvature": ("perf_metrics", "balanced Forman against a set-based transcription of "
                  "Topping et al.'s definition; Ollivier-Ricci against GraphRicciCurvature"),
    "attention flow": ("perf_metrics", "attention flow (Abnar & Zuidema 2020) against networkx "
                       "maximum flow per pair"),
    "rewiring": ("perf_rewiring", "SDRF, FoSR and GTR against reference loops of the papers' "
                 "algorithms (same edges added)"),
    "capture": ("perf_capture", "dense and sparse capture + convert against the plain SDPA "
                "forward (cost <= 1.25x)"),
    "sensitivity": ("perf_sensitivity", "batched Jacobian sensitivity against a loop of "
                    "backward passes"),
}
"""Family name -> (perf module, what is compared with what)."""


def family(row: Mapping[str, Any]) -> str:
    """The family of one speed row (its module, and for perf_metrics its name).

    Examples
    --------
    >>> family({"module": "perf_metrics", "name": "balanced Forman 4000 edges vs set-based"})
    'curvature'
    """
    module, name = row["module"], str(row["name"])
    if module != "perf_metrics":
        return next(f for f, (m, _) in FAMILIES.items() if m == module)
    if name.startswith("resistance"):
        return "resistance"
    if name.startswith("attention flow"):
        return "attention flow"
    return "curvature"


def agreement(row: Mapping[str, Any]) -> tuple[str, float] | None:
    """``(figure, excess)`` of a row's comparison of values with its anchor, or None where the
    row records none; ``excess`` is the difference over its tolerance (agrees when <= 1)."""
    if row.get("max_abs_diff") is not None:
        return f"max |diff| {row['max_abs_diff']:.1e}", row["max_abs_diff"] / AGREE_ABS
    if row.get("rel_diff") is not None:
        return f"rel diff {row['rel_diff']:.1e}", row["rel_diff"] / AGREE_REL
    if row.get("same_edges") is not None:
        same = bool(row["same_edges"])
        return ("same edges" if same else "different edges"), 0.0 if same else float("inf")
    return None


def _figure(row: Mapping[str, Any], cost: bool) -> float | None:
    """Speed-up over the anchor (or, with ``cost``, time over the anchor's); None without one."""
    ours, anchor = row.get("ours_s"), row.get("anchor_s")
    if anchor is None or ours is None or not ours > 0:
        return None
    return ours / anchor if cost else anchor / ours


def _statement(name: str) -> str:
    return (f"{name}, {FAMILIES[name][1]}: our values equal the anchor's, and each row meets its "
            "speed goal")


def _family_claim(name: str, rows: Sequence[Mapping[str, Any]],
                  skipped: Sequence[Mapping[str, Any]]) -> Claim:
    cost = name == "capture"
    label = "cost over the anchor" if cost else "speed-up over the anchor"
    figures = sorted(((f, r) for r in rows if (f := _figure(r, cost)) is not None),
                     key=lambda p: -p[0] if cost else p[0])  # furthest from the goal first
    missed = [r for r in rows if r.get("met") is False]
    goals = sum(r.get("met") is not None for r in rows)
    checks = sorted(((a, r) for r in rows if (a := agreement(r)) is not None),
                    key=lambda p: -p[0][1])  # worst first
    disagree = [(a, r) for a, r in checks if a[1] > 1]
    parts = [f"{'largest' if cost else 'smallest'} {label}: {figures[0][0]:.3g}x "
             f"({figures[0][1]['name']})"] if figures else []
    parts.append(f"goals met in {goals - len(missed)} of {goals} rows")
    parts.append(f"agreement in {len(checks) - len(disagree)} of {len(checks)} rows (worst: "
                 f"{checks[0][0][0]})" if checks else "agreement not measured in this section")
    spread = (f"{label} {min(f for f, _ in figures):.3g}x-{max(f for f, _ in figures):.3g}x "
              f"over {len(figures)} rows, each the best of its repeats" if len(figures) > 1 else
              "one row, the best of its repeats")
    verdict = "reproduced" if not missed and not disagree else "different"
    reasons = [f"{len(missed)} row(s) miss their goal, first {missed[0]['name']} "
               f"({missed[0]['goal']})"] if missed else []
    if disagree:
        reasons.append(f"{len(disagree)} row(s) disagree, worst {disagree[0][1]['name']} "
                       f"({disagree[0][0][0]})")
    why = ("every row agrees with its anchor where compared and meets its goal"
           if verdict == "reproduced" else "; ".join(reasons))
    if skipped:
        why += "; not run: " + "; ".join(f"{r['name']} ({r['skipped']})" for r in skipped)
    return Claim("tgnn mission", _statement(name),
                 "; ".join(parts), spread, verdict, why)


def speed_claims(rows: Sequence[Mapping[str, Any]], runs: Mapping[str, Mapping[str, Any]],
                 quick: bool = False) -> list[Claim]:
    """One claim per family, in :data:`FAMILIES` order.

    Parameters
    ----------
    rows:
        The speed rows of :func:`tgnn.benchmarks.speed.run` (each with its ``module``).
    runs:
        Per perf module, its ``status`` (``"ok"`` or why it did not run).
    quick:
        The rows were measured at the quick sizes: a missed goal says so (the goals are set
        at the full sizes).
    """
    claims = []
    for name, (module, _) in FAMILIES.items():
        ran = [r for r in rows if family(r) == name and "skipped" not in r]
        skipped = [r for r in rows if family(r) == name and "skipped" in r]
        if ran:
            claim = _family_claim(name, ran, skipped)
            if quick and claim.verdict == "different":
                claim = replace(claim, why=claim.why + "; measured at the quick sizes, while "
                                "the goals are set at the full sizes")
            claims.append(claim)
            continue
        status = runs.get(module, {}).get("status", "not run")
        reason = skipped[0]["skipped"] if skipped else status
        claims.append(Claim("tgnn mission", _statement(name),
                            "not measured in this run", "not measured",
                            "different" if reason.startswith("failed") else "outside our reach",
                            f"{module}: {reason}"))
    return claims
