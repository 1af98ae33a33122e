"""Model side of section 7: the causal model under attention masks made from (rewired) graphs.

Each graph over the tokens becomes an additive 4D mask (:func:`tgnn.graph_to_attention_mask`;
edge ``j -> i`` lets query ``i`` read key ``j``) and the model runs on ``S`` sequences under it.
Per mask and sequence (:func:`mask_effects`):

* ``loss``: mean next-token cross-entropy (nats) over the sequence;
* ``reach``: the share of tokens in the last token's ``L``-layer receptive field, the sources
  ``s`` with ``Phi_L[n-1, s] > 0`` for the rollout ``Phi_L = prod_l (A_l + I) / 2`` of the
  attention captured under the mask (Abnar & Zuidema 2020);
* ``lookback``: the rollout-weighted mean distance ``sum_s Phi_L[n-1, s] (n-1-s)`` (rows of
  ``Phi_L`` sum to one): how far back the last token reads;
* ``R_roll``: ``1 / Phi_L[n-1, 0]``, infinite when token 0 is out of reach. A masked-out key gets
  exactly zero attention, so ``Phi_L`` is supported on the paths of at most ``L`` hops of the mask
  graph: under a causal window of ``w`` tokens the last token reaches back ``L (w - 1)`` tokens
  only (under-reaching), and ``R_roll(0, n-1)`` is infinite whenever ``n - 1 > L (w - 1)``;
* ``R_abs``: the absorbing resistance from token 1 to the last token on the layer-averaged
  attention (``tgnn.theory``): the walk has no depth limit, so it is finite whenever the mask
  graph connects them, and it falls as edges shorten the way back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.sinks_measure import batched_attention

__all__ = ["QUANTITIES", "mask_effects", "rollout_facts"]

QUANTITIES = ("loss", "reach", "lookback", "R_roll", "R_abs")


def rollout_facts(stack: np.ndarray) -> dict[str, float]:
    """``reach``, ``lookback``, ``R_roll`` and ``R_abs`` of one sequence's stack ``[L, n, n]``.

    Examples
    --------
    >>> from tgnn.graphs import sliding_window
    >>> w = sliding_window(8, 2).numpy()  # 2 layers reach back 2 (w - 1) = 2 tokens
    >>> facts = rollout_facts(np.stack([w, w]))
    >>> facts["reach"], facts["R_roll"]
    (0.375, inf)
    """
    from tgnn.theory.absorbing import absorbing_resistance
    from tgnn.theory.rollout import rollout_row

    n = stack.shape[-1]
    phi = rollout_row(list(stack), n - 1, 0.5)
    mean = stack.mean(0)
    r_abs = absorbing_resistance(mean / mean.sum(1, keepdims=True), target=n - 1)[1]
    return {"reach": float((phi > 0).mean()),
            "lookback": float(phi @ (n - 1 - np.arange(n)) / phi.sum()),
            "R_roll": float(1.0 / phi[0]) if phi[0] > 0 else float("inf"),
            "R_abs": float(r_abs)}


def mask_effects(model: Any, ids: torch.Tensor, mask: torch.Tensor | None
                 ) -> dict[str, np.ndarray]:
    """Per-sequence :data:`QUANTITIES` (each ``[S]``) of ``model`` on ``ids`` ``[S, n]`` under
    ``mask`` (additive ``[1, 1, n, n]``; ``None``: the model's own causal mask)."""
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits.double()
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
    stack = batched_attention(model, ids, mask)
    facts = [rollout_facts(stack[:, s]) for s in range(ids.shape[0])]
    return {"loss": (-logp.mean(1)).numpy(),
            **{q: np.array([f[q] for f in facts]) for q in QUANTITIES[1:]}}
