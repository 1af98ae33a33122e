"""The ``tgnn`` command line. Each sub-command imports its heavy modules lazily.

Every command reports its steps over 2 s on stderr (``--quiet`` for none) and ends a user
mistake with one line and exit code 2 (``--debug`` for the traceback): see
:mod:`tgnn._cli_common` and :mod:`tgnn._progress`.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tgnn._cli_common import (
    DTYPES,
    DebugOption,
    DeviceOption,
    DtypeOption,
    OneLineGroup,
    QuietOption,
    fail,
    load_model,
    running,
)
from tgnn._cli_sweep import SWEEP_HELP, SWEEP_SHORT_HELP, sweep
from tgnn._progress import live, step

if TYPE_CHECKING:
    from tgnn.convert import Overflow

app = typer.Typer(
    name="tgnn",
    help="Transformer attention as graphs: convert, measure, benchmark and view.",
    no_args_is_help=True,
    add_completion=False,
    cls=OneLineGroup,
    rich_markup_mode=None,  # plain help: docstrings reflowed, nothing read as markup
    context_settings={"max_content_width": 100},
    pretty_exceptions_show_locals=False,
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
    from tgnn.errors import ContextLengthError

    ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    special = set(getattr(tokenizer, "all_special_ids", None) or [])
    rows = [row if mask is None else row[mask[b].bool()] for b, row in enumerate(ids)]
    ends = [all(len(r) > 1 and int(r[e]) in special for r in rows) for e in (0, -1)]
    try:
        policy = Overflow(overflow.value, overlap=overlap, keep_prefix=int(ends[0]),
                          keep_suffix=int(ends[1]))
        return policy, len(context_windows(inputs, model, policy, name=name))
    except ContextLengthError as error:
        raise fail(command, f"{error.length} tokens exceed the context of {error.model} "
                   f"({error.source}); rerun with --overflow keep-last, keep-first or "
                   "windows") from None


def _on_device(inputs: Any, model: Any) -> dict[str, Any]:
    """The tokenizer's tensors moved to the model's device."""
    return {k: v.to(model.device) if hasattr(v, "to") else v for k, v in dict(inputs).items()}


def _writable(path: Path | str, force: bool) -> None:
    """Refuse ``--out PATH`` inside the package, or existing without ``--force``."""
    from tgnn._output import check_output

    check_output(path, overwrite=force, argument="--out", option="--force")


@app.command(short_help="Print per-layer graph numbers of one sentence in MiniLM.")
def demo(
    text: Annotated[str, typer.Option(help="Sentence to run through MiniLM.")] = DEMO_TEXT,
    device: DeviceOption = "cpu",
    dtype: DtypeOption = "float32",
    quiet: QuietOption = False,
    debug: DebugOption = False,
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

    with running("demo", quiet=quiet, debug=debug):
        model, tokenizer = load_model("minilm", device, dtype)
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

        with step("capturing attention and measuring each layer"):
            stream_attention(model, inputs, add_row)
    Console().print(table)
    typer.echo(f"uniform attention: sink mass {1 / n:.3f}, entropy {math.log(n):.3f}")


@app.command(short_help="Save a model's attention on a text as PyG graphs.")
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
    eager: Annotated[
        bool, typer.Option("--eager", help="With --sparse: library calls with eager "
                           "attention's arithmetic, equal to the dense capture bit for bit, "
                           "instead of tgnn's faster fused CPU kernel.")
    ] = False,
    device: DeviceOption = "cpu",
    dtype: DtypeOption = "float32",
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Capture a model's attention on TEXT and save one PyG graph per layer to OUT.

    Load the result with tgnn.load_graphs(OUT) (safetensors and JSON, no pickle): a list of
    Data (one per layer; a Batch per layer when several texts are given). An existing OUT is
    replaced only with --force. With --overflow windows the list holds the layer graphs of
    window 0, then of window 1, and so on, each graph with its window number and pos, the token
    positions in the whole text (see tgnn.capture_graphs).
    """
    from tgnn.convert import capture_graphs, save_graphs

    if sparse and hidden_states:
        raise fail("convert", "--hidden-states is not available with --sparse; drop one")
    if eager and not sparse:
        raise fail("convert", "--eager chooses how --sparse computes; add --sparse or drop it")
    if out.suffix != ".safetensors":
        raise fail("convert", "--out: expected a file name ending in .safetensors, got "
                   f"{str(out)!r}")
    with running("convert", quiet=quiet, debug=debug):
        _writable(out, force)
        network, tokenizer = load_model(model, device, dtype)
        inputs = _tokenize(tokenizer, text)
        policy, count = _fit("convert", model, network, tokenizer, inputs, overflow, overlap)
        inputs = _on_device(inputs, network)
        options: dict[str, Any] = {
            "head_reduction": None if head_reduction == "none" else head_reduction,
            "top_k": top_k, "top_p": top_p, "threshold": threshold, "overflow": policy,
        }
        with step("capturing attention"):
            if sparse:
                from tgnn.convert import capture_sparse_graphs

                graphs = capture_sparse_graphs(network, inputs, memory_budget=memory_mb * 2**20,
                                               progress=live(),
                                               kernel="eager" if eager else "auto", **options)
            else:
                graphs = capture_graphs(network, inputs, hidden_states=hidden_states, **options)
        with step(f"writing {out}"):
            save_graphs(out, graphs, overwrite=force)
    edges = sum(g.num_edges for g in graphs)
    pieces = f" in {count} windows" if policy.mode == "windows" else ""
    typer.echo(f"saved {len(graphs)} layer graphs{pieces} ({edges} edges) to {out}")



