"""Speed of ``tgnn.theory``: fast causal YSL against the generic Lyapunov path, and one target row
of ``R^abs`` and ``R^roll`` on long sequences.

Every figure is a ratio to an anchor timed in the same run (name, ours_s, anchor_s, ratio, goal,
met; wall-clock seconds, best of a few runs). The row figures also record ``ours_cpu_s``, the
process CPU time, which stays meaningful when the machine is shared. BLAS threads are limited
(``threads``, default 1) when ``threadpoolctl`` is importable, so that both sides run alike on a
shared machine; the result records the setting.

Run: ``python -m tgnn.benchmarks.perf_theory [--full]``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np
import scipy
import scipy.linalg as sl
import torch
from tgnn.theory import absorbing_resistance, rollout_resistance, ysl_resistance

__all__ = ["run"]

SIZES = {"quick": (128, 256, 512), "full": (256, 1024, 2048)}
ROW_N = {"quick": 2048, "full": 4096}
ROW_LAYERS = 2


def _attention(n: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(n, n, generator=gen, dtype=dtype)
    logits[:, 0] += 2.0  # a mild sink, as in trained models
    mask = torch.ones(n, n, dtype=torch.bool).triu_(1)
    return torch.softmax(logits.masked_fill_(mask, float("-inf")), dim=-1)


_CPU: dict[str, float] = {}


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls; the matching process CPU time goes to ``_CPU``."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - start
        if wall < best:
            best, _CPU["last"] = wall, time.process_time() - cpu
    return best, out


@contextlib.contextmanager
def _blas_threads(threads: int | None) -> Iterator[str]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield "default (threadpoolctl not installed)"
        return
    if threads is None:
        yield "default"
        return
    with threadpool_limits(limits=threads):
        yield str(threads)


def _figure(name: str, ours: float, anchor: float, goal: str, met: bool | None) -> dict[str, Any]:
    return {
        "name": name,
        "ours_s": round(ours, 4),
        "anchor_s": round(anchor, 4),
        "ratio": round(anchor / ours, 2),
        "goal": goal,
        "met": met,
    }


def _scipy_ysl(a: np.ndarray) -> np.ndarray:
    n = len(a)
    q = sl.null_space(np.ones((1, n))).T
    sigma = sl.solve_continuous_lyapunov(q @ (np.eye(n) - a) @ q.T, np.eye(n - 1))
    x = 2.0 * q.T @ sigma @ q
    d = np.diag(x)
    return d[:, None] + d[None, :] - 2.0 * x


def _ysl_figures(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    warm = _attention(64, seed=0).numpy()
    ysl_resistance(warm, method="causal"), ysl_resistance(warm, method="lyapunov")
    figures = []
    for n in sizes:
        a = _attention(n, seed=n).numpy()
        repeats = 3 if n <= 512 else 1
        ours, fast = _best(partial(ysl_resistance, a, method="causal"), repeats)
        anchor, slow = _best(partial(ysl_resistance, a, method="lyapunov"), repeats)
        rel = float(np.max(np.abs(fast - slow)) / np.max(np.abs(slow)))
        last = n == sizes[-1]
        fig = _figure(f"ysl causal vs generic Lyapunov, n={n}", ours, anchor,
                      ">= 5x at the largest n, rel diff <= 1e-8" if last else "rel diff <= 1e-8",
                      (anchor / ours >= 5.0 if last else True) and rel <= 1e-8)
        fig["rel_diff"] = rel
        figures.append(fig)
    n = sizes[0]
    a = _attention(n, seed=n).numpy()
    ours, fast = _best(lambda: ysl_resistance(a, method="causal"), 3)
    anchor, ref = _best(lambda: _scipy_ysl(a), 1)
    rel = float(np.max(np.abs(fast - ref)) / np.max(np.abs(ref)))
    fig = _figure(f"ysl causal vs scipy solve_continuous_lyapunov, n={n}", ours, anchor,
                  "rel diff <= 1e-8", rel <= 1e-8)
    fig["rel_diff"] = rel
    figures.append(fig)
    return figures


def _row_figures(n: int) -> list[dict[str, Any]]:
    a = _attention(n, seed=1, dtype=torch.float32)
    ours, row = _best(lambda: absorbing_resistance(a, target=-1), 3)
    cpu = _CPU["last"]
    anchor, full = _best(lambda: absorbing_resistance(a), 1)
    assert np.allclose(row, full[-1], rtol=1e-8)
    del full
    figures = [_figure(f"R^abs one target row vs all pairs, n={n}", ours, anchor, "< 1 s",
                       ours < 1.0)]
    figures[-1]["ours_cpu_s"] = round(cpu, 4)
    layers = [a, _attention(n, seed=2, dtype=torch.float32)][:ROW_LAYERS]
    ours, row = _best(lambda: rollout_resistance(layers, target=-1), 3)
    cpu = _CPU["last"]
    anchor, full = _best(lambda: rollout_resistance(layers), 1)
    assert np.allclose(row, full[-1], rtol=1e-8)
    figures.append(_figure(f"R^roll one target row vs all pairs, n={n}, L={len(layers)}",
                           ours, anchor, "< 1 s", ours < 1.0))
    figures[-1]["ours_cpu_s"] = round(cpu, 4)
    return figures


def run(quick: bool = True, *, threads: int | None = 1) -> dict[str, Any]:
    """Measure the theory speed figures; ``quick`` uses smaller sizes (about a minute).

    Returns a dict with ``figures`` (list of name, ours_s, anchor_s, ratio, goal, met), the
    sizes, the BLAS thread setting and versions.
    """
    mode = "quick" if quick else "full"
    with _blas_threads(threads) as setting:
        torch_threads = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            figures = _ysl_figures(SIZES[mode]) + _row_figures(ROW_N[mode])
        finally:
            torch.set_num_threads(torch_threads)
    return {
        "name": "perf_theory",
        "quick": quick,
        "blas_threads": setting,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "figures": figures,
    }


def _table(result: dict[str, Any]) -> str:
    lines = [f"perf_theory ({'quick' if result['quick'] else 'full'}, "
             f"BLAS threads {result['blas_threads']})",
             f"{'figure':58} {'ours s':>9} {'anchor s':>9} {'ratio':>8}  goal / met"]
    for fig in result["figures"]:
        cpu = f" (cpu {fig['ours_cpu_s']:.3f} s)" if "ours_cpu_s" in fig else ""
        lines.append(f"{fig['name']:58} {fig['ours_s']:9.4f} {fig['anchor_s']:9.4f} "
                     f"{fig['ratio']:8.2f}  {fig['goal']} / {fig['met']}{cpu}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(_table(run(quick="--full" not in sys.argv[1:])))
