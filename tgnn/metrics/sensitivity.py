"""Jacobian sensitivity of late-token representations to early tokens (over-squashing).

For a model with input embeddings ``x_s`` (rows of ``inputs_embeds``) and hidden states
``y_i^(l)`` (``hidden_states[l]`` of a Hugging Face forward pass), the sensitivity of target
``i`` to source ``s`` is the norm of the ``d x d`` block ``J^(l)[i, s] = dy_i^(l) / dx_s``
(Topping et al. 2022, Di Giovanni et al. 2023, Barbero et al. 2024 "Transformers need glasses").
We compute all sources ``s`` for chosen targets ``i`` exactly by reverse mode: one forward pass,
then the pullback applied to a batch of one-hot cotangents with ``torch.func.vmap``
(:func:`jacobian_sensitivity`, ``d`` backward passes per target and layer), or estimate the
Frobenius norms with random probes and a standard error
(:func:`tgnn.metrics.sensitivity_estimates.probe_sensitivity`, ``num_probes`` backward passes
per target and layer).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch.func import vjp, vmap

from tgnn._attention_switch import switched_attention
from tgnn.errors import ShapeError
from tgnn.metrics._input import integer, positions

__all__ = [
    "jacobian_blocks",
    "jacobian_sensitivity",
    "jacobian_sensitivity_loop",
    "block_norms",
    "surrogate_sensitivity",
]


def _prepare(
    model: Any, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None
) -> torch.Tensor:
    if (input_ids is None) == (inputs_embeds is None):
        raise ShapeError("input_ids, inputs_embeds: expected exactly one of them")
    if inputs_embeds is None:
        assert input_ids is not None
        ids = input_ids if input_ids.dim() == 1 else input_ids[0]
        if input_ids.dim() > 2 or (input_ids.dim() == 2 and input_ids.shape[0] != 1):
            raise ShapeError(f"input_ids: expected [n] or [1, n], got {tuple(input_ids.shape)}")
        with torch.no_grad():
            inputs_embeds = model.get_input_embeddings()(ids.to(model.device))
    if inputs_embeds.dim() == 3 and inputs_embeds.shape[0] == 1:
        inputs_embeds = inputs_embeds[0]
    if inputs_embeds.dim() != 2:
        raise ShapeError(f"inputs_embeds: expected [n, d], got {tuple(inputs_embeds.shape)}")
    return inputs_embeds.detach()


@contextmanager
def _frozen(model: Any) -> Iterator[None]:
    """Turn off parameter gradients while differentiating with respect to the input only."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _forward_fn(model: Any, targets: torch.Tensor, layers: Sequence[int]) -> Any:
    base = getattr(model, "base_model", model)

    def f(x: torch.Tensor) -> torch.Tensor:
        out = base(inputs_embeds=x[None], output_hidden_states=True)
        return torch.stack([out.hidden_states[l][0, targets] for l in layers])  # [Ls, T, d]

    return f


def _targets_layers(
    model: Any, n: int, targets: Sequence[int] | None, layers: Sequence[int] | None
) -> tuple[torch.Tensor, list[int]]:
    n_layers = int(model.config.num_hidden_layers)
    t = torch.arange(n) if targets is None else torch.tensor(
        positions(targets, "targets", n, ShapeError, from_end=True),  # 1.5 was truncated
        dtype=torch.long)
    ls = [n_layers] if layers is None else positions(layers, "layers", n_layers, ShapeError,
                                                     upper=True)
    return t, ls


CPU_CHUNK_ELEMENTS = 2**22


