"""Section 3: representational collapse (Barbero et al. 2024) in its setting: causal rotary models.

Random-init Llama-like models (rotary positions, grouped-query attention, SDPA kernels;
:func:`tgnn.benchmarks.collapse_rotary.rotary_model`) run the three pair families of
:mod:`tgnn.benchmarks.collapse_rotary` (``repeated``: Thm 4.2; ``counting``: ones closed by a
zero, Fig. 1a; ``copy``: the first token changed) over a geometric grid of lengths up to 4096 tokens
(full run) in fp32, bf16 and fp16, each sequence its own forward pass. Reported:

* the final-token distance against ``n`` with its log-log slope per seed (bootstrap interval
  over seeds) beside a ``1/n`` reference;
* the first grid length where the two final representations are bitwise equal, per precision
  ("never up to N" when none);
* tgnn's softmax-separation limit ``n*(Δ, u)`` (:func:`tgnn.theory.softmax_separation_limit`:
  our length scale from Lemma B.1 and Sec. 4; the paper gives none) from the measured logit
  spread ``Δ``, beside the measured equality lengths;
* Prop. B.4 (the negative decay result): the total variation of the softmax of alternating
  logits ``(1 0 1 0 ...)`` and ``(0 1 0 1 ...)``
  (:func:`tgnn.theory.representational_collapse.softmax_total_variation`) at the same lengths;
* the path-sum bound of Thm 5.1 (:func:`tgnn.theory.oversquashing_bound`) beside measured
  Jacobian sensitivities (:mod:`tgnn.benchmarks.collapse_sensitivity`);
* the embedded trained GPT-2 (learned absolute positions, outside Thm 4.2) to its context.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tgnn.benchmarks.claims import bootstrap_interval, claims_numbers, claims_table
from tgnn.benchmarks.collapse_claims import LIMIT_FACTOR
from tgnn.benchmarks.collapse_rotary import (
    FAMILIES,
    ROTARY,
    collapse_point,
    equality_lengths,
    length_grid,
    loglog_slope,
)
from tgnn.benchmarks.common import pyplot
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, fmt, md_table, save_figure
from tgnn.benchmarks.runner import grid, run_sweep

__all__ = ["SIZES", "run", "summarise"]

NAME = "representational_collapse"
DTYPES = ("fp32", "bf16", "fp16")
TRAINED = ("tgnn-gpt2-tiny", "tgnn-gpt2-tiny-nobos")  # embedded causal models, 256 positions
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"size": "tiny", "scan_seeds": [0], "scales": [1.0, 10.0], "n_min": 4, "n_max": 32,
              "per_octave": 1,
              "slope_seeds": [0, 1], "slope_n": 32, "slope_from": 4, "sens_seeds": [0, 1],
              "sens_n": 12, "spread_n": 16, "trained": []},
    "quick": {"size": "small", "scan_seeds": [0], "scales": [1.0, 3.0, 10.0], "n_min": 16,
              "n_max": 2048, "per_octave": 2,
              "slope_seeds": [0, 1, 2, 3], "slope_n": 512, "slope_from": 32,
              "sens_seeds": [0, 1, 2, 3], "sens_n": 64, "spread_n": 512,
              "trained": [16, 64, 250]},
    "full": {"size": "small", "scan_seeds": [0, 1], "scales": [1.0, 3.0, 10.0], "n_min": 16,
             "n_max": 4096, "per_octave": 2,
             "slope_seeds": list(range(8)), "slope_n": 1024, "slope_from": 32,
             "sens_seeds": list(range(8)), "sens_n": 128, "spread_n": 1024,
             "trained": [16, 32, 64, 128, 250]},
}


def _points(cfg: dict[str, Any], model: str) -> list[dict[str, Any]]:
    scan = length_grid(cfg["n_min"], cfg["n_max"], cfg["per_octave"])
    slope = length_grid(cfg["n_min"], cfg["slope_n"], cfg["per_octave"])
    base = {"model": ROTARY, "size": cfg["size"]}
    points = [{**base, **p, "lengths": scan, "spread_n": cfg["spread_n"]}
              for p in grid(seed=cfg["scan_seeds"], dtype=DTYPES)]
    points += [{**base, "seed": cfg["scan_seeds"][0], "dtype": d, "lengths": scan,
                "logit_scale": scale, "families": ["repeated"],
                **({"spread_n": cfg["spread_n"]} if d == "bf16" else {})}
               for scale in cfg["scales"] if scale != 1.0 for d in ("bf16", "fp16")]
    points += [{**base, "seed": s, "dtype": "fp32", "lengths": slope}
               for s in cfg["slope_seeds"] if s not in cfg["scan_seeds"]]
    if cfg["trained"] and model in TRAINED:
        points += [{"model": model, "seed": 0, "dtype": d, "lengths": cfg["trained"]}
                   for d in DTYPES]
    return points


def _merge(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per (model, seed, logit scale) with the rows of every dtype (scan first)."""
    merged: dict[tuple[str, int, float], dict[str, Any]] = {}
    for r in results:
        key = (r["point"]["model"], int(r["point"]["seed"]),
               float(r["point"].get("logit_scale", 1.0)))
        point = {"model": key[0], "seed": key[1], "logit_scale": key[2]}
        entry = merged.setdefault(key, {"point": point, "rows": []})
        entry["rows"] += r["rows"]
        if "spread" in r:
            entry["spread"], entry["spread_n"] = r["spread"], r["point"]["spread_n"]
    return list(merged.values())


