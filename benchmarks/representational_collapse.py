"""Section 3: representational collapse (Barbero et al. 2024) against length and precision.

The copy family (``"changed"``: ``1 1 ... 1`` against the same with the first ``1`` replaced
by ``0``) and the count family (``"counting"``: ``n`` ones against ``n + 1`` ones) through the
harness :func:`tgnn.metrics.representation.collapse_table`, in fp32, bf16 and fp16, on the
causal model and MiniLM. Reported: the final-token distance against ``n`` and the length from
which the two representations are bitwise equal (``collapse_length``).
"""

from __future__ import annotations

from typing import Any

from tgnn.benchmarks.common import load_model, pyplot
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table, save_figure
from tgnn.benchmarks.runner import grid, run_sweep

__all__ = ["collapse_point", "run"]

NAME = "representational_collapse"
DTYPES = ("fp32", "bf16", "fp16")


def collapse_point(point: dict[str, Any]) -> dict[str, Any]:
    """One model: every family, length and dtype (``{"model", "lengths"}``) -> table rows."""
    from tgnn.metrics.representation import collapse_table

    model, tok = load_model(point["model"])
    return {"rows": collapse_table(model, tok, point["lengths"], dtypes=DTYPES)}


def _plot(results: list[dict[str, Any]], config: BenchConfig) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    styles = {"changed": "-", "counting": "--"}
    for ax, result in zip(axes[0], results, strict=True):
        for family in ("changed", "counting"):
            for k, dtype in enumerate(DTYPES):
                rows = [r for r in result["rows"] if (r["family"], r["dtype"]) == (family, dtype)]
                ax.plot([r["n"] for r in rows], [max(r["relative"], 1e-9) for r in rows],
                        styles[family], color=f"C{k}", marker="o", ms=3,
                        label=f"{family} {dtype}")
        ax.set(xscale="log", yscale="log", xlabel="length n",
               ylabel="relative final-token distance (1e-9 = equal)",
               title=result["point"]["model"])
    axes[0][0].legend(fontsize=7)
    return save_figure(fig, config, NAME, "distance_vs_length.png")


def run(config: BenchConfig) -> ExperimentResult:
    """Distances for both models, the collapse lengths and the plot."""
    from tgnn.metrics.representation import collapse_length

    lengths = [4, 16] if config.smoke else [16, 64, 250] if config.quick else [
        8, 16, 32, 64, 128, 200, 250]
    models = [config.model] if config.smoke else [config.model, "minilm"]
    results = run_sweep(collapse_point, grid(model=models, lengths=[lengths]),
                        workers=config.workers, ray_address=config.ray_address, desc=NAME,
                        progress=config.progress)
    summary = []
    for result in results:
        for (family, dtype), n in collapse_length(result["rows"]).items():
            longest = max((r for r in result["rows"] if (r["family"], r["dtype"]) ==
                           (family, dtype)), key=lambda r: r["n"])
            summary.append({"model": result["point"]["model"], "family": family,
                            "dtype": dtype, "equal_from_n": n if n is not None else "never",
                            "relative_at_max_n": longest["relative"],
                            "distance_at_max_n": longest["distance"]})
    text = (f"Lengths n = {lengths}. `equal_from_n`: the length from which the final-token "
            "representations of the pair are bitwise equal (`never` within these lengths). "
            "Relative distance: ||y_a - y_b|| / ||y_a|| at the longest length.\n\n"
            + md_table(summary, ["model", "family", "dtype", "equal_from_n",
                                 "relative_at_max_n", "distance_at_max_n"]))
    return ExperimentResult(NAME, "Representational collapse with length and precision",
                            {"lengths": lengths, "results": results, "summary": summary},
                            [_plot(results, config)], text)
