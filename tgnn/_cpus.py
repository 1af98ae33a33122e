"""How many CPUs this process may use (affinity mask and cgroup quota, not the machine's cores).

Shared by the metrics' threaded kernels and the benchmark runner's local Ray instance.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

__all__ = ["available_cpus", "kernel_threads"]


def _cgroup_quota(root: Path) -> float | None:
    """The CPU quota (in cores) of this process's cgroup (v2 ``cpu.max`` or v1 CFS), or None."""
    try:
        if (root / "cpu.max").is_file():  # cgroup v2: "max 100000" or "150000 100000"
            quota, period = (root / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = root / "cpu"
        quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
        return None if quota_us <= 0 else quota_us / int((v1 / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None


def available_cpus(cgroup: Path | str = "/sys/fs/cgroup") -> int:
    """The CPUs this process may use: its affinity mask, capped by its cgroup's CPU quota.

    ``os.cpu_count()`` counts the machine's cores, which a container or a ``taskset`` may not
    grant; a quota of 1.5 cores counts as 1 (at least 1 in all cases).

    Examples
    --------
    >>> 1 <= available_cpus() <= (os.cpu_count() or 1)
    True
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity mask
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota(Path(cgroup))
    if quota is not None:
        cpus = min(cpus, math.floor(quota))
    return max(1, cpus)


@functools.cache
def _granted() -> int:
    return available_cpus()


def kernel_threads() -> int:
    """Threads a compiled kernel of tgnn may use: the CPUs this process is granted
    (:func:`available_cpus`, read once), capped by ``torch.get_num_threads()``, so
    ``torch.set_num_threads(k)`` sets it too.

    Examples
    --------
    >>> import torch
    >>> 1 <= kernel_threads() <= torch.get_num_threads()
    True
    """
    import torch

    return max(1, min(_granted(), torch.get_num_threads()))
