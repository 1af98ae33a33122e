"""Softmax dispersion in finite precision: the length beyond which no token can be singled out.

Barbero et al. (2024, "Transformers need glasses!", arXiv:2406.04267v2) build representational
collapse (Thm 4.2, proved as Thm B.3) on two facts about softmax over bounded logits: the weight
of any one token tends to 0 as the sequence grows (Lemma B.1), and two bounded logit sequences
with ``|x_n - x*_n| -> 0`` get softmax distributions whose total variation tends to 0
(Lemma B.2). Their Prop. B.4 is the counterexample that shows why Lemma B.2 needs that
hypothesis (and Thm 4.2 decaying positional information): the alternating logits
``(1 0 1 0 ...)`` and ``(0 1 0 1 ...)`` keep a total variation ``2(e - 1)/(e + 1)`` at every
even ``n``. The paper states no length at which the collapse happens; Sec. 4 only says that
it comes "much sooner" in lower precision. This module computes the total variation of those
statements (:func:`softmax_total_variation`) and, as tgnn's own quantitative reading of
Lemma B.1 in a format of unit roundoff ``u``, the length from which no weight can exceed ``u``
(:func:`softmax_separation_limit`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from tgnn.errors import TgnnError

__all__ = ["max_softmax_weight", "softmax_separation_limit", "softmax_total_variation",
           "unit_roundoff"]

_PRECISIONS = {"fp64": torch.float64, "fp32": torch.float32, "bf16": torch.bfloat16,
               "fp16": torch.float16}


def unit_roundoff(precision: str | torch.dtype | float) -> float:
    r"""Unit roundoff ``u = eps / 2`` of a floating-point format (round to nearest).

    ``eps`` is the gap between 1 and the next representable number: ``u = 2^-24`` (fp32),
    ``2^-8`` (bf16), ``2^-11`` (fp16), ``2^-53`` (fp64). A float in ``(0, 1/2]`` is taken as
    ``u`` itself.

    Reference: N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
    2002, Sec. 2.1.

    Examples
    --------
    >>> unit_roundoff("bf16") == 2.0 ** -8
    True
    """
    if isinstance(precision, str):
        if precision not in _PRECISIONS:
            raise TgnnError(f"precision: expected one of {tuple(_PRECISIONS)}, a torch floating "
                            f"dtype or a unit roundoff in (0, 1/2], got {precision!r}")
        precision = _PRECISIONS[precision]
    if isinstance(precision, torch.dtype):
        if not precision.is_floating_point:
            raise TgnnError(f"precision: expected a floating-point dtype, got {precision}")
        return float(torch.finfo(precision).eps) / 2.0
    u = float(precision)
    if not 0.0 < u <= 0.5:
        raise TgnnError(f"precision: expected a unit roundoff in (0, 1/2], got {precision!r}")
    return u


def _spread(spread: float) -> float:
    value = float(spread)
    if not (math.isfinite(value) and value >= 0.0):
        raise TgnnError(f"spread: expected a finite logit spread >= 0, got {spread!r}")
    return value


def max_softmax_weight(n: int, spread: float) -> float:
    r"""Largest softmax weight among ``n`` logits whose spread ``max z - min z`` is at most ``Δ``.

    Definition: with ``w_i = e^{z_i} / sum_j e^{z_j} = 1 / sum_j e^{z_j - z_i}`` and
    ``z_j - z_i >= -Δ``,

    .. math:: w_i \le w_{\max}(n, \Delta) = \frac{e^{\Delta}}{e^{\Delta} + n - 1},

    attained by one logit at the top of the interval and ``n - 1`` at the bottom. For ``Δ``
    fixed it falls like ``e^Δ / n``: the dispersion of softmax. Barbero et al. (2024, Lemma B.1)
    state it without a rate ("with all entries bounded ... for any ε > 0 we can find large
    enough n" such that the last weight is below ε); the closed form is elementary (see also
    Veličković et al. 2024, "softmax is not enough", Lemma 2.1). Complexity O(1).

    Parameters
    ----------
    n
        Number of logits (keys a query attends to), ``n >= 1``.
    spread
        ``Δ >= 0``, the width of the interval holding the logits (for attention,
        ``max_j q·k_j / sqrt(d) - min_j q·k_j / sqrt(d)`` over the keys of one query).

    Examples
    --------
    >>> max_softmax_weight(4, 0.0)   # uniform
    0.25
    >>> round(max_softmax_weight(2, math.log(3.0)), 12)   # weights 3/4 and 1/4
    0.75
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TgnnError(f"n: expected an integer number of logits >= 1, got {n!r}")
    delta = _spread(spread)
    return 1.0 / (1.0 + (n - 1) * math.exp(-delta))


