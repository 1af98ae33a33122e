"""Measure the explorer at 512 tokens x 12 layers x 12 heads (not a test; run by hand).

    .venv/bin/python -m tests.explorer.measure_large [OUT.html]

Prints the Python build time and page size, then (when Chromium and Playwright are present)
the page's first draw and redraw times for layer / head switches, the slider and a token click.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread: the machine is shared
import sys
import time
from pathlib import Path

import torch


def synthetic_attention(n: int, layers: int, heads: int, seed: int = 0) -> list[torch.Tensor]:
    """Causal softmax attention of random scores with a sink column (float32)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(n, n, dtype=torch.bool).triu(1)
    out = []
    for _ in range(layers):
        scores = 2.0 * torch.randn(heads, n, n, generator=g)
        scores[:, :, 0] += 3.0
        out.append(scores.masked_fill(mask, float("-inf")).softmax(-1))
    return out


def main(path: str) -> None:
    from tests.explorer.browser import chromium_path, drive
    from tgnn.explorer import write_html

    torch.set_num_threads(1)
    n, layers, heads = 512, 12, 12
    attn = synthetic_attention(n, layers, heads)
    tokens = [f"t{i}" for i in range(n)]
    start = time.perf_counter()
    out = write_html(path, attentions=attn, tokens=tokens, title="512 x 12 x 12 synthetic",
                     overwrite=True)
    print(f"build {time.perf_counter() - start:.1f} s, page {out.stat().st_size / 2**20:.2f} MiB")
    if chromium_path() is None:
        print("no Chromium: browser timings skipped")
        return
    for name, ms in drive(Path(path), Path(path).with_suffix(".png"), timings=True).items():
        print(f"{name}: {ms:.0f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tgnn-explorer-512.html")
