"""Measure the explorer at 500, 2,000 and 8,000 tokens on a random-init model (not a test).

    .venv/bin/python -m tests.explorer.measure_large [LENGTHS...] [--out FOLDER]

For each length: the sparse capture's time, the page build time (payload and HTML, from the
captured graphs) and the HTML size, then (when Chromium and Playwright are present) the load
time and, per control, the page's latency from the input event to the end of the redraw and
the wall time seen from Python (which adds Playwright's round trips). The model: a random-init
GPT-2, 4 layers, 4 heads, width 64, top-8 keys per head.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread: the machine is shared
import argparse
import time
from pathlib import Path

import torch


def measure(n: int, folder: Path) -> None:
    import tgnn
    from tests.explorer.browser import chromium_path, exercise, open_page
    from tgnn.explorer import write_html
    from tgnn.models import random_config_model

    model, _ = random_config_model("gpt2", seed=0, n_layer=4, n_head=4, hidden=64, n_ctx=8192,
                                   attn_implementation="sdpa")
    ids = torch.randint(2, 97, (1, n), generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    graphs = tgnn.capture_sparse_graphs(model, {"input_ids": ids}, head_reduction=None, top_k=8)
    captured = time.perf_counter()
    out = write_html(folder / f"explorer-{n}.html", graphs=graphs,
                     tokens=[f"w{i}" for i in range(n)], title=f"{n} tokens", overwrite=True)
    built = time.perf_counter()
    size = out.stat().st_size
    print(f"n={n}: capture {captured - start:.1f} s, page build {built - captured:.2f} s, "
          f"HTML {size / 2**20:.2f} MiB ({size / n:.0f} bytes per token)")
    if chromium_path() is None:
        print("  no Chromium: browser timings skipped")
        return
    with open_page(out) as (page, record):
        first = page.evaluate("tgnnExplorer.summary().drawMs")
        timings = exercise(page)
    print(f"  load {record['load']:.0f} ms (first draw {first:.0f} ms), errors {record['errors']}")
    print("  latency ms: " + ", ".join(f"{k} {v:.0f}" for k, v in timings["latency"].items()))
    print("  wall ms:    " + ", ".join(f"{k} {v:.0f}" for k, v in timings["ms"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lengths", nargs="*", type=int, default=[500, 2000, 8000])
    parser.add_argument("--out", type=Path, default=Path("/tmp/tgnn-explorer"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for n in args.lengths:
        measure(n, args.out)


if __name__ == "__main__":
    main()
