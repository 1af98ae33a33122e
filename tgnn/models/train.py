"""Deterministic training script of ``tgnn-gpt2-tiny`` (run as ``tgnn train-tiny``).

Seeded initialisation and a seeded stream of random training windows, AdamW with linear warm-up
and a cosine schedule, gradient clipping, no dropout. The last 10% of the corpus is held out;
the held-out loss is the mean next-character cross-entropy (nats) over its non-overlapping
windows. Writes ``<name>.safetensors``, ``<name>.config.json``, ``<name>.tokenizer.json`` and
``<name>.meta.json`` (held-out loss, steps, seed, per-layer BOS mass, train time) to the folder
``out`` (the current folder by default): never into the installed package (the shipped weights
in :data:`WEIGHTS_DIR` are read-only to it), never over existing files unless asked.
"""

from __future__ import annotations

import json
import math
import platform
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from tqdm.auto import tqdm
from transformers import GPT2LMHeadModel

from tgnn._devices import check_device, check_dtype
from tgnn._output import atomic_output, check_output, outside_package
from tgnn.errors import OutputExistsError, ShapeError
from tgnn.models.tiny import (
    N_CTX,
    corpus_text,
    first_token_mass,
    split_text,
    tiny_config,
    uniform_first_mass,
)
from tgnn.models.tokenizer import CharTokenizer

__all__ = ["train_tiny", "output_files", "windows", "held_out_loss", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
"""The shipped weights (read by :func:`tgnn.models.load`; :func:`train_tiny` never writes here)."""

_SUFFIXES = ("safetensors", "config.json", "tokenizer.json", "meta.json")


def windows(ids: torch.Tensor, starts: torch.Tensor, bos: bool, n_ctx: int = N_CTX) -> torch.Tensor:
    """Model inputs for the windows starting at ``starts`` of the char-id stream ``ids``.

    With ``bos`` each row is ``[<bos>, ids[s], ..., ids[s + n_ctx - 2]]``, else
    ``ids[s : s + n_ctx]``; either way ``n_ctx`` tokens and ``n_ctx - 1`` predicted characters.

    Examples
    --------
    >>> windows(torch.arange(10, 20), torch.tensor([0, 2]), bos=True, n_ctx=3).tolist()
    [[1, 10, 11], [1, 12, 13]]
    """
    width = n_ctx - 1 if bos else n_ctx
    idx = starts[:, None] + torch.arange(width)[None, :]
    rows = ids[idx]
    if bos:
        rows = torch.cat([torch.ones_like(rows[:, :1]), rows], dim=1)
    return rows


def _loss(model: GPT2LMHeadModel, batch: torch.Tensor, bos: bool) -> torch.Tensor:
    batch = batch.to(model.device)
    labels = batch.clone()
    if bos:
        labels[:, 0] = -100  # never a prediction target (HF shifts labels by one)
    return model(input_ids=batch, labels=labels).loss


@torch.no_grad()
def held_out_loss(
    model: GPT2LMHeadModel, ids: torch.Tensor, bos: bool, batch: int = 32,
    max_windows: int | None = None,
) -> float:
    """Mean next-character loss (nats) over the non-overlapping windows of ``ids``.

    ``max_windows`` keeps only the first windows (all by default).
    """
    width = N_CTX - 1 if bos else N_CTX
    starts = torch.arange(0, len(ids) - width + 1, width)[:max_windows]
    if len(starts) == 0:
        raise ShapeError(f"ids: expected at least {width} tokens, got {len(ids)}")
    total, count = 0.0, 0
    for i in range(0, len(starts), batch):
        rows = windows(ids, starts[i : i + batch], bos)
        total += float(_loss(model, rows, bos)) * rows.shape[0]
        count += rows.shape[0]
    return total / count


def _step(model: GPT2LMHeadModel, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
          batch: torch.Tensor, bos: bool, compute: torch.dtype) -> float:
    """One optimizer step; returns the batch loss. The forward pass runs under autocast in
    ``compute`` (none for float32), the loss is scaled for float16 (``scaler``), the gradients
    are unscaled and clipped to norm 1 before AdamW's float32 update."""
    mixed = compute != torch.float32
    with torch.autocast(model.device.type, dtype=compute, enabled=mixed):
        loss = _loss(model, batch, bos)
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(opt)
    scaler.update()
    return float(loss.detach())


def _lr(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac)))


