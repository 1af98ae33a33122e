"""Capture + convert time against the plain SDPA forward, and streamed vs all-layers peak memory.

The anchor is the forward a user would run anyway: the same model with SDPA attention (not
eager, which is slower and would flatter the ratio). Two captures are timed against it: the
dense capture (:func:`tgnn.capture_graphs`, ``top_k=8``) and the blockwise sparse capture
(:func:`tgnn.capture_sparse_graphs`, ``top_k=8``, through tgnn's fused kernel where it is
compiled), each with its conversion to graphs.

Run: ``python -m tgnn.benchmarks.perf_capture [--full]``. Times are best-of-k wall seconds in
this process, the two sides' calls alternating, one torch thread on both sides (the capture's
conversion of layer l overlaps the forward of layer l + 1 on a second core); peak memory is the
resident-set high-water mark of a fresh subprocess per mode, above the high-water mark that
loading the model and one plain forward already reached (0 means capture needed no memory
beyond a plain forward pass).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import torch
from tgnn.benchmarks.timing import best_of_interleaved, speed_row

from tgnn.convert.fused_kernel import kernel_library

__all__ = ["run"]

GOAL_RATIO = 1.25


def _random_gpt2(attn: str) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=6,
        n_head=12,
        n_embd=384,
        n_positions=2048,
        vocab_size=1000,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = GPT2LMHeadModel(config).eval()
    model.set_attn_implementation(attn)
    return model


def _model(name: str, attn: str) -> Any:
    if name == "gpt2-random":
        return _random_gpt2(attn)
    from tgnn.models import load

    model, _ = load("minilm", attn_implementation=attn)
    return model


def _inputs(name: str, n: int) -> dict[str, torch.Tensor]:
    vocab = 1000 if name == "gpt2-random" else 30000
    ids = torch.randint(
        1000 if vocab > 1000 else 1, vocab, (1, n), generator=torch.Generator().manual_seed(0)
    )
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def time_ratio(name: str, n: int, repeats: int, sparse: bool = False) -> dict[str, Any]:
    """Capture + convert (``top_k=8``) against the plain SDPA forward of the same model."""
    from tgnn import capture_graphs, capture_sparse_graphs

    inputs = _inputs(name, n)
    sdpa = _model(name, "sdpa")
    capture = capture_sparse_graphs if sparse else capture_graphs

    def plain() -> None:
        with torch.no_grad():
            sdpa(**inputs)

    ours, anchor = best_of_interleaved(lambda: capture(sdpa, inputs, top_k=8), plain, repeats)
    ratio = ours / anchor
    kind = "dense"
    if sparse:
        kind = "sparse (fused kernel)" if kernel_library() else "sparse (library calls)"
    row = speed_row(
        f"{kind} capture+convert / SDPA forward, {name}, n={n}",
        ours,
        anchor,
        f"<= {GOAL_RATIO}x SDPA",
        ratio <= GOAL_RATIO,
    )
    row["ratio"] = ratio  # here the figure of merit is our time over the anchor's
    return row


def _peak_memory_child(name: str, n: int, mode: str) -> None:
    """Entry point of the subprocess: print the RSS growth (MiB) of one capture mode."""
    import resource

    from tgnn import attention_to_data, capture_graphs

    inputs = _inputs(name, n)
    model = _model(name, "eager" if mode == "all-layers" else "sdpa")
    with torch.no_grad():
        model(**inputs)  # warm-up, without attention weights kept
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "streamed":
        capture_graphs(model, inputs, top_k=8)
    else:
        with torch.no_grad():
            attentions = model(**inputs, output_attentions=True).attentions
        [attention_to_data(a, top_k=8) for a in attentions]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_mib": (peak - base) / 1024}))


def peak_memory(name: str, n: int) -> dict[str, Any]:
    """Peak resident memory growth of streamed capture vs holding every layer's attention."""
    growth = {}
    for mode in ("streamed", "all-layers"):
        code = (
            "from tgnn.benchmarks.perf_capture import _peak_memory_child; "
            f"_peak_memory_child({name!r}, {n}, {mode!r})"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        growth[mode] = json.loads(out.stdout.strip().splitlines()[-1])["growth_mib"]
    return {"name": f"peak memory growth, {name}, n={n} (MiB)", **growth}


def run(quick: bool = True) -> dict[str, Any]:
    """Measure the capture ratios and the memory comparison; return the rows."""
    torch.manual_seed(0)
    torch.set_num_threads(1)  # both sides alike; steadier on a shared 2-core machine
    repeats = 3 if quick else 5
    rows = [time_ratio(name, n, repeats, sparse) for sparse in (False, True)
            for name in ("minilm", "gpt2-random") for n in (128, 512)]
    memory = [peak_memory("gpt2-random", 1024)]
    return {"speed": rows, "memory": memory, "threads": torch.get_num_threads()}


def main() -> None:
    results = run(quick="--full" not in sys.argv)
    for row in results["speed"]:
        verdict = "met" if row["met"] else "NOT met"
        print(
            f"{row['name']:<52} ours {row['ours_s'] * 1e3:8.1f} ms  "
            f"SDPA {row['anchor_s'] * 1e3:8.1f} ms  ratio {row['ratio']:.2f}  "
            f"{verdict} ({row['goal']})"
        )
    for row in results["memory"]:
        streamed, held = row["streamed"], row["all-layers"]
        print(f"{row['name']:<52} streamed {streamed:8.1f}  all layers {held:8.1f}")


if __name__ == "__main__":
    main()
