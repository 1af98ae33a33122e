r"""Statistics of the position-bias study: rank correlations with bootstrap intervals over
sequences, detection of predictors that are a function of position alone, and the sensitivity
bound checked out of sample.

All intervals resample sequences (the independent unit), never positions of one sequence
(:func:`tgnn.benchmarks.claims.bootstrap_interval`; Efron and Tibshirani 1993, ch. 13).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

__all__ = ["POSITION_ALONE", "averaged_spearman", "bound_held_out", "position_alone",
           "spearman_rows", "summarise"]

POSITION_ALONE = 0.999
"""|Spearman(score, position)| at or above which, in every sequence, a predictor ranks the
sources by their position alone (to rounding: only exact ties or monotone functions reach it)."""


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``x`` with the same row of ``y`` (average ranks for
    ties; NaN where a row is constant or holds non-finite values).

    Examples
    --------
    >>> spearman_rows(np.array([[1.0, 2.0, 3.0]]), np.array([[3.0, 5.0, 4.0]]))
    array([0.5])
    """
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    ok = np.isfinite(x).all(1) & np.isfinite(y).all(1)
    rx = rankdata(np.where(np.isfinite(x), x, 0.0), axis=1)
    ry = rankdata(np.where(np.isfinite(y), y, 0.0), axis=1)
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    den = np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(1) / den
    return np.where(ok & (den > 0), rho, np.nan)


def averaged_spearman(log_s: np.ndarray, score: np.ndarray, resamples: int = 1000, seed: int = 0
                      ) -> tuple[float, float, float]:
    """Spearman of the averaged profiles ``mean_b log_s[b]`` and ``mean_b score[b]``, with a
    percentile bootstrap interval over sequences ``b`` (``[B, m]`` inputs, target dropped).

    All resamples at once: a ``[resamples, B]`` count matrix times the profiles.
    """
    b = len(log_s)
    counts = np.zeros((resamples, b))
    draws = np.random.default_rng(seed).integers(0, b, size=(resamples, b))
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1.0)
    value = float(spearman_rows(log_s.mean(0), score.mean(0))[0])
    boot = spearman_rows(counts @ log_s / b, counts @ score / b)
    boot = boot[np.isfinite(boot)]
    if not boot.size:
        return value, float("nan"), float("nan")
    low, high = np.quantile(boot, [0.025, 0.975])
    return value, float(low), float(high)


def position_alone(score: np.ndarray, target: int) -> tuple[bool, float]:
    """Whether a ``[B, n]`` predictor ranks sources by position alone in every sequence, and the
    smallest ``|Spearman(score, position)|`` over sequences (target dropped)."""
    keep = np.arange(score.shape[1]) != target
    pos = np.broadcast_to(np.arange(score.shape[1], dtype=np.float64), score.shape)
    corr = np.abs(spearman_rows(score[:, keep], pos[:, keep]))
    low = float(np.nanmin(corr)) if np.isfinite(corr).any() else float("nan")
    return bool(np.isfinite(corr).all() and low >= POSITION_ALONE), low


def summarise(log_s: np.ndarray, scores: dict[str, np.ndarray], target: int
              ) -> dict[str, dict[str, Any]]:
    """Per predictor: per-sequence Spearman (mean with interval, median, wins), the averaged
    profile's Spearman with interval, and the position-alone flag."""
    from tgnn.benchmarks.claims import bootstrap_interval

    keep = np.arange(log_s.shape[1]) != target
    per = {k: spearman_rows(log_s[:, keep], v[:, keep]) for k, v in scores.items()}
    stacked = np.stack([np.nan_to_num(v, nan=-2.0) for v in per.values()])
    best = stacked.max(0)
    out = {}
    for k, values in per.items():
        finite = values[np.isfinite(values)]
        mean = (bootstrap_interval(finite) if finite.size >= 2
                else (float(np.mean(finite)) if finite.size else float("nan"),) * 3)
        alone, low = position_alone(scores[k], target)
        averaged = averaged_spearman(log_s[:, keep], scores[k][:, keep])
        out[k] = {"per_sequence": values.tolist(), "mean": mean[0], "mean_ci": list(mean[1:]),
                  "median": float(np.median(finite)) if finite.size else float("nan"),
                  "wins": int((np.nan_to_num(values, nan=-2.0) >= best).sum()),
                  "averaged": averaged[0], "averaged_ci": list(averaged[1:]),
                  "position_alone": alone, "min_abs_position_corr": low}
    return out


def bound_held_out(ratios: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The bound ``S_s <= C K_L / R^roll`` with ``C`` fitted on one half of the sequences.

    ``ratios[b, s] = S_s / (K_L / R^roll_L(s, t))`` over sources of sequence ``b``. A seeded
    random half fits ``C = max ratio``; the other half counts violations (``ratio > C``), their
    rate over positions and the worst ``ratio / C``; then the halves swap.
    """
    b = len(ratios)
    order = np.random.default_rng(seed).permutation(b)
    halves = (order[: b // 2], order[b // 2 :])
    folds = []
    for fit, test in (halves, halves[::-1]):
        c = float(ratios[fit].max())
        held = ratios[test].ravel()
        folds.append({"C_fit": c, "positions": int(held.size),
                      "violations": int((held > c * (1 + 1e-9)).sum()),
                      "rate": float((held > c * (1 + 1e-9)).mean()),
                      "worst_ratio": float(held.max() / c)})
    return {"folds": folds, "violations": sum(f["violations"] for f in folds),
            "positions": sum(f["positions"] for f in folds),
            "worst_ratio": max(f["worst_ratio"] for f in folds)}
