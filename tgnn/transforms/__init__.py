r"""Graph rewiring transforms for GNN graphs and for transformer attention graphs.

Every transform is a PyG :class:`~torch_geometric.transforms.BaseTransform` (one per module,
registered with ``@functional_transform``) that never mutates its input, reads ``num_nodes``
from the data, and handles isolated nodes, several components, self-loops and weights.

Rewiring (SDRF, FoSR, BORF, GTR) runs on the undirected simple support of the graph and writes
its added / removed node pairs back onto the input:

* added edges are appended and flagged in the boolean ``edge_added`` mask (length ``E``);
  their ``edge_weight`` is ``added_weight`` (default 1) unless rows are renormalised;
  removed edges (SDRF, BORF) are dropped in every direction, self-loops are never removed;
* **causal-preserving variant** (``causal=True``, the default when ``data.is_causal``): an added
  pair ``u < v`` becomes only the edge ``u -> v`` (the later token ``v`` reads the earlier ``u``,
  ``A[v, u]``), so attention stays lower triangular and the graph a DAG up to self-loops;
* ``renormalize=True`` (the default for attention graphs, i.e. ``Data`` with ``is_causal``):
  an added edge ``j -> i`` gets the mean weight of ``i``'s incoming edges, then every node's
  incoming weights are rescaled to their original total, so attention rows stay stochastic.

A seed makes every random choice deterministic. Parameters are checked when a transform is
constructed (a :class:`~tgnn.errors.ShapeError` naming the parameter); the input once per call,
with the graph metrics' rules: ``num_nodes`` an explicit integer, every id of both rows of
``edge_index`` in ``[0, num_nodes)``, ``edge_weight`` finite and non-negative, one graph (a
``Batch`` of several is refused: transform ``Batch.to_data_list()`` one by one).

Token-level transforms of single-sequence attention graphs (``AddSinkNode``,
``AddPauseTokens``, ``VirtualNode``) insert nodes, shift ``pos``, scale the old incoming weights
so rows stay stochastic, and flag new edges in ``edge_added`` and new nodes in ``node_added``;
see each class for its exact attention matrix.
"""

from tgnn.transforms.borf import BORF, borf_rewire
from tgnn.transforms.fosr import FoSR, fosr_rewire
from tgnn.transforms.gtr import GTR, gtr_rewire
from tgnn.transforms.pause import AddPauseTokens
from tgnn.transforms.sdrf import SDRF, sdrf_rewire
from tgnn.transforms.sink import AddSinkNode
from tgnn.transforms.virtual_node import VirtualNode

__all__ = [
    "SDRF",
    "sdrf_rewire",
    "FoSR",
    "fosr_rewire",
    "GTR",
    "gtr_rewire",
    "BORF",
    "borf_rewire",
    "AddSinkNode",
    "AddPauseTokens",
    "VirtualNode",
]
