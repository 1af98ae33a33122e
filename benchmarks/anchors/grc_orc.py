"""Run GraphRicciCurvature's Ollivier-Ricci curvature on a graph read as JSON from stdin.

Runs inside the isolated venv of make_grc_venv.sh (not the project's venv). Input:
``{"n": int, "edges": [[u, v], ...], "weights": [...] or null, "alpha": float,
"proc": int or null}``. Output on stdout: ``{"values": [curvature per input edge],
"seconds": time of compute_ricci_curvature(), "version": ...}``. Missing weights mean 1.
"""

import json
import logging
import sys
import time

import networkx as nx
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
    start = time.perf_counter()
    orc.compute_ricci_curvature()
    seconds = time.perf_counter() - start
    values = [orc.G[u][v]["ricciCurvature"] for u, v in spec["edges"]]
    json.dump({"values": values, "seconds": seconds, "version": __version__}, sys.stdout)


if __name__ == "__main__":
    main()
