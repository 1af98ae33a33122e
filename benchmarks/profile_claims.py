r"""Claims of section 9 (lost in the middle): per-sequence statistics of the position profiles of
:mod:`tgnn.benchmarks.long_profiles`, and the claim rows they decide.

Every statistic is one number per sequence; a claim's interval is the percentile bootstrap of
their mean over independent sequences (:func:`tgnn.benchmarks.claims.bootstrap_interval`),
never over the positions of one sequence. Statistics of one sequence of ``n`` tokens (positions
``s = 0 .. n - 1``, the last token ``n - 1`` is the reader):

- ``position_resistance``: Spearman of position ``s`` against the effective resistance
  ``R(n - 1, s)`` over ``s < n - 1``. Lee (2025, first experiments, no. 3) predicts it positive:
  earlier tokens have more paths to the others, so a lower resistance.
- ``resistance_received``: Spearman of ``R(n - 1, s)`` against the attention key ``s``
  receives (``received``), over ``s < n - 1``: Lee's "correlating with attention dominance"
  predicts it negative. ``position_received``, the same with the position ``s`` in place of
  the resistance, is the baseline that uses no graph.
- ``resistance_middle`` (:func:`middle_ratio`) and ``rollout_middle`` (:func:`middle_gap`): on
  the content positions ``1 .. n - 2`` (the first token, a sink, and the reader itself left
  out), the mean resistance of the middle third over that of the farther end third, and the
  rollout share of the middle third minus the smaller end share. A U-shaped retrieval curve,
  where the middle is read worse than both ends (Liu et al. 2024, "lost in the middle"; Lee 2025
  reads it as a propagation bottleneck), is a resistance ratio above 1 and a rollout gap below
  0.
- ``rollout_vs_uniform``, ``received_vs_uniform``: Spearman of the measured profile against the
  closed form of uniform causal attention (:func:`tgnn.benchmarks.long_profiles.uniform_profiles`).
- ``sink_mean``, ``sink_max``: the first-token mass deep in the sequence over its uniform value,
  ``mean over i >= n/2 of first_token_mass[i] (i + 1)`` (1 under uniform causal attention
  ``A[i, 0] = 1/(i+1)``), averaged over heads and layers, and for the strongest head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from tgnn.benchmarks.claims import Claim, bootstrap_interval

from tgnn.errors import ShapeError

__all__ = ["FAR_ABOVE", "PREDICTS", "middle_gap", "middle_ratio", "profile_claims",
           "sequence_statistics", "sink_ratios"]

PREDICTS = 0.9
"""A closed form "predicts" a profile when the lower bound of the Spearman interval is at least
this (it orders the positions almost as measured)."""
FAR_ABOVE = 2.0
"""A sink is "far above uniform" when its head reads the first token at least this many times
the uniform share ``1/(i+1)``, deep in the sequence."""


def _thirds(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first, middle and last third of ``values[1:-1]`` (the content positions)."""
    content = np.asarray(values, dtype=np.float64)[1:-1]
    m = content.size
    if m < 3:
        raise ShapeError(f"values: expected at least 5 positions, got {m + 2}")
    return content[: m // 3], content[m // 3 : 2 * m // 3], content[2 * m // 3 :]


def middle_ratio(resistance: np.ndarray) -> float:
    """Mean resistance of the middle third of the content positions over the larger of the two
    end thirds' means (above 1: the middle is the farthest third, a U-shaped retrieval curve).

    The first position (a sink) and the last (the reader, at resistance 0) are left out.

    Examples
    --------
    >>> middle_ratio(np.array([9.0, 1, 1, 3, 3, 2, 2, 0]))  # (3+3)/2 over max(1, 2)
    1.5
    """
    first, middle, last = _thirds(resistance)
    return float(middle.mean() / max(first.mean(), last.mean()))


def middle_gap(rollout: np.ndarray) -> float:
    """Share of a rollout row's content mass on the middle third minus the smaller share of the
    two end thirds (below 0: the middle is read least, a U-shaped retrieval curve).

    Shares rather than a ratio: on kept edges an end third may get no mass at all. The first
    position (a sink) and the last (the reader itself) are left out; a row with no content mass
    has equal thirds (0).

    Examples
    --------
    >>> middle_gap(np.array([9.0, 1, 1, 0, 0, 2, 2, 5]))  # 0/6 - min(2/6, 4/6)
    -0.3333333333333333
    """
    thirds = [part.sum() for part in _thirds(rollout)]
    total = sum(thirds)
    if total == 0:
        return 0.0
    return float((thirds[1] - min(thirds[0], thirds[2])) / total)


def sink_ratios(first_token_mass: np.ndarray) -> np.ndarray:
    """Per head: ``mean over i >= n/2 of first_token_mass[i, h] (i + 1)``.

    ``first_token_mass`` is ``[n, heads]`` (one column per layer and head); uniform causal
    attention gives 1 in every head.

    Examples
    --------
    >>> n = 6
    >>> sink_ratios(1.0 / np.arange(1, n + 1)[:, None]).tolist()
    [1.0]
    """
    mass = np.asarray(first_token_mass, dtype=np.float64)
    n = mass.shape[0]
    deep = np.arange(n // 2, n)
    return (mass[deep] * (deep + 1)[:, None]).mean(axis=0)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(spearmanr(x, y).statistic)


def sequence_statistics(measured: Mapping[str, np.ndarray],
                        uniform: Mapping[str, np.ndarray] | None,
                        heads: np.ndarray) -> dict[str, float]:
    """The statistics of one sequence (module docstring).

    Parameters
    ----------
    measured:
        :func:`tgnn.benchmarks.long_profiles.position_profiles` of the sequence.
    uniform:
        :func:`tgnn.benchmarks.long_profiles.uniform_profiles` at its length and depth, or
        ``None`` for a bidirectional model (no causal prediction: no ``*_vs_uniform``, no sink
        ratio).
    heads:
        ``[n, layers x heads]`` first-token mass of every head (for the sink ratios).
    """
    resistance = np.asarray(measured["resistance"], dtype=np.float64)
    n = resistance.size
    before = np.arange(n - 1)
    stats = {
        "position_resistance": _spearman(before, resistance[:-1]),
        "resistance_received": _spearman(resistance[:-1], measured["received"][:-1]),
        "position_received": _spearman(before, measured["received"][:-1]),
        "resistance_middle": middle_ratio(resistance),
        "rollout_middle": middle_gap(measured["rollout"]),
    }
    if uniform is not None:
        ratios = sink_ratios(heads)
        stats |= {"rollout_vs_uniform": _spearman(measured["rollout"], uniform["rollout"]),
                  "received_vs_uniform": _spearman(measured["received"], uniform["received"]),
                  "sink_mean": float(ratios.mean()), "sink_max": float(ratios.max())}
    return stats


def _mean(samples: Sequence[Mapping[str, float]], key: str) -> tuple[float, float, float]:
    return bootstrap_interval([s[key] for s in samples])


def _fmt(value: tuple[float, float, float], digits: int = 2) -> str:
    return f"{value[0]:.{digits}f} [{value[1]:.{digits}f}, {value[2]:.{digits}f}]"


def _sign(value: tuple[float, float, float], wanted: int, at: float = 0.0) -> int:
    """+1 when the interval lies beyond ``at`` in the ``wanted`` direction, -1 when it lies
    beyond it the other way, 0 when it holds ``at``."""
    _, low, high = value
    if low > at or high < at:
        return 1 if (low > at) == (wanted > 0) else -1
    return 0


_VERDICT = {1: "reproduced", -1: "contradicted", 0: "different"}


def _interval(setting: Mapping[str, Any]) -> str:
    return (f"95% CI over {setting['count']} sequences of {setting['n']} tokens"
            + (f" ({setting['note']})" if setting.get("note") else ""))


def _position_claims(label: str, samples: Sequence[Mapping[str, float]],
                     setting: Mapping[str, Any]) -> list[Claim]:
    order = _mean(samples, "position_resistance")
    dominance = _mean(samples, "resistance_received")
    baseline = _mean(samples, "position_received")
    gain = bootstrap_interval([abs(s["resistance_received"]) - abs(s["position_received"])
                               for s in samples])
    beyond = ("the resistance orders the keys by how much they are read better than their "
              "position does" if gain[1] > 0 else "position alone orders them as well or "
              "better, so the resistance adds nothing beyond position")
    paper = "Lee 2025, first experiments no. 3"
    return [
        Claim(paper, "earlier tokens show lower effective resistance (more paths to the others) "
              "than later tokens",
              f"{label}: Spearman of position vs R(last, s) {_fmt(order)}", _interval(setting),
              _VERDICT[_sign(order, +1)],
              f"{setting['what']}; R on the last layer's kept graph (top_k, symmetrised), "
              "positive = earlier tokens closer to the last one"),
        Claim(paper, "low effective resistance correlates with attention dominance",
              f"{label}: Spearman of R(last, s) vs attention received {_fmt(dominance)}; "
              f"position alone (no graph) {_fmt(baseline)}; |R| - |position| {_fmt(gain)}",
              _interval(setting) + ", paired", _VERDICT[_sign(dominance, -1)],
              f"{setting['what']}; received = column sum over the queries that may read the "
              f"key, negative = the tokens read most are the closest; {beyond}"),
    ]


def _middle_claim(label: str, samples: Sequence[Mapping[str, float]],
                  setting: Mapping[str, Any]) -> Claim:
    resistance = _mean(samples, "resistance_middle")
    rollout = _mean(samples, "rollout_middle")
    signs = {_sign(resistance, +1, at=1.0), _sign(rollout, -1)}
    verdict = ("reproduced" if signs == {1} else "contradicted" if -1 in signs and 1 not in signs
               else "different")
    extra = setting.get("single", "")
    return Claim(
        "Lee 2025, failure signatures (after Liu et al. 2024)",
        "retrieval is U-shaped in position: degradation at sequence middles indicates "
        "propagation bottlenecks",
        f"{label}: resistance of the middle third over the farther end third "
        f"{_fmt(resistance)} (U: > 1); rollout share of the middle third minus the smaller end "
        f"share {_fmt(rollout)} (U: < 0){extra}",
        _interval(setting), verdict,
        f"{setting['what']}; first token and the reader left out; "
        + ("the middle is the farthest third from the last token" if verdict == "reproduced"
           else "the middle is not farther from the last token than both ends: no bottleneck "
           "in the middle" if verdict == "contradicted" else
           "the two profiles do not agree on a U")
        + (f"; uniform causal attention predicts a rollout gap of {setting['uniform_rollout']:+.2f}"
           if "uniform_rollout" in setting else ""))


def _theory_claim(label: str, samples: Sequence[Mapping[str, float]],
                  setting: Mapping[str, Any]) -> Claim:
    rollout = _mean(samples, "rollout_vs_uniform")
    received = _mean(samples, "received_vs_uniform")
    lows, highs = min(rollout[1], received[1]), min(rollout[2], received[2])
    verdict = ("reproduced" if lows >= PREDICTS else "contradicted" if highs < 0
               else "different")
    return Claim(
        "THEORY.md, closed forms for uniform causal attention",
        "uniform causal attention A = 1/(i+1) predicts the position profiles (dashed lines)",
        f"{label}: Spearman measured vs closed form, rollout row {_fmt(rollout)}, attention "
        f"received {_fmt(received)}", _interval(setting), verdict,
        f"{setting['what']}; predicted when both intervals lie above {PREDICTS}, the other "
        "way round when either lies below 0; attention received is exact (full rows), the "
        "rollout walks only the kept top_k edges, renormalised")


def _sink_claim(label: str, samples: Sequence[Mapping[str, float]],
                setting: Mapping[str, Any]) -> Claim:
    strongest = _mean(samples, "sink_max")
    mean = _mean(samples, "sink_mean")
    trained = setting.get("trained", True)
    verdict = _VERDICT[_sign(strongest, +1, at=FAR_ABOVE)] if trained else "outside our reach"
    return Claim(
        "Xiao et al. 2024 (StreamingLLM); Lee 2025, Sec. 3.3",
        "attention sinks: the first token keeps a mass far above its uniform share deep into "
        "the sequence",
        f"{label}: first-token mass at positions >= n/2 over 1/(i+1), strongest head "
        f"{_fmt(strongest)}, mean over heads {_fmt(mean)}", _interval(setting), verdict,
        f"{setting['what']}; far above = more than {FAR_ABOVE:g}x in the strongest head"
        + ("" if trained else "; sinks are learned and no trained model with this context "
           "is embedded, so this untrained model is a control, not a test"))


def profile_claims(samples: Mapping[str, Sequence[Mapping[str, float]]],
                   settings: Mapping[str, Mapping[str, Any]]) -> list[Claim]:
    """The section's claim rows.

    Parameters
    ----------
    samples:
        Per model label, one :func:`sequence_statistics` dictionary per sequence (at least two).
    settings:
        Per model label: ``n`` and ``count`` (tokens, sequences), ``what`` (the model in words),
        ``causal``, ``trained`` and optionally ``note`` (for the interval text), ``single``
        (the long single-sequence figure, appended to the U-shape row) and ``uniform_rollout``
        (the rollout gap :func:`middle_gap` of uniform attention).
    """
    claims: list[Claim] = []
    causal = [label for label in samples if settings[label]["causal"]]
    for label in causal:
        claims += _position_claims(label, samples[label], settings[label])
    claims += [_middle_claim(label, samples[label], settings[label]) for label in samples]
    claims += [_theory_claim(label, samples[label], settings[label]) for label in causal]
    claims += [_sink_claim(label, samples[label], settings[label]) for label in causal]
    return claims
