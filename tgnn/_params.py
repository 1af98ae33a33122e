"""Checks of parameters and of a graph's node count, shared by generators, transforms and masks.

Every check raises a :mod:`tgnn.errors` type whose message names the argument, what was expected
and what came, and returns the value in its plain Python type. Parameter values (counts,
probabilities, rates, flags, options) raise :class:`~tgnn.errors.OptionError`; the node count of
a ``Data`` raises :class:`~tgnn.errors.GraphError`.

Numbers: a count is an ``int`` (numpy integers too), never a ``bool`` nor a float (``2.0`` is
refused rather than truncated); a real is any real number but a ``bool`` and never NaN; each
check states its interval, with infinities allowed only where the interval holds them.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Collection
from typing import Any

from torch import Tensor

from tgnn.errors import GraphError, OptionError

__all__ = ["check_count", "check_real", "check_flag", "check_choice", "check_num_nodes"]


def check_count(value: Any, name: str, minimum: int = 0) -> int:
    """``value`` as an ``int`` after checking it is an integer ``>= minimum``.

    Examples
    --------
    >>> check_count(3, "num_edges")
    3
    >>> check_count(1.5, "num_edges")
    Traceback (most recent call last):
    tgnn.errors.OptionError: num_edges: expected an integer >= 0, got 1.5 (float)
    """
    expected = f"{name}: expected an integer >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OptionError(f"{expected}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise OptionError(f"{expected}, got {int(value)}")
    return int(value)


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_real(
    value: Any,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a ``float`` after checking it is a real number in the interval (never NaN).

    ``low`` / ``high`` bound the interval, closed unless ``low_open`` / ``high_open``; the
    default ``[-inf, inf]`` admits every real number and both infinities but not NaN, and
    ``high=math.inf, high_open=True`` refuses ``+inf``.

    Examples
    --------
    >>> check_real(0.5, "p", 0.0, 1.0)
    0.5
    >>> check_real(float("nan"), "slope", 0.0, math.inf, high_open=True)
    Traceback (most recent call last):
    tgnn.errors.OptionError: slope: expected a real number in [0, inf), got nan
    """
    expected = f"{name}: expected a real number in {_interval(low, high, low_open, high_open)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise OptionError(f"{expected}, got {value!r} ({type(value).__name__})")
    number = float(value)
    above = number > low if low_open else number >= low
    below = number < high if high_open else number <= high
    if not (above and below):  # NaN fails both
        raise OptionError(f"{expected}, got {number!r}")
    return number


def check_flag(value: Any, name: str, allow_none: bool = True) -> bool | None:
    """``value`` as ``bool`` (or ``None`` when allowed); strings, numbers and the rest refused.

    Examples
    --------
    >>> check_flag(None, "causal") is None
    True
    >>> check_flag("no", "causal")
    Traceback (most recent call last):
    tgnn.errors.OptionError: causal: expected True, False or None, got 'no' (str)
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy's bool too
        return bool(value)
    options = "True, False or None" if allow_none else "True or False"
    raise OptionError(f"{name}: expected {options}, got {value!r} ({type(value).__name__})")


def check_choice(value: Any, name: str, choices: Collection[Any]) -> Any:
    """``value`` after checking it is one of ``choices``.

    Examples
    --------
    >>> check_choice("mass", "pick", ("cost", "mass"))
    'mass'
    """
    if not any(value is choice or (type(value) is type(choice) and value == choice)
               for choice in choices):
        listed = ", ".join(repr(choice) for choice in choices)
        raise OptionError(f"{name}: expected one of {listed}, got {value!r}")
    return value


def check_num_nodes(data: Any, name: str = "data") -> int:
    """The node count of a PyG ``Data``: stored or read off node-level tensors, never inferred
    from ``edge_index.max() + 1`` (that drops trailing isolated nodes), an integer ``>= 0``.

    Raises
    ------
    GraphError
        No ``num_nodes`` and no node-level tensor that gives it, or a count that is not an
        integer ``>= 0`` (``3.7`` is refused rather than truncated).

    Examples
    --------
    >>> import torch
    >>> from torch_geometric.data import Data
    >>> check_num_nodes(Data(edge_index=torch.tensor([[0], [1]]), num_nodes=3))
    3
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = data.num_nodes
    if value is None or any("infer 'num_nodes'" in str(w.message) for w in caught):
        raise GraphError(
            f"{name}.num_nodes: expected the number of nodes set explicitly (num_nodes=n), got "
            "none (inferring it from edge_index.max() + 1 would drop trailing isolated nodes)"
        )
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise GraphError(
            f"{name}.num_nodes: expected an integer >= 0, got {value!r} ({type(value).__name__})"
        )
    return int(value)
