r"""Signal propagation through a random transformer block at initialisation (Giorlandino & Goldt).

Closed-form predictions of A. Giorlandino and S. Goldt, *Two failure modes of deep transformers
and how to avoid them: a unified theory of signal propagation at initialisation*
(arXiv:2505.24333, ICLR 2026). The seed text of this project holds only the paper's abstract, so
equation numbers are not quoted; every formula below is the one the authors' reference code
computes (repository ``aGiorlandino/ICLR-Signal-Propagation-Transformers``: ``get_attention_update``
and ``get_block_update_wres`` in ``theory_update_relu.py`` for the post-LN block of their
Result 1 / Fig. 1, the four ``*_update`` functions of ``Gain-controlled-propagation.ipynb`` for
Fig. 4), restated and derived here.

Setting. ``n`` tokens of width ``d -> infinity``; the state of a layer is the token norm
``q = |x_a|^2 / d`` (the same for every token) and the overlap ``p = <x_a, x_b> / d`` of two
distinct tokens, so the token correlation is ``rho = p / q``. Query and key weights are Gaussian
with the paper's scale ``beta``: the attention logit of query ``a`` on key ``j`` has standard
deviation ``beta sqrt(ln T)`` for unit-norm tokens (``T``: the sequence length the scale was set
for; the paper's notebook uses the model's context, ``T = 512``). Given a query, the logits over
keys are Gaussian with covariance ``beta^2 ln T ((1 - rho) I + rho 1 1^T)``: the shared part
cancels in the softmax, and a row of attention is a Random Energy Model (REM, Derrida 1981) with
``n`` states of independent energies of standard deviation ``t = beta sqrt((1 - rho) ln T)``.

1. **Critical scale** (REM freezing, ``t = sqrt(2 ln n)`` with ``T = n``)::

       beta_c(rho) = sqrt(2 / (1 - rho))                                   (critical_beta)

   It grows without bound as ``rho -> 1``: the rho = 0 value ``sqrt(2)`` applied to correlated
   tokens is wrong.

2. **Participation ratio** ``Y2 = E[sum_j A_ij^2]`` (REM: Derrida 1981; Mezard, Parisi &
   Virasoro 1987, ch. I.3)::

       Y2 = 0                     for beta <= beta_c(rho)     (attention spread over ~n keys)
       Y2 = 1 - beta_c(rho)/beta  for beta >  beta_c(rho)     (entropy collapse: few keys)
                                                                (participation_ratio)

   At finite ``n`` the same quantity has an exact one-dimensional integral
   (:func:`participation_ratio_finite`), which the simulations are compared with as well.

3. **Attention moments.** With values ``v_j = x_j`` (value weights enter as a gain below), the
   output ``y_a = sum_j A_aj x_j`` has ``|y_a|^2/d = p + (q - p) Y2`` and, for ``a != b``,
   ``<y_a, y_b>/d = p`` (distinct queries pick independent keys). Gain-controlled (centred)
   attention ``y_a = sum_j (A_aj - 1/n) x_j`` removes the uniform part: ``(q - p) Y2`` and ``0``
   (the ``centred_update`` of the authors' Fig. 4 notebook).             (attention_moments)

4. **ReLU MLP** ``W_2 relu(W_1 h + b_1) + b_2`` with weight variances ``sigma_w^2 / d`` and bias
   variance ``sigma_b^2``: with ``q_1 = sigma_w^2 q + sigma_b^2`` and ``p_1 = sigma_w^2 p +
   sigma_b^2``, ``q' = sigma_w^2 q_1 / 2 + sigma_b^2`` and ``p' = sigma_w^2 q_1 kappa(p_1/q_1) / 2
   + sigma_b^2``, ``kappa(c) = (sqrt(1 - c^2) + c (pi - arccos c)) / pi`` (the arc-cosine kernel
   of degree one, Cho & Saul 2009).                                     (mlp_moments)

5. **Block map** (:func:`block_update`): residual branches add in quadrature (independent
   zero-mean weights), a LayerNorm without affine parameters maps ``(q, p)`` to ``(1, p/q)``.
   Post-LN (the paper's block, BERT order)::

       x <- LN(alpha_A x + W_V Attn(x) + b_V),   x <- LN(alpha_M x + MLP(x))

   pre-LN::

       x <- alpha_A x + W_V Attn(LN x) + b_V,    x <- alpha_M x + MLP(LN x)

   Iterating it gives the layer-to-layer correlation map (:func:`correlation_map`) and its depth
   profile (:func:`correlation_trajectory`). Below ``beta_c`` the map of a post-LN block has
   ``rho = 1`` as its only attractor (rank collapse); above, a fixed point ``rho* < 1`` with
   ``Y2 > 0`` (signal kept, entropy collapsed).

The authors' pre-LN update evaluates ``beta_c`` on the un-normalised ``(q, p)`` of the residual
stream; the attention of a pre-LN block reads ``LN(x)``, so :func:`block_update` uses the
normalised correlation ``p / q`` there (the two agree while ``q = 1``).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from tgnn.errors import TgnnError

__all__ = [
    "Placement",
    "attention_moments",
    "block_update",
    "correlation_map",
    "correlation_trajectory",
    "critical_beta",
    "mlp_moments",
    "participation_ratio",
    "participation_ratio_finite",
    "relu_kernel",
]

Placement = Literal["post", "pre"]
_G_MAX = 9.0  # Gaussian grid of participation_ratio_finite: P(|g| > 9) < 3e-19


def _check_rho(rho: float, name: str = "rho") -> float:
    value = float(rho)
    if not -1.0 <= value <= 1.0 or math.isnan(value):
        raise TgnnError(f"{name}: expected a correlation in [-1, 1], got {rho!r}")
    return value


def _check_positive(value: float, name: str, allow_zero: bool = False) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise TgnnError(f"{name}: expected a finite {kind} number, got {value!r}")
    return number


def critical_beta(rho: float) -> float:
    r"""Critical query-key scale ``beta_c(rho) = sqrt(2 / (1 - rho))`` of the REM freezing.

    The logits of one query over ``n`` keys with token correlation ``rho`` have independent
    parts of standard deviation ``beta sqrt((1 - rho) ln n)``; the REM freezes (the softmax
    concentrates on O(1) keys) when that reaches ``sqrt(2 ln n)``.

    Parameters
    ----------
    rho:
        Token correlation ``p / q`` in ``[-1, 1]``; ``rho = 1`` gives ``inf`` (identical tokens
        never freeze: every logit is the same).

    Examples
    --------
    >>> round(critical_beta(0.0), 6), round(critical_beta(0.5), 6)
    (1.414214, 2.0)
    """
    value = _check_rho(rho)
    return math.inf if value >= 1.0 else math.sqrt(2.0 / (1.0 - value))


def participation_ratio(beta: float, rho: float = 0.0) -> float:
    r"""Asymptotic ``Y2 = E[sum_j A_ij^2] = max(0, 1 - beta_c(rho) / beta)`` (``n -> inf``).

    The REM participation ratio (Derrida 1981; Mezard, Parisi & Virasoro 1987): zero in the
    high-temperature phase, ``1 - T/T_c`` below the freezing temperature (``T/T_c =
    beta_c / beta`` here). ``Y2 > 0`` is the paper's entropy collapse.

    Examples
    --------
    >>> participation_ratio(1.0), round(participation_ratio(4.0, 0.5), 6)
    (0.0, 0.5)
    """
    scale = _check_positive(beta, "beta", allow_zero=True)
    critical = critical_beta(rho)
    return 0.0 if scale <= critical else 1.0 - critical / scale


def participation_ratio_finite(beta: float, rho: float, n: int,
                               context: int | None = None) -> float:
    r"""Exact ``E[sum_j A_j^2]`` for a softmax over ``n`` i.i.d. Gaussian logits (finite ``n``).

    The logits' independent parts have standard deviation ``t = beta sqrt((1 - rho) ln T)``
    (``T = context``, default ``n``). With ``1/Z^2 = int_0^inf u e^{-u Z} du``::

        E[Y2] = n int_0^inf u psi(u) phi(u)^(n-1) du,
        phi(u) = E[exp(-u e^{t g})],  psi(u) = E[e^{2 t g} exp(-u e^{t g})],  g ~ N(0, 1),

    evaluated in log space with the trapezoid rule: ``ln u`` in steps of 0.3 over the range
    where ``u Z`` can be of order one, ``g`` on 1201 points of ``[-9, 9]`` (agrees with a grid
    four times finer to 1e-12 for ``t <= 30``). ``t = 0`` gives ``1/n``; ``n -> inf`` tends to
    :func:`participation_ratio`, slowly (at ``n = 256``, ``beta = 2``: 0.436 against 0.293).

    Parameters
    ----------
    beta, rho:
        Query-key scale and token correlation.
    n:
        Number of keys (at least 1).
    context:
        ``T`` of the scale ``beta sqrt(ln T)``; default ``n``.

    Examples
    --------
    >>> round(participation_ratio_finite(0.0, 0.0, 8), 6)
    0.125
    """
    scale = _check_positive(beta, "beta", allow_zero=True)
    corr = _check_rho(rho)
    if int(n) != n or n < 1:
        raise TgnnError(f"n: expected a positive integer, got {n!r}")
    length = int(n) if context is None else context
    if int(length) != length or length < 2:
        raise TgnnError(f"context: expected an integer >= 2, got {context!r}")
    t = scale * math.sqrt(max(0.0, 1.0 - corr) * math.log(length))
    if n == 1:
        return 1.0
    if t == 0.0:
        return 1.0 / n
    g = np.linspace(-_G_MAX, _G_MAX, 1201)
    log_w = -0.5 * g * g + math.log(g[1] - g[0]) - 0.5 * math.log(2 * math.pi)
    tg = t * g
    v = np.arange(-math.log(n) - _G_MAX * t - 12.0, _G_MAX * t + 12.0, 0.3)  # ln u
    e = np.exp(np.minimum(v[:, None] + tg, 700.0))  # u e^{t g}
    a = log_w + 2.0 * tg - e
    top = a.max(axis=1)
    log_psi = top + np.log(np.exp(a - top[:, None]).sum(axis=1))
    mass = (np.exp(log_w) * -np.expm1(-e)).sum(axis=1)  # 1 - phi(u)
    log_phi = np.log1p(-np.minimum(mass, 1.0 - 1e-16))
    f = np.exp(math.log(n) + 2.0 * v + log_psi + (n - 1) * log_phi)
    return float(np.trapezoid(f, v))


def attention_moments(q: float, p: float, beta: float, *, gain_control: bool = False,
                      y2: float | None = None) -> tuple[float, float]:
    r"""``(|y_a|^2/d, <y_a, y_b>/d)`` of the attention output ``y = A x`` (values ``= x``).

    Softmax attention: ``(p + (q - p) Y2, p)``; gain-controlled (centred) attention
    ``y = (A - 1 1^T / n) x``: ``((q - p) Y2, 0)``. ``Y2`` is
    :func:`participation_ratio` at ``beta`` and ``rho = p / q`` unless given as ``y2``
    (for example :func:`participation_ratio_finite`). ``beta`` scales unit-norm tokens; the
    inputs of a LayerNorm'd attention have ``q = 1``.

    Examples
    --------
    >>> attention_moments(1.0, 0.5, 1.0)
    (0.5, 0.5)
    >>> attention_moments(1.0, 0.5, 4.0, gain_control=True)
    (0.25, 0.0)
    """
    norm = _check_positive(q, "q")
    overlap = float(p)
    rho = _check_rho(overlap / norm, "p / q")
    ratio = participation_ratio(beta, rho) if y2 is None else float(y2)
    if not 0.0 <= ratio <= 1.0:
        raise TgnnError(f"y2: expected a participation ratio in [0, 1], got {y2!r}")
    spread = (norm - overlap) * ratio
    return (spread, 0.0) if gain_control else (overlap + spread, overlap)


def relu_kernel(c: float) -> float:
    r"""``kappa(c) = (sqrt(1 - c^2) + c (pi - arccos c)) / pi`` (arc-cosine kernel, degree 1).

    ``E[relu(u) relu(v)] = q kappa(c) / 2`` for jointly Gaussian ``u, v`` of variance ``q`` and
    correlation ``c`` (Cho & Saul 2009); ``kappa(1) = 1``, ``kappa(0) = 1/pi``.

    Examples
    --------
    >>> relu_kernel(1.0), round(relu_kernel(0.0), 6)
    (1.0, 0.31831)
    """
    corr = min(1.0, max(-1.0, _check_rho(c, "c")))
    return (math.sqrt(1.0 - corr * corr) + corr * (math.pi - math.acos(corr))) / math.pi


def mlp_moments(q: float, p: float, var_w: float, var_b: float) -> tuple[float, float]:
    r"""``(q', p')`` after ``W_2 relu(W_1 h + b_1) + b_2`` (weights ``N(0, var_w / width)``).

    ``q_1 = var_w q + var_b``, ``p_1 = var_w p + var_b``; ``q' = var_w q_1 / 2 + var_b``,
    ``p' = var_w q_1 kappa(p_1 / q_1) / 2 + var_b`` (:func:`relu_kernel`).

    Examples
    --------
    >>> mlp_moments(1.0, 1.0, 2.0, 0.0)
    (2.0, 2.0)
    """
    norm = _check_positive(q, "q")
    w = _check_positive(var_w, "var_w", allow_zero=True)
    b = _check_positive(var_b, "var_b", allow_zero=True)
    q1, p1 = w * norm + b, w * float(p) + b
    if q1 == 0.0:
        return b, b
    q2 = w * q1 / 2.0 + b
    return q2, w * q1 * relu_kernel(p1 / q1) / 2.0 + b


def block_update(q: float, p: float, beta: float, *, placement: Placement = "post",
                 gain_control: bool = False, alpha_attn: float = 1.0, alpha_mlp: float = 1.0,
                 var_v: float = 1.0, var_bv: float = 0.0, mlp: bool = True, var_w: float = 1.0,
                 var_b: float = 0.0, y2: float | None = None) -> tuple[float, float]:
    r"""One transformer block's map ``(q, p) -> (q', p')`` (see the module docstring, step 5).

    Parameters
    ----------
    q, p:
        Token norm and overlap entering the block (``q = 1`` after a LayerNorm).
    beta:
        Query-key scale (logit std ``beta sqrt(ln T)`` for unit-norm tokens).
    placement:
        ``"post"``: LayerNorm after each residual sum (the paper's block, BERT order);
        ``"pre"``: LayerNorm on each branch input, residual stream un-normalised.
    gain_control:
        Centred attention ``(A - 1 1^T / n) V`` (the paper's gain-controlled attention).
    alpha_attn, alpha_mlp:
        Residual strengths (the skip adds ``alpha x``).
    var_v, var_bv:
        Gain of the value path (``var_v``: variance of ``W_V`` entries times ``d``, times that
        of ``W_O`` where there is one) and variance of its bias (which centred attention
        cancels).
    mlp, var_w, var_b:
        Whether the block has the ReLU MLP, its weight gain and bias variance.
    y2:
        Participation ratio to use instead of the asymptotic one (finite ``n``).

    Returns
    -------
    tuple of float
        ``(q', p')``; post-LN returns ``q' = 1``.

    Examples
    --------
    >>> q, p = block_update(1.0, 0.2, 0.5, mlp=False)  # below beta_c: (0.2 + 0.2) / (1 + 0.2)
    >>> q, round(p, 6)
    (1.0, 0.333333)
    """
    if placement not in ("post", "pre"):
        raise TgnnError(f"placement: expected 'post' or 'pre', got {placement!r}")
    norm, overlap = _check_positive(q, "q"), float(p)
    a2, m2 = float(alpha_attn) ** 2, float(alpha_mlp) ** 2
    gain = _check_positive(var_v, "var_v", allow_zero=True)
    bias = _check_positive(var_bv, "var_bv", allow_zero=True)
    bias = 0.0 if gain_control else bias  # sum_j (A_aj - 1/n) b_V = 0: centring removes it
    rho = overlap / norm
    att_q, att_p = attention_moments(1.0, rho, beta, gain_control=gain_control, y2=y2)
    if placement == "post":
        total = a2 * norm + gain * att_q + bias
        norm, overlap = 1.0, (a2 * overlap + gain * att_p + bias) / total
        if mlp:
            mq, mp = mlp_moments(1.0, overlap, var_w, var_b)
            overlap = (m2 * overlap + mp) / (m2 + mq)
        return norm, overlap
    norm, overlap = a2 * norm + gain * att_q + bias, a2 * overlap + gain * att_p + bias
    if mlp:
        mq, mp = mlp_moments(1.0, overlap / norm, var_w, var_b)
        norm, overlap = m2 * norm + mq, m2 * overlap + mp
    return norm, overlap


def correlation_map(rho: float, beta: float, **block: object) -> float:
    r"""Token correlation after one block, ``rho' = p'/q'``, for input correlation ``rho``.

    ``block``: the keyword arguments of :func:`block_update` (placement, residuals, gains).
    The input is LayerNorm'd (``q = 1``).

    Examples
    --------
    >>> round(correlation_map(0.5, 10.0, mlp=False, alpha_attn=0.0), 6)  # 0.5 / (0.5 + 0.5 * 0.8)
    0.555556
    """
    norm, overlap = block_update(1.0, _check_rho(rho), beta, **block)  # type: ignore[arg-type]
    return overlap / norm


def correlation_trajectory(rho0: float, depth: int, beta: float, **block: object) -> np.ndarray:
    r"""Predicted token correlation ``rho_l``, ``l = 0 .. depth`` (iterated :func:`block_update`).

    Examples
    --------
    >>> traj = correlation_trajectory(0.2, 3, 0.5, mlp=False, var_v=1.0)
    >>> bool(np.all(np.diff(traj) > 0))  # below beta_c the tokens align layer after layer
    True
    """
    if int(depth) != depth or depth < 0:
        raise TgnnError(f"depth: expected a non-negative integer, got {depth!r}")
    norm, overlap = 1.0, _check_rho(rho0, "rho0")
    out = [overlap]
    for _ in range(int(depth)):
        norm, overlap = block_update(norm, overlap, beta, **block)  # type: ignore[arg-type]
        overlap = min(overlap, norm)
        out.append(overlap / norm)
    return np.asarray(out)
