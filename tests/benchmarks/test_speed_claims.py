"""Section 10's claim table on fixed speed rows: every family found, each verdict reachable both
ways, the figures (smallest speed-up, largest capture cost, worst agreement) taken from the right
rows, and modules that did not run named."""

from __future__ import annotations

from typing import Any

import pytest
from tgnn.benchmarks.speed_claims import AGREE_ABS, FAMILIES, agreement, family, speed_claims
from tgnn.benchmarks.timing import speed_row


def _row(module: str, name: str, ours: float, anchor: float | None, met: bool | None = True,
         **extra: Any) -> dict[str, Any]:
    return {"module": module, **speed_row(name, ours, anchor, "goal", met, **extra)}


def _rows(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """One passing row per family (names as the perf modules write them), with ``changes``
    merged into the row of the named family."""
    rows = [
        _row("perf_theory", "ysl causal vs generic Lyapunov, n=256", 0.01, 0.07, rel_diff=1e-14),
        _row("perf_theory", "R^abs one target row vs all pairs, n=4096", 0.03, 2.7),
        _row("perf_metrics", "resistance all pairs n=1000 vs networkx", 0.04, 4.9,
             max_abs_diff=4e-15),
        _row("perf_metrics", "resistance one source to all n=99856 (grid)", 1.6, None),
        _row("perf_metrics", "balanced Forman 10000 edges vs set-based", 0.001, 0.13,
             max_abs_diff=0.0),
        _row("perf_metrics", "Ollivier-Ricci 4000 edges vs GraphRicciCurvature", 0.05, 0.6,
             max_abs_diff=2e-15),
        _row("perf_metrics", "attention flow 6x32 vs networkx (scaled from 32 pairs)", 0.06, 61.0,
             max_abs_diff=1e-15),
        _row("perf_rewiring", "SDRF 50 iterations, n=10000", 0.1, 5.3, same_edges=True),
        _row("perf_capture", "sparse capture+convert / SDPA forward, minilm, n=512", 0.22, 0.2),
        _row("perf_capture", "dense capture+convert / SDPA forward, minilm, n=128", 0.05, 0.05),
        _row("perf_sensitivity", "sensitivity of token 255, d=32", 0.01, 0.1),
    ]
    for fam, change in changes.items():
        target = next(r for r in rows if family(r) == fam.replace("_", " "))
        target.update(change)
    return rows


_OK = {m: {"status": "ok"} for m, _ in FAMILIES.values()}


def test_every_family_is_found_and_passing_rows_reproduce() -> None:
    rows = _rows()
    assert [family(r) for r in rows] == ["theory", "theory", "resistance", "resistance",
                                         "curvature", "curvature", "attention flow", "rewiring",
                                         "capture", "capture", "sensitivity"]
    claims = speed_claims(rows, _OK)
    assert [c.statement.split(",")[0] for c in claims] == list(FAMILIES)
    assert all(c.verdict == "reproduced" for c in claims)
    by = dict(zip(FAMILIES, claims, strict=True))
    assert "smallest speed-up over the anchor: 7x (ysl" in by["theory"].ours  # 0.07 / 0.01
    assert "largest cost over the anchor: 1.1x (sparse" in by["capture"].ours  # 0.22 / 0.2
    assert by["capture"].interval.startswith("cost over the anchor 1x-1.1x over 2 rows")
    assert "agreement in 2 of 2 rows (worst: max |diff| 2.0e-15)" in by["curvature"].ours
    assert by["sensitivity"].interval == "one row, the best of its repeats"


@pytest.mark.parametrize(("fam", "change", "reason"), [
    ("theory", {"rel_diff": 1e-6}, "1 row(s) disagree, worst ysl"),
    ("curvature", {"max_abs_diff": 10 * AGREE_ABS}, "disagree"),
    ("rewiring", {"same_edges": False}, "(different edges)"),
    ("capture", {"met": False}, "1 row(s) miss their goal"),
    ("sensitivity", {"met": False, "ours_s": 0.2}, "miss their goal"),
])
def test_a_missed_goal_or_a_disagreement_makes_it_different(fam: str, change: dict[str, Any],
                                                            reason: str) -> None:
    claims = dict(zip(FAMILIES, speed_claims(_rows(**{fam: change}), _OK), strict=True))
    assert claims[fam].verdict == "different" and reason in claims[fam].why
    assert all(c.verdict == "reproduced" for f, c in claims.items() if f != fam)


def test_quick_runs_and_modules_that_did_not_run_say_so() -> None:
    rows = [r for r in _rows(capture={"met": False}) if r["module"] != "perf_sensitivity"]
    runs = {**_OK, "perf_sensitivity": {"status": "skipped: over the 90 s budget"}}
    claims = dict(zip(FAMILIES, speed_claims(rows, runs, quick=True), strict=True))
    assert claims["sensitivity"].verdict == "outside our reach"
    assert "over the 90 s budget" in claims["sensitivity"].why
    assert "quick sizes" in claims["capture"].why
    assert "quick sizes" not in claims["theory"].why
    crashed = {**_OK, "perf_sensitivity": {"status": "failed: Segmentation fault"}}
    assert speed_claims(rows, crashed)[-1].verdict == "different"
    skipped = _row("perf_metrics", "Ollivier-Ricci 600 edges vs GraphRicciCurvature",
                   float("nan"), None, False, skipped="no GRC venv")
    with_skip = dict(zip(FAMILIES, speed_claims(_rows() + [skipped], _OK), strict=True))
    assert with_skip["curvature"].verdict == "reproduced"  # the rows that ran agree
    assert "not run: Ollivier-Ricci 600 edges" in with_skip["curvature"].why


def test_agreement_reads_each_kind_of_figure() -> None:
    assert agreement({"max_abs_diff": AGREE_ABS})[1] == pytest.approx(1.0)
    assert agreement({"rel_diff": 2e-8})[1] == pytest.approx(2.0)
    assert agreement({"same_edges": True}) == ("same edges", 0.0)
    assert agreement({"max_abs_diff": None, "ratio": 3.0}) is None
