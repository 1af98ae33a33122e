r"""Section 2: position bias. Which predictor ranks the sources of the last token's sensitivity?

For each model and length, over many sequences (one sweep point per sequence through
:mod:`tgnn.benchmarks.runner`): the measured sensitivity ``S_s = ||d y_t / d x_s||_F`` of the
final hidden state of the target token ``t`` (the last token; ``[CLS]`` in the bidirectional
MiniLM) to the input embedding of each source ``s`` (:func:`tgnn.metrics.jacobian_sensitivity`,
``d`` backward passes batched), and the predictors of
:mod:`tgnn.benchmarks.position_predictors` from one captured forward pass
(:mod:`tgnn.benchmarks.position_models`). Scores: Spearman over ``s != t`` of ``log S`` against
each predictor, per sequence (mean with a bootstrap interval over sequences) and on the averaged
profile (``log S`` and scores averaged over sequences first; interval by resampling sequences),
with predictors that rank by position alone flagged (:mod:`tgnn.benchmarks.position_stats`).
The bound ``S_s <= C 2^L / R^roll_L(s, t)`` (Barbero et al. 2024, Thm 5.1, ``beta = 1``) is
checked out of sample: ``C`` fitted on one half of the sequences, violations counted on the
other. Claims: :mod:`tgnn.benchmarks.position_claims`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.common import sample_ids
from tgnn.benchmarks.position_predictors import PREDICTORS
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table
from tgnn.benchmarks.runner import run_sweep

__all__ = ["plan", "position_point", "run", "study"]

NAME = "position_bias"
TITLE = "Position bias: Jacobian sensitivity against causal resistances"
CHUNK = 16  # cotangents per batched pullback: fastest on CPU at n ~ 100 (measured, 1.4x)


def plan(config: BenchConfig) -> list[tuple[str, int, int]]:
    """``(model, n, sequences)`` groups of the run: smoke, quick or full."""
    if config.smoke:
        return [(config.model, 12, 3), ("gpt2-random@0.02", 12, 3)]
    if config.quick:
        return [(config.model, 96, 32), ("tgnn-gpt2-tiny-nobos", 96, 8),
                ("gpt2-random@0.02", 96, 16), ("llama-random@0.02", 96, 16)]
    full = [(config.model, 96, 32), (config.model, 128, 32), (config.model, 256, 16),
            ("tgnn-gpt2-tiny-nobos", 96, 32), ("tgnn-gpt2-tiny-nobos", 128, 32)]
    full += [(f"{kind}-random@{r}", 96, 32) for kind in ("gpt2", "llama")
             for r in (0.02, 0.1, 0.3)]
    return full + [("gpt2-random@0.02", 128, 32), ("llama-random@0.02", 256, 16),
                   ("minilm", 32, 8)]


def position_point(point: dict[str, Any]) -> dict[str, Any]:
    """One sequence ``{"model", "n", "seed"}``: sensitivity, predictor scores, bound ratios."""
    from tgnn.benchmarks.position_models import capture_sequence, load_position_model
    from tgnn.benchmarks.position_predictors import predictor_scores
    from tgnn.benchmarks.position_stats import spearman_rows
    from tgnn.theory.bounds import oversquashing_bound

    from tgnn.metrics.sensitivity import jacobian_sensitivity, surrogate_sensitivity

    model, tok = load_position_model(point["model"])
    ids = sample_ids(tok, int(point["n"]), int(point["seed"]))
    n = ids.shape[1]
    causal = model.config.model_type != "bert"
    target = n - 1 if causal else 0
    jac = jacobian_sensitivity(model, ids, targets=[target], chunk_size=CHUNK)[-1, 0]
    sens = jac.double().numpy()
    capture = capture_sequence(model, ids)
    scores = predictor_scores(capture, target, causal)
    keep = np.arange(n) != target
    log_s = np.log(np.maximum(sens, 1e-300))
    layers = list(capture["heads"].mean(1))
    bound = oversquashing_bound(layers, target=target, beta=1.0, causal=causal)
    ratio = sens / np.maximum(bound, 1e-300)
    seen = ratio[: target + 1] if causal else ratio
    linear = bound / 2.0 ** len(layers)
    surrogate = surrogate_sensitivity(torch.from_numpy(capture["heads"]), 0.5, d=1,
                                      targets=[target])[0].numpy()
    late = slice(n // 2, n)  # attention share of late queries: where output norms cancel most
    gain_share = _gain_share(capture)
    return {"target": target, "log_sensitivity": log_s, "scores": scores,
            "share": {"calibrated": float(capture["rho"][:, late].mean()),
                      "gain": float(gain_share[:, late].mean())},
            "spearman": {k: float(spearman_rows(log_s[keep], v[keep])[0])
                         for k, v in scores.items()},
            "resistances": {"R_roll": np.exp(-scores["rollout_half"])},
            "primacy": bool(np.argmax(log_s[keep]) == 0),
            "bound_ratio": seen, "C_star": float(seen.max()),
            "spread": float(seen.max() / seen.min()),
            "surrogate_gap": float(np.abs(surrogate - linear).max())}


def _gain_share(capture: dict[str, np.ndarray]) -> np.ndarray:
    """``k / (1 + k)`` per layer and query, ``k_i = sum_h sum_j A^h_ij c^h_j``: the attention
    share that the value-path gains imply, beside the calibrated ``rho``."""
    k = np.einsum("lhij,lhj->li", capture["heads"], capture["key_gains"])
    return k / (1.0 + k)


def study(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group the sequences by model and length; summarise each group."""
    from tgnn.benchmarks.position_stats import bound_held_out, summarise

    groups = []
    for key in dict.fromkeys((r["point"]["model"], r["point"]["n"]) for r in rows):
        sel = [r for r in rows if (r["point"]["model"], r["point"]["n"]) == key]
        target = sel[0]["target"]
        log_s = np.stack([r["log_sensitivity"] for r in sel])
        scores = {k: np.stack([r["scores"][k] for r in sel]) for k in sel[0]["scores"]}
        groups.append({
            "model": key[0], "n": key[1], "sequences": len(sel), "target": target,
            "summary": summarise(log_s, scores, target),
            "profile": log_s.mean(0).tolist(),
            "predictor_profiles": {k: v.mean(0).tolist() for k, v in scores.items()},
            "primacy_rate": float(np.mean([r["primacy"] for r in sel])),
            "share": {k: float(np.mean([r["share"][k] for r in sel])) for k in sel[0]["share"]},
            "bound": bound_held_out(np.stack([r["bound_ratio"] for r in sel])),
        })
    return groups


