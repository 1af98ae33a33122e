"""Section 10: every performance ratio of the ``perf_*`` benchmarks in one table.

Each ``tgnn.benchmarks.perf_<x>`` module exposes ``run(quick) -> dict`` whose speed rows
(``name, ours_s, anchor_s, ratio, goal, met``) sit in one of its list values. Each module runs
in a fresh subprocess (its own imports, threads and memory) under a time budget (``--quick``:
90 s per module, 240 s in all, so ``make bench`` stays within minutes; full sizes: 300 s per
module, 900 s in all, so that the full ``tgnn bench`` keeps to its 20 minutes); a module over
budget is reported as skipped with the command that runs it alone. The section ends with one
claim per family of metrics (:mod:`tgnn.benchmarks.speed_claims`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from tgnn.benchmarks.claims import claims_numbers, claims_table
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table
from tgnn.benchmarks.speed_claims import speed_claims

__all__ = ["PERF_MODULES", "run", "run_perf_module", "speed_rows"]

NAME = "speed"
PERF_MODULES = ("perf_theory", "perf_metrics", "perf_rewiring", "perf_capture",
                "perf_sensitivity")  # quickest first, so a spent budget skips the slow ones
_SCRIPT = ("import json, sys; from tgnn.benchmarks.{m} import run; "
           "print('\\n@@JSON@@' + json.dumps(run(quick={q}), default=str))")


def speed_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The speed rows found in a perf module's result (every list of dicts with a ``ratio``).

    Examples
    --------
    >>> speed_rows({"rows": [{"name": "a", "ratio": 2.0}], "threads": 1})
    [{'name': 'a', 'ratio': 2.0}]
    """
    return [row for value in result.values() if isinstance(value, list)
            for row in value if isinstance(row, dict) and "ratio" in row]


def run_perf_module(module: str, quick: bool, budget_s: float) -> dict[str, Any]:
    """Run ``module.run(quick)`` in a subprocess; ``{"status", "seconds", "result"}``."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", _SCRIPT.format(m=module, q=quick)],
                              capture_output=True, text=True, timeout=budget_s, check=False)
    except subprocess.TimeoutExpired:
        return {"status": f"skipped: over the {budget_s:.0f} s budget",
                "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    if proc.returncode != 0 or "@@JSON@@" not in proc.stdout:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"status": f"failed: {tail[0][:200]}", "seconds": seconds}
    result = json.loads(proc.stdout.rsplit("@@JSON@@", 1)[1])
    return {"status": "ok", "seconds": seconds, "result": result}


def run(config: BenchConfig) -> ExperimentResult:
    """All perf modules (smoke: none run, only the table scaffold) and their merged table."""
    per_module, total = (90.0, 240.0) if config.quick else (300.0, 900.0)
    modules = () if config.smoke else PERF_MODULES
    runs: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    deadline = time.perf_counter() + total
    for module in modules:
        left = min(per_module, deadline - time.perf_counter())
        if left < 10:
            runs[module] = {"status": "skipped: the section's time budget is spent",
                            "seconds": 0.0}
        else:
            if config.progress:
                print(f"[tgnn bench] speed: {module} ...", flush=True)
            runs[module] = run_perf_module(module, config.quick, left)
        if runs[module]["status"] != "ok":
            notes.append(f"{module}: {runs[module]['status']}; run it alone with "
                         f"`python -m tgnn.benchmarks.{module}`.")
            continue
        rows += [{"module": module, **row} for row in speed_rows(runs[module]["result"])]
    goals = [r for r in rows if r.get("met") is not None]  # the others are context rows
    met = sum(bool(r["met"]) for r in goals)
    sizes = (" at quick sizes: the goals are set at the full sizes, which `tgnn bench` without "
             "`--quick` (or `python -m tgnn.benchmarks.<module> --full`) measures"
             if config.quick else "")
    text = (f"{met} of {len(goals)} speed goals met. ratio = anchor time / our time (higher is "
            f"faster than the anchor); each module ran in its own process{sizes}.\n\n"
            + md_table(rows, ["module", "name", "ours_s", "anchor_s", "ratio", "goal", "met"])
            + "\nModule run times: "
            + ", ".join(f"{m} {r['seconds']:.0f} s ({r['status']})" for m, r in runs.items())
            + ".\n")
    claims = speed_claims(rows, runs, quick=config.quick)
    text += ("\n**Claims.** One per family (`tgnn.benchmarks.speed_claims`): values equal to "
             "the anchor's where the row compares them, and each row's goal met. The spectral "
             "gap has no speed row yet.\n\n" + claims_table(claims))
    return ExperimentResult(NAME, "Speed: performance ratios",
                            {"runs": runs, "rows": rows, "claims": claims_numbers(claims)},
                            [], text, notes)
