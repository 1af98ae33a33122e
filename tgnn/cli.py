"""The ``tgnn`` command line. Each sub-command imports its heavy modules lazily."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tgnn._cli_sweep import SWEEP_HELP, sweep

if TYPE_CHECKING:
    from tgnn.convert import Overflow

app = typer.Typer(
    name="tgnn",
    help="Transformer attention as graphs: convert, measure, benchmark and view.",
    no_args_is_help=True,
    add_completion=False,
)

DEMO_TEXT = "The quick brown fox jumps over the lazy dog because it was bored."


class OverflowOption(str, Enum):
    """``--overflow``: what to do with a text longer than the model's context."""

    error = "error"
    keep_last = "keep-last"
    keep_first = "keep-first"
    windows = "windows"


_OVERFLOW_HELP = ("Text longer than the model's context: 'error' (say so, exit 2), keep the "
                  "last or first tokens, or split into windows; special tokens at either end "
                  "(BOS, [CLS], [SEP]) are kept in every piece.")


def _tokenize(tokenizer: Any, text: str | list[str]) -> Any:
    """The tokenised texts, padded, without transformers' length warning (we check)."""
    from tgnn.sweep import tokenize_quietly

    return tokenize_quietly(tokenizer, text)


def _fit(
    command: str, name: str, model: Any, tokenizer: Any, inputs: Any,
    overflow: OverflowOption = OverflowOption.error, overlap: int = 0,
) -> tuple[Overflow, int]:
    """The overflow policy for ``inputs`` and how many windows it gives; exit 2 on overflow.

    Special tokens that the tokenizer put first or last in every sequence are kept in every
    truncated input or window.
    """
    from tgnn.convert import Overflow, context_windows
    from tgnn.errors import ContextLengthError, ShapeError

    ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    special = set(getattr(tokenizer, "all_special_ids", None) or [])
    rows = [row if mask is None else row[mask[b].bool()] for b, row in enumerate(ids)]
    ends = [all(len(r) > 1 and int(r[e]) in special for r in rows) for e in (0, -1)]
    try:
        policy = Overflow(overflow.value, overlap=overlap, keep_prefix=int(ends[0]),
                          keep_suffix=int(ends[1]))
        return policy, len(context_windows(inputs, model, policy, name=name))
    except ContextLengthError as error:
        typer.echo(f"tgnn {command}: {error.length} tokens exceed the context of {error.model} "
                   f"({error.source}); rerun with --overflow keep-last, keep-first or windows",
                   err=True)
        raise typer.Exit(2) from None
    except ShapeError as error:
        typer.echo(f"tgnn {command}: {error}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def _one_line(command: str) -> Iterator[None]:
    """A tgnn error in the block: ``tgnn COMMAND: message`` on stderr, exit code 2."""
    from tgnn.errors import TgnnError

    try:
        yield
    except TgnnError as error:
        typer.echo(f"tgnn {command}: {str(error).splitlines()[0]}", err=True)
        raise typer.Exit(2) from None


_DTYPES = ("float32", "bfloat16", "float16")
DeviceOption = Annotated[str, typer.Option(
    help="Where the model runs: cpu, cuda, cuda:N or mps.")]
DtypeOption = Annotated[str, typer.Option(
    help="The model's weights: float32, bfloat16 or float16 (attention is always captured in "
         "float32).")]


def _load_model(command: str, name: str, device: str, dtype: str) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a command, never from the hub; one line and exit 2 for an
    unknown model, a device this torch cannot use or an unknown dtype."""
    import torch

    from tgnn.errors import ShapeError
    from tgnn.sweep import check_model, load_model

    with _one_line(command):
        check_model(name)
        try:
            where = torch.device(device)
        except (RuntimeError, TypeError):
            raise ShapeError(
                f"--device: expected cpu, cuda, cuda:N or mps, got {device!r}"
            ) from None
        if where.type == "cuda" and not torch.cuda.is_available():
            raise ShapeError(f"--device {device}: this torch build sees no CUDA device; "
                             "use --device cpu")
        if where.type == "mps" and not torch.backends.mps.is_available():
            raise ShapeError(f"--device {device}: MPS is not available here; use --device cpu")
        if dtype not in _DTYPES:
            raise ShapeError(f"--dtype: expected one of {', '.join(_DTYPES)}, got {dtype!r}")
        return load_model(name, device=where, dtype=getattr(torch, dtype))


def _on_device(inputs: Any, model: Any) -> dict[str, Any]:
    """The tokenizer's tensors moved to the model's device."""
    return {k: v.to(model.device) if hasattr(v, "to") else v for k, v in dict(inputs).items()}


def _writable(command: str, path: Path | str, force: bool) -> None:
    """Exit 2 unless ``--out PATH`` is outside the package and new (or ``--force``)."""
    from tgnn._output import check_output

    with _one_line(command):
        check_output(path, overwrite=force, argument="--out", option="--force")


@app.command()
def demo(
    text: Annotated[str, typer.Option(help="Sentence to run through MiniLM.")] = DEMO_TEXT,
    device: DeviceOption = "cpu",
    dtype: DtypeOption = "float32",
) -> None:
    """Convert one sentence's attention in the embedded MiniLM and print a per-layer table.

    Columns: nodes and edges of the head-mean attention graph, the mass every token puts on
    [CLS] (position 0, the sink; uniform attention would give 1/n), and the mean row entropy
    over heads and tokens (nats; uniform attention would give log n).
    """
    from rich.console import Console
    from rich.table import Table

    from tgnn.convert import LayerAttention, attention_to_data, stream_attention
    from tgnn.metrics.attention import attention_entropy, sink_mass

    model, tokenizer = _load_model("demo", "minilm", device, dtype)
    inputs = _tokenize(tokenizer, text)
    _fit("demo", "minilm", model, tokenizer, inputs)
    inputs = _on_device(inputs, model)
    n = int(inputs["input_ids"].shape[1])
    table = Table(title=f"MiniLM attention as graphs ({n} tokens: {text!r})")
    for column in ("layer", "nodes", "edges", "[CLS] sink mass", "mean entropy (nats)"):
        table.add_column(column, justify="right")

    def add_row(item: LayerAttention) -> None:
        weights = item.weights[0]
        graph = attention_to_data(weights)
        table.add_row(
            str(item.layer),
            str(graph.num_nodes),
            str(graph.num_edges),
            f"{float(sink_mass(weights).mean(0)[0]):.3f}",
            f"{float(attention_entropy(weights).mean()):.3f}",
        )

    stream_attention(model, inputs, add_row)
    Console().print(table)
    typer.echo(f"uniform attention: sink mass {1 / n:.3f}, entropy {math.log(n):.3f}")


@app.command()
def convert(
    model: Annotated[str, typer.Argument(
        help="'tgnn-gpt2-tiny', 'tgnn-gpt2-tiny-nobos', 'minilm', 'random:gpt2|llama|bert', a "
             ".safetensors file from train-tiny or a local Hugging Face checkpoint folder.")],
    text: Annotated[list[str], typer.Option("--text", help="Input text (repeat for a batch).")],
    out: Annotated[
        Path, typer.Option(help="Where to save the per-layer graphs: a .safetensors file "
                           "(tgnn.save_graphs; load it with tgnn.load_graphs).")
    ] = Path("graphs.safetensors"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
    head_reduction: Annotated[
        str, typer.Option(help="'mean', 'max', 'sum' or 'none' (per-head edge_attr).")
    ] = "mean",
    top_k: Annotated[int | None, typer.Option(help="Keep the k strongest keys per query.")] = None,
    top_p: Annotated[
        float | None, typer.Option(help="Keep keys up to this mass per query.")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Drop weights below this.")] = None,
    hidden_states: Annotated[bool, typer.Option(help="Attach hidden states as x.")] = False,
    overflow: Annotated[
        OverflowOption, typer.Option(help=_OVERFLOW_HELP)
    ] = OverflowOption.error,
    overlap: Annotated[int, typer.Option(help="Tokens shared by consecutive windows.")] = 0,
    sparse: Annotated[
        bool, typer.Option(help="Blockwise capture for long texts: never n x n per head, "
                           "exact row facts as node attributes (see tgnn.capture_sparse_graphs).")
    ] = False,
    memory_mb: Annotated[
        int, typer.Option(help="With --sparse: MiB of scores alive at once inside a layer.")
    ] = 256,
    device: DeviceOption = "cpu",
    dtype: DtypeOption = "float32",
) -> None:
    """Capture a model's attention on TEXT and save one PyG graph per layer to OUT.

    Load the result with ``tgnn.load_graphs(OUT)`` (safetensors and JSON, no pickle): a list
    of ``Data`` (one per layer; a ``Batch`` per layer when several texts are given). An
    existing OUT is replaced only with ``--force``. With ``--overflow windows``
    the list holds the layer graphs of window 0, then of window 1, ..., each graph with its
    ``window`` number and ``pos`` the token positions in the whole text (see
    ``tgnn.capture_graphs``).
    """
    from tgnn.convert import capture_graphs, save_graphs

    if sparse and hidden_states:
        typer.echo("tgnn convert: --hidden-states is not available with --sparse; drop one",
                   err=True)
        raise typer.Exit(2)
    if out.suffix != ".safetensors":
        typer.echo(f"tgnn convert: --out: expected a file name ending in .safetensors, got "
                   f"{str(out)!r}", err=True)
        raise typer.Exit(2)
    _writable("convert", out, force)
    network, tokenizer = _load_model("convert", model, device, dtype)
    inputs = _tokenize(tokenizer, text)
    policy, count = _fit("convert", model, network, tokenizer, inputs, overflow, overlap)
    inputs = _on_device(inputs, network)
    options: dict[str, Any] = {
        "head_reduction": None if head_reduction == "none" else head_reduction,
        "top_k": top_k, "top_p": top_p, "threshold": threshold, "overflow": policy,
    }
    with _one_line("convert"):  # bad options are named in one line
        if sparse:
            from tgnn.convert import capture_sparse_graphs

            graphs = capture_sparse_graphs(network, inputs, memory_budget=memory_mb * 2**20,
                                           progress=sys.stderr.isatty(), **options)
        else:
            graphs = capture_graphs(network, inputs, hidden_states=hidden_states, **options)
        save_graphs(out, graphs, overwrite=force)
    edges = sum(g.num_edges for g in graphs)
    pieces = f" in {count} windows" if policy.mode == "windows" else ""
    typer.echo(f"saved {len(graphs)} layer graphs{pieces} ({edges} edges) to {out}")


@app.command("train-tiny")
def train_tiny_cmd(
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 2500,
    no_bos: Annotated[bool, typer.Option("--no-bos", help="Train the twin without BOS.")] = False,
    out: Annotated[Path, typer.Option(
        help="Output folder (default: the current folder; never inside the installed "
             "package, whose shipped weights stay as they are).")] = Path("."),
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite existing output files.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of init and data order.")] = 0,
    batch: Annotated[int, typer.Option(help="Training windows per step.")] = 16,
    window: Annotated[int, typer.Option(help="Tokens per training window (<= 256).")] = 256,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 1,
    max_minutes: Annotated[float | None, typer.Option(help="Stop early after this long.")] = None,
    stop_after: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
    lr: Annotated[float, typer.Option(help="Peak AdamW learning rate.")] = 2e-3,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 0.1,
    init: Annotated[Path | None, typer.Option(help="Continue from these weights.")] = None,
) -> None:
    """Train the embedded character GPT-2 (tgnn-gpt2-tiny) deterministically on pydoc topics.

    Writes tgnn-gpt2-tiny.safetensors, .config.json, .tokenizer.json and .meta.json (with
    --no-bos tgnn-gpt2-tiny-nobos.*) to OUT; load the model with tgnn.models.load(path of the
    .safetensors file). Existing files are replaced only with --force, after a successful run.
    """
    import json

    from tgnn.models.train import output_files, train_tiny

    with _one_line("train-tiny"):
        output_files(out, not no_bos, overwrite=force, argument="--out", option="--force")
    meta = train_tiny(steps=steps, bos=not no_bos, out=out, seed=seed, batch=batch,
                      threads=threads, max_minutes=max_minutes, stop_after=stop_after, lr=lr,
                      weight_decay=weight_decay, init=init, window=window, overwrite=force)
    typer.echo(json.dumps(meta, indent=1))


@app.command()
def bench(
    names: list[str] = typer.Argument(None, help="Experiments to run (default: all)."),  # noqa: B008
    quick: bool = typer.Option(False, "--quick", help="Small configurations (minutes on 2 CPUs)."),
    model: str = typer.Option("tgnn-gpt2-tiny", "--model", help="Causal model to study."),
    out: str = typer.Option("reports/latest", "--out", help="Output folder of the report."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    workers: int = typer.Option(1, "--workers", help="Local processes for sweeps."),
    ray: str = typer.Option(None, "--ray", help="Ray address for sweeps ('local' starts one)."),
    threads: int = typer.Option(0, "--threads", help="Torch threads (0: 1 with --quick)."),
) -> None:
    """Run the benchmark suite and write OUT/report.md, OUT/results.json and the plots.

    OUT is the report folder: a run updates the files of the experiments it runs there and
    rewrites report.md from all results in it. It must lie outside the installed package.
    """
    from tgnn._output import outside_package
    from tgnn.benchmarks.suite import run_suite

    with _one_line("bench"):
        outside_package(out, argument="--out")

    _, report = run_suite(names or None, quick=quick, model=model, out=out, seed=seed,
                          workers=workers, ray_address=ray, threads=threads or None)
    typer.echo(f"report: {report}")


@app.command()
def view(
    model: str = typer.Argument("tgnn-gpt2-tiny", help="Model name or checkpoint folder."),
    text: str = typer.Option("The cat sat on the mat because it was warm.", "--text",
                             help="The input to explore."),
    out: str = typer.Option("tgnn-view.html", "--out", help="HTML file to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT if it exists."),
    top_k: int = typer.Option(8, "--top-k", help="Edges kept per query, layer and head."),
    rho: float = typer.Option(0.5, "--rho", help="Residual share of rollout and paths."),
    sensitivity: bool = typer.Option(None, "--sensitivity/--no-sensitivity",
                                     help="Measure the Jacobian (default: when small)."),
    overflow: Annotated[
        OverflowOption, typer.Option(help=_OVERFLOW_HELP + " Windows: one page each.")
    ] = OverflowOption.error,
    overlap: Annotated[int, typer.Option(help="Tokens shared by consecutive windows.")] = 0,
    device: DeviceOption = "cpu",
    dtype: DtypeOption = "float32",
) -> None:
    """Write an offline HTML explorer of MODEL's attention graph on TEXT (no server, no CDN).

    With ``--overflow windows`` one page per window: OUT with ``-0``, ``-1``, ... before its
    suffix. An existing page is replaced only with ``--force``.
    """
    from tgnn.explorer import write_html

    if overflow != OverflowOption.windows:
        _writable("view", out, force)
    loaded, tokenizer = _load_model("view", model, device, dtype)
    policy, count = _fit("view", model, loaded, tokenizer, _tokenize(tokenizer, text), overflow,
                         overlap)
    targets = [Path(out)]
    if policy.mode == "windows":
        targets = [Path(out).with_name(f"{Path(out).stem}-{w}{Path(out).suffix}")
                   for w in range(count)]
    for target in targets:
        _writable("view", target, force)
    for window, target in enumerate(targets):
        part = f" (window {window + 1} of {count})" if policy.mode == "windows" else ""
        path = write_html(target, loaded, tokenizer, text, top_k=top_k, rho=rho,
                          sensitivity=sensitivity, title=f"{model}: {text[:60]}{part}",
                          overflow=policy, window=window, overwrite=force)
        typer.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


app.command("sweep", help=SWEEP_HELP)(sweep)

if __name__ == "__main__":  # pragma: no cover
    app()

