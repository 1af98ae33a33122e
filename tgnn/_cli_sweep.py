"""``tgnn sweep``: many documents through many models, one table (registered by tgnn.cli)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from tgnn._cli_common import (
    DTYPES,
    DebugOption,
    DeviceOption,
    DtypeOption,
    QuietOption,
    fail,
    running,
)
from tgnn._progress import live, step

__all__ = ["SWEEP_HELP", "SWEEP_SHORT_HELP", "sweep"]


class SweepOverflow(str, Enum):
    """``tgnn sweep --overflow``: a document longer than the model's context."""

    keep_first = "keep-first"
    keep_last = "keep-last"
    error = "error"


def _sweep_documents(paths: list[Path], texts: list[str]) -> dict[str, str]:
    """``{id: text}``: each file (id: its path), each folder's ``*.txt`` (sorted), each --text."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.txt") if p.is_file())
            if not found:
                raise fail("sweep", f"no .txt files in the folder {str(path)!r}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise fail("sweep", f"no such file or folder: {str(path)!r}")
    docs: dict[str, str] = {}
    for file in files:
        try:
            docs[file.as_posix()] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise fail("sweep", f"cannot read {str(file)!r} as UTF-8 text ({error})") from None
    docs |= {f"text-{k}": text for k, text in enumerate(texts)}
    if not docs:
        raise fail("sweep", "no documents: give text files, folders of .txt files or --text")
    return docs


SWEEP_SHORT_HELP = "Measure many documents in many models into one table."

SWEEP_HELP = (
    "Measure many documents in many models: per-layer metrics and per-token profiles in one "
    "table.\n\n"
    "Each document x model runs one sparse attention capture. Each layer gives a row with "
    "kind=layer (means over tokens: kept mass, entropy, first-token mass; the spectral gap) "
    "and each token a row with kind=position (turned off by --no-profiles). Load OUT with "
    "pandas.read_csv(OUT) or pandas.read_json(OUT, lines=True).\n\n"
    "Models: tgnn-gpt2-tiny (default), tgnn-gpt2-tiny-nobos, minilm, random:gpt2, "
    "random:llama, random:bert, a .safetensors file or a Hugging Face checkpoint folder.\n\n"
    "Points run one after the other, on --workers local processes, or as Ray tasks with --ray "
    "(on a cluster: --ray auto). --device and --dtype place every model (each worker "
    "loads its own copy there); the rows are the same on every device up to the dtype's "
    "rounding."
)


def sweep(
    documents: Annotated[list[Path] | None, typer.Argument(
        metavar="PATH",
        help="Text files, or folders whose .txt files (recursively, sorted) are documents; "
             "a document's id is its path.", show_default=False)] = None,
    text: Annotated[list[str] | None, typer.Option(
        "--text", help="A document given inline (repeat; ids text-0, text-1, ...).",
        show_default=False)] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", help="Model to run (repeat; default tgnn-gpt2-tiny).",
        show_default=False)] = None,
    out: Annotated[Path, typer.Option(
        help="Table to write: .csv or .jsonl (one row per line).")] = Path("sweep.csv"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
    top_k: Annotated[int, typer.Option(
        help="Edges kept per query in each layer graph (0: all).")] = 8,
    max_tokens: Annotated[int | None, typer.Option(
        help="Keep the first tokens of each document (default: all).",
        show_default=False)] = None,
    overflow: Annotated[SweepOverflow, typer.Option(
        help="A document longer than the model's context: keep its first or last tokens, "
             "or stop with an error.")] = SweepOverflow.keep_first,
    layer: Annotated[list[int] | None, typer.Option(
        "--layer", help="Layer to capture (repeat; default: all).", show_default=False)] = None,
    profiles: Annotated[bool, typer.Option(
        help="Also write one row per token (the per-position profiles).")] = True,
    gap_max_nodes: Annotated[int, typer.Option(
        help="Spectral gap only up to this many tokens (dense, O(n^3); 0: never).")] = 1024,
    workers: Annotated[int, typer.Option(help="Local processes (1: this process).")] = 1,
    ray: Annotated[str | None, typer.Option(
        "--ray", help="Run on Ray: 'auto' joins this machine's cluster (ray start), "
                      "'ray://HOST:10001' or 'HOST:6379' a remote one, 'local' starts one on "
                      "this machine's cores.", show_default=False)] = None,
    device: DeviceOption = "cpu",
    dtype: DtypeOption = "float32",
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Measure many documents in many models: per-layer metrics and per-token profiles."""
    from tgnn._devices import check_device, check_dtype
    from tgnn._output import check_output
    from tgnn.sweep import check_model, corpus_sweep, write_rows

    if out.suffix.lower() not in (".csv", ".jsonl"):
        raise fail("sweep", f"--out: expected a .csv or .jsonl file, got {str(out)!r}")
    models = model or ["tgnn-gpt2-tiny"]
    try:
        with running("sweep", quiet=quiet, debug=debug):
            # every check before any work: the output path, the documents, the models
            check_output(out, overwrite=force, argument="--out", option="--force")
            docs = _sweep_documents(documents or [], text or [])
            for name in models:
                check_model(name)
            check_device(device, argument="--device")
            check_dtype(dtype, argument="--dtype", allowed=DTYPES)
            with step(f"measuring {len(docs)} documents x {len(models)} models"):
                rows = corpus_sweep(docs, models, layers=layer, top_k=top_k or None,
                                    max_tokens=max_tokens, overflow=overflow.value,
                                    profiles=profiles, gap_max_nodes=gap_max_nodes,
                                    workers=workers, ray_address=ray, progress=live(),
                                    device=device, dtype=dtype)
            with step(f"writing {out}"):
                write_rows(rows, out, force=force)
    except ConnectionError as error:  # ray.init found no cluster at the address
        if debug:
            raise
        raise fail("sweep", f"--ray {ray}: {str(error).splitlines()[0]}") from None
    layers = sum(row["kind"] == "layer" for row in rows)
    typer.echo(f"wrote {len(rows)} rows ({layers} layer rows, {len(docs)} documents x "
               f"{len(models)} models) to {out}")
