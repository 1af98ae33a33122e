"""The registry of experiments and :func:`run_suite`, behind ``tgnn bench`` and ``make bench``.

Each experiment is a module of ``tgnn.benchmarks`` with ``run(config) -> ExperimentResult``;
the registry order is the order of the report's sections.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import torch
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, save_result, write_report

__all__ = ["EXPERIMENTS", "run_experiment", "run_suite"]

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


def run_suite(
    names: Sequence[str] | None = None,
    quick: bool = True,
    model: str = "tgnn-gpt2-tiny",
    out: str | Path = "reports/latest",
    **options: object,
) -> tuple[list[ExperimentResult], Path]:
    """Run the named experiments (all by default), then write ``out/report.md``.

    ``options`` are further :class:`BenchConfig` fields (``seed``, ``workers``,
    ``ray_address``, ``progress``, ``smoke``, ``threads``). Returns the results and the report path.
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
    results = []
    for name in chosen:
        if config.progress:
            print(f"[tgnn bench] {name} ...", flush=True)
        results.append(run_experiment(name, config))
        if config.progress:
            print(f"[tgnn bench] {name} done in {results[-1].seconds:.1f} s", flush=True)
    return results, write_report(Path(out), EXPERIMENTS)
