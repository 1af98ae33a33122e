"""Exception types of tgnn.

Every error that tgnn raises on bad input is one of these. Messages name the argument, what was
expected and what was received, so that a caller can fix the call without reading our source.
All of them subclass :class:`TgnnError`, which itself subclasses :class:`ValueError` so that code
written against plain ``ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "TgnnError",
    "ShapeError",
    "OptionError",
    "NonFiniteError",
    "NotStochasticError",
    "NotCausalError",
    "MaskError",
    "EmptyInputError",
    "AttentionUnavailableError",
    "GraphError",
    "DisconnectedGraphError",
    "NotReachableError",
    "ContextLengthError",
    "OutputExistsError",
    "ProtectedPathError",
    "SerializationError",
]


class TgnnError(ValueError):
    """Base class of every tgnn input error."""


class ShapeError(TgnnError):
    """An array has the wrong rank or shape (for example non-square attention)."""


class ContextLengthError(ShapeError):
    """An input is longer than the model's context (its maximum positions).

    Raised before the model runs. Besides the one-line message it carries ``length`` (tokens
    of the input), ``limit`` (the model's maximum), ``model`` (a description of the model) and
    ``source`` (the config entry the limit comes from), so a caller can word its own message.
    """

    def __init__(
        self, message: str, *, length: int | None = None, limit: int | None = None,
        model: str = "", source: str = "",
    ) -> None:
        super().__init__(message)
        self.length, self.limit, self.model, self.source = length, limit, model, source


class NonFiniteError(TgnnError):
    """An array holds NaN or infinite values."""


class NotStochasticError(TgnnError):
    """Attention rows do not sum to one within the tolerance of their dtype."""


class NotCausalError(TgnnError):
    """Attention was asserted causal (lower triangular) but puts weight above the diagonal."""


class MaskError(TgnnError):
    """A padding or attention mask does not match the attention it goes with."""


class EmptyInputError(TgnnError):
    """A sequence, graph or list that must not be empty is empty."""


class AttentionUnavailableError(TgnnError):
    """A model cannot give attention weights (for example an SDPA-only or flash-only model)."""


class GraphError(TgnnError):
    """A graph is invalid for the requested metric (negative weights, bad edge_index, ...)."""


class OptionError(ShapeError, GraphError):
    """A parameter is not one of its allowed values: a literal choice (a method, a rule, a
    mode), a flag, or a count or number outside its documented range.

    It subclasses :class:`ShapeError` and :class:`GraphError`, the two types such errors had
    before 0.3, so that ``except ShapeError`` and ``except GraphError`` keep catching them.
    """


class DisconnectedGraphError(GraphError):
    """A metric that needs a connected graph got a disconnected one."""


class NotReachableError(GraphError):
    """A directed graph has no globally reachable node, or an assumption on it fails."""


class SizeLimitError(TgnnError):
    """An input is too large for a dense (n x n) path; the message names the sparse alternative."""


class OutputExistsError(TgnnError, FileExistsError):
    """An output file exists and the call did not ask to overwrite it (nothing was written).

    Also a :class:`FileExistsError`, so ``except FileExistsError`` catches it.
    """


class ProtectedPathError(TgnnError):
    """An output path lies inside the installed tgnn package (its code and shipped weights)."""


class SerializationError(TgnnError):
    """A graph attribute cannot be stored without pickle, or a file is not a tgnn graphs file."""
