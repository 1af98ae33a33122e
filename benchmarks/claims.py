"""Paper claims with our number, its uncertainty and a verdict: the evidence tables of the report.

Every section that tests a seed paper ends with a claim table built from :class:`Claim` rows by
:func:`claims_table`; the rows also go into ``results.json`` (``numbers["claims"]``) through
:func:`claims_numbers`, so a reader and a regression test see the same values. Uncertainties are
percentile bootstrap intervals (:func:`bootstrap_interval`; Efron & Tibshirani 1993, ch. 13)
over independent samples (sequences, seeds), never over positions of one sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["VERDICTS", "Claim", "bootstrap_interval", "claims_numbers", "claims_table"]

VERDICTS = ("reproduced", "different", "contradicted", "outside our reach")
"""The verdicts a claim can get: the paper's statement holds here / holds with another value /
fails here / cannot be tested with what this machine and the embedded models allow (say why)."""


@dataclass(frozen=True)
class Claim:
    """One paper statement beside our measurement.

    Attributes
    ----------
    paper:
        Short citation, e.g. ``"Barbero et al. 2024, Thm 4.2"``.
    statement:
        What the paper says, in its own setting and with its value.
    ours:
        Our number (formatted), e.g. ``"0.991"``.
    interval:
        Its uncertainty, e.g. ``"95% CI [0.982, 0.996], 32 sequences"`` (``""`` when exact).
    verdict:
        One of :data:`VERDICTS`.
    why:
        One sentence: the setting we measured in, and what decides the verdict.
    """

    paper: str
    statement: str
    ours: str
    interval: str
    verdict: str
    why: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict: expected one of {VERDICTS}, got {self.verdict!r}")


def bootstrap_interval(
    samples: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    r"""Statistic of ``samples`` with its percentile bootstrap interval.

    Draws ``resamples`` samples of the same size with replacement, computes ``statistic`` on
    each and returns ``(statistic(samples), q_{(1-level)/2}, q_{(1+level)/2})`` of those values.
    Resamples on which the statistic is undefined (NaN: a rank correlation of a resample that
    repeats one point) are left out; if they are more than half, it raises instead.

    Parameters
    ----------
    samples:
        One value per independent unit (a sequence, a seed); at least two.
    statistic:
        Function of a 1-D array to a float (default the mean).
    level:
        Coverage of the interval, in ``(0, 1)``.
    resamples:
        Number of bootstrap resamples (positive).
    seed:
        Seed of the resampling (the interval is deterministic).

    Returns
    -------
    tuple of float
        ``(value, low, high)``.

    References
    ----------
    B. Efron and R. J. Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13.
    """
    values = np.asarray(samples, dtype=np.float64).ravel()
    if values.size < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"samples: expected at least two finite values, got {values.size} "
                         f"values of which {int(np.sum(~np.isfinite(values)))} are not finite")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    if resamples < 1:
        raise ValueError(f"resamples: expected a positive count, got {resamples!r}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, values.size, size=(resamples, values.size))
    stats = np.array([statistic(values[row]) for row in draws])
    defined = stats[np.isfinite(stats)]
    if 2 * defined.size < resamples:
        raise ValueError(f"statistic: undefined on {resamples - defined.size} of {resamples} "
                         "resamples; too few samples for an interval")
    low, high = np.quantile(defined, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(statistic(values)), float(low), float(high)


def claims_table(claims: Sequence[Claim]) -> str:
    """Markdown table of the claims: paper, statement, ours, uncertainty, verdict, why."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| paper | claim | ours | uncertainty | verdict | why |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {cell(c.paper)} | {cell(c.statement)} | {cell(c.ours)} | "
              f"{cell(c.interval) or 'exact'} | **{c.verdict}** | {cell(c.why)} |"
              for c in claims]
    return "\n".join(lines) + "\n"


def claims_numbers(claims: Sequence[Claim]) -> list[dict[str, Any]]:
    """The claims as plain dictionaries, for ``ExperimentResult.numbers["claims"]``."""
    return [asdict(claim) for claim in claims]