def _default_chunk(model: Any, n: int, k: int, device: str) -> int:
    """Cotangents per batched pullback: on CPU as many as keep ``chunk * H * n^2`` attention
    entries near ``CPU_CHUNK_ELEMENTS`` (16 at H = 4, n = 256; all at n = 32), else 256."""
    if device != "cpu":
        return 256
    heads = int(getattr(model.config, "num_attention_heads", 1) or 1)
    return max(1, min(k, CPU_CHUNK_ELEMENTS // (heads * n * n)))


def jacobian_blocks(
    model: Any, input_ids: torch.Tensor | None = None, *, inputs_embeds: torch.Tensor | None = None,
    targets: Sequence[int] | None = None, layers: Sequence[int] | None = None,
    chunk_size: int | None = None, attn_implementation: str | None = "eager",
) -> torch.Tensor:
    """All Jacobian blocks ``J[l, t, s] = d y_{targets[t]}^(layers[l]) / d x_s`` of one sequence.

    One forward pass, then ``len(layers) * len(targets) * d`` vector-Jacobian products batched
    by ``torch.func.vmap`` in chunks of ``chunk_size`` cotangents (default on CPU: about
    ``2^22 / (H n^2)``, so that the batched attention stays in cache; 256 elsewhere). Memory
    O(chunk * (n * d + H * n^2)) per layer. ``layers`` index ``hidden_states`` (0 = embeddings
    output, default: the last).
    ``attn_implementation`` is the attention the model runs while differentiated (restored
    after): ``"eager"`` (default) is plain matmul and softmax, which ``vmap`` batches; fused
    SDPA backward kernels have no batching rule, so ``vmap`` would run them one cotangent at a
    time. ``None`` keeps the model's own.

    Returns
    -------
    torch.Tensor
        Shape ``[len(layers), len(targets), n, d_out, d_in]`` in the model's dtype.

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> m, tok = random_config_model("gpt2", seed=0, n_layer=1, hidden=8, n_head=2)
    >>> J = jacobian_blocks(m, tok("abc")["input_ids"], targets=[2])
    >>> J.shape, bool(J[0, 0, 3].abs().max() == 0)  # 4 tokens with BOS; target 2 cannot see 3
    (torch.Size([1, 1, 4, 8, 8]), True)
    """
    x = _prepare(model, input_ids, inputs_embeds)
    t, ls = _targets_layers(model, x.shape[0], targets, layers)
    if chunk_size is not None:  # 0 or 1.5 failed inside torch.func.vmap, after the forward
        chunk_size = integer(chunk_size, "chunk_size", minimum=1, error=ShapeError)
    purpose = (f"differentiate it with attn_implementation={attn_implementation!r} "
               "(pass attn_implementation=None to keep its own)")
    with switched_attention(model, attn_implementation, purpose), _frozen(model):
        y, pullback = vjp(_forward_fn(model, t, ls), x)[:2]
        k = y.numel()
        if chunk_size is None:
            chunk_size = _default_chunk(model, x.shape[0], k, y.device.type)
        eye = torch.eye(k, dtype=y.dtype, device=y.device).reshape(k, *y.shape)
        grads = vmap(pullback, chunk_size=chunk_size)(eye)[0]  # [k, n, d_in]
    n, d_in = x.shape
    return grads.reshape(len(ls), len(t), y.shape[-1], n, d_in).permute(0, 1, 3, 2, 4)


def block_norms(blocks: torch.Tensor, norm: str = "fro") -> torch.Tensor:
    """Norm of each trailing ``d_out x d_in`` block: ``"fro"`` (Frobenius) or ``"spectral"``.

    Examples
    --------
    >>> block_norms(torch.eye(3).expand(2, 3, 3), "fro")
    tensor([1.7321, 1.7321])
    >>> block_norms(torch.eye(3).expand(2, 3, 3), "spectral")
    tensor([1., 1.])
    """
    if norm == "fro":
        return torch.linalg.matrix_norm(blocks, ord="fro")
    if norm == "spectral":
        return torch.linalg.matrix_norm(blocks, ord=2)
    raise ShapeError(f"norm: expected 'fro' or 'spectral', got {norm!r}")


def jacobian_sensitivity(
    model: Any, input_ids: torch.Tensor | None = None, *, inputs_embeds: torch.Tensor | None = None,
    targets: Sequence[int] | None = None, layers: Sequence[int] | None = None, norm: str = "fro",
    chunk_size: int | None = None, attn_implementation: str | None = "eager",
) -> torch.Tensor:
    """Sensitivity ``S[l, t, s] = || d y_{targets[t]}^(layers[l]) / d x_s ||`` for all sources.

    ``x_s`` is the input embedding of token ``s`` (``inputs_embeds``, before position
    embeddings); ``norm`` is ``"fro"`` or ``"spectral"``. Exact (reverse mode, batched with
    ``torch.func``); cost about ``len(layers) * len(targets) * d`` backward passes done as
    a few batched ones. Put the model in eval mode; use float64 for reference comparisons.
    ``attn_implementation``: see :func:`jacobian_blocks`. The arithmetic equals the loop's;
    batching pays where per-pass overhead dominates (short sequences, narrow models, GPUs). On
    a CPU at n in the hundreds both are bound by the same work and the batched tensors leave
    the cache: see ``benchmarks/perf_sensitivity.py``.
    Reference: Barbero et al. 2024, "Transformers need glasses!", Sec. 5 (over-squashing).

    Returns
    -------
    torch.Tensor
        Shape ``[len(layers), len(targets), n]``.

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> m, tok = random_config_model("gpt2", seed=0, n_layer=1, hidden=8, n_head=2)
    >>> S = jacobian_sensitivity(m, tok("abcd")["input_ids"], targets=[1, 4])
    >>> S.shape, bool((S[0, 0, 2:] == 0).all())  # causal: target 1 sees only tokens 0, 1
    (torch.Size([1, 2, 5]), True)
    """
    blocks = jacobian_blocks(model, input_ids, inputs_embeds=inputs_embeds, targets=targets,
                             layers=layers, chunk_size=chunk_size,
                             attn_implementation=attn_implementation)
    return block_norms(blocks, norm)


def jacobian_sensitivity_loop(
    model: Any, input_ids: torch.Tensor | None = None, *, inputs_embeds: torch.Tensor | None = None,
    targets: Sequence[int] | None = None, layers: Sequence[int] | None = None, norm: str = "fro",
) -> torch.Tensor:
    """Reference: the same as :func:`jacobian_sensitivity` with one ``autograd.grad`` per output.

    ``len(layers) * len(targets) * d`` backward passes in a Python loop (slow; for tests and
    benchmarks).

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> m, tok = random_config_model("gpt2", seed=0, n_layer=1, hidden=8, n_head=2)
    >>> ids = tok("ab")["input_ids"]
    >>> bool(torch.allclose(jacobian_sensitivity_loop(m, ids), jacobian_sensitivity(m, ids)))
    True
    """
    x = _prepare(model, input_ids, inputs_embeds).clone().requires_grad_(True)
    t, ls = _targets_layers(model, x.shape[0], targets, layers)
    with _frozen(model):
        y = _forward_fn(model, t, ls)(x)  # [Ls, T, d]
        flat = y.reshape(-1, y.shape[-1])
        rows = [
            torch.stack([torch.autograd.grad(flat[r, k], x, retain_graph=True)[0]
                         for k in range(flat.shape[1])])
            for r in range(flat.shape[0])
        ]  # each [d_out, n, d_in]
    blocks = torch.stack(rows).reshape(len(ls), len(t), y.shape[-1], *x.shape)
    return block_norms(blocks.permute(0, 1, 3, 2, 4), norm)


def surrogate_sensitivity(
    attention: torch.Tensor, rho: float | torch.Tensor = 0.5, d: int = 1,
    targets: Sequence[int] | None = None, norm: str = "fro",
) -> torch.Tensor:
    """Sensitivity in the linear attention-only surrogate ``h^(l+1) = Â^(l) h^(l)``.

    There ``d h_i^(L) / d x_s = Phi_L[i, s] I_d`` (THEORY.md, Fact 0), whose Frobenius norm is
    ``|Phi_L[i, s]| sqrt(d)`` and spectral norm ``|Phi_L[i, s]|``. Returns ``[len(targets), n]``
    (all targets by default). ``attention`` is ``[L, n, n]`` or ``[L, H, n, n]`` (heads
    averaged) and ``rho`` a float, ``[L]`` or ``[L, n]``; ``Phi_L`` is
    :func:`tgnn.theory.rollout.rollout_matrix`. Cost O(L n^3).

    Examples
    --------
    >>> A = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    >>> surrogate_sensitivity(A, 0.5, d=4, targets=[1])
    tensor([[0.5000, 1.5000]], dtype=torch.float64)
    """
    from tgnn.theory.rollout import rollout_matrix

    if norm not in ("fro", "spectral"):
        raise ShapeError(f"norm: expected 'fro' or 'spectral', got {norm!r}")
    width = integer(d, "d", minimum=1, error=ShapeError)  # d <= 0 gave zeros or complex values
    shares = rho.detach().cpu().numpy() if isinstance(rho, torch.Tensor) else rho
    phi = torch.from_numpy(rollout_matrix(attention.detach().cpu(), shares, causal=False))
    if targets is not None:  # negative ids wrapped around, floats were truncated
        phi = phi[torch.tensor(positions(targets, "targets", phi.shape[-1], ShapeError,
                                         from_end=True))]
    return phi.abs() * float(width) ** 0.5 if norm == "fro" else phi.abs()
