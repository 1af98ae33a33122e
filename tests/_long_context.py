"""Run code at long-context scale in a subprocess whose address space is capped.

``run_capped(body)`` starts a fresh Python that imports what the tests use, measures its
address space, caps it (``RLIMIT_AS``) at that baseline plus ``cap_gib``, checks that the cap
bites (a 50k x 50k float64 array, 20 GB, must fail), builds the synthetic attention graphs below
and runs ``body``; ``body`` stores numbers in ``out``, which comes back as a dict with the peak
resident memory added. No n x n array fits under the cap, so a pass means none was made.

Synthetic causal attention, ``n`` tokens, weights normalised per row (rows sum to one):

- ``random_graph(n, seed)``: each token keeps itself, token 0 and 8 random earlier keys (an
  expander with a sink: its Laplacian factor fills in);
- ``local_graph(n, seed, window=64)``: the same with the 8 keys among the ``window`` previous
  tokens (local heads plus a sink: a banded factor).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

PRELUDE = '''
import json, resource, time
import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.data import Data
import tgnn.metrics, tgnn.theory  # imports (and their address space) before the cap

def _vm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")

def _graph(n, seed, window):
    rng = np.random.default_rng(seed)
    i = np.repeat(np.arange(1, n), 8)
    if window:
        j = np.maximum(i - rng.integers(1, window + 1, size=i.size), 0)
    else:
        j = (rng.random(i.size) * i).astype(np.int64)
    rows = np.concatenate([np.arange(n), np.arange(1, n), i])
    cols = np.concatenate([np.arange(n), np.zeros(n - 1, np.int64), j])
    a = sp.csr_array((rng.uniform(0.1, 1.0, rows.size), (rows, cols)), shape=(n, n))
    a.sum_duplicates()
    a = sp.csr_array(sp.diags_array(1.0 / a.sum(axis=1)) @ a)
    coo = a.tocoo()
    return Data(edge_index=torch.from_numpy(np.stack([coo.col, coo.row]).astype(np.int64)),
                edge_weight=torch.from_numpy(coo.data), num_nodes=n, is_causal=True)

def random_graph(n, seed=0):
    return _graph(n, seed, 0)

def local_graph(n, seed=0, window=64):
    return _graph(n, seed, window)

def timed(name, call):
    start = time.perf_counter()
    value = call()
    out["seconds"][name] = round(time.perf_counter() - start, 3)
    return value

out = {"seconds": {}}
cap = _vm_bytes() + int(CAP_GIB * 2**30)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
try:
    np.empty((50_000, 50_000))  # 20 GB: must not fit (empty: never touched if it did)
    out["cap_bites"] = False
except MemoryError:
    out["cap_bites"] = True
'''

EPILOGUE = '''
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
'''


def run_capped(body: str, cap_gib: float = 3.0, timeout: float = 120.0) -> dict[str, Any]:
    """Run ``body`` after :data:`PRELUDE` in a capped subprocess; return its ``out`` dict."""
    code = PRELUDE.replace("CAP_GIB", repr(cap_gib)) + textwrap.dedent(body) + EPILOGUE
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"capped run failed:\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["cap_bites"], "the address-space cap did not stop a 20 GB array"
    return result
