"""Write the explorer's 2,000-token page and the screenshots of the docs (run by hand).

    .venv/bin/python docs/explorer/screenshots.py [--out docs/explorer]

The page: the sparse capture of a random-init GPT-2 (4 layers, 4 heads, width 64, weights drawn
with standard deviation 0.2 so that heads are peaked rather than uniform) on the first 1,999
characters (plus BOS) of the ``compound`` topic of CPython's ``pydoc_data.topics``, character
tokens, top-8 keys per head, the sensitivity chosen automatically. Needs Playwright and a
system Chromium.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

SHOTS = ("explorer-2k-overview.png", "explorer-2k-find.png")


def page(out: Path) -> Path:
    """Build the 2k page into ``out`` (replacing it) and return its path."""
    from pydoc_data.topics import topics

    from transformers import GPT2Config, GPT2LMHeadModel

    from tgnn.explorer import write_html
    from tgnn.models import random_config_model

    _, tokenizer = random_config_model("gpt2")  # the printable-ASCII character tokenizer
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=2048, n_embd=64, n_layer=4,
                        n_head=4, initializer_range=0.2, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, bos_token_id=1, eos_token_id=1, pad_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    text = " ".join(topics["compound"].split())[:1999]
    start = time.perf_counter()
    path = write_html(out, model, tokenizer, text, overwrite=True,
                      title="random-init GPT-2 (4 x 4 heads), 2,000 character tokens")
    print(f"built {path} in {time.perf_counter() - start:.1f} s, "
          f"{path.stat().st_size / 2**20:.2f} MiB")
    return path


def shoot(html: Path, folder: Path) -> None:
    """The two screenshots: the first view, then a token found in the middle."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests' browser driver
    from tests.explorer.browser import open_page

    with open_page(html) as (tab, record):
        tab.screenshot(path=str(folder / SHOTS[0]))
        middle = tab.evaluate("tgnnExplorer.data.n") // 2
        tab.evaluate(f"tgnnExplorer.select({middle})")
        tab.select_option("#layer", "1")
        tab.select_option("#head", "2")
        tab.select_option("#grid-q", "4")  # resistance from the selected token
        tab.select_option("#colour", "4")
        tab.evaluate(f"tgnnExplorer.setWindow({middle - 24}, {middle + 24})")
        tab.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
        tab.screenshot(path=str(folder / SHOTS[1]))
        assert not record["errors"], record["errors"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/explorer"))
    parser.add_argument("--reuse", action="store_true", help="shoot the last built page again")
    args = parser.parse_args()
    html = Path("/tmp/tgnn-explorer-2k.html")
    if not (args.reuse and html.exists()):
        html = page(html)
    shoot(html, args.out)


if __name__ == "__main__":
    main()
