"""Shared timing helpers for the performance benchmarks: best-of-k wall time and speed rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["best_of", "best_of_interleaved", "speed_row"]


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


def best_of_interleaved(
    first: Callable[[], Any],
    second: Callable[[], Any],
    repeats: int = 3,
    warmup: int = 1,
    calls: tuple[int, int] = (1, 1),
) -> tuple[float, float]:
    """Smallest wall times of ``first`` and ``second`` (seconds), their calls alternating.

    Alternating the two puts both under the same load when a shared machine's speed drifts
    during the measurement, so their ratio is steadier than that of two back-to-back
    ``best_of`` calls. Each of the ``repeats`` rounds makes ``calls[0]`` calls of ``first``,
    then ``calls[1]`` of ``second`` (more calls for the much faster side).
    """
    for _ in range(warmup):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, kept, count in zip((first, second), times, calls, strict=True):
            for _ in range(count):
                start = time.perf_counter()
                fn()
                kept.append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def speed_row(
    name: str, ours_s: float, anchor_s: float | None, goal: str, met: bool | None, **extra: Any
) -> dict[str, Any]:
    """One row of a speed table: our time, the anchor's, their ratio and the goal (``met`` is
    None for a row given as context, with no goal)."""
    ratio = None if anchor_s is None or ours_s <= 0 else anchor_s / ours_s
    return {
        "name": name,
        "ours_s": ours_s,
        "anchor_s": anchor_s,
        "ratio": ratio,
        "goal": goal,
        "met": None if met is None else bool(met),
        **extra,
    }
