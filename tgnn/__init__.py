"""tgnn: transformer attention as graphs, with the tools of graph neural network theory."""

from tgnn import errors
from tgnn._version import __version__

__all__ = ["__version__", "errors"]
