"""The ``tgnn`` command line. Each sub-command imports its heavy modules lazily."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tgnn",
    help="Transformer attention as graphs: convert, measure, benchmark and view.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def demo() -> None:
    """Convert one sentence's attention in the embedded MiniLM and print a per-layer table."""
    typer.echo("demo: not implemented yet")


if __name__ == "__main__":  # pragma: no cover
    app()
