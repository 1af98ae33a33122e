"""Section 4's claim table: Giorlandino & Goldt's statements beside the measurements of
:mod:`tgnn.benchmarks.init_collapse`, each with its interval and verdict."""

from __future__ import annotations

import math
from typing import Any

from tgnn.benchmarks.claims import Claim

__all__ = ["PAPER", "RANK_COLLAPSE_COS", "RHO0", "section_claims"]

PAPER = "Giorlandino & Goldt 2025"
RANK_COLLAPSE_COS = 0.9
"""Mean token cosine at which a run counts as rank-collapsed."""
RHO0 = 0.2  # input token correlation of the depth runs (the Fig. 4 notebook starts at 0.2)


def section_claims(y2: list[dict[str, Any]], maps: list[dict[str, Any]],
                   depth: list[dict[str, Any]], phase: list[dict[str, Any]],
                   size: dict[str, Any]) -> list[Claim]:
    """The claim rows of section 4 from its four measurements (see the module docstring of
    :mod:`tgnn.benchmarks.init_collapse`)."""
    largest = max(n for n, _ in size["y2"])
    above = [r for r in y2 if r["n"] == largest and r["asymptotic"] > 0]
    gap_asym = max(abs(r["Y2"] - r["asymptotic"]) for r in above) if above else math.nan
    gap_fin = max(abs(r["Y2"] - r["finite_n"]) for r in y2)
    lift = max(r["finite_n"] - r["asymptotic"] for r in y2 if r["n"] == largest)
    gap_mid = max((abs(r["Y2"] - r["finite_n"]) for r in y2 if r["rho"] < 0.9), default=gap_fin)
    worst = max(y2, key=lambda r: abs(r["Y2"] - r["finite_n"]))
    paper_map = [r for r in maps if r["variant"] != "attention only"]
    bare_map = [r for r in maps if r["variant"] == "attention only"]
    map_err = max(abs(r["rho_out"] - r["theory"]) for r in paper_map)
    bare = max(bare_map, key=lambda r: abs(r["rho_out"] - r["theory"]))
    cross = max((r for r in y2 if r["n"] == largest), key=lambda r: r["X2"])
    first = [r for r in depth if (r["n"], r["d"]) == tuple(size["depth"][0])]
    paper = [r for r in first if r["variant"] == "post-LN" and r["var_v"] == 0.2]
    low = next(r for r in paper if r["beta"] == 0.5)
    high = max(paper, key=lambda r: r["beta"])
    by_n = {n: [r for r in depth if r["n"] == n] for n in sorted({r["n"] for r in depth})}
    close = ", ".join(f"{sum(r['mean_error'] < 0.05 for r in rows)} of {len(rows)} at n = {n}"
                      for n, rows in by_n.items())
    worst_depth = max(depth, key=lambda r: r["mean_error"])
    calm = max(r["mean_error"] for r in depth if r["beta"] < 0.2)
    kept = sorted({r["point"]["alpha"] for r in phase if r["cosine"][-1] < RANK_COLLAPSE_COS})
    gc = next(r for r in first if r["variant"] == "GC post-LN" and r["beta"] == 0.1)
    post = next(r for r in first if r["variant"] == "post-LN" and r["beta"] == 0.1
                and r["var_v"] == 1.0)
    vanish = min(phase, key=lambda r: r["grad_ratio"])
    explode = max(phase, key=lambda r: r["grad_ratio"])
    L = len(low["measured"]) - 1

    def final(r: dict[str, Any]) -> str:
        mean, lo, hi = r["final"]
        return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"

    def steps(r: dict[str, Any]) -> str:
        mean, lo, hi = r["to_collapse"]
        return f"{mean:.1f} [{lo:.1f}, {hi:.1f}] (predicted {r['to_collapse_theory']:.0f})"

    def where(r: dict[str, Any]) -> str:
        return f"beta = {r['point']['beta']:g}, alpha = {r['point']['alpha']:g}"

    seeds = f"95% bootstrap CI over {size['depth_seeds']} seeds"
    delayed = high["to_collapse"][1] > low["to_collapse"][2] and high["y2_first"] > 0.3
    return [
        Claim(f"{PAPER}, REM critical scale", "Attention freezes (entropy collapse) above "
              "beta_c(rho) = sqrt(2 / (1 - rho)); the critical scale grows with the token "
              "correlation rho", f"max |Y2 - finite-n REM| = {gap_mid:.3f} for rho < 0.9, "
              f"{gap_fin:.3f} over all {len(y2)} (n, d, rho, beta) cells",
              f"worst cell n={worst['n']}, d={worst['d']}, rho={worst['rho']}, "
              f"beta={worst['beta']}: {worst['Y2']:.3f} [{worst['low']:.3f}, "
              f"{worst['high']:.3f}] vs {worst['finite_n']:.3f}, {size['seeds']} seeds",
              "reproduced" if gap_fin < 0.06 else "different",
              "Y2 depends on beta and rho through beta sqrt(1 - rho) as the REM mapping says "
              "(checked against the exact finite-n REM value of that scale); the measured "
              "value sits slightly below it where 1 - rho is small against 1/sqrt(d)"),
        Claim(f"{PAPER}, Y2 above beta_c", "Y2 = E[sum_j A_ij^2] = 1 - beta_c(rho) / beta above "
              "beta_c, 0 below (n -> infinity)", f"max |Y2 - (1 - beta_c/beta)| = "
              f"{gap_asym:.3f} at n = {largest}", "finite-n REM accounts for the gap (row "
              "above)", "different" if gap_asym > 0.05 else "reproduced",
              f"the law is asymptotic in ln n: at n = {largest} the exact REM value still "
              f"lies up to {lift:.2f} above it; the simulation follows the exact value"),
        Claim(f"{PAPER}, attention moments", "Distinct queries select independent keys: "
              "the attention output keeps the input overlap p (X2 = E[sum_j A_aj A_bj] -> 0)",
              f"X2 up to {cross['X2']:.3f} (n = {cross['n']}, rho = {cross['rho']}, beta = "
              f"{cross['beta']:g}), growing with rho", f"{size['seeds']} seeds",
              "different" if cross["X2"] > 0.05 else "reproduced",
              "the logits of two queries share the part from the common token direction "
              "(correlation rho between their key landscapes): frozen rows pick the same "
              "keys, so correlated tokens align faster than the map predicts at large beta"),
        Claim(f"{PAPER}, correlation map", "One post-LN block maps the token correlation "
              "by the closed-form (q, p) update (attention moments, residual, LN, ReLU "
              "arc-cosine MLP)", f"max |rho_out - map| = {map_err:.3f}",
              f"{len(paper_map)} cells, {size['seeds'] // 2} seeds each",
              "reproduced" if map_err < 0.05 else "different",
              "paper's block at beta 0.5/3/8 and gain-controlled attention, two n and two d; "
              "its weak value path (var_v = 0.2, alpha = 1) keeps the map near the identity"),
        Claim(f"{PAPER}, correlation map", "The same update for a bare attention block "
              "(alpha = 0, no MLP, value gain 1), where the map is far from the identity",
              f"max |rho_out - map| = {abs(bare['rho_out'] - bare['theory']):.3f}",
              f"at rho_in = {bare['rho_in']:.2f}, beta = {bare['beta']:g}, n = {bare['n']} "
              f"({bare['rho_out']:.3f} measured, {bare['theory']:.3f} predicted)",
              "reproduced" if abs(bare["rho_out"] - bare["theory"]) < 0.05 else "different",
              "the gap is the cross overlap X2 the moments neglect (row above)"),
        Claim(f"{PAPER}, Result 1 (Fig. 1)", "Low query-key variance: rank collapse "
              "(beta = 0.5)", f"cosine at layer {L} = {final(low)}; layers to cosine "
              f"{RANK_COLLAPSE_COS}: {steps(low)}", seeds,
              "reproduced" if low["final"][0] > RANK_COLLAPSE_COS else "contradicted",
              f"paper's block (post-LN, var_v = var_w = 0.2, alpha = 1) from rho = {RHO0}, "
              f"n = {low['n']}, d = {low['d']}"),
        Claim(f"{PAPER}, Result 1 (Fig. 1)", "High query-key variance: signal preserved, "
              f"entropy collapse (beta = {high['beta']:g})", f"layers to cosine "
              f"{RANK_COLLAPSE_COS}: {steps(high)} against {low['to_collapse'][0]:.1f} at "
              f"beta = 0.5; first-layer Y2 {high['y2_first']:.2f} (0.5: "
              f"{low['y2_first']:.2f}); cosine at layer {L} = {final(high)}", seeds,
              "reproduced" if delayed else "different",
              "in this block the map's only attractor is rho = 1 (alpha = 1, var_v = 0.2): "
              "a large beta freezes attention and delays rank collapse but does not stop it; "
              f"at depth {size['phase_L']} the phase diagram keeps cosine < "
              f"{RANK_COLLAPSE_COS} only for alpha in {kept}"),
        Claim(f"{PAPER}, depth profile", f"The iterated map predicts rho_l to depth {L}",
              f"mean gap over layers < 0.05 in {close}", f"seed means over "
              f"{size['depth_seeds']} seeds; worst {worst_depth['variant']}, beta = "
              f"{worst_depth['beta']:g}, n = {worst_depth['n']}: mean gap "
              f"{worst_depth['mean_error']:.3f}, final {worst_depth['final'][0]:.3f} vs "
              f"{worst_depth['theory'][-1]:.3f} predicted",
              "reproduced" if worst_depth["mean_error"] < 0.05 else "different",
              "misses are at large beta and the smaller n, where the finite-n REM (X2 > 0, "
              "Y2 above its limit) departs from the asymptotic moments; at beta = 0.1 "
              f"every placement is within {calm:.3f}"),
        Claim(f"{PAPER}, Fig. 4", "Gain-controlled (centred) attention keeps the token "
              "correlation where vanilla post-LN collapses", f"GC post-LN {final(gc)} vs "
              f"post-LN {final(post)} at layer {L}", seeds,
              "reproduced" if gc["final"][0] < post["final"][0] - 0.3 else "different",
              "beta = 0.1, value gain 1, sigma_w^2 = 0.2, rho_0 = 0.2 (the notebook's setting); "
              "the slow rise is the ReLU MLP and the biases, as predicted"),
        Claim(f"{PAPER}, Result 2", "Gradients vanish at initialisation in a predicted regime",
              f"||d<x_L, G>/dx_0|| / ||G|| from {vanish['grad_ratio']:.3g} "
              f"({where(vanish)}) to {explode['grad_ratio']:.3g} ({where(explode)})",
              f"depth {size['phase_L']}, {size['phase_seeds']} seeds per point",
              "outside our reach", "measured only: the backward closed form is not "
              "implemented here (the seed holds only the abstract); small beta without "
              "residual vanishes, large beta with residual explodes"),
        Claim(f"{PAPER} (v1 abstract)", "Critical residual strength for signal propagation "
              "in the low-variance regime", "-", "", "outside our reach",
              "its formula is not in the seed text or the authors' public code"),
    ]