@app.command("train-tiny", short_help="Train the embedded character GPT-2, tgnn-gpt2-tiny.")
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
    init: Annotated[Path | None, typer.Option(
        help="Continue from these weights (a .safetensors file from train-tiny).",
        exists=True, dir_okay=False)] = None,
    device: DeviceOption = "cpu",
    dtype: Annotated[str, typer.Option(
        help="Precision of the training passes: float32, or bfloat16 or float16 as mixed "
             "precision (float32 weights and optimizer; float16 with loss scaling).")
    ] = "float32",
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Train the embedded character GPT-2 (tgnn-gpt2-tiny) deterministically on pydoc topics.

    Writes tgnn-gpt2-tiny.safetensors, .config.json, .tokenizer.json and .meta.json (with
    --no-bos the tgnn-gpt2-tiny-nobos files) to OUT; load the model with tgnn.models.load and
    the path of the .safetensors file. Existing files are replaced only with --force, after a
    successful run. The weights are written in float32 whatever --device and --dtype; a seed
    gives the same run on one device, and runs on other devices or dtypes differ by rounding.
    """
    import json

    from tgnn._devices import check_device, check_dtype
    from tgnn.models.train import output_files, train_tiny

    with running("train-tiny", quiet=quiet, debug=debug):
        output_files(out, not no_bos, overwrite=force, argument="--out", option="--force")
        check_device(device, argument="--device")
        check_dtype(dtype, argument="--dtype", allowed=DTYPES)
        with step("training"):
            meta = train_tiny(steps=steps, bos=not no_bos, out=out, seed=seed, batch=batch,
                              threads=threads, max_minutes=max_minutes, stop_after=stop_after,
                              lr=lr, weight_decay=weight_decay, init=init, window=window,
                              overwrite=force, progress=live(), device=device, dtype=dtype)
    typer.echo(json.dumps(meta, indent=1))


@app.command(short_help="Run the benchmark suite and write its report.")
def bench(
    names: Annotated[list[str] | None, typer.Argument(
        help="Experiments to run (default: all).", show_default=False)] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Small configurations (minutes on 2 CPUs).")] = False,
    model: Annotated[str, typer.Option(help="Causal model to study.")] = "tgnn-gpt2-tiny",
    out: Annotated[str, typer.Option(help="Output folder of the report.")] = "reports/latest",
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    workers: Annotated[int, typer.Option(
        help="Local processes: with N > 1, N whole sections at a time (one torch thread each; "
             "the sections that time code run alone afterwards); 0: one per CPU this process "
             "may use; 1: one section after the other in this process.")] = 0,
    ray: Annotated[str | None, typer.Option(
        "--ray", help="Ray address: whole sections (and their sweeps) run as Ray tasks; 'local' "
        "starts one on this machine's CPUs, 'auto' joins the running cluster.",
        show_default=False)] = None,
    threads: Annotated[int, typer.Option(help="Torch threads (0: 1 with --quick).")] = 0,
    device: Annotated[str, typer.Option(
        help="Where the models run: cpu only (the report's figures are CPU measurements).")
    ] = "cpu",
    dtype: Annotated[str, typer.Option(
        help="The models' weights: float32 only (the sections set their own precisions).")
    ] = "float32",
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Run the benchmark suite and write OUT/report.md, OUT/results.json and the plots.

    OUT is the report folder: a run updates the files of the experiments it runs there and
    rewrites report.md from all results in it. It must lie outside the installed package.
    The experiments run their models on the CPU in float32 (a section that studies precision
    sets its own); --device and --dtype accept only these values, and results.json records them.
    """
    from tgnn._cpus import available_cpus
    from tgnn._output import outside_package
    from tgnn.benchmarks.suite import EXPERIMENTS, run_suite
    from tgnn.errors import OptionError

    with running("bench", quiet=quiet, debug=debug):
        outside_package(out, argument="--out")
        unknown = [name for name in names or [] if name not in EXPERIMENTS]
        if unknown:
            raise OptionError(f"names: expected experiments among {', '.join(EXPERIMENTS)}, "
                              f"got {', '.join(unknown)}")
        if workers < 0:
            raise OptionError(f"--workers: expected 0 (one per CPU) or a positive count, "
                              f"got {workers}")
        _, report = run_suite(names or None, quick=quick, model=model, out=out, seed=seed,
                              workers=workers or available_cpus(), ray_address=ray,
                              threads=threads or None,
                              progress=not quiet, device=device, dtype=dtype)
    typer.echo(f"report: {report}")


