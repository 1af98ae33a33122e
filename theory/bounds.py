"""Over-squashing sensitivity bound in resistance form, and the predicted sensitivity profile.

Barbero et al. (2024, "Transformers need glasses!", Thm 5.1; constants in Thm B.5, App. B.2)
bound the sensitivity of the last token's output to an input token by a sum over causal paths of
products of ``alpha + beta * delta`` (attention plus a weighted residual). That sum is a rollout:
``prod_l (A^(l) + beta I) = (1 + beta)^L Phi_L`` with residual share ``rho = 1 / (1 + beta)``, so
``||d y_i / d v_s|| <= K_L / R^roll_L(s, i)``, ``K_L = C (1 + beta)^L``, with equality in the
linear attention-only model (C = 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tgnn.errors import TgnnError

from ._inputs import RhoLike, layer_list
from .rollout import rollout_row

__all__ = ["sensitivity_constant", "oversquashing_bound", "predicted_sensitivity_profile"]


def sensitivity_constant(num_layers: int, *, constant: float = 1.0, beta: float = 1.0) -> float:
    """``K_L = C (1 + beta)^L``, the constant of the bound in resistance form.

    Examples
    --------
    >>> sensitivity_constant(3, constant=2.0, beta=1.0)
    16.0
    """
    if beta < 0 or constant < 0:
        raise TgnnError(f"beta, constant: expected non-negative values, got {beta}, {constant}")
    return float(constant) * (1.0 + float(beta)) ** int(num_layers)


def oversquashing_bound(
    attentions: Any,
    target: int = -1,
    *,
    constant: float = 1.0,
    beta: float = 1.0,
    causal: bool = True,
) -> np.ndarray:
    r"""Upper bound on ``||d y_target / d v_s||`` for every source ``s``, in resistance form.

    Definition: ``K_L / R^roll_L(s, target)`` with ``K_L = C (1 + beta)^L`` and the rollout taken
    with residual share ``rho = 1 / (1 + beta)``; equivalently ``C`` times the path sum
    ``[(A^(L-1) + beta I) ... (A^(0) + beta I)][target, s]`` of Barbero et al. (2024, Thm 5.1,
    with residual; ``beta = 1`` is the plain residual connection, ``C`` collects the Lipschitz
    constants of values, MLPs and normalisation, Thm B.5, App. B.2).

    Complexity: O(L n^2).

    Parameters
    ----------
    attentions
        Per-layer attention as in :func:`~tgnn.theory.rollout_resistance`.
    target
        0-based query token (default -1: the last token, whose output is the next-token logit).
    constant, beta
        ``C >= 0`` and the residual weight ``beta >= 0``.

    Returns
    -------
    numpy.ndarray
        [n] bound per source position (0 for ``s > target`` in causal attention).

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> oversquashing_bound([u], beta=1.0)  # (U + I)[2] = [1/3, 1/3, 4/3]
    array([0.3333..., 0.3333..., 1.3333...])
    """
    layers = layer_list(attentions)
    k = sensitivity_constant(len(layers), constant=constant, beta=beta)
    return k * rollout_row(layers, target, 1.0 / (1.0 + beta), causal=causal)


def predicted_sensitivity_profile(
    attentions: Any, target: int = -1, rho: RhoLike = 0.5, *, causal: bool = True
) -> np.ndarray:
    r"""Predicted sensitivity of token ``target`` to each source: ``1 / R^roll_L(s, target)``.

    In the linear attention-only model ``h^(l+1) = Ahat^(l) h^(l)`` this is exactly
    ``d h_target^(L) / d x_s`` (a probability distribution over sources); for a real model it is
    the profile that ``log ||d y / d x_s||`` is predicted to track across positions ``s``.

    Complexity: O(L n^2).

    Parameters
    ----------
    attentions
        Captured attention, first layer first (list of [n, n] / [H, n, n] / [1, H, n, n],
        [L, n, n] or [L, H, n, n] stack, or dict by layer index); heads are averaged.
    target
        0-based query token (default -1, the last token).
    rho
        Residual share: float, [L] or [L, n] (see
        :func:`~tgnn.theory.calibrated_residual_share`).

    Returns
    -------
    numpy.ndarray
        [n] float64, non-negative, summing to one over ``s <= target``.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> predicted_sensitivity_profile([u, u], rho=1.0) * 18  # 18 (U^2)[2]
    array([11., 5., 2.])
    """
    return rollout_row(attentions, target, rho, causal=causal)