def softmax_separation_limit(spread: float, precision: str | torch.dtype | float) -> int:
    r"""Shortest length from which no softmax weight can exceed the unit roundoff ``u``.

    Definition (tgnn's quantitative reading of Barbero et al. 2024, Lemma B.1 and Sec. 4; the
    paper gives no such length, and its Prop. B.4 is a different statement, see
    :func:`softmax_total_variation`): with logits of spread at most ``Δ``
    (:func:`max_softmax_weight`),

    .. math:: n^*(\Delta, u) = \min\{n \ge 1 : w_{\max}(n, \Delta) \le u\}
              = 1 + \Big\lceil e^{\Delta} \, \frac{1 - u}{u} \Big\rceil .

    From ``n^*`` on, every token gets at most ``u`` of the attention, so replacing, adding or
    removing one token moves a head's output by at most ``u`` times the spread of the values:
    within one rounding of an output of the values' size. This is the scale of Sec. 4's
    remark that a lower machine precision makes the collapse of Thm 4.2 "occur much sooner";
    it bounds one attention step, not the whole model (residual stream, MLPs and later layers
    can carry the difference further or round it away sooner). For ``Δ = 0`` (uniform
    attention) ``n^* = 1/u``: 256 in bf16, 2048 in fp16, 16 777 216 in fp32. ``n^*`` grows like
    ``e^Δ``: sharper logits postpone the limit, bounded logits cannot remove it.

    Complexity O(1) (the closed form, then one check on each side of the boundary).

    Parameters
    ----------
    spread
        ``Δ >= 0``, the logit spread of one query over its keys.
    precision
        ``"fp32"``, ``"bf16"``, ``"fp16"``, ``"fp64"``, a torch floating dtype, or the unit
        roundoff ``u`` itself (see :func:`unit_roundoff`).

    Returns
    -------
    int
        ``n^*``; ``TgnnError`` where it passes ``2^1000`` (no finite model reaches it).

    References
    ----------
    F. Barbero et al., "Transformers need glasses! Information over-squashing in language
    tasks", NeurIPS 2024, arXiv:2406.04267v2: Lemma B.1 (App. B.1, p. 13) and Sec. 4
    ("Quantisation and Tokenisation").

    Examples
    --------
    >>> softmax_separation_limit(0.0, "bf16"), softmax_separation_limit(0.0, "fp16")
    (256, 2048)
    >>> softmax_separation_limit(math.log(2.0), "bf16")   # one logit ln 2 above the others
    511
    """
    delta = _spread(spread)
    u = unit_roundoff(precision)
    log_count = delta + math.log1p(-u) - math.log(u)
    if log_count > 1000 * math.log(2.0):
        raise TgnnError(f"spread: the limit passes 2^1000 tokens for spread {delta} and unit "
                        f"roundoff {u}; expected a smaller spread")
    n = 1 + max(0, math.ceil(math.exp(log_count)))
    while n > 1 and max_softmax_weight(n - 1, delta) <= u:  # rounding of exp/ceil
        n -= 1
    while max_softmax_weight(n, delta) > u:
        n += 1
    return n


def _logits(values: Sequence[float] | np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise TgnnError(f"{name}: expected a non-empty 1-D vector of logits, got shape "
                        f"{array.shape}")
    if not np.isfinite(array).all():
        raise TgnnError(f"{name}: expected finite logits, got {int((~np.isfinite(array)).sum())} "
                        "non-finite entries")
    return array


def softmax_total_variation(x: Sequence[float] | np.ndarray | torch.Tensor,
                            y: Sequence[float] | np.ndarray | torch.Tensor) -> float:
    r"""Total variation ``δ(softmax(x), softmax(y))`` of two logit vectors (Barbero et al.'s δ).

    Definition (Barbero et al. 2024, App. B.1, Eq. 2: the L1 distance, without the factor 1/2
    of the usual total variation, so it lies in ``[0, 2]``):

    .. math:: \delta(\mu, \nu) = \sum_i |\mu_i - \nu_i|, \qquad
              \mu = \mathrm{softmax}(x), \; \nu = \mathrm{softmax}(y).

    Lemma B.2: for bounded ``x, y`` with ``|x_n - y_n| -> 0`` it tends to 0 as ``n`` grows,
    which with decaying positional information gives Thm 4.2. Prop. B.4 (the "negative decay
    result"): for ``x = (1 0 1 0 ...)`` and ``y = (0 1 0 1 ...)``, ``n`` even, it does not
    tend to 0; both partition functions are ``(n/2)(e + 1)`` and every term is
    ``(e - 1)/Z``, so ``δ = 2(e - 1)/(e + 1) = 2 tanh(1/2) ≈ 0.924`` at every even ``n``.

    Computed in float64 with the maximum subtracted before exponentiating. Complexity O(n).

    Parameters
    ----------
    x, y
        Logit vectors of the same length ``n >= 1`` (sequences, numpy arrays or tensors).

    References
    ----------
    F. Barbero et al., "Transformers need glasses! Information over-squashing in language
    tasks", NeurIPS 2024, arXiv:2406.04267v2, App. B.1: Eq. 2, Lemma B.2, Prop. B.4 (p. 16).

    Examples
    --------
    >>> round(softmax_total_variation([1.0, 0.0] * 4, [0.0, 1.0] * 4), 12)  # 2 tanh(1/2)
    0.92423431452
    >>> softmax_total_variation([0.3, 0.3, 0.3], [5.0, 5.0, 5.0])   # softmax is shift-invariant
    0.0
    """
    a, b = _logits(x, "x"), _logits(y, "y")
    if a.shape != b.shape:
        raise TgnnError(f"y: expected {a.size} logits like x, got {b.size}")
    p = np.exp(a - a.max())
    q = np.exp(b - b.max())
    return float(np.abs(p / p.sum() - q / q.sum()).sum())
