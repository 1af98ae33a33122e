"""One sweep runner for every benchmark: points run in this process, in local processes, or on Ray.

A sweep is a list of points (plain dicts, e.g. ``{"model": "tgnn-gpt2-tiny", "n": 32, "seed":
0}``) and a module-level function ``fn(point) -> dict``. Every backend seeds Python, NumPy and
torch from ``point["seed"]`` (default 0) before calling ``fn`` and returns the results in the
order of the points, so the merged results are identical whichever backend ran them.

Backends: ``workers <= 1`` runs in this process; ``workers > 1`` uses a
``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method (never ``fork``);
``ray_address`` sends each point to a Ray task (needs the optional extra ``ray``):
``"local"`` starts a local Ray instance with :func:`available_cpus` CPUs (the cores this process
may use, not a fixed count), ``"auto"`` joins the cluster this machine belongs to (started with
``ray start``), and ``"ray://host:10001"`` or ``"host:6379"`` joins that cluster; a Ray already
initialised in this process is used as it is.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from tgnn._cpus import available_cpus

__all__ = ["available_cpus", "grid", "run_point", "run_sweep"]

Point = dict[str, Any]
PointFn = Callable[[Point], dict[str, Any]]


def grid(**axes: Sequence[Any]) -> list[Point]:
    """The Cartesian product of the axes as points, in a fixed order (last axis fastest).

    Examples
    --------
    >>> grid(model=["a", "b"], seed=[0, 1])[1]
    {'model': 'a', 'seed': 1}
    """
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]


def run_point(fn: PointFn, point: Point, threads: int | None = None) -> dict[str, Any]:
    """Seed every generator from ``point["seed"]``, run ``fn(point)``, return point + result."""
    seed = int(point.get("seed", 0))
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - code under test may use the global one
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    return {"point": dict(point), **fn(point)}


def _local(fn: PointFn, points: list[Point], workers: int, bar: Any) -> list[dict[str, Any]]:
    if workers <= 1:
        out = []
        for point in points:
            out.append(run_point(fn, point))
            bar.update(1)
        return out
    results: list[dict[str, Any] | None] = [None] * len(points)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_point, fn, p, 1): k for k, p in enumerate(points)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update(1)
    return [r for r in results if r is not None]


def _ray(fn: PointFn, points: list[Point], address: str, bar: Any) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("--ray needs the optional extra: pip install 'tgnn[ray]'") from exc
    if not ray.is_initialized():
        if address == "local":
            ray.init(num_cpus=available_cpus(), include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    task = ray.remote(num_cpus=1)(run_point)
    refs = [task.remote(fn, p, 1) for p in points]
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        bar.update(len(done))
    return list(ray.get(refs))


def run_sweep(
    fn: PointFn,
    points: Sequence[Point],
    *,
    workers: int = 1,
    ray_address: str | None = None,
    desc: str = "sweep",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run ``fn`` on every point and return ``[{"point": p, **fn(p)}, ...]`` in point order.

    ``fn`` must be a module-level function (it is pickled for processes and Ray). Results are
    the same for every backend and worker count (each point is seeded from its own ``seed``).

    Examples
    --------
    >>> from tgnn.benchmarks.runner import grid, run_sweep
    >>> rows = run_sweep(dict, grid(seed=[0, 1]), progress=False)  # dict(point) echoes it
    >>> [r["point"]["seed"] for r in rows]
    [0, 1]
    """
    points = [dict(p) for p in points]
    with tqdm(total=len(points), desc=desc, disable=not progress, leave=False) as bar:
        if ray_address:
            return _ray(fn, points, ray_address, bar)
        return _local(fn, points, workers, bar)
