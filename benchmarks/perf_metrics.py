"""Speed of tgnn.metrics against anchors, as ratios measured in the same run.

Rows (goal in brackets):

- effective resistance, all pairs, sparse random 3-regular graph, n = 1000, against networkx
  ``resistance_distance`` (>= 100x);
- effective resistance, one source to all, n ~ 100000 (a 316 x 316 grid with random
  conductances), exact by selected inversion (< 2 s; no anchor, so an absolute time: best of
  three, as a shared machine's speed drifts by up to 1.7x within a run);
- balanced Forman curvature on all edges of a 10k-edge random graph against
  :func:`set_based_bfc`, a straightforward set-based implementation of the paper's definition
  (>= 100x); the two are timed in alternating rounds (eight calls of ours, one of the
  anchor), so that a drift of the machine's speed reaches both;
- Ollivier-Ricci curvature against GraphRicciCurvature run in its own venv
  (benchmarks/anchors/make_grc_venv.sh), with equal values (>= 10x), two rounds of one anchor
  run and three of ours; skipped when that venv cannot be built;
- Ollivier-Ricci curvature of the bottleneck section's unrolled MiniLM graph (128 tokens, 7 x
  128 nodes, 98,304 edges; quick: 16 tokens) against GraphRicciCurvature (``method="OTD"``,
  one process, the same idleness 1/2), whose run over every edge would take hours: its
  one-call setup (conversion, all-pairs shortest paths, pool) is timed, then a sample of edges
  per layer pair in its per-edge function, scaled to the layer pair's edge count (>= 10x, equal
  values on the sampled edges);
- attention flow at 6 layers x 32 tokens against networkx ``maximum_flow_value`` per pair
  (>= 100x); networkx runs on a sample of pairs and its time is scaled to all ``n^2`` pairs.

``run(quick=True)`` uses smaller sizes where the anchor is slow. ``python -m
tgnn.benchmarks.perf_metrics [--full]`` prints the table.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np
import torch

# imported up front: importing torch / numba inside threadpoolctl's limit made BLAS 10x slower
from tgnn.benchmarks.timing import best_of_interleaved, speed_row

from tgnn.metrics import (
    attention_flow,
    balanced_forman_curvature,
    effective_resistance,
    ollivier_ricci_curvature,
    unrolled_flow_network,
)

__all__ = ["set_based_bfc", "run", "unrolled_minilm"]

ANCHORS = pathlib.Path(__file__).with_name("anchors")


def set_based_bfc(G: nx.Graph) -> dict[tuple[int, int], float]:
    """Balanced Forman curvature (Topping et al. 2022, Def. 1) edge by edge with Python sets.

    The straightforward anchor of the benchmark and an independent reference in the tests.
    Keys are ``(min(u, v), max(u, v))``.
    """
    N = {v: set(G[v]) - {v} for v in G}
    out = {}
    for u, v in G.edges():
        if u == v:
            continue
        du, dv = len(N[u]), len(N[v])
        key = (min(u, v), max(u, v))
        if min(du, dv) == 1:
            out[key] = 0.0
            continue
        tri = len(N[u] & N[v])
        sq_u = {k: (N[k] & N[v]) - N[u] - {u} for k in N[u] - N[v] - {v}}
        sq_v = {w: (N[w] & N[u]) - N[v] - {v} for w in N[v] - N[u] - {u}}
        sq_u = {k: s for k, s in sq_u.items() if s}
        sq_v = {w: s for w, s in sq_v.items() if s}
        ric = 2 / du + 2 / dv - 2 + 2 * tri / max(du, dv) + tri / min(du, dv)
        if sq_u or sq_v:
            gamma = max(len(s) for s in list(sq_u.values()) + list(sq_v.values()))
            ric += (len(sq_u) + len(sq_v)) / (gamma * max(du, dv))
        out[key] = ric
    return out


def _time(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _undirected(G: nx.Graph) -> torch.Tensor:
    e = torch.tensor(list(G.edges()), dtype=torch.long).mT
    return torch.cat([e, e.flip(0)], dim=1)


def bench_resistance_all_pairs(quick: bool) -> dict:
    n = 300 if quick else 1000
    G = nx.random_regular_graph(3, n, seed=0)
    ei = _undirected(G)
    ours, R = _time(lambda: effective_resistance(ei, None, n), repeat=3)
    anchor, ref = _time(lambda: nx.resistance_distance(G))
    err = max(abs(float(R[u, v]) - ref[u][v]) for u in range(0, n, 37) for v in range(n))
    ratio = anchor / ours
    return speed_row(f"resistance all pairs n={n} vs networkx", ours, anchor, ">= 100x",
                     ratio >= 100, max_abs_diff=err)


def bench_resistance_one_source(quick: bool) -> dict:
    side = 100 if quick else 316
    G = nx.convert_node_labels_to_integers(nx.grid_2d_graph(side, side))
    ei = _undirected(G)
    w = torch.from_numpy(np.random.default_rng(0).uniform(0.5, 2.0, ei.shape[1] // 2)).repeat(2)
    n = side * side
    ours, _ = _time(lambda: effective_resistance(ei, w, n, source=0), repeat=3)  # best of 3
    return speed_row(f"resistance one source to all n={n} (grid)", ours, None, "< 2 s", ours < 2.0)


def bench_bfc(quick: bool) -> dict:
    n, m = (1000, 4000) if quick else (2500, 10000)
    G = nx.gnm_random_graph(n, m, seed=1)
    ei = _undirected(G)
    vals = balanced_forman_curvature(ei, None, n)
    ref = set_based_bfc(G)
    ours, anchor = best_of_interleaved(  # rounds of 8 calls of ours, then one of the anchor
        lambda: balanced_forman_curvature(ei, None, n), lambda: set_based_bfc(G),
        repeats=2 if quick else 5, warmup=0, calls=(8, 1),
    )
    expected = np.array([ref[(min(u, v), max(u, v))] for u, v in ei.mT.tolist()])
    err = float(np.abs(vals.numpy() - expected).max())
    return speed_row(f"balanced Forman {m} edges vs set-based", ours, anchor, ">= 100x",
                     anchor / ours >= 100, max_abs_diff=err)


def _grc_venv() -> pathlib.Path | None:
    try:
        out = subprocess.run(["bash", str(ANCHORS / "make_grc_venv.sh")], check=True,
                             capture_output=True, text=True, timeout=900)
    except (subprocess.SubprocessError, OSError):
        return None
    return pathlib.Path(out.stdout.strip().splitlines()[-1])


def bench_ollivier(quick: bool) -> dict:
    n, m = (200, 600) if quick else (1000, 4000)
    name = f"Ollivier-Ricci {m} edges vs GraphRicciCurvature"
    venv = _grc_venv()
    if venv is None:
        return speed_row(name, float("nan"), None, ">= 10x", False, skipped="no GRC venv")
    G = nx.gnm_random_graph(n, m, seed=2)
    edges = [list(e) for e in G.edges()]
    spec = {"n": n, "edges": edges, "weights": None, "alpha": 0.5}
    ei = torch.tensor(edges, dtype=torch.long).T
    ours, anchor = float("inf"), float("inf")
    for _ in range(1 if quick else 2):  # alternate the two, so that a drift reaches both
        grc = _grc_run(venv, spec)
        anchor = min(anchor, grc["seconds"])
        seconds, vals = _time(lambda: ollivier_ricci_curvature(ei, None, n, symmetrize="sum"), 3)
        ours = min(ours, seconds)
    err = float(np.abs(vals.numpy() - np.array(grc["values"])).max())
    met = anchor / ours >= 10 and err < 1e-6
    return speed_row(name, ours, anchor, ">= 10x", met, max_abs_diff=err)


def _grc_run(venv: pathlib.Path, spec: dict) -> dict:
    res = subprocess.run([str(venv / "bin" / "python"), str(ANCHORS / "grc_orc.py")],
                         input=json.dumps(spec), capture_output=True, text=True, check=True,
                         timeout=1800)
    return json.loads(res.stdout)


def unrolled_minilm(n: int) -> tuple[torch.Tensor, int]:
    """``(edge_index, num_nodes)`` of the unrolled MiniLM attention graph at ``n`` tokens, as
    the bottleneck section builds it (rollout residual 1/2; its pattern is what is measured)."""
    from tgnn.benchmarks.common import attention_stack, load_model, sample_ids

    from tgnn import attention_to_unrolled

    model, tok = load_model("minilm")
    data = attention_to_unrolled(torch.as_tensor(attention_stack(model, sample_ids(tok, n))),
                                 rho=0.5)
    return data.edge_index, int(data.num_nodes)


def bench_ollivier_unrolled(quick: bool) -> dict:
    tokens, per_pair = (16, 1) if quick else (128, 3)
    ei, n = unrolled_minilm(tokens)  # edges (l, t) -> (l + 1, s): each pair once
    name = (f"Ollivier-Ricci unrolled MiniLM {n} nodes {ei.shape[1]} edges vs "
            f"GraphRicciCurvature (scaled from {per_pair} edges per layer pair)")
    venv = _grc_venv()
    if venv is None:
        return speed_row(name, float("nan"), None, ">= 10x", False, skipped="no GRC venv")
    i, j = np.sort(ei.numpy(), axis=0)
    layer = i // tokens
    rng = np.random.default_rng(0)
    picked = [rng.choice(np.flatnonzero(layer == g), per_pair, replace=False)
              for g in np.unique(layer)]
    grc = _grc_run(venv, {"n": n, "edges": np.stack([i, j], 1).tolist(), "weights": None,
                          "alpha": 0.5, "proc": 1,
                          "groups": [[[int(i[e]), int(j[e])] for e in g] for g in picked]})
    anchor = grc["setup_seconds"] + sum(float(np.mean(sec)) * int(np.sum(layer == layer[g[0]]))
                                        for g, sec in zip(picked, grc["seconds"], strict=True))
    edges = torch.from_numpy(np.stack([i, j]))
    ours, vals = _time(lambda: ollivier_ricci_curvature(edges, None, n, symmetrize="max"), 3)
    err = max(abs(float(vals[e]) - v) for g, got in zip(picked, grc["values"], strict=True)
              for e, v in zip(g, got, strict=True))
    return speed_row(name, ours, anchor, ">= 10x", anchor / ours >= 10 and err < 1e-9,
                     max_abs_diff=err, anchor_setup_s=grc["setup_seconds"])


def bench_attention_flow(quick: bool) -> dict:
    layers, n = 6, 32
    gen = torch.Generator().manual_seed(0)
    att = torch.softmax(torch.randn(layers, n, n, generator=gen, dtype=torch.float64) * 2, -1)
    ours, F = _time(lambda: attention_flow(att), repeat=2)
    G = unrolled_flow_network(att)
    rng = np.random.default_rng(0)
    sample = rng.choice(n * n, size=6 if quick else 32, replace=False)
    start = time.perf_counter()
    err = 0.0
    for s in sample.tolist():
        i, j = divmod(s, n)
        ref = nx.maximum_flow_value(G, (0, j), (layers, i))
        err = max(err, abs(ref - float(F[i, j])))
    anchor = (time.perf_counter() - start) / len(sample) * n * n
    name = f"attention flow {layers}x{n} vs networkx (scaled from {len(sample)} pairs)"
    return speed_row(name, ours, anchor, ">= 100x", anchor / ours >= 100, max_abs_diff=err)


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """BLAS limited to one thread (ours and anchors alike): on a shared 2-core machine two
    BLAS threads fighting other processes made dense factorisations 5-10x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scipy's stack here
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def run(quick: bool = True) -> dict:
    """Measure every row; returns ``{"rows": [...], "quick": quick, "threads": ...}``.

    Each row: ``name, ours_s, anchor_s, ratio (anchor / ours), goal, met`` and where it
    applies ``max_abs_diff`` between our values and the anchor's.
    """
    torch.set_num_threads(1)
    with _one_blas_thread():
        rows = [
            bench_resistance_all_pairs(quick),
            bench_resistance_one_source(quick),
            bench_bfc(quick),
            bench_ollivier(quick),
            bench_ollivier_unrolled(quick),
            bench_attention_flow(quick),
        ]
    return {"rows": rows, "quick": quick, "threads": 1, "cpus": os.cpu_count()}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


if __name__ == "__main__":
    result = run(quick="--full" not in sys.argv)
    print(f"{'row':58} {'ours s':>9} {'anchor s':>9} {'ratio':>8} {'goal':>9} met  max|diff|")
    for r in result["rows"]:
        print(f"{r['name']:58} {_fmt(r['ours_s']):>9} {_fmt(r['anchor_s']):>9} "
              f"{_fmt(r['ratio']):>8} {r['goal']:>9} {'yes' if r['met'] else 'no ':3}  "
              f"{_fmt(r.get('max_abs_diff'))} {r.get('skipped', '')}")
