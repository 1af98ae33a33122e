r"""A graph over the tokens back to an attention mask a ``transformers`` model runs with.

Edge ``j -> i`` allows query ``i`` to read key ``j``. The result is a 4D additive mask
``[B, 1, n, n]``: 0 where an edge exists and the dtype's most negative value elsewhere, which
transformers 5 passes through unchanged to eager and SDPA attention. With ``weights="log"`` the
edge weights enter as an additive bias ``log w``: the model's attention on each row is multiplied
by ``w`` and renormalised, so a rewired graph's weights steer the model without retraining.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torch_geometric.data import Data

from tgnn.errors import EmptyInputError, GraphError, ShapeError

__all__ = ["graph_to_attention_mask"]


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
        need positive weights).
    dtype, device, batch_size
        Of the returned mask, ``[batch_size, 1, n, n]``.

    Raises
    ------
    GraphError
        A token with no incoming edge (its softmax row would be empty), or a non-positive weight
        with ``weights="log"``.

    Examples
    --------
    >>> from tgnn.graphs import uniform_causal
    >>> from tgnn.convert.to_graph import attention_to_data
    >>> graph_to_attention_mask(attention_to_data(uniform_causal(2)))[0, 0]
    tensor([[ 0.0000e+00, -3.4028e+38],
            [ 0.0000e+00,  0.0000e+00]])
    """
    n = int(data.num_nodes or 0)
    if n == 0:
        raise EmptyInputError("data: expected a graph with at least one token, got none")
    if weights not in ("mask", "log"):
        raise ShapeError(f"weights: expected 'mask' or 'log', got {weights!r}")
    source, target = data.edge_index
    mask = torch.full((n, n), torch.finfo(dtype).min, dtype=dtype, device=device)
    if weights == "mask":
        mask[target, source] = 0.0
    else:
        edge_weight = data.get("edge_weight")
        if edge_weight is None or bool((edge_weight <= 0).any()):
            raise GraphError(
                "data.edge_weight: expected positive weights on every edge for weights='log', "
                f"got {'none' if edge_weight is None else 'a non-positive weight'}"
            )
        mask[target, source] = edge_weight.log().to(dtype=dtype, device=mask.device)
    orphans = torch.ones(n, dtype=torch.bool)
    orphans[target.cpu()] = False
    if bool(orphans.any()):
        raise GraphError(
            f"data: expected every token to read at least one token (an incoming edge), got "
            f"none for tokens {orphans.nonzero().flatten().tolist()[:10]}"
        )
    return mask.expand(batch_size, 1, n, n).contiguous()
