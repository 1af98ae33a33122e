"""Run GraphRicciCurvature's Ollivier-Ricci curvature on a graph read as JSON from stdin.

Runs inside the isolated venv of make_grc_venv.sh (not the project's venv). Input:
``{"n": int, "edges": [[u, v], ...], "weights": [...] or null, "alpha": float,
"proc": int or null, "groups": [[[u, v], ...], ...] or absent}``. Missing weights mean 1.
The method is always ``"OTD"`` (exact transport by ``ot.emd2``; the package's default
``"OTDSinkhornMix"`` switches to Sinkhorn on supports of 2000+ nodes).

Output on stdout: without ``groups``, ``{"values": [curvature per input edge], "seconds": time
of compute_ricci_curvature(), "version": ...}``. With ``groups`` (edges too many to compute
all), only the groups' edges: ``"setup_seconds"`` is the time of one
``compute_ricci_curvature_edges`` call on the first edge (graph conversion, all-pairs shortest
paths, worker pool, that edge), then each edge is timed alone in the per-edge function the
package's workers run (``_compute_ricci_curvature_single_edge``, with the state that call left):
``{"values": [[curvature per group edge], ...], "seconds": [[seconds per group edge], ...],
"setup_seconds": ..., "version": ...}``; the caller scales each group's times to the edges it
stands for. Node ids are ``0..n-1`` in both libraries (nodes are added in order).
"""

import json
import logging
import sys
import time

import networkx as nx
from GraphRicciCurvature import OllivierRicci as grc_module
from GraphRicciCurvature import __version__
from GraphRicciCurvature.OllivierRicci import OllivierRicci


def main() -> None:
    spec = json.load(sys.stdin)
    G = nx.Graph()
    G.add_nodes_from(range(spec["n"]))
    weights = spec.get("weights") or [1.0] * len(spec["edges"])
    for (u, v), w in zip(spec["edges"], weights, strict=True):
        G.add_edge(u, v, weight=float(w))
    kwargs = {"alpha": spec["alpha"], "method": "OTD", "verbose": "ERROR"}
    if spec.get("proc"):
        kwargs["proc"] = spec["proc"]
    orc = OllivierRicci(G, **kwargs)
    logging.disable(logging.WARNING)
    if spec.get("groups"):
        json.dump({**_sampled(orc, spec["groups"]), "version": __version__}, sys.stdout)
        return
    start = time.perf_counter()
    orc.compute_ricci_curvature()
    seconds = time.perf_counter() - start
    values = [orc.G[u][v]["ricciCurvature"] for u, v in spec["edges"]]
    json.dump({"values": values, "seconds": seconds, "version": __version__}, sys.stdout)


def _sampled(orc: OllivierRicci, groups: list) -> dict:
    """Per-edge values and seconds of the groups' edges, after one setup call."""
    start = time.perf_counter()
    orc.compute_ricci_curvature_edges([tuple(groups[0][0])])
    setup = time.perf_counter() - start
    values, seconds = [], []
    for group in groups:
        values.append([])
        seconds.append([])
        for u, v in group:
            start = time.perf_counter()
            out = grc_module._compute_ricci_curvature_single_edge(u, v)
            seconds[-1].append(time.perf_counter() - start)
            values[-1].append(out[(u, v)])
    return {"values": values, "seconds": seconds, "setup_seconds": setup}


if __name__ == "__main__":
    main()
