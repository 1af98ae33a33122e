r"""Lost in the middle: per-position profiles of long inputs, beside what uniform attention gives.

One sparse capture per model (:func:`tgnn.capture_sparse_graphs`, ``top_k`` per row) gives, per
position, with heads and layers averaged:

- ``first_token_mass[i]``: how much query ``i`` reads the first token (the sink), exact;
- ``kept_mass[i]``: how much of query ``i``'s row the kept edges carry, exact;
- ``received[s]``: how much key ``s`` is read on average by the queries that may read it,
  ``column_sum[s] / (n - s)`` for causal attention (``/ n`` bidirectional), exact;
- ``rollout[s]``: the rollout row of the last token, :math:`\Phi_L[n-1, s]` with
  :math:`\rho = 1/2` (:func:`tgnn.theory.rollout_row` on the sparse layers), on the kept edges
  with each row renormalised to one (the random walk restricted to the kept graph: without it
  the row would only show how much mass ``top_k`` dropped);
- ``resistance[s]``: effective resistance from the last token on the last layer's symmetrised
  graph (:func:`tgnn.metrics.effective_resistance`, sparse one-source solve).

Beside them, uniform causal attention :math:`A_{ij} = 1/(i+1)` gives the predictions
``first_token_mass = 1/(i+1)``, ``kept_mass = min(k, i+1)/(i+1)``,
``received[s] = (H_n - H_s)/(n - s)`` (harmonic numbers) and its
rollout row by the same recursion (O(L n), exact). Models: the random Llama-like model of
:mod:`tgnn.benchmarks.long_context` at 8k tokens (quick: 2k) and the embedded models at their own
lengths. The claims (:mod:`tgnn.benchmarks.profile_claims`) are decided over independent
sequences of each model: 32 of the random model at 512 tokens (quick: 16), since 32 at 8k would
not fit the section's budget, and 32 (quick: MiniLM 16) of each embedded model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tgnn.benchmarks.claims import claims_numbers, claims_table
from tgnn.benchmarks.profile_claims import middle_gap, profile_claims, sequence_statistics
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table, save_figure

__all__ = ["position_profiles", "uniform_profiles", "run"]

NAME = "long_profiles"
TITLE = "Lost in the middle: position profiles of long inputs"
TOP_K = 16
RHO = 0.5
BINS = 64


def uniform_profiles(n: int, layers: int, rho: float = RHO, top_k: int = TOP_K
                     ) -> dict[str, np.ndarray]:
    """The profiles of uniform causal attention ``A[i, j] = 1/(i+1)`` (exact, O(L n)); its
    ``kept_mass`` under ``top_k`` is ``min(k, i+1) / (i+1)``.

    Examples
    --------
    >>> p = uniform_profiles(3, layers=1)
    >>> p["rollout"].round(4).tolist()  # (1/2) A[2] + (1/2) e_2
    [0.1667, 0.1667, 0.6667]
    """
    position = np.arange(n)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1))])
    row = np.zeros(n)
    row[-1] = 1.0
    for _ in range(layers):  # r A: (r A)_j = sum_{i >= j} r_i / (i + 1), a suffix sum
        spread = np.cumsum((row / (position + 1))[::-1])[::-1]
        row = (1.0 - rho) * row + rho * spread
    return {"first_token_mass": 1.0 / (position + 1),
            "received": (harmonic[n] - harmonic[position]) / (n - position), "rollout": row,
            "kept_mass": np.minimum(top_k, position + 1) / (position + 1)}


def position_profiles(graphs: list[Any], causal: bool) -> dict[str, np.ndarray]:
    """Measured profiles of one sequence's sparse layer graphs (see the module docstring)."""
    from tgnn.theory import rollout_row

    from tgnn.metrics import effective_resistance

    n = int(graphs[0].num_nodes)
    readers = np.arange(n, 0, -1) if causal else np.full(n, n)
    mean = lambda name: np.mean(  # noqa: E731 - over layers, then heads
        [g[name].double().reshape(n, -1).mean(1).numpy() for g in graphs], axis=0)
    last = graphs[-1]
    walks = [_renormalised(g) for g in graphs]
    return {
        "first_token_mass": mean("first_token_mass"),
        "received": mean("column_sum") / readers,
        "kept_mass": mean("kept_mass"),
        "rollout": rollout_row(walks, target=-1, rho=RHO, causal=causal),
        "resistance": np.asarray(effective_resistance(last, source=n - 1), dtype=float),
    }


def _renormalised(graph: Any) -> Any:
    """A copy of a head-mean sparse graph whose kept weights sum to one per query."""
    walk = graph.clone()
    walk.edge_weight = graph.edge_weight / graph.kept_mass[graph.edge_index[1]]
    return walk


