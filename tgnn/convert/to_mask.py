r"""A graph over the tokens back to an attention mask a ``transformers`` model runs with.

Edge ``j -> i`` allows query ``i`` to read key ``j``. The result is a 4D additive mask
``[B, 1, n, n]``: 0 where an edge exists and the dtype's most negative value elsewhere, which
transformers 5 passes through unchanged to eager and SDPA attention. With ``weights="log"`` the
edge weights enter as an additive bias ``log w``: the model's attention on each row is multiplied
by ``w`` and renormalised, so a rewired graph's weights steer the model without retraining.
Parallel edges add their weights, as the graph metrics read them.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torch_geometric.data import Data

from tgnn.errors import EmptyInputError, GraphError, NonFiniteError, ShapeError

__all__ = ["graph_to_attention_mask"]


def _edge_index(data: Data, n: int) -> Tensor:
    """``data.edge_index`` checked: ``[2, E]``, integer, every id of both rows in ``[0, n)``."""
    edge_index = data.get("edge_index")
    if edge_index is None:
        return torch.zeros(2, 0, dtype=torch.long)
    if not isinstance(edge_index, Tensor):
        kind = type(edge_index).__name__
        raise ShapeError(f"data.edge_index: expected a torch.Tensor, got {kind}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ShapeError(f"data.edge_index: expected shape [2, E], got {tuple(edge_index.shape)}")
    if edge_index.is_floating_point() or edge_index.is_complex() or edge_index.dtype == torch.bool:
        raise ShapeError(f"data.edge_index: expected an integer dtype, got {edge_index.dtype}")
    edge_index = edge_index.long()
    if edge_index.numel():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= n:  # a negative id would index from the end
            raise GraphError(
                f"data.edge_index: expected token ids in [0, {n}) in both rows, got range "
                f"[{low}, {high}]"
            )
    return edge_index


def _log_weights(data: Data, num_edges: int) -> Tensor:
    """``data.edge_weight`` checked for ``weights="log"``: ``[E]``, real, finite, positive."""
    edge_weight = data.get("edge_weight")
    if edge_weight is None:
        raise GraphError(
            "data.edge_weight: expected positive weights on every edge for weights='log', got none"
        )
    if not isinstance(edge_weight, Tensor) or edge_weight.is_complex():
        kind = f"{type(edge_weight).__name__} of dtype {getattr(edge_weight, 'dtype', '-')}"
        raise ShapeError(f"data.edge_weight: expected a real tensor for weights='log', got {kind}")
    if tuple(edge_weight.shape) != (num_edges,):
        raise ShapeError(
            f"data.edge_weight: expected shape [{num_edges}] (one weight per edge) for "
            f"weights='log', got {tuple(edge_weight.shape)}"
        )
    weight = edge_weight.detach().to(torch.float64)
    if not bool(torch.isfinite(weight).all()):
        raise NonFiniteError(
            "data.edge_weight: expected finite weights for weights='log', got "
            f"{int((~torch.isfinite(weight)).sum())} NaN/Inf"
        )
    if bool((weight <= 0).any()):
        raise GraphError(
            "data.edge_weight: expected positive weights on every edge for weights='log', "
            f"got a non-positive weight (minimum {float(weight.min()):.3g})"
        )
    return weight


def graph_to_attention_mask(
    data: Data,
    *,
    weights: Literal["mask", "log"] = "mask",
    dtype: torch.dtype = torch.float32,
    batch_size: int = 1,
    device: torch.device | str | None = None,
) -> Tensor:
    r"""Build the additive 4D attention mask of a token graph.

    .. math:: M[b, 0, i, j] = \begin{cases} 0 \text{ (or } \log w_{j \to i}) & j \to i \in E \\
              \min(\text{dtype}) & \text{otherwise} \end{cases}

    Parameters
    ----------
    data
        Graph over ``n = data.num_nodes`` tokens (for example a rewired attention graph). Edges
        ``edge_index[:, e] = [j, i]``; nodes beyond the tokens (an added sink or virtual node)
        must already be real tokens of the input.
    weights
        ``"mask"`` (allowed / not allowed) or ``"log"`` (log of ``edge_weight`` as a bias; edges
        need positive finite weights; parallel edges add theirs).
    dtype, device, batch_size
        Of the returned mask, ``[batch_size, 1, n, n]``: a floating dtype, ``batch_size >= 1``.

    Raises
    ------
    GraphError
        A token with no incoming edge (its softmax row would be empty), an id outside
        ``[0, n)`` in either row of ``edge_index`` (negative ids included), ``num_nodes`` missing
        or not an integer, or a missing or non-positive weight with ``weights="log"``.
    NonFiniteError
        A NaN or infinite weight with ``weights="log"``.
    ShapeError
        ``edge_index`` not an integer ``[2, E]``, ``edge_weight`` not a real ``[E]`` tensor with
        ``weights="log"``; a bad ``weights``, ``dtype`` or ``batch_size``.

    Examples
    --------
    >>> from tgnn.graphs import uniform_causal
    >>> from tgnn.convert.to_graph import attention_to_data
    >>> graph_to_attention_mask(attention_to_data(uniform_causal(2)))[0, 0]
    tensor([[ 0.0000e+00, -3.4028e+38],
            [ 0.0000e+00,  0.0000e+00]])
    """
    # imported here: tgnn.graphs loads networkx, which importing the converter does not need
    from tgnn._params import check_choice, check_count, check_num_nodes

    n = check_num_nodes(data)
    if n == 0:
        raise EmptyInputError("data: expected a graph with at least one token, got none")
    check_choice(weights, "weights", ("mask", "log"))
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ShapeError(f"dtype: expected a floating torch.dtype, got {dtype!r}")
    batch_size = check_count(batch_size, "batch_size", 1)
    edge_index = _edge_index(data, n)
    mask = torch.full((n, n), torch.finfo(dtype).min, dtype=dtype, device=device)
    key, query = edge_index.to(mask.device)
    if weights == "mask":
        mask[query, key] = 0.0
    else:
        weight = _log_weights(data, edge_index.size(1)).to(mask.device)
        pairs, slot = torch.unique(query * n + key, return_inverse=True)
        total = torch.zeros(pairs.numel(), dtype=torch.float64, device=mask.device)
        total.index_add_(0, slot, weight)  # parallel edges add their weights
        mask[pairs // n, pairs % n] = total.log().to(dtype)
    orphans = torch.ones(n, dtype=torch.bool)
    orphans[edge_index[1].cpu()] = False
    if bool(orphans.any()):
        raise GraphError(
            f"data: expected every token to read at least one token (an incoming edge), got "
            f"none for tokens {orphans.nonzero().flatten().tolist()[:10]}"
        )
    return mask.expand(batch_size, 1, n, n).contiguous()