class SensitivityOption(str, Enum):
    """``tgnn view --sensitivity``: how the Jacobian sensitivity of the last token is found."""

    auto = "auto"
    exact = "exact"
    probe = "probe"
    off = "off"


_SENSITIVITY_MODES: dict[SensitivityOption, bool | str | None] = {
    SensitivityOption.auto: None, SensitivityOption.exact: True,
    SensitivityOption.probe: "probe", SensitivityOption.off: False,
}


@app.command(short_help="Write an offline HTML explorer of a model's attention.")
def view(
    model: Annotated[str, typer.Argument(
        help="'tgnn-gpt2-tiny' (default), 'tgnn-gpt2-tiny-nobos', 'minilm', "
             "'random:gpt2|llama|bert', a .safetensors file from train-tiny or a local Hugging "
             "Face checkpoint folder.", show_default=False)] = "tgnn-gpt2-tiny",
    text: Annotated[str, typer.Option(
        "--text", help="The input to explore.")] = "The cat sat on the mat because it was warm.",
    out: Annotated[str, typer.Option(help="HTML file to write.")] = "tgnn-view.html",
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
    top_k: Annotated[int, typer.Option(help="Edges kept per query, layer and head.")] = 8,
    rho: Annotated[float, typer.Option(help="Residual share of rollout and paths.")] = 0.5,
    sensitivity: Annotated[SensitivityOption, typer.Option(
        help="Jacobian sensitivity of the last token: 'exact' (d backward passes per layer), "
             "'probe' (a random-probe estimate with error bars, 16 passes per layer), 'off', "
             "or 'auto': exact when it fits in memory and in --jacobian-budget seconds "
             "(estimated from one timed pass), else the estimate when that fits, else none "
             "(the page says why).")] = SensitivityOption.auto,
    no_sensitivity: Annotated[bool, typer.Option(
        "--no-sensitivity", hidden=True, help="The same as --sensitivity off.")] = False,
    jacobian_budget: Annotated[float, typer.Option(
        help="Seconds that --sensitivity auto may spend on the sensitivity.")] = 20.0,
    overflow: Annotated[
        OverflowOption, typer.Option(help=_OVERFLOW_HELP + " Windows: one page each.")
    ] = OverflowOption.error,
    overlap: Annotated[int, typer.Option(help="Tokens shared by consecutive windows.")] = 0,
    device: DeviceOption = "cpu",
    dtype: DtypeOption = "float32",
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Write an offline HTML explorer of MODEL's attention graph on TEXT (no server, no CDN).

    With --overflow windows one page per window: OUT with -0, -1, and so on before its
    suffix. An existing page is replaced only with --force.
    """
    from tgnn.explorer import write_html

    mode = False if no_sensitivity else _SENSITIVITY_MODES[sensitivity]
    with running("view", quiet=quiet, debug=debug):
        if overflow != OverflowOption.windows:
            _writable(out, force)
        loaded, tokenizer = load_model(model, device, dtype)
        policy, count = _fit("view", model, loaded, tokenizer, _tokenize(tokenizer, text),
                             overflow, overlap)
        targets = [Path(out)]
        if policy.mode == "windows":
            targets = [Path(out).with_name(f"{Path(out).stem}-{w}{Path(out).suffix}")
                       for w in range(count)]
        for target in targets:
            _writable(target, force)
        for window, target in enumerate(targets):
            part = f" (window {window + 1} of {count})" if policy.mode == "windows" else ""
            with step(f"building {target}"):
                path = write_html(target, loaded, tokenizer, text, top_k=top_k, rho=rho,
                                  sensitivity=mode, jacobian_budget_s=jacobian_budget,
                                  title=f"{model}: {text[:60]}{part}", overflow=policy,
                                  window=window, overwrite=force, progress=live())
            typer.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


app.command("sweep", help=SWEEP_HELP, short_help=SWEEP_SHORT_HELP)(sweep)

if __name__ == "__main__":  # pragma: no cover
    app()
