"""Rollout resistance ``R^roll_L(s, i) = 1 / (Phi_L)[i, s]`` and residual-share estimates.

Convention (0-based): ``attentions[l][i, j]`` is how much query ``i`` reads key ``j`` in layer
``l`` (``attentions[0]`` is the first layer). Residual mixing per layer and token:
``Ahat^(l) = diag(rho_l) A^(l) + diag(1 - rho_l)``; rollout ``Phi_L = Ahat^(L-1) ... Ahat^(0)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tgnn.errors import ShapeError, TgnnError

from ._inputs import (
    ArrayLike,
    RhoLike,
    as_matrix,
    layer_list,
    matrix_size,
    residual_shares,
    resolve_token,
    row_blocks,
)
from ._sparse import check_dense_size, is_sparse_input, sparse_attention

__all__ = [
    "rollout_matrix",
    "rollout_row",
    "rollout_resistance",
    "calibrated_residual_share",
    "gain_rollout_row",
    "value_weighted_attention",
]


_ROW_PATH = "rollout_row or rollout_resistance(target=...) on sparse layers"


def _layers(attentions: Any) -> tuple[list[Any], int]:
    layers = layer_list(attentions)
    return layers, matrix_size(layers[0], "attentions[0]")


def _layer(raw: Any, index: int, n: int, causal: bool) -> np.ndarray:
    a = as_matrix(raw, f"attentions[{index}]", causal=causal,
                  what="rollout_matrix (all pairs)", alternative=_ROW_PATH)
    if a.shape != (n, n):
        raise ShapeError(f"attentions[{index}]: expected [{n}, {n}] like layer 0, got {a.shape}")
    return a


def rollout_matrix(attentions: Any, rho: RhoLike = 0.5, *, causal: bool = True) -> np.ndarray:
    r"""Attention rollout ``Phi_L = Ahat^(L-1) ... Ahat^(0)`` with residual share ``rho``.

    ``Ahat^(l) = diag(rho_l) A^(l) + diag(1 - rho_l)``. In the linear attention-only model
    ``h^(l+1) = Ahat^(l) h^(l)``, ``d h_i^(L) / d x_s = Phi_L[i, s] I`` (Abnar and Zuidema 2020 use
    ``rho = 1/2``).

    Complexity: O(L n^3) (L dense products).

    Parameters
    ----------
    attentions
        Per-layer attention, first layer first: a list of [n, n] / [H, n, n] / [1, H, n, n]
        (heads averaged), an [L, n, n] or [L, H, n, n] stack, or a dict keyed by layer index.
    rho
        Residual (attention) share: a float, an [L] array (per layer) or an [L, n] array (per layer
        and token, e.g. from :func:`calibrated_residual_share`).
    causal
        Require lower-triangular attention (set False for bidirectional models).

    Returns
    -------
    numpy.ndarray
        [n, n] float64, row-stochastic, 0-based ``Phi[i, s]``.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> round(float(rollout_matrix([u, u], rho=1.0)[2, 0]) * 18, 12)  # H_3 / 3 = 11/18
    11.0
    """
    layers, n = _layers(attentions)
    check_dense_size(n, "attentions", "rollout_matrix (all pairs)", _ROW_PATH)
    shares = residual_shares(rho, len(layers), n)
    phi = np.eye(n)
    for index, raw in enumerate(layers):
        a = _layer(raw, index, n, causal)
        mixed = a @ phi if index else a.copy()  # the first product is with I: skip it
        phi = shares[index][:, None] * mixed + (1.0 - shares[index])[:, None] * phi
    return phi


def rollout_row(
    attentions: Any, target: int = -1, rho: RhoLike = 0.5, *, causal: bool = True
) -> np.ndarray:
    r"""Row ``Phi_L[target, :]`` of :func:`rollout_matrix`, without an n x n array.

    Definition: ``e_i^T Phi_L = e_i^T Ahat^(L-1) ... Ahat^(0)`` with
    ``Ahat^(l) = diag(rho_l) A^(l) + diag(1 - rho_l)``, computed from the last layer down as
    ``r <- (1 - rho_l) * r + (rho_l * r) A^(l)``: one vector-matrix product per layer
    (Abnar and Zuidema 2020, "Quantifying attention flow in transformers", ACL).

    Dense layers are read once, in blocks of rows, without an n x n float64 copy: O(L n^2).
    Sparse layers (scipy sparse matrices, or PyG ``Data`` with ``edge_index[:, e] = [j, i]``
    carrying ``A[i, j]``, e.g. from a blockwise sparse capture) take one sparse product each:
    O(L (nnz + n)) time and O(nnz + L n) memory, so 32k-token rows cost milliseconds. On sparse
    layers a row may sum to less than one (the mass of the edges a top-k / top-p capture
    dropped): the result is then the rollout of the kept edges, a lower bound entry by entry of
    the rollout of the full attention (every term is non-negative).

    Parameters
    ----------
    attentions
        As in :func:`rollout_matrix`, or per layer a scipy sparse [n, n] matrix or a PyG
        ``Data`` (a list of them, first layer first; one alone is one layer). Dense and sparse
        layers may be mixed.
    target
        0-based query token (negative counts from the end: -1 is the last token).
    rho
        As in :func:`rollout_matrix`: a float, per layer [L] or per layer and token [L, n]
        (e.g. :func:`calibrated_residual_share`).
    causal
        Require lower-triangular attention.

    Returns
    -------
    numpy.ndarray
        [n] float64, ``Phi_L[target, s]`` over source tokens ``s``.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> rollout_row([u], target=-1, rho=0.5)  # (1/2) U[2] + (1/2) e_2
    array([0.1666..., 0.1666..., 0.6666...])
    >>> import scipy.sparse as sp
    >>> rollout_row(sp.csr_array(u), target=-1, rho=0.5)  # the same row from sparse input
    array([0.1666..., 0.1666..., 0.6666...])
    """
    layers, n = _layers(attentions)
    i = resolve_token(target, n)
    shares = residual_shares(rho, len(layers), n)
    row = np.zeros(n)
    row[i] = 1.0
    for index in range(len(layers) - 1, -1, -1):
        row = row * (1.0 - shares[index]) + _left_product(
            layers[index], f"attentions[{index}]", row * shares[index], causal
        )
    return row


def _left_product(raw: Any, name: str, weighted: np.ndarray, causal: bool) -> np.ndarray:
    """``weighted @ A`` for one layer: one sparse product, or one streaming pass over blocks."""
    n = len(weighted)
    if is_sparse_input(raw):
        a, _ = sparse_attention(raw, name, causal=causal, substochastic=True)
        if a.shape[0] != n:
            raise ShapeError(f"{name}: expected [{n}, {n}] like layer 0, got {a.shape}")
        return np.asarray(a.T @ weighted)
    size, blocks = row_blocks(raw, name, causal=causal)
    if size != n:
        raise ShapeError(f"{name}: expected [{n}, {n}] like layer 0, got [{size}, {size}]")
    out = np.zeros(n)
    for first, block in blocks:  # causal rows stop at the diagonal
        stop = first + len(block) if causal else n
        out[:stop] += weighted[first : first + len(block)] @ block[:, :stop]
    return out


def rollout_resistance(
    attentions: Any,
    *,
    rho: RhoLike = 0.5,
    target: int | None = None,
    causal: bool = True,
) -> np.ndarray:
    r"""Rollout resistance ``R^roll_L(s, i) = 1 / Phi_L[i, s]`` (escape-probability form).

    Definition: Doyle-Snell escape resistance on the layered DAG from token ``i`` at depth ``L``
    to token ``s`` at depth 0; defined for ``s <= i``, asymmetric. ``log R^roll`` obeys a
    triangle inequality across depths (Chapman-Kolmogorov), and in the linear model
    ``||d y_i / d x_s|| = 1 / R^roll_L(s, i)``.

    Complexity: O(L n^2) for one target row, O(L n^3) for all pairs.

    Parameters
    ----------
    attentions, rho, causal
        As in :func:`rollout_matrix`.
    target
        0-based query token ``i`` (negative counts from the end). ``None``: all pairs. With a
        target, sparse layers (scipy sparse, PyG ``Data``) take the sparse path of
        :func:`rollout_row`; all pairs densify them and refuse above
        ``tgnn.theory.DENSE_MAX_NODES`` tokens (:class:`~tgnn.errors.SizeLimitError`).

    Returns
    -------
    numpy.ndarray
        ``[n]`` over sources ``s`` (one target) or ``[n, n]`` with ``R[i, s]`` (target first, like
        attention); ``inf`` where no path carries weight (always for ``s > i`` in causal attention).

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    >>> rollout_resistance([u, u], rho=1.0, target=3)  # 1 / (U^2)[3, s]
    array([ 1.92      ,  3.69230769,  6.85714286, 16.        ])
    """
    if target is not None:
        phi = rollout_row(attentions, target, rho, causal=causal)
    else:
        phi = rollout_matrix(attentions, rho, causal=causal)
    with np.errstate(divide="ignore"):
        return np.where(phi > 0, 1.0 / np.where(phi > 0, phi, 1.0), np.inf)


def _norms(values: Any, name: str) -> np.ndarray:
    layers = layer_list(values, name)
    out = []
    for index, value in enumerate(layers):
        arr = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, np.float64)
        arr = arr[0] if arr.ndim == 3 and arr.shape[0] == 1 else arr
        if arr.ndim != 2:
            raise ShapeError(f"{name}[{index}]: expected [n, d] or [1, n, d], got {arr.shape}")
        out.append(np.linalg.norm(arr, axis=-1))
    return np.stack(out)


def calibrated_residual_share(attention_outputs: Any, block_inputs: Any) -> np.ndarray:
    r"""Residual share per layer and token measured on a model: ``rho[l, i] = |a| / (|a| + |x|)``.

    ``a = a_i^(l)`` is the attention block's output (after the output projection) and
    ``x = x_i^(l)`` the block's input on the residual stream. Pass the result as ``rho`` to
    :func:`rollout_resistance` (row-wise mixing ``diag(rho_l) A + diag(1 - rho_l)``).

    Complexity: O(L n d).

    Parameters
    ----------
    attention_outputs, block_inputs
        Per layer, first layer first: lists of [n, d] (or [1, n, d]) arrays or tensors.

    Returns
    -------
    numpy.ndarray
        [L, n] float64 in [0, 1] (0 where both norms vanish).

    Examples
    --------
    >>> import numpy as np
    >>> calibrated_residual_share([np.array([[3.0, 4.0]])], [np.array([[0.0, 5.0]])])
    array([[0.5]])
    """
    a = _norms(attention_outputs, "attention_outputs")
    x = _norms(block_inputs, "block_inputs")
    if a.shape != x.shape:
        raise ShapeError(
            f"block_inputs: expected [L, n] = {a.shape} like attention_outputs, got {x.shape}"
        )
    total = a + x
    return np.divide(a, total, out=np.zeros_like(a), where=total > 0)


def value_weighted_attention(attention: ArrayLike, value_norms: ArrayLike) -> np.ndarray:
    r"""Value-norm weighted attention ``A[i, j] ||v_j W_O|| / sum_k A[i, k] ||v_k W_O||``.

    After Kobayashi et al. (2020): how much each key actually moves the query's output. Heads are
    weighted separately, then averaged. Rows whose weighted mass vanishes keep the plain weights.

    Complexity: O(H n^2).

    Parameters
    ----------
    attention
        [n, n] or [H, n, n] (or [1, H, n, n]) attention.
    value_norms
        ``||v_j W_O||`` per key: [n] or [H, n] (per head).

    Examples
    --------
    >>> import numpy as np
    >>> value_weighted_attention(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([1.0, 3.0]))
    array([[1.  , 0.  ],
           [0.25, 0.75]])
    """
    a = np.asarray(attention.detach().cpu() if hasattr(attention, "detach") else attention)
    a = np.asarray(a[0] if a.ndim == 4 and a.shape[0] == 1 else a, dtype=np.float64)
    stack = a if a.ndim == 3 else a[None]
    for head in range(len(stack)):
        as_matrix(stack[head], f"attention[{head}]", causal=False)
    norms = np.asarray(value_norms, dtype=np.float64)
    norms = np.broadcast_to(norms if norms.ndim == 2 else norms[None], (len(stack), a.shape[-1]))
    weighted = stack * norms[:, None, :]
    mass = weighted.sum(-1, keepdims=True)
    out = np.where(mass > 0, weighted / np.where(mass > 0, mass, 1.0), stack)
    return out.mean(0)


def _head_stack(raw: Any, name: str, n: int, causal: bool) -> np.ndarray:
    """One layer's per-head attention as validated float64 ``[H, n, n]`` (``[n, n]``: H = 1)."""
    arr = raw.detach().cpu().numpy() if hasattr(raw, "detach") else np.asarray(raw)
    arr = arr[0] if arr.ndim == 4 and arr.shape[0] == 1 else arr
    arr = arr[None] if arr.ndim == 2 else arr
    if arr.ndim != 3 or arr.shape[1:] != (n, n):
        raise ShapeError(f"{name}: expected [H, {n}, {n}] or [{n}, {n}], got {arr.shape}")
    return np.stack([as_matrix(head, f"{name}[{h}]", causal=causal) for h, head in enumerate(arr)])


