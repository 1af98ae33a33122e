"""The registry of experiments and :func:`run_suite`, behind ``tgnn bench`` and ``make bench``.

Each experiment is a module of ``tgnn.benchmarks`` with ``run(config) -> ExperimentResult``;
the registry order is the order of the report's sections.

Sections run one after the other in this process, or, with ``ray_address`` (``--ray``) or
``workers > 1`` (``--workers``), as whole sections at once: each a task of the sweep runner
(:func:`~tgnn.benchmarks.runner.run_sweep`: a Ray task, or a spawned local process) on one
torch thread, writing into a scratch folder whose files come back to ``out`` (so a remote Ray
node needs no shared disk). The sections that time code (``TIMED``) run afterwards in this
process, alone, so that no other section competes with their measurements.
"""

from __future__ import annotations

import importlib
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, save_result, write_report
from tgnn.benchmarks.runner import run_sweep

__all__ = ["EXPERIMENTS", "TIMED", "run_experiment", "run_suite", "section_task"]

EXPERIMENTS: dict[str, str] = {
    "bottlenecks": "Bottleneck table: GNN families beside attention graphs",
    "position_bias": "Position bias: Jacobian sensitivity against causal resistances",
    "representational_collapse": "Representational collapse with length and precision",
    "init_collapse": "Rank vs entropy collapse at initialisation",
    "consensus": "Consensus and over-smoothing with depth",
    "sinks_pause": "Attention sinks and pause tokens",
    "rewiring": "Rewiring: graph measures and model effect",
    "long_context": "Long context: sparse capture at 2k-32k tokens",
    "long_profiles": "Lost in the middle: position profiles of long inputs",
    "speed": "Speed: performance ratios",
}
TIMED = ("long_context", "speed")  # sections whose numbers are timings: never beside others


def run_experiment(name: str, config: BenchConfig) -> ExperimentResult:
    """Run one experiment; a crash becomes a section that reports it (the suite goes on)."""
    if name not in EXPERIMENTS:
        raise KeyError(f"names: expected experiments among {list(EXPERIMENTS)}, got {name!r}")
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"tgnn.benchmarks.{name}")
        result: ExperimentResult = module.run(config)
    except Exception as exc:  # noqa: BLE001 - one failed experiment must not stop the report
        result = ExperimentResult(
            name=name, title=EXPERIMENTS[name], numbers={"error": repr(exc)},
            markdown=f"This experiment failed: `{exc!r}`.\n\n```\n{traceback.format_exc()}```",
        )
    result.seconds = time.perf_counter() - start
    save_result(result, config)
    return result


def section_task(point: dict[str, Any]) -> dict[str, Any]:
    """Run the section ``point["name"]`` with the options ``point["config"]`` in a scratch
    folder; return its result and the files it wrote there (for a task of the sweep runner)."""
    name = point["name"]
    with tempfile.TemporaryDirectory(prefix=f"tgnn-{name}-") as scratch:
        config = BenchConfig(**{**point["config"], "out": Path(scratch), "progress": False})
        result = run_experiment(name, config)
        folder = Path(scratch) / name
        files = {path.relative_to(folder).as_posix(): path.read_bytes()
                 for path in sorted(folder.rglob("*"))
                 if path.is_file() and path.name != "results.json"}
    return {"result": result, "files": files}


def _distributed(names: list[str], config: BenchConfig) -> list[ExperimentResult]:
    """Whole sections as tasks of the sweep runner; their files written to ``config.out``."""
    options = {k: v for k, v in asdict(config).items() if k != "out"}
    if not config.ray_address:
        options["workers"] = 1  # the sections already fill the local processes
    points = [{"name": name, "seed": config.seed, "config": options} for name in names]
    rows = run_sweep(section_task, points, workers=config.workers,
                     ray_address=config.ray_address, desc="sections", progress=config.progress)
    results = []
    for row in rows:
        result: ExperimentResult = row["result"]
        for relative, data in row["files"].items():
            path = config.folder(result.name) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        save_result(result, config)
        results.append(result)
    return results


def _here(name: str, config: BenchConfig) -> ExperimentResult:
    if config.progress:
        print(f"[tgnn bench] {name} ...", flush=True)
    result = run_experiment(name, config)
    if config.progress:
        print(f"[tgnn bench] {name} done in {result.seconds:.1f} s", flush=True)
    return result


def run_suite(
    names: Sequence[str] | None = None,
    quick: bool = True,
    model: str = "tgnn-gpt2-tiny",
    out: str | Path = "reports/latest",
    **options: object,
) -> tuple[list[ExperimentResult], Path]:
    """Run the named experiments (all by default), then write ``out/report.md``.

    ``options`` are further :class:`BenchConfig` fields (``seed``, ``workers``,
    ``ray_address``, ``progress``, ``smoke``, ``threads``). With ``ray_address``, or
    ``workers > 1`` and more than one untimed section, whole sections run at once (module
    docstring). Returns the results in the
    order of ``names`` and the report path.
    """
    config = BenchConfig(quick=quick, model=model, out=Path(out), **options)  # type: ignore[arg-type]
    chosen = list(names) if names else list(EXPERIMENTS)
    unknown = [n for n in chosen if n not in EXPERIMENTS]
    if unknown:
        raise KeyError(f"names: expected experiments among {list(EXPERIMENTS)}, got {unknown}")
    Path(out).mkdir(parents=True, exist_ok=True)
    threads = config.threads or (1 if quick else None)
    if threads:  # small models on shared CPUs: more threads than cores costs 10x and more
        torch.set_num_threads(threads)
    results: dict[str, ExperimentResult] = {}
    spread = [n for n in chosen if n not in TIMED]
    if config.ray_address or (config.workers > 1 and len(spread) > 1):  # else: no one to share
        for result in _distributed(spread, config):
            results[result.name] = result
            if config.progress:
                print(f"[tgnn bench] {result.name} done in {result.seconds:.1f} s", flush=True)
    for name in chosen:
        if name not in results:
            results[name] = _here(name, config)
    return [results[n] for n in chosen], write_report(Path(out), EXPERIMENTS)