def _cell(stat: dict[str, Any], key: str, name: str) -> str:
    value, (low, high) = stat[key], stat[f"{key}_ci"]
    flag = " (pos.)" if stat["position_alone"] and name != "position" else ""
    return f"{value:.3f} [{low:.2f}, {high:.2f}]{flag}"


def _tables(groups: list[dict[str, Any]]) -> str:
    keys = [k for k in PREDICTORS if any(k in g["summary"] for g in groups)]
    out = ""
    for key, label in (("mean", "Per-sequence Spearman, mean [95% CI over sequences]"),
                       ("averaged", "Averaged-profile Spearman [95% CI, sequences resampled]")):
        rows = [{"model": g["model"], "n": g["n"], "seqs": g["sequences"],
                 **{k: _cell(g["summary"][k], key, k) for k in keys if k in g["summary"]}}
                for g in groups]
        out += f"{label}:\n\n" + md_table(rows, ["model", "n", "seqs", *keys]) + "\n"
    alone = [{"model": g["model"], "n": g["n"],
              **{k: g["summary"][k]["min_abs_position_corr"] for k in keys[1:]
                 if k in g["summary"]}} for g in groups]
    out += ("Smallest |Spearman(score, position)| over the sequences (1: the predictor ranks by "
            "position alone):\n\n" + md_table(alone, ["model", "n", *keys[1:]]) + "\n")
    shares = [{"model": g["model"], "n": g["n"], "calibrated rho": g["share"]["calibrated"],
               "gain share k/(1+k)": g["share"]["gain"]} for g in groups]
    out += ("Attention share of the late queries (i >= n/2), mean over layers, queries and "
            "sequences: the calibrated `rho` against the share implied by the value-path gains "
            "(`k_i = sum_h sum_j A_ij c_j`):\n\n"
            + md_table(shares, ["model", "n", "calibrated rho", "gain share k/(1+k)"]) + "\n")
    wins = [{"model": g["model"], "n": g["n"],
             **{k: g["summary"][k]["wins"] for k in keys if k in g["summary"]}} for g in groups]
    out += ("Sequences on which each predictor is best (ties count for each):\n\n"
            + md_table(wins, ["model", "n", *keys]) + "\n")
    bounds = [{"model": g["model"], "n": g["n"], "held-out positions": g["bound"]["positions"],
               "violations": g["bound"]["violations"],
               "rate": g["bound"]["violations"] / max(g["bound"]["positions"], 1),
               "worst ratio / C_fit": g["bound"]["worst_ratio"],
               "C_fit (fold 1, 2)": ", ".join(f"{f['C_fit']:.3g}" for f in g["bound"]["folds"])}
              for g in groups]
    out += ("Bound `S_s <= C 2^L / R^roll_L(s, t)` with `C` fitted on a random half of the "
            "sequences (largest ratio there) and checked on the other half, then the halves "
            "swapped:\n\n" + md_table(bounds, list(bounds[0])) + "\n")
    return out


def run(config: BenchConfig) -> ExperimentResult:
    """The study over :func:`plan`; tables, claims and figures of section 2."""
    from tgnn.benchmarks.claims import claims_numbers, claims_table
    from tgnn.benchmarks.position_claims import (
        INTRO,
        losses_text,
        position_alone_text,
        position_claims,
    )
    from tgnn.benchmarks.position_plots import plot_profiles, plot_spearman

    points = [{"model": m, "n": n, "seed": config.seed + k}
              for m, n, count in plan(config) for k in range(count)]
    rows = run_sweep(position_point, points, workers=config.workers,
                     ray_address=config.ray_address, desc=NAME, progress=config.progress)
    groups = study(rows)
    claims = position_claims(groups)
    light = [{k: r[k] for k in ("point", "spearman", "C_star", "spread", "primacy")}
             | {"resistances": r["resistances"]} for r in rows]
    numbers = {"rows": light, "groups": groups, "claims": claims_numbers(claims),
               "surrogate_gap_max": max(r["surrogate_gap"] for r in rows)}
    text = (INTRO + _tables(groups) + position_alone_text(groups) + losses_text(groups)
            + f"Linear surrogate check: max |surrogate - bound / 2^L| = "
              f"{numbers['surrogate_gap_max']:.2e} (equality expected).\n\n"
            + claims_table(claims))
    figures = [plot_profiles(groups, config),
               plot_spearman(groups, list(PREDICTORS), config)]
    return ExperimentResult(NAME, TITLE, numbers, figures, text)
