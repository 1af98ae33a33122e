"""The sweep runner: deterministic order, and identical merged results in-process, in spawned
local processes and on a local Ray instance."""

from __future__ import annotations

import pytest
from tgnn.benchmarks.init_collapse import init_point
from tgnn.benchmarks.runner import grid, run_point, run_sweep

POINTS = grid(beta=[0.5, 4.0], alpha=[0.0, 0.9], n=[6], depth=[2], seed=[0, 1])


def test_grid_order_last_axis_fastest() -> None:
    points = grid(a=[1, 2], b=["x", "y", "z"])
    assert [(p["a"], p["b"]) for p in points] == [
        (1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")]


def test_run_point_echoes_point_and_is_seeded() -> None:
    first = run_point(init_point, POINTS[0])
    assert first["point"] == POINTS[0]
    assert first == run_point(init_point, POINTS[0])  # same seed, same numbers


def test_in_process_results_in_point_order() -> None:
    rows = run_sweep(init_point, POINTS, progress=False)
    assert [r["point"] for r in rows] == POINTS
    # different seeds draw different tokens
    assert rows[0]["cosine"] != rows[1]["cosine"]


@pytest.mark.slow
def test_spawned_processes_and_local_ray_match_in_process() -> None:
    """One tiny sweep three ways: in this process, two spawned processes, a local Ray."""
    points = POINTS[:2]
    local = run_sweep(init_point, points, progress=False)
    assert run_sweep(init_point, points, workers=2, progress=False) == local
    ray = pytest.importorskip("ray")
    try:
        assert run_sweep(init_point, points, ray_address="local", progress=False) == local
    finally:
        ray.shutdown()
