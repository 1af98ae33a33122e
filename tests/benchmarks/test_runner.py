"""The sweep runner: deterministic order, and identical merged results in-process, in spawned
local processes and on a local Ray instance."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tgnn.benchmarks import runner
from tgnn.benchmarks.init_collapse import init_point
from tgnn.benchmarks.runner import available_cpus, grid, run_point, run_sweep

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


@pytest.fixture(scope="module")
def two_cpu_ray() -> Iterator[None]:
    """One local Ray of two CPUs for the module's Ray tests (started once: seconds each)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_spawned_processes_and_local_ray_match_in_process(two_cpu_ray: None) -> None:
    """One tiny sweep three ways: in this process, two spawned processes, a local Ray."""
    points = POINTS[:2]
    local = run_sweep(init_point, points, progress=False)
    assert run_sweep(init_point, points, workers=2, progress=False) == local
    assert run_sweep(init_point, points, ray_address="local", progress=False) == local


def test_available_cpus_follows_the_cgroup_quota(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    assert available_cpus(tmp_path) == cores  # no cgroup files: the affinity mask
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cpus(tmp_path) == cores
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert available_cpus(tmp_path) == 1  # 1.5 cores: one whole core
    v1 = tmp_path / "v1" / "cpu"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus(tmp_path / "v1") == cores
    (v1 / "cpu.cfs_quota_us").write_text("50000\n")
    assert available_cpus(tmp_path / "v1") == 1  # never 0


def test_local_ray_gets_the_available_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ray_address="local"`` starts Ray on the cores this process may use, not a constant."""
    ray = pytest.importorskip("ray")
    calls: list[dict[str, object]] = []

    def init(**kwargs: object) -> None:
        calls.append(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(runner, "available_cpus", lambda: 7)
    with pytest.raises(RuntimeError, match="stop here"):
        run_sweep(init_point, POINTS[:1], ray_address="local", progress=False)
    with pytest.raises(RuntimeError, match="stop here"):
        run_sweep(init_point, POINTS[:1], ray_address="auto", progress=False)
    assert calls[0]["num_cpus"] == 7 and "address" not in calls[0]
    assert calls[1]["address"] == "auto" and "num_cpus" not in calls[1]


@pytest.mark.slow
def test_whole_sections_run_as_tasks_on_a_local_ray_of_two_workers(
    tmp_path: Path, two_cpu_ray: None
) -> None:
    """Two sections at once on a two-CPU Ray: the same numbers as in this process, their
    figures brought back from the workers' scratch folders, the report in registry order."""
    from tgnn.benchmarks.report import jsonable
    from tgnn.benchmarks.suite import run_suite

    names = ["rewiring", "bottlenecks"]
    here, _ = run_suite(names, out=tmp_path / "here", smoke=True, progress=False)
    spread, report = run_suite(names, out=tmp_path / "ray", smoke=True, progress=False,
                               ray_address="local")
    assert [r.name for r in spread] == names
    for ours, theirs in zip(here, spread, strict=True):
        assert theirs.figures == ours.figures and theirs.figures
        assert all((tmp_path / "ray" / fig).stat().st_size > 0 for fig in theirs.figures)
        assert (tmp_path / "ray" / theirs.name / "results.json").exists()
        _assert_close(jsonable(theirs.numbers), jsonable(ours.numbers))  # BLAS threads differ
    text = report.read_text()
    assert text.index("Bottleneck table") < text.index("Rewiring")


def _assert_close(got: object, expected: object) -> None:
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys()
        for key in expected:
            _assert_close(got[key], expected[key])
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            _assert_close(a, b)
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    else:
        assert got == expected
