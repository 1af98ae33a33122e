"""Softmax dispersion in finite precision: the length beyond which no token can be singled out.

Barbero et al. (2024, "Transformers need glasses!", Sec. 4 and App. B, Prop. B.4) argue that
softmax attention over logits confined to a bounded interval cannot keep any single token
separated from the rest as the sequence grows: every weight is squeezed towards ``1/n``, so
in a floating-point format with unit roundoff ``u`` there is a length from which no token's
weight exceeds ``u``, and a change in one token is below the resolution of the output. This
module computes that limit exactly from the logit spread (the width of the logit interval).
"""

from __future__ import annotations

import math

import torch

from tgnn.errors import TgnnError

__all__ = ["max_softmax_weight", "softmax_separation_limit", "unit_roundoff"]

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
    fixed it falls like ``e^Δ / n``: the dispersion of softmax (Barbero et al. 2024, App. B;
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

    Definition (Barbero et al. 2024, App. B, Prop. B.4, as a closed form): with logits of
    spread at most ``Δ`` (:func:`max_softmax_weight`),

    .. math:: n^*(\Delta, u) = \min\{n \ge 1 : w_{\max}(n, \Delta) \le u\}
              = 1 + \Big\lceil e^{\Delta} \, \frac{1 - u}{u} \Big\rceil .

    From ``n^*`` on, every token gets at most ``u`` of the attention, so replacing, adding or
    removing one token moves a head's output by at most ``u`` times the spread of the values:
    within one rounding of an output of the values' size. For ``Δ = 0`` (uniform attention)
    ``n^* = 1/u``: 256 in bf16, 2048 in fp16, 16 777 216 in fp32. ``n^*`` grows like ``e^Δ``:
    sharper logits postpone the limit, bounded logits cannot remove it.

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
    tasks", NeurIPS 2024, Sec. 4 and App. B.

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
