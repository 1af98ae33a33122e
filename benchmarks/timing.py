"""Shared timing helpers for the performance benchmarks: best-of-k wall time and speed rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["best_of", "speed_row"]


def best_of(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn`` (seconds), after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def speed_row(
    name: str, ours_s: float, anchor_s: float | None, goal: str, met: bool, **extra: Any
) -> dict[str, Any]:
    """One row of a speed table: our time, the anchor's, their ratio and the goal."""
    ratio = None if anchor_s is None or ours_s <= 0 else anchor_s / ours_s
    return {
        "name": name,
        "ours_s": ours_s,
        "anchor_s": anchor_s,
        "ratio": ratio,
        "goal": goal,
        "met": bool(met),
        **extra,
    }
