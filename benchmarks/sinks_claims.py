"""Claims of section 6 (attention sinks and pause tokens): paper statement, our number, verdict.

Every verdict is decided by a 95% bootstrap interval over sequences (paired where two conditions
are compared): a difference whose interval excludes 0 in the paper's direction reproduces it,
one that excludes 0 in the other direction contradicts it, one whose interval holds 0 is
"different" (no effect detectable at this sample size).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tgnn.benchmarks.claims import Claim, bootstrap_interval

__all__ = ["sinks_claims", "uniform_sink_mass"]


def uniform_sink_mass(n: int) -> float:
    """``alpha_0`` of uniform causal attention on ``n`` tokens: ``(1/n) sum_{t<n} 1/(t+1) = H_n/n``.

    Examples
    --------
    >>> round(uniform_sink_mass(2), 4)  # (1 + 1/2) / 2
    0.75
    """
    return float(np.sum(1.0 / np.arange(1, n + 1)) / n)


def _row(summary: list[dict[str, Any]], label: str, quantity: str) -> dict[str, Any]:
    for r in summary:
        if r["condition"] == label and r["quantity"] == quantity:
            return r
    raise KeyError(f"summary: expected a row for {label!r} / {quantity!r}, got none")


def _diff(row: dict[str, Any]) -> str:
    return (f"{row['diff']:+.3f} [{row['diff_low']:+.3f}, {row['diff_high']:+.3f}] vs "
            f"{row['vs']}")


def _sign(low: float, high: float, wanted: int) -> str:
    """Verdict of a difference interval when the paper predicts the sign ``wanted`` (+1 / -1)."""
    if not np.isfinite(low):
        return "outside our reach"
    if low > 0 or high < 0:  # the interval excludes 0
        return "reproduced" if (low > 0) == (wanted > 0) else "contradicted"
    return "different"


def _ratio(per_seq: dict[str, dict[str, np.ndarray]], label: str, n: int) -> tuple[float, ...]:
    return bootstrap_interval(per_seq[label]["sink_mass_0"] / uniform_sink_mass(n))


def _sink_claim(per_seq: dict[str, dict[str, np.ndarray]], size: dict[str, int]) -> Claim:
    m = size["m"]
    bos = _ratio(per_seq, "BOS", m + 1)
    twin = _ratio(per_seq, "no-BOS twin", m) if "no-BOS twin" in per_seq else (np.nan,) * 3
    if bos[2] < 1:
        verdict = "contradicted"
    elif bos[1] > 1 and twin[1] > 1:
        verdict = "reproduced"
    else:
        verdict = "different"
    return Claim(
        "Lee 2025, Sec. 3.3",
        "attention sinks are a structural consequence of causal geometry: the first token, "
        "seen by every later query and never updated by attention, becomes the sink",
        f"sink mass of position 0 over the uniform-causal value: {bos[0]:.2f} with BOS, "
        f"{twin[0]:.2f} in the no-BOS twin (position 0 an ordinary character)",
        f"95% CI [{bos[1]:.2f}, {bos[2]:.2f}] and [{twin[1]:.2f}, {twin[2]:.2f}], "
        f"{len(per_seq['BOS']['loss'])} sequences",
        verdict,
        "a sink forms on a fixed first token (BOS); where the first token is ordinary text the "
        "same causal geometry gives position 0 no more than its uniform share, so geometry "
        "alone does not make the sink" if verdict == "different" else
        "both models put more than the uniform share on position 0")


def _removal_claim(summary: list[dict[str, Any]]) -> Claim:
    masked = _row(summary, "BOS masked out", "loss")
    twins = [r for r in summary if r["condition"] == "no-BOS twin" and r["quantity"] == "loss"]
    extra = f"; a model trained without BOS: {_diff(twins[0])}" if twins else ""
    return Claim(
        "Lee 2025, Sec. 3.3 and open question 2 (after Gu et al. 2024)",
        "forcibly removing the attention sink degrades performance",
        f"content loss (nats) with the BOS key masked out: {_diff(masked)}{extra}",
        "paired 95% CI over sequences", _sign(masked["diff_low"], masked["diff_high"], +1),
        "the BOS key hidden from every later query of the shipped model (no retraining)")


def _learned(summary: list[dict[str, Any]], trained: list[str]) -> str:
    """One clause: did the fine-tune teach the model to predict from the last end pause?"""
    row = _row(summary, trained[0], "last_loss")
    control = _row(summary, trained[1], "last_loss")
    if row["diff_low"] > 0:
        return (f"the fine-tune did not teach the model to read the content from an end pause "
                f"(last-token loss {row['mean']:.2f} nats against {control['mean']:.2f} for the "
                "control), so the last token stays a content-free pause")
    return "the fine-tuned model predicts from the last pause as well as the control or better"


def _sharpness_claim(summary: list[dict[str, Any]], trained: list[str], k: int,
                     steps: int) -> Claim:
    tuned = _row(summary, trained[0], "nn_distance")
    untrained = _row(summary, f"pause both ({k}+{k})", "nn_distance")
    return Claim(
        "Lee 2025, suggested experiment 2",
        "pause tokens at both ends sharpen the last-token representation (nearest-neighbour "
        "distance in embedding space grows)",
        f"trained pauses: {_diff(tuned)}; untrained pauses: {_diff(untrained)}",
        "paired 95% CI over sequences", _sign(tuned["diff_low"], tuned["diff_high"], +1),
        f"decided by the trained pauses ({steps} steps) against the control fine-tuned without "
        "them (same data, steps, seed); distance over the mean norm of the final hidden "
        f"states; {_learned(summary, trained)}")


def _goyal_claim(summary: list[dict[str, Any]], trained: list[str], k: int,
                 steps: int) -> Claim:
    tuned = _row(summary, trained[0], "last_loss")
    untrained = _row(summary, f"pause both ({k}+{k})", "last_loss")
    helped = tuned["diff_high"] < 0
    return Claim(
        "Goyal et al. 2023 (pause training), as Lee 2025 reads it",
        "training with pause tokens lowers the loss of the token predicted after the pauses; "
        "pauses added only at inference do not help",
        f"last-token loss (nats), trained: {_diff(tuned)}; untrained: {_diff(untrained)}",
        "paired 95% CI over sequences", "reproduced" if helped else "outside our reach",
        f"inference-only pauses hurt, as they report; their gains need pause-pretraining, a "
        f"full retraining beyond this section's budget, and a {steps}-step fine-tune of the "
        "character model " + ("already helps" if helped else "does not get there"))


def sinks_claims(summary: list[dict[str, Any]], per_seq: dict[str, dict[str, np.ndarray]],
                 size: dict[str, int], trained: list[str]) -> list[Claim]:
    """The section's claim rows (``trained``: labels of the pause fine-tune and its control)."""
    return [_sink_claim(per_seq, size), _removal_claim(summary),
            _sharpness_claim(summary, trained, size["k"], size["steps"]),
            _goyal_claim(summary, trained, size["k"], size["steps"])]
