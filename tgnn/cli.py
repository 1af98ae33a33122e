"""The ``tgnn`` command line. Each sub-command imports its heavy modules lazily."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="tgnn",
    help="Transformer attention as graphs: convert, measure, benchmark and view.",
    no_args_is_help=True,
    add_completion=False,
)

DEMO_TEXT = "The quick brown fox jumps over the lazy dog because it was bored."


@app.command()
def demo(
    text: Annotated[str, typer.Option(help="Sentence to run through MiniLM.")] = DEMO_TEXT,
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
    from tgnn.models import load

    model, tokenizer = load("minilm")
    inputs = tokenizer(text, return_tensors="pt")
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
    model: Annotated[str, typer.Argument(help="'minilm', 'tgnn-gpt2-tiny', or a local HF path.")],
    text: Annotated[list[str], typer.Option("--text", help="Input text (repeat for a batch).")],
    out: Annotated[
        Path, typer.Option(help="Where to save the per-layer graphs (torch.save).")
    ] = Path("graphs.pt"),
    head_reduction: Annotated[
        str, typer.Option(help="'mean', 'max', 'sum' or 'none' (per-head edge_attr).")
    ] = "mean",
    top_k: Annotated[int | None, typer.Option(help="Keep the k strongest keys per query.")] = None,
    top_p: Annotated[
        float | None, typer.Option(help="Keep keys up to this mass per query.")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Drop weights below this.")] = None,
    hidden_states: Annotated[bool, typer.Option(help="Attach hidden states as x.")] = False,
) -> None:
    """Capture a model's attention on TEXT and save one PyG graph per layer to OUT.

    Load the result with ``torch.load(OUT, weights_only=False)``: a list of ``Data`` (one per
    layer; a ``Batch`` per layer when several texts are given).
    """
    import torch

    from tgnn.convert import capture_graphs
    from tgnn.models import load

    network, tokenizer = load(model)
    inputs = tokenizer(text, return_tensors="pt", padding=True)
    graphs = capture_graphs(
        network,
        inputs,
        head_reduction=None if head_reduction == "none" else head_reduction,
        top_k=top_k,
        top_p=top_p,
        threshold=threshold,
        hidden_states=hidden_states,
    )
    torch.save(graphs, out)
    edges = sum(g.num_edges for g in graphs)
    typer.echo(f"saved {len(graphs)} layer graphs ({edges} edges) to {out}")


@app.command("train-tiny")
def train_tiny_cmd(
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 2500,
    no_bos: Annotated[bool, typer.Option("--no-bos", help="Train the twin without BOS.")] = False,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: the package).")] = None,
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
    """Train the embedded character GPT-2 (tgnn-gpt2-tiny) deterministically on pydoc topics."""
    import json

    from tgnn.models.train import train_tiny

    meta = train_tiny(steps=steps, bos=not no_bos, out=out, seed=seed, batch=batch,
                      threads=threads, max_minutes=max_minutes, stop_after=stop_after, lr=lr,
                      weight_decay=weight_decay, init=init, window=window)
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
    """Run the benchmark suite and write OUT/report.md, OUT/results.json and the plots."""
    from tgnn.benchmarks.suite import run_suite

    _, report = run_suite(names or None, quick=quick, model=model, out=out, seed=seed,
                          workers=workers, ray_address=ray, threads=threads or None)
    typer.echo(f"report: {report}")


@app.command()
def view(
    model: str = typer.Argument("tgnn-gpt2-tiny", help="Model name or checkpoint folder."),
    text: str = typer.Option("The cat sat on the mat because it was warm.", "--text",
                             help="The input to explore."),
    out: str = typer.Option("tgnn-view.html", "--out", help="HTML file to write."),
    top_k: int = typer.Option(8, "--top-k", help="Edges kept per query, layer and head."),
    rho: float = typer.Option(0.5, "--rho", help="Residual share of rollout and paths."),
    sensitivity: bool = typer.Option(None, "--sensitivity/--no-sensitivity",
                                     help="Measure the Jacobian (default: when small)."),
) -> None:
    """Write an offline HTML explorer of MODEL's attention graph on TEXT (no server, no CDN)."""
    from tgnn.explorer import write_html
    from tgnn.models import load

    loaded, tokenizer = load(model)
    path = write_html(out, loaded, tokenizer, text, top_k=top_k, rho=rho, sensitivity=sensitivity,
                      title=f"{model}: {text[:60]}")
    typer.echo(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":  # pragma: no cover
    app()
