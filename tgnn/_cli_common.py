"""What every ``tgnn`` command shares: one-line errors, the common options, model loading.

A user mistake (an unknown model, a missing file, a text too long, a bad option value) ends the
command with one line on stderr, ``tgnn COMMAND: what is wrong and how to fix it``, and exit
code 2; ``--debug`` shows the full traceback instead. Mistakes that the option parser finds
(a misspelt option, a value of the wrong type) are turned into the same one line by
:class:`OneLineGroup`. Errors that are not user mistakes (bugs) keep their traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from tgnn._progress import reporting, step

__all__ = ["OneLineGroup", "fail", "running", "load_model", "DeviceOption", "DtypeOption",
           "QuietOption", "DebugOption", "DTYPES"]

DTYPES = ("float32", "bfloat16", "float16")
DeviceOption = Annotated[str, typer.Option(
    help="Where the model runs: cpu, cuda, cuda:N or mps.")]
DtypeOption = Annotated[str, typer.Option(
    help="The model's weights: float32, bfloat16 or float16 (attention is always captured in "
         "float32).")]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", help="No progress on stderr (by default every step over 2 s is reported: live "
                    "on a terminal, one line per step otherwise).")]
DebugOption = Annotated[bool, typer.Option(
    "--debug", help="Show the full traceback of an error instead of its one-line message.")]

_FILE_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
"""Besides :class:`tgnn.errors.TgnnError`: the file-system mistakes reported in one line."""


def fail(command: str, message: str) -> typer.Exit:
    """Write ``tgnn COMMAND: MESSAGE`` (its first line) to stderr; return the exit (code 2)."""
    typer.echo(f"tgnn {command}: {str(message).splitlines()[0]}", err=True)
    return typer.Exit(2)


def _described(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or type(error).__name__}: {str(error.filename)!r}"
    return str(error)


@contextmanager
def running(command: str, *, quiet: bool = False, debug: bool = False) -> Iterator[None]:
    """The body of a command: its steps reported (:mod:`tgnn._progress`), a user mistake
    turned into one line and exit code 2 (unless ``debug``, which lets it raise)."""
    from tgnn.errors import TgnnError

    with reporting(command, quiet=quiet):
        try:
            yield
        except (TgnnError, *_FILE_ERRORS) as error:
            if debug:
                raise
            raise fail(command, _described(error)) from None


class OneLineGroup(TyperGroup):
    """The ``tgnn`` group: a usage error of any command is one line and exit code 2.

    Click's own form (usage, a hint, a framed error) becomes ``tgnn COMMAND: Invalid value
    for '--top-k': 'x' is not a valid integer; see tgnn COMMAND --help``.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        with _usage_in_one_line():
            return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        with _usage_in_one_line():
            return super().invoke(ctx)


_UsageError: type[Exception] = typer.BadParameter.__mro__[1]
"""Click's ``UsageError`` (typer vendors its own click; this reaches it by a public name)."""


@contextmanager
def _usage_in_one_line() -> Iterator[None]:
    try:
        yield
    except _UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # bare ``tgnn``: the help
            raise
        context = getattr(error, "ctx", None)
        path = context.command_path if context is not None else "tgnn"
        message = " ".join(error.format_message().split())  # type: ignore[attr-defined]
        message = message.replace(": Value error, ", ": ").rstrip(".")
        typer.echo(f"{path}: {message}; see {path} --help", err=True)
        raise typer.Exit(2) from None


def load_model(name: str, device: str, dtype: str) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a command, never from the hub. An unknown model, a device
    this torch cannot use or an unknown dtype raise :class:`tgnn.errors.OptionError` (one line
    inside :func:`running`)."""
    from tgnn._devices import check_device, check_dtype
    from tgnn.errors import OptionError
    from tgnn.sweep import check_model
    from tgnn.sweep import load_model as load

    check_model(name)
    where = check_device(device, argument="--device")
    weights = check_dtype(dtype, argument="--dtype", allowed=DTYPES)
    with step(f"loading the model {name}"):
        try:
            return load(name, device=where, dtype=weights)
        except OptionError:
            raise
        except (OSError, ValueError) as error:  # a folder or file transformers cannot read
            first = " ".join(str(error).split())
            raise OptionError(f"model: cannot load {name!r} ({first}); pass a Hugging Face "
                              "checkpoint folder with config.json and weights, or a "
                              ".safetensors file from tgnn train-tiny") from error
