"""Checks of the device and the dtype a model is asked to run on, before anything loads.

Shared by every command and function that runs a model (the sweep, the command line, the tiny
model's training): a device this torch cannot use or an unknown dtype is one
:class:`~tgnn.errors.OptionError` naming the argument, never an error from inside torch after
the model has loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tgnn.errors import OptionError

if TYPE_CHECKING:
    import torch

__all__ = ["DTYPE_NAMES", "check_device", "check_dtype"]

DTYPE_NAMES = ("float32", "float64", "bfloat16", "float16")
"""The floating dtypes a model may be loaded in."""


def check_device(device: Any, *, argument: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` that this torch can use: ``cpu``, ``cuda``, ``cuda:N``
    (a GPU this machine has) or ``mps``. Checked before any model loads.

    Raises
    ------
    OptionError
        Another device type, a malformed name, or a device this torch build or machine lacks
        (the message names ``argument`` and says what to pass instead).

    Examples
    --------
    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("tpu", argument="--device")
    Traceback (most recent call last):
    ...
    tgnn.errors.OptionError: --device: expected cpu, cuda, cuda:N or mps, got 'tpu'
    """
    import torch

    try:
        where = torch.device(device)
    except (RuntimeError, TypeError):
        where = torch.device("meta")  # refused below
    if where.type not in ("cpu", "cuda", "mps"):
        raise OptionError(f"{argument}: expected cpu, cuda, cuda:N or mps, got {device!r}")
    missing = ""
    if where.type == "cuda" and not torch.cuda.is_available():
        missing = "this torch build sees no CUDA device"
    elif where.type == "cuda" and (where.index or 0) >= torch.cuda.device_count():
        missing = f"this machine has {torch.cuda.device_count()} CUDA devices"
    elif where.type == "mps" and not torch.backends.mps.is_available():
        missing = "MPS is not available here"
    if missing:
        raise OptionError(f"{argument}: expected a device this torch can use, got {device!r} "
                          f"({missing}); use cpu")
    return where


def check_dtype(dtype: Any, *, argument: str = "dtype",
                allowed: Sequence[str] = DTYPE_NAMES) -> torch.dtype:
    """``dtype`` (a name among ``allowed`` or such a ``torch.dtype``) as a ``torch.dtype``.

    Examples
    --------
    >>> check_dtype("bfloat16")
    torch.bfloat16
    >>> check_dtype("float8", argument="--dtype")
    Traceback (most recent call last):
    ...
    tgnn.errors.OptionError: --dtype: expected one of float32, ..., float16, got 'float8'
    """
    import torch

    name = str(dtype).removeprefix("torch.") if isinstance(dtype, (str, torch.dtype)) else ""
    if name not in allowed:
        raise OptionError(f"{argument}: expected one of {', '.join(allowed)}, got {dtype!r}")
    return getattr(torch, name)  # type: ignore[no-any-return]