def _equality(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for family in FAMILIES:
        for dtype in DTYPES:
            rows = [r for r in result["rows"] if (r["family"], r["dtype"]) == (family, dtype)]
            if rows:
                last = max(rows, key=lambda r: r["n"])
                out.append({**result["point"], "family": family, "dtype": dtype,
                            **equality_lengths(rows), "distance": last["distance"],
                            "relative": last["relative"]})
    return out


def summarise(results: list[dict[str, Any]], cfg: dict[str, Any]) -> dict[str, Any]:
    """Equality lengths, slopes, limits, Prop. B.4's total variations and trained-model rows
    from the merged results."""
    from tgnn.theory import softmax_separation_limit
    from tgnn.theory.representational_collapse import softmax_total_variation

    scan = [r for r in results if r["point"]["model"] == ROTARY and "spread" in r]
    rotary = [r for r in results if r["point"]["model"] == ROTARY and
              r["point"]["logit_scale"] == 1.0]
    lo, hi = cfg["slope_from"], cfg["slope_n"]
    slopes = {f: [loglog_slope([x for x in r["rows"] if x["family"] == f and x["dtype"] == "fp32"
                                and x["n"] <= hi], n_min=lo) for r in rotary] for f in FAMILIES}
    limits = [{"seed": r["point"]["seed"], "logit_scale": r["point"]["logit_scale"],
               "spread": r["spread"], "spread_n": r["spread_n"],
               "limit": {d: softmax_separation_limit(r["spread"], d) for d in DTYPES}}
              for r in scan]
    evens = sorted({n - n % 2 for n in length_grid(cfg["n_min"], cfg["n_max"],
                                                    cfg["per_octave"])})
    alternating = [{"n": n, "tv": softmax_total_variation([1.0, 0.0] * (n // 2),
                                                          [0.0, 1.0] * (n // 2))} for n in evens]
    trained = [e for r in results if r["point"]["model"] != ROTARY for e in _equality(r)]
    return {"equality": [e for r in scan for e in _equality(r)], "slopes": slopes,
            "slope_span": f"n in [{lo}, {hi}], {len(rotary)} seeds", "limits": limits,
            "alternating": alternating, "trained": trained}


def _plot_distances(results: list[dict[str, Any]], summary: dict[str, Any],
                    config: BenchConfig) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(FAMILIES), figsize=(5.2 * len(FAMILIES), 4.2), squeeze=False)
    first = results[0]
    floor = 1e-9
    for ax, family in zip(axes[0], FAMILIES, strict=True):
        for r in results[1:]:
            if (r["point"]["model"], r["point"]["logit_scale"]) == (ROTARY, 1.0):
                rows = [x for x in r["rows"] if (x["family"], x["dtype"]) == (family, "fp32")]
                ax.plot([x["n"] for x in rows], [x["distance"] for x in rows], color="C0",
                        alpha=0.25, lw=0.8)
        for k, dtype in enumerate(DTYPES):
            rows = [x for x in first["rows"] if (x["family"], x["dtype"]) == (family, dtype)]
            ns, ds = [x["n"] for x in rows], [max(x["distance"], floor) for x in rows]
            ax.plot(ns, ds, "-o", color=f"C{k}", ms=3, label=f"{dtype} (seed 0)")
            ax.plot([n for n, x in zip(ns, rows, strict=True) if x["equal"]],
                    [floor] * sum(x["equal"] for x in rows), "x", color=f"C{k}", ms=7)
        fp32 = [x for x in first["rows"] if (x["family"], x["dtype"]) == (family, "fp32")]
        ends = np.array([fp32[0]["n"], fp32[-1]["n"]], dtype=float)
        ax.plot(ends, fp32[0]["distance"] * ends[0] / ends, "k--", lw=1, label="1/n reference")
        for dtype, style in (("bf16", ":"), ("fp16", "-.")):
            ax.axvline(summary["limits"][0]["limit"][dtype], color="gray", ls=style, lw=1,
                       label=f"n* {dtype} (separation limit)")
        ax.set(xscale="log", yscale="log", xlabel="length n", title=family,
               ylabel="final-token distance (x: bitwise equal)")
    axes[0][0].legend(fontsize=7)
    return save_figure(fig, config, NAME, "distance_vs_length.png")


def _plot_limits(pairs: list[dict[str, Any]], config: BenchConfig) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    scales = sorted({p["logit_scale"] for p in pairs})
    for p in pairs:
        never = p["first_equal"] is None
        color = f"C{scales.index(p['logit_scale'])}"
        ax.scatter(p["n_star"], p["max_n"] if never else p["first_equal"],
                   marker="^" if never else "o", edgecolors=color,
                   facecolors="none" if p["dtype"] == "fp16" else color)
    lims = np.array([min(p["n_star"] for p in pairs) / 2, max(p["n_star"] for p in pairs) * 2])
    ax.plot(lims, lims, "k-", lw=1)
    ax.fill_between(lims, lims / LIMIT_FACTOR, lims * LIMIT_FACTOR, color="gray", alpha=0.15)
    ax.set(xscale="log", yscale="log",
           xlabel="n* (tgnn, from Lemma B.1) of the measured logit spread",
           ylabel="first bitwise-equal length (^: none up to N)",
           title="Collapse length against the separation limit\n(filled bf16, open fp16; "
                 f"color: logit scale {', '.join(f'x{v:g}' for v in scales)})")
    return save_figure(fig, config, NAME, "limit_vs_collapse.png")


def _plot_sensitivity(sens: list[dict[str, Any]], held: dict[str, Any],
                      config: BenchConfig) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, r in enumerate(sens[:4]):
        s = np.asarray(r["sensitivity"]) / held["C_fit"]
        ax.plot(s, color=f"C{k}", lw=1, label=f"measured S / C_fit (seed {r['point']['seed']})")
        ax.plot(r["bound"], color=f"C{k}", ls="--", lw=1)
    ax.set(yscale="log", xlabel="source position s", ylabel="sensitivity to token s",
           title="Path-sum bound (dashed) beside measured sensitivity (solid)")
    ax.legend(fontsize=7)
    return save_figure(fig, config, NAME, "bound_vs_sensitivity.png")


def _tables(summary: dict[str, Any]) -> str:
    equality = [{**e, "first_equal": fmt(e["first_equal"]) if e["first_equal"] else
                 f"never up to {e['max_n']}", "equal_from": e["equal_from"] or "never"}
                for e in summary["equality"] + summary["trained"]]
    slopes = [{"family": f, "seeds": len(v),
               **dict(zip(("mean", "low", "high"), bootstrap_interval(v), strict=True))}
              for f, v in summary["slopes"].items()]
    pairs = [{**p, "first_equal": p["first_equal"] or f"never up to {p['max_n']}"}
             for p in summary["limit_pairs"]]
    sens = [{"seed": r["point"]["seed"], "spearman": r["spearman"],
             "argmax_s": r["argmax_sensitivity"], "max S/B": max(r["ratio"])}
            for r in summary["sensitivity"]]
    return ("**Bitwise equality** (first grid length with equal final states; `equal_from`: "
            "equal at every grid length from there on):\n\n"
            + md_table(equality, ["model", "seed", "logit_scale", "family", "dtype",
                                  "first_equal", "equal_from", "distance", "relative"])
            + f"\n**Log-log slope** of the fp32 distance ({summary['slope_span']}; 1/n has "
            "slope -1; 95% bootstrap interval over seeds):\n\n"
            + md_table(slopes, ["family", "mean", "low", "high", "seeds"])
            + "\n**Softmax-separation limit** n*(D, u) (tgnn's scale from Lemma B.1 and Sec. 4; "
            "the paper gives no length) from the logit spread D of "
            "the last query on `BOS 1^n` (max over layers and heads), beside the first length "
            "where the repeated pair is bitwise equal; logit_scale: the query weights times that "
            f"factor (sharper attention); consistent: within a factor {LIMIT_FACTOR} of n*, or "
            f"none seen up to N < {LIMIT_FACTOR} n*:\n\n"
            + md_table(pairs, ["seed", "logit_scale", "spread", "dtype", "n_star",
                               "first_equal", "consistent"])
            + "\n**Path-sum bound and sensitivity** (Spearman of log S against log B over "
            "s < n-1; argmax_s: most sensitive source):\n\n"
            + md_table(sens, ["seed", "spearman", "argmax_s", "max S/B"]))


def run(config: BenchConfig) -> ExperimentResult:
    """Sweep the rotary models (and the trained GPT-2), summarise, plot, and state the claims."""
    from tgnn.benchmarks.collapse_claims import collapse_claims, limit_pairs
    from tgnn.benchmarks.collapse_sensitivity import held_out_bound, sensitivity_point

    cfg = SIZES["smoke" if config.smoke else "quick" if config.quick else "full"]
    sweep = {"workers": config.workers, "ray_address": config.ray_address,
             "progress": config.progress}
    results = _merge(run_sweep(collapse_point, _points(cfg, config.model), desc=NAME, **sweep))
    sens = run_sweep(sensitivity_point, grid(seed=cfg["sens_seeds"], n=[cfg["sens_n"]],
                                             size=[cfg["size"]]), desc=f"{NAME} bound", **sweep)
    summary = summarise(results, cfg)
    summary.update(sensitivity=sens, held_out=held_out_bound(sens), sensitivity_n=cfg["sens_n"],
                   limit_pairs=limit_pairs(summary["limits"], summary["equality"]))
    claims = collapse_claims(summary)
    figures = [_plot_distances(results, summary, config),
               _plot_limits(summary["limit_pairs"], config),
               _plot_sensitivity(sens, summary["held_out"], config)]
    text = (f"Random-init rotary Llama ({cfg['size']}: "
            f"{'4 layers, 4 heads, width 64' if cfg['size'] == 'small' else '2 layers, width 32'}"
            f", 2 key/value heads, init std 0.02, SDPA), seeds {cfg['scan_seeds']} over "
            f"lengths {length_grid(cfg['n_min'], cfg['n_max'], cfg['per_octave'])} in fp32, "
            f"bf16 and fp16, and seeds {cfg['slope_seeds']} in fp32 to n = {cfg['slope_n']} "
            "for the slopes. Pairs (BOS first): `repeated` = 1^n vs 1^(n+1) (Thm 4.2), "
            "`counting` = 1^n 0 vs 1^(n+1) 0 (Fig. 1a), `copy` = 1^n vs 0 1^(n-1); each "
            "sequence is its own forward pass. Distance: ||y_a - y_b||_2 of the last token's "
            "final state.\n\n"
            + _tables(summary) + "\n**Claims**\n\n" + claims_table(claims))
    numbers = {"config": cfg, "results": results, **summary, "claims": claims_numbers(claims)}
    return ExperimentResult(NAME, "Representational collapse with length and precision",
                            numbers, figures, text)