def _sink_report(model: GPT2LMHeadModel, ids: torch.Tensor, bos: bool) -> dict[str, Any]:
    width = N_CTX - 1 if bos else N_CTX
    rows = windows(ids, torch.arange(0, 8 * width, width), bos)
    mass = first_token_mass(model, rows.to(model.device))
    uniform = uniform_first_mass(N_CTX)
    return {
        "first_token_mass_per_layer": [round(float(x), 5) for x in mass.mean(dim=1)],
        "first_token_mass_max_head_per_layer": [round(float(x), 5) for x in mass.max(dim=1).values],
        "uniform_first_token_mass": round(uniform, 5),
        "mass_over_uniform_per_layer": [round(float(x) / uniform, 3) for x in mass.mean(dim=1)],
    }


def output_files(
    out: str | Path = ".", bos: bool = True, *, overwrite: bool = False, argument: str = "out",
    option: str = "overwrite=True",
) -> list[Path]:
    """The four files :func:`train_tiny` writes to the folder ``out``, checked to be writable.

    Raises
    ------
    ProtectedPathError
        ``out`` is inside the installed tgnn package.
    OutputExistsError
        One of the files exists and ``overwrite`` is False, or ``out`` is a file.

    Examples
    --------
    >>> [p.name for p in output_files("run", bos=False)]  # doctest: +NORMALIZE_WHITESPACE
    ['tgnn-gpt2-tiny-nobos.safetensors', 'tgnn-gpt2-tiny-nobos.config.json',
     'tgnn-gpt2-tiny-nobos.tokenizer.json', 'tgnn-gpt2-tiny-nobos.meta.json']
    """
    folder = outside_package(out, argument=argument)
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"{argument}: {str(folder)!r} is a file; expected a folder")
    name = "tgnn-gpt2-tiny" if bos else "tgnn-gpt2-tiny-nobos"
    return [check_output(folder / f"{name}.{suffix}", overwrite=overwrite, argument=argument,
                         option=option) for suffix in _SUFFIXES]


