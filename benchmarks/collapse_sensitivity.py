"""The over-squashing path-sum bound beside measured sensitivities (Barbero et al. 2024, Thm 5.1).

For one rotary model and one text sample: the Jacobian sensitivity
``S_s = ||d y_{n-1} / d x_s||_F`` of the last token's final state to each input embedding
(:func:`tgnn.metrics.sensitivity.jacobian_sensitivity`) and the path sum
``B_s = [(A^(L-1) + I) ... (A^(0) + I)][n-1, s]`` of the captured head-averaged attention
(:func:`tgnn.theory.oversquashing_bound`, ``beta = 1``, ``C = 1``). The theorem says
``S_s <= C B_s`` with ``C`` collecting Lipschitz constants; we fit ``C`` on one seed (the
smallest constant that holds there) and count violations on the other seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

__all__ = ["held_out_bound", "sensitivity_point"]


def sensitivity_point(point: dict[str, Any]) -> dict[str, Any]:
    """``{"seed", "n", "size"}`` -> sensitivity and path-sum profiles over source positions.

    Returns ``sensitivity`` and ``bound`` (``[n]`` lists), ``spearman`` of their logs over
    ``s < n - 1`` (the last token's own path, the residual, is excluded as in Sec. 2),
    ``ratio`` ``S_s / B_s`` and ``argmax_sensitivity`` over ``s < n - 1``.
    """
    from tgnn.benchmarks.collapse_rotary import rotary_model
    from tgnn.benchmarks.common import attention_stack, sample_ids
    from tgnn.theory import oversquashing_bound

    from tgnn.metrics.sensitivity import jacobian_sensitivity

    n, seed = int(point["n"]), int(point["seed"])
    model, tok = rotary_model(seed, "fp32", n, point.get("size", "small"))
    ids = sample_ids(tok, n, seed)
    sens = jacobian_sensitivity(model, ids, targets=[n - 1])[-1, 0].double().numpy()
    bound = oversquashing_bound(list(attention_stack(model, ids)), target=-1, beta=1.0)
    head = slice(0, n - 1)
    rho = spearmanr(np.log(sens[head]), np.log(bound[head])).statistic
    return {"sensitivity": sens.tolist(), "bound": bound.tolist(), "spearman": float(rho),
            "ratio": (sens / bound).tolist(), "argmax_sensitivity": int(np.argmax(sens[head]))}


def held_out_bound(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``C`` fitted on the first result (``max_s S_s / B_s``), violations on the others.

    Examples
    --------
    >>> held_out_bound([{"ratio": [1.0, 2.0]}, {"ratio": [1.5, 2.5]}])["violations"]
    1
    """
    c_fit = float(np.max(results[0]["ratio"]))
    held = np.concatenate([np.asarray(r["ratio"], dtype=float) for r in results[1:]] or
                          [np.zeros(0)])
    return {"C_fit": c_fit, "held_out_positions": int(held.size),
            "violations": int((held > c_fit * (1 + 1e-9)).sum()),
            "worst_ratio_over_C_fit": float(held.max() / c_fit) if held.size else float("nan")}