def gain_rollout_row(
    attentions: Any, key_gains: ArrayLike, target: int = -1, *, causal: bool = True
) -> np.ndarray:
    r"""First-order Jacobian path sum ``e_i^T prod_l (I + sum_h A^(l,h) diag(c^(l,h)))``.

    Definition: for a pre-LN attention block ``y_i = x_i + sum_h sum_j A^h_ij f^h(x_j)``,
    ``f^h(x) = (LN(x) W_V^h + b_V^h) W_O^h``, and with the dependence of ``A`` on ``x`` (the
    query-key path) and the MLP left out, ``d y_i / d x_j = delta_ij I +
    sum_h A^h_ij J_LN(x_j) W_V^h W_O^h``. Replacing each block by its RMS gain
    (``||.||_F / sqrt(d)``, 1 for the identity) and summing over the causal paths of the layered
    graph gives the row returned here: ``c^(l,h)_j`` is the gain of head ``h``'s value path at
    key ``j`` in layer ``l``, about ``||diag(gamma) W_V^h W_O^h||_F / (sqrt(d) sigma_j)`` with
    ``sigma_j`` the standard deviation of ``x_j`` that the LayerNorm divides by. It is Barbero et
    al.'s path sum (2024, Thm 5.1) with measured per-key constants in place of one global
    Lipschitz constant, and the rollout ``rollout_row(A, rho)`` scaled by ``(1 + c)^L`` when all
    gains of a single head equal ``c`` (``rho = c / (1 + c)``). Unlike
    :func:`calibrated_residual_share`, which divides norms of the attention *output*, the gain
    does not shrink when diffuse attention averages values that cancel (``||sum_j A_ij f(x_j)||``
    falls like ``1/sqrt(i)`` for random values while each key's derivative does not).

    Complexity: O(L H n^2).

    Parameters
    ----------
    attentions
        Per layer, first layer first, the per-head attention: a list of ``[H, n, n]`` (or
        ``[n, n]``: one head) arrays or tensors, or an ``[L, H, n, n]`` stack.
    key_gains
        ``c[l, h, j] >= 0``: ``[L, H, n]`` (or ``[L, n]``, shared by the heads).
    target
        0-based query token (negative counts from the end).
    causal
        Require lower-triangular attention.

    Returns
    -------
    numpy.ndarray
        ``[n]`` float64 path sums over source tokens (``>= 1`` at the target itself).

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> gain_rollout_row([u], np.ones((1, 3)))  # (I + U)[2] = 2 * rollout_row(u, rho=1/2)
    array([0.3333..., 0.3333..., 1.3333...])
    """
    layers, n = _layers(attentions)
    i = resolve_token(target, n)
    gains = np.asarray(key_gains.detach().cpu() if hasattr(key_gains, "detach") else key_gains,
                       dtype=np.float64)
    gains = gains[:, None] if gains.ndim == 2 else gains
    if gains.ndim != 3 or gains.shape[0] != len(layers) or gains.shape[2] != n:
        raise ShapeError(f"key_gains: expected [L, H, n] or [L, n] with L = {len(layers)}, "
                         f"n = {n}, got {np.shape(key_gains)}")
    if not np.all(np.isfinite(gains)) or gains.min(initial=0.0) < 0:
        raise TgnnError("key_gains: expected finite non-negative gains, got a negative or "
                        "non-finite value")
    row = np.zeros(n)
    row[i] = 1.0
    for index in range(len(layers) - 1, -1, -1):
        heads = _head_stack(layers[index], f"attentions[{index}]", n, causal)
        if gains.shape[1] not in (1, len(heads)):
            raise ShapeError(f"key_gains: expected {len(heads)} heads (or 1) in layer {index}, "
                             f"got {gains.shape[1]}")
        c = np.broadcast_to(gains[index], (len(heads), n))
        row = row + np.einsum("i,hij,hj->j", row, heads, c)
    return row
