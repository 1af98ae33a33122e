"""Experiment results, ``results.json`` and ``report.md``.

Each experiment returns an :class:`ExperimentResult`; :func:`save_result` writes
``OUT/<name>/results.json`` (numbers, versions, seed, machine, timings and the markdown
section) next to its PNG plots, and :func:`write_report` assembles ``OUT/report.md`` from every
experiment's saved section (so running a subset updates only those sections) and the merged
``OUT/results.json``. Image links are relative to ``OUT``: the folder is self-contained.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "BenchConfig",
    "ExperimentResult",
    "fmt",
    "jsonable",
    "machine_info",
    "md_table",
    "save_figure",
    "save_result",
    "write_report",
]


@dataclass
class BenchConfig:
    """Options shared by all experiments (the ``tgnn bench`` flags)."""

    quick: bool = True
    seed: int = 0
    model: str = "tgnn-gpt2-tiny"
    out: Path = Path("reports/latest")
    workers: int = 1
    ray_address: str | None = None
    progress: bool = True
    smoke: bool = False  # tiniest configuration, for the tests
    threads: int | None = None  # torch threads of this process (None: 1 when quick)
    device: str = "cpu"  # only the CPU: see __post_init__
    dtype: str = "float32"  # only float32: each section sets its own precisions

    def __post_init__(self) -> None:
        """Refuse a device other than the CPU and a dtype other than float32, in one line.

        The report's figures are CPU measurements (timings, float32 tolerances), and the
        sections build their inputs, masks and random-init models on the CPU themselves: a
        model moved elsewhere would meet CPU tensors. Precision is a variable of its own in
        the sections that study it (``representational_collapse``), so one dtype for all
        would change what they compare.
        """
        from tgnn.errors import OptionError

        if str(self.device) != "cpu":
            raise OptionError(
                f"device: expected 'cpu', got {self.device!r}: the report's figures are "
                "measured on the CPU and every section builds its inputs there, so no section "
                "runs on a GPU yet; every other tgnn command takes --device")
        if str(self.dtype).removeprefix("torch.") != "float32":
            raise OptionError(
                f"dtype: expected 'float32', got {self.dtype!r}: the sections set their own "
                "precisions (representational_collapse compares float32, bfloat16 and "
                "float16); every other tgnn command takes --dtype")

    def folder(self, name: str) -> Path:
        """The experiment's output folder ``out/name`` (created)."""
        path = Path(self.out) / name
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class ExperimentResult:
    """What one experiment produced: numbers, figure paths (relative to ``out``), a section."""

    name: str
    title: str
    numbers: dict[str, Any]
    figures: list[str] = field(default_factory=list)
    markdown: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def machine_info() -> dict[str, Any]:
    """Platform, CPU count, threads and the versions of the libraries the numbers depend on."""
    import scipy
    import torch_geometric
    import transformers

    import tgnn

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "tgnn": tgnn.__version__,
            "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "transformers": transformers.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
    }


def jsonable(value: Any) -> Any:
    """Convert tensors, arrays, numpy scalars, paths and tuples to JSON (NaN: None, inf: "inf")."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return jsonable(value.detach().cpu().tolist())
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else (None if math.isnan(value) else str(value))
    if isinstance(value, Path):
        return value.as_posix()
    return value


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a markdown table: ``n/a`` for None/NaN, ``digits`` significant figures."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(float(value)):
            return "n/a"
        return f"{float(value):.{digits}g}" if math.isfinite(float(value)) else str(value)
    return str(value)


def md_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], digits: int = 3) -> str:
    """A markdown table of ``rows`` restricted to ``columns`` (missing keys print ``n/a``)."""
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join(
        "| " + " | ".join(fmt(row.get(c), digits) for c in columns) + " |\n" for row in rows
    )
    return head + body


def save_figure(fig: Any, config: BenchConfig, name: str, filename: str) -> str:
    """Save a matplotlib figure as ``out/name/filename`` and return its path relative to out."""
    import matplotlib.pyplot as plt

    path = config.folder(name) / filename
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f"{name}/{filename}"


def save_result(result: ExperimentResult, config: BenchConfig) -> Path:
    """Write ``out/<name>/results.json``: the result, config, seed, machine and a timestamp."""
    payload = {
        **asdict(result),
        "config": {k: v for k, v in asdict(config).items() if k != "progress"},
        "seed": config.seed,
        "machine": machine_info(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = config.folder(result.name) / "results.json"
    path.write_text(json.dumps(jsonable(payload), indent=1, sort_keys=False) + "\n")
    return path


def _section(entry: dict[str, Any], number: int) -> str:
    text = f"## {number}. {entry['title']}\n\n{entry['markdown'].strip()}\n\n"
    for fig in entry.get("figures", []):
        text += f"![{Path(fig).stem}]({fig})\n\n"
    for note in entry.get("notes", []):
        text += f"> Note: {note}\n\n"
    text += f"*Time: {entry['seconds']:.1f} s; seed {entry['seed']}; results: "
    text += f"`{entry['name']}/results.json`.*\n\n"
    return text


def write_report(out: Path, order: Iterable[str]) -> Path:
    """Assemble ``out/report.md`` and ``out/results.json`` from the saved experiment results."""
    out = Path(out)
    entries, numbers = [], []
    for k, name in enumerate(order):
        path = out / name / "results.json"
        if path.exists():
            entries.append(json.loads(path.read_text()))
            numbers.append(k + 1)
    machine = machine_info()
    lines = [
        "# tgnn benchmark report\n\n",
        "GNN bottleneck measures beside transformer attention graphs, and checks of the seed "
        "papers' claims on the embedded models. Regenerate with `make bench` "
        "(`tgnn bench --quick`).\n\n",
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs; versions: "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        + ".\n\n",
    ]
    lines += [_section(entry, k) for k, entry in zip(numbers, entries, strict=True)]
    report = out / "report.md"
    report.write_text("".join(lines))
    merged = {"machine": machine, "experiments": {e["name"]: e for e in entries}}
    (out / "results.json").write_text(json.dumps(merged, indent=1) + "\n")
    return report