def train_tiny(
    steps: int = 3000, bos: bool = True, out: str | Path = ".", seed: int = 0,
    batch: int = 16, lr: float = 2e-3, threads: int = 1, max_minutes: float | None = None,
    weight_decay: float = 0.1, init: str | Path | None = None, stop_after: int | None = None,
    progress: bool = True, eval_windows: int | None = None, window: int = N_CTX,
    overwrite: bool = False, device: Any = "cpu", dtype: Any = "float32",
) -> dict[str, Any]:
    """Train the tiny character GPT-2 and write its files to ``out``; return the metadata.

    Cost: ``steps * batch * N_CTX`` tokens through a 0.8M-parameter model (about 1 s a step
    of 32 x 256 on one CPU thread). ``max_minutes`` stops early (recorded as ``steps_done``);
    ``eval_windows`` limits the held-out evaluation to its first windows (for smoke tests).
    ``init`` continues from the weights of an earlier run (a ``.safetensors`` path; fresh
    optimizer and schedule), recorded in the metadata. ``stop_after`` ends the run after that
    many steps of the ``steps``-step schedule (reproduces a run cut short by ``max_minutes``).
    ``window`` is the length of the training windows (``2 <= window <= N_CTX``); the held-out
    loss and the sink report always use full ``N_CTX`` windows.

    The files (:func:`output_files`) go to the folder ``out`` (default: the current folder),
    which must lie outside the installed package; existing ones are replaced only with
    ``overwrite=True``. Both are checked before training, and the files are written through
    temporary files at the end, so a failed or interrupted run leaves existing files as they were.

    ``device`` is where the model trains (``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``,
    checked by ``tgnn._devices.check_device``); ``dtype`` the precision of the training passes:
    ``"float32"`` (default), or ``"bfloat16"`` / ``"float16"`` as mixed precision (Micikevicius
    et al. 2018, "Mixed precision training"): the weights and AdamW's state stay float32, the
    forward pass runs under :func:`torch.autocast` in that dtype, and float16 losses are scaled
    (:class:`torch.amp.GradScaler`; a step whose gradients overflow is skipped). Both work on
    the CPU too (float16 slowly). The held-out loss and the sink report are computed in
    float32, and the weights are written in float32, whatever the device and dtype. The
    random windows are drawn on the CPU, so a seed gives the same data on every device; the
    weights differ between devices and dtypes by rounding.
    """
    output_files(out, bos, overwrite=overwrite)
    where = check_device(device)
    compute = check_dtype(dtype, allowed=("float32", "bfloat16", "float16"))
    if steps < 1 or batch < 1:
        raise ShapeError(f"steps, batch: expected positive, got {steps}, {batch}")
    if not 2 <= window <= N_CTX:
        raise ShapeError(f"window: expected 2 <= window <= {N_CTX}, got {window}")
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train_txt, held_txt = split_text(corpus_text())
    tok = CharTokenizer.from_text(train_txt + held_txt, add_bos=bos)
    train_ids = torch.tensor(tok.encode(train_txt)[int(bos):], dtype=torch.long)
    held_ids = torch.tensor(tok.encode(held_txt)[int(bos):], dtype=torch.long)
    model = GPT2LMHeadModel(tiny_config(tok.vocab_size))
    if init is not None:
        load_model(model, str(init))
    model.to(device=where)  # type: ignore[call-arg]  # transformers types its .to wrapper badly
    model.set_attn_implementation("sdpa")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95),
                            weight_decay=weight_decay)
    scaler = torch.amp.GradScaler(where.type, enabled=compute == torch.float16)
    gen = torch.Generator().manual_seed(seed)
    width = window - 1 if bos else window
    t0, done, loss = time.perf_counter(), 0, float("nan")
    bar = tqdm(range(steps), desc="train-tiny", disable=not progress)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, lr, warmup=min(200, steps // 10 + 1))
        starts = torch.randint(0, len(train_ids) - width, (batch,), generator=gen)
        value = _step(model, opt, scaler, windows(train_ids, starts, bos, n_ctx=window), bos,
                      compute)
        done, loss = step + 1, (0.98 * loss + 0.02 * value) if step else value
        bar.set_postfix(loss=f"{loss:.3f}")
        if done == stop_after or (
            max_minutes is not None and time.perf_counter() - t0 > 60 * max_minutes
        ):
            break
    train_s = time.perf_counter() - t0
    model.eval()
    meta: dict[str, Any] = {
        "name": "tgnn-gpt2-tiny" if bos else "tgnn-gpt2-tiny-nobos", "bos": bos, "seed": seed,
        "steps": steps, "steps_done": done, "batch": batch, "window": window,
        "eval_windows": eval_windows,
        "n_ctx": N_CTX, "lr": lr, "weight_decay": weight_decay,
        "init": None if init is None else Path(init).name,
        "held_out_loss": round(held_out_loss(model, held_ids, bos, max_windows=eval_windows), 5),
        "train_loss_ema": round(loss, 5), "train_time_s": round(train_s, 1), "threads": threads,
        "n_params": sum(p.numel() for p in model.parameters()),
        "corpus": f"pydoc_data.topics (Python {platform.python_version()}), last 10% held out",
        "torch": torch.__version__, "device": str(where),
        "dtype": str(compute).removeprefix("torch."),
    }
    meta.update(_sink_report(model, held_ids, bos))
    _write(model, tok, meta, output_files(out, bos, overwrite=overwrite), overwrite)
    return meta


def _write(model: GPT2LMHeadModel, tok: CharTokenizer, meta: dict[str, Any], files: list[Path],
           overwrite: bool) -> None:
    """Write all four files to temporary files; they replace ``files`` only if all succeed."""
    with ExitStack() as stack:
        weights, config, vocabulary, metadata = (
            stack.enter_context(atomic_output(path, overwrite=overwrite, argument="out"))
            for path in files)
        save_model(model, str(weights))
        model.config.to_json_file(str(config))
        tok.save(vocabulary)
        metadata.write_text(json.dumps(meta, indent=1), encoding="utf-8")