def _binned(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` over ``BINS`` equal position bins: (bin centres in [0, 1], means)."""
    edges = np.linspace(0, len(values), min(BINS, len(values)) + 1).astype(int)
    means = np.array([values[a:b].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)])
    return (edges[:-1] + edges[1:]) / 2 / len(values), means


def _middle_share(row: np.ndarray) -> float:
    """Share of a rollout row on the middle third of the positions."""
    n = len(row)
    return float(row[n // 3 : 2 * n // 3].sum() / row.sum())


def _model(name: str, n: int) -> tuple[Any, Any, bool]:
    """``(model, tokenizer, causal)``: the random Llama-like model (no tokenizer) or an
    embedded one."""
    if name == "llama-random":
        from tgnn.benchmarks.long_context import llama_like

        return llama_like(n), None, True
    from tgnn.models import load

    model, tokenizer = load(name)
    return model, tokenizer, bool(getattr(model.config, "is_decoder", False)) or name != "minilm"


def _ids_of(tokenizer: Any, n: int, seed: int) -> Any:
    """Seeded random tokens (random model) or a seeded slice of the corpus (embedded)."""
    if tokenizer is None:
        from tgnn.benchmarks.long_context import _ids

        return _ids(n, seed=seed)
    from tgnn.benchmarks.common import sample_ids

    return sample_ids(tokenizer, n, seed=seed)


def _capture(model: Any, ids: Any) -> list[Any]:
    """Sparse layer graphs (head mean, ``top_k`` per row) of one sequence."""
    from tgnn import capture_sparse_graphs

    return capture_sparse_graphs(model, {"input_ids": ids}, top_k=TOP_K)


def _statistics(graphs: list[Any], measured: dict[str, np.ndarray], causal: bool
                ) -> dict[str, float]:
    """:func:`tgnn.benchmarks.profile_claims.sequence_statistics` of one sequence's graphs and
    their :func:`position_profiles` ``measured``."""
    n = int(graphs[0].num_nodes)
    heads = np.concatenate([g.first_token_mass.double().reshape(n, -1).numpy() for g in graphs],
                           axis=1)
    uniform = uniform_profiles(n, len(graphs)) if causal else None
    return sequence_statistics(measured, uniform, heads)


def _samples(model: Any, tokenizer: Any, causal: bool, n: int, count: int
             ) -> list[dict[str, float]]:
    """Statistics of ``count`` independent sequences (seeds 100, 101, ...)."""
    stats = []
    for seed in range(count):
        graphs = _capture(model, _ids_of(tokenizer, n, 100 + seed))
        stats.append(_statistics(graphs, position_profiles(graphs, causal), causal))
    return stats


def _figure(profiles: dict[str, dict[str, Any]], config: BenchConfig) -> str:
    from tgnn.benchmarks.common import pyplot

    plt = pyplot()
    panels = [("first_token_mass", "mass on the first token\n(per query)"),
              ("kept_mass", f"mass kept by top_k={TOP_K}\n(per query)"),
              ("received", "attention received\n(per key)"),
              ("rollout", "rollout row of the last token\n(per key)"),
              ("resistance", "resistance from the last token\n(per token)")]
    fig, axes = plt.subplots(len(profiles), len(panels), figsize=(18, 3.2 * len(profiles)),
                             squeeze=False)
    for row, (label, entry) in enumerate(profiles.items()):
        for col, (key, title) in enumerate(panels):
            ax = axes[row][col]
            x, y = _binned(entry["measured"][key])
            ax.plot(x, y, color="C0", label="measured")
            if key in entry["uniform"]:
                ux, uy = _binned(entry["uniform"][key])
                ax.plot(ux, uy, color="C1", linestyle="--", label="uniform causal attention")
            ax.set_yscale("log" if key != "resistance" else "linear")
            if row == 0:
                ax.set_title(title, fontsize=10)
            if col == 0:
                ax.set_ylabel(label, fontsize=10)
            if row == len(profiles) - 1:
                ax.set_xlabel("relative position s / n")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, config, NAME, "profiles.png")


def _sizes(config: BenchConfig) -> dict[str, tuple[int, int, int]]:
    """Per model: (tokens of the pictured sequence, tokens and count of the sampled ones).

    32 sequences of the random model at 8k tokens would cost about 30 minutes (its one-source
    resistance alone takes about 50 s at 8k, the factor filling in), and 32 at 1k about 10 s,
    over the section's budget: its sampled sequences have 512 tokens (0.13 s each)."""
    if config.smoke:
        return {"llama-random": (128, 128, 3), "tgnn-gpt2-tiny": (64, 64, 3),
                "minilm": (64, 64, 3)}
    if config.quick:
        return {"llama-random": (2048, 512, 16), "tgnn-gpt2-tiny": (256, 256, 32),
                "minilm": (256, 256, 16)}
    return {"llama-random": (8192, 512, 32), "tgnn-gpt2-tiny": (256, 256, 32),
            "minilm": (256, 256, 32)}


_WHAT = {"llama-random": "random-init Llama-like model (RoPE, GQA), random tokens",
         "tgnn-gpt2-tiny": "trained character model with BOS, corpus text",
         "minilm": "trained bidirectional MiniLM, corpus text"}


def _setting(name: str, n: int, count: int, long_n: int, layers: int, causal: bool,
             single: dict[str, float]) -> dict[str, Any]:
    """Claim settings of one model (:func:`tgnn.benchmarks.profile_claims.profile_claims`)."""
    setting: dict[str, Any] = {"n": n, "count": count, "what": _WHAT[name], "causal": causal,
                               "trained": name != "llama-random"}
    if long_n != n:
        setting["note"] = (f"shorter than the pictured {long_n}-token sequence: 32 sequences "
                           "of that length exceed the section's time budget")
        setting["single"] = (f"; the pictured {long_n}-token sequence: resistance "
                             f"{single['resistance_middle']:.2f}, rollout gap "
                             f"{single['rollout_middle']:+.2f}")
    if causal:
        setting["uniform_rollout"] = middle_gap(uniform_profiles(n, layers)["rollout"])
    return setting


def run(config: BenchConfig) -> ExperimentResult:
    """Profiles of the random model at 8k (quick 2k, smoke 128) and of the embedded models, and
    the claims over independent sequences of each."""
    profiles: dict[str, dict[str, Any]] = {}
    rows = []
    samples: dict[str, list[dict[str, float]]] = {}
    settings: dict[str, dict[str, Any]] = {}
    for name, (long_n, n, count) in _sizes(config).items():
        if config.progress:
            print(f"[tgnn bench] long_profiles: {name}, n={long_n}, then {count} x {n} ...",
                  flush=True)
        model, tokenizer, causal = _model(name, max(long_n, n))
        graphs = _capture(model, _ids_of(tokenizer, long_n, seed=2))
        length = int(graphs[0].num_nodes)
        measured = position_profiles(graphs, causal)
        uniform = uniform_profiles(length, len(graphs)) if causal else {}
        label = f"{name} n={length}"
        profiles[label] = {"measured": measured, "uniform": uniform}
        rows.append({
            "model": label, "causal": causal,
            "mean_kept_mass": float(measured["kept_mass"].mean()),
            "first_token_mass_mid": float(measured["first_token_mass"][length // 2]),
            "uniform_first_token_mass_mid": 1.0 / (length // 2 + 1) if causal else None,
            "rollout_first": float(measured["rollout"][0]),
            "uniform_rollout_first": float(uniform["rollout"][0]) if causal else None,
            "rollout_middle_share": _middle_share(measured["rollout"]),
            "uniform_rollout_middle_share": _middle_share(uniform["rollout"]) if causal else None,
        })
        single = _statistics(graphs, measured, causal)
        samples[name] = _samples(model, tokenizer, causal, n, count)
        settings[name] = _setting(name, n, count, length, len(graphs), causal, single)
    claims = profile_claims(samples, settings)
    text = (
        f"Per-position profiles from one sparse capture per model (`top_k={TOP_K}`; heads and "
        "layers averaged), beside uniform causal attention (dashed). `*_mid`: at the middle "
        "position; `rollout_first`: the last token's rollout mass on the first token; "
        "`rollout_middle_share`: its share on the middle third of the positions. The rollout "
        "walks the kept edges, each row renormalised to one. "
        "MiniLM is bidirectional: no causal prediction.\n\n"
        + md_table(rows, ["model", "mean_kept_mass", "first_token_mass_mid",
                          "uniform_first_token_mass_mid", "rollout_first",
                          "uniform_rollout_first", "rollout_middle_share",
                          "uniform_rollout_middle_share"])
        + "\n**Claims.** Each statistic is one number per independent sequence (statistics "
        "and sizes in `tgnn.benchmarks.profile_claims`); intervals are percentile bootstraps of "
        "their mean over sequences.\n\n" + claims_table(claims)
    )
    numbers = {"rows": rows, "profiles": {label: {k: v.tolist() for k, v in e["measured"].items()}
                                          for label, e in profiles.items()},
               "samples": samples, "settings": settings, "claims": claims_numbers(claims)}
    return ExperimentResult(NAME, TITLE, numbers, [_figure(profiles, config)], text)
