"""The embedded causal model ``tgnn-gpt2-tiny``: corpus, configuration and sink measurement.

A character-level GPT-2 (4 layers, 4 heads, width 128, context 256) trained on the text of
CPython's ``pydoc_data.topics``, with a ``<bos>`` token at position 0 (Xiao et al. 2024 and
Gu et al. 2024 show that such a first token becomes an attention sink). The twin
``tgnn-gpt2-tiny-nobos`` is trained the same way without it.

Shipped weights (``weights/tgnn-gpt2-tiny.*``; the twin's likewise with ``--no-bos``),
reproduced by five runs of the script::

    tgnn train-tiny --steps 2500 --batch 16 --lr 2e-3 --stop-after 883 --out stage1
    tgnn train-tiny --steps 1000 --batch 8 --lr 1e-3 --stop-after 580 \
        --init stage1/tgnn-gpt2-tiny.safetensors --out stage2
    tgnn train-tiny --steps 1200 --batch 16 --lr 1e-3 --weight-decay 1.0 --stop-after 1174 \
        --init stage2/tgnn-gpt2-tiny.safetensors --out stage3
    tgnn train-tiny --steps 1800 --batch 16 --lr 1.5e-3 --weight-decay 1.5 \
        --init stage3/tgnn-gpt2-tiny.safetensors --out stage4
    tgnn train-tiny --steps 1200 --batch 16 --lr 5e-4 --weight-decay 1.5 \
        --init stage4/tgnn-gpt2-tiny.safetensors --out final

(the first three were cut short by ``--max-minutes`` on a shared 2-core CPU; ``--stop-after``
repeats the cut; ``weights/*.stage*.meta.json`` keep the records of the earlier stages). The
command never writes into the installed package: to ship a new model, copy ``final/*`` into
``tgnn/models/weights/`` of a source checkout.
Held-out loss 1.40 nats per character (twin: see ``weights_meta("tgnn-gpt2-tiny-nobos")``).
The strong weight decay of the last two stages grew a sink on BOS, as Gu et al. report for
weight decay: layer 0 puts 3.1x the uniform mass on position 0 on average over its heads (its
strongest head 8x), where the third stage had 0.9x and the fourth 2.7x; the other layers
0.6-1.3x (``weights_meta()``).
"""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from tgnn.errors import ShapeError

__all__ = ["corpus_text", "split_text", "tiny_config", "first_token_mass", "uniform_first_mass"]

N_CTX = 256
HELD_OUT_FRACTION = 0.1


def corpus_text() -> str:
    """Training text: the entries of ``pydoc_data.topics``, sorted by key, joined by blank lines.

    Examples
    --------
    >>> len(corpus_text()) > 100_000
    True
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


def split_text(text: str, held_out: float = HELD_OUT_FRACTION) -> tuple[str, str]:
    """Split ``text`` into (train, held-out): the held-out part is the last ``held_out`` share.

    Examples
    --------
    >>> split_text("abcdefghij", 0.2)
    ('abcdefgh', 'ij')
    """
    if not 0.0 < held_out < 1.0:
        raise ShapeError(f"held_out: expected a fraction in (0, 1), got {held_out}")
    cut = int(round(len(text) * (1.0 - held_out)))
    return text[:cut], text[cut:]


def tiny_config(vocab_size: int, n_ctx: int = N_CTX, bos_token_id: int = 1) -> GPT2Config:
    """GPT-2 configuration of the tiny model (no dropout, eager attention by default).

    Examples
    --------
    >>> cfg = tiny_config(100)
    >>> (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.n_positions)
    (4, 4, 128, 256)
    """
    return GPT2Config(
        vocab_size=vocab_size, n_positions=n_ctx, n_embd=128, n_layer=4, n_head=4,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=bos_token_id,
        eos_token_id=bos_token_id, pad_token_id=0, tie_word_embeddings=True,
    )


@torch.no_grad()
def first_token_mass(model: GPT2LMHeadModel, input_ids: torch.Tensor) -> torch.Tensor:
    """Per-layer and per-head attention mass on position 0.

    ``mass[l, h] = mean over sequences b and query positions t >= 1 of A^{(l,h)}_b[t, 0]``
    (the sink mass alpha_0 of Gu et al. 2024, "When attention sink emerges", restricted to
    t >= 1 because row 0 always puts all its mass on itself). One eager forward pass:
    O(L H n^2) memory per sequence.

    Returns
    -------
    torch.Tensor
        Shape ``[L, H]``, float64.

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> m, _ = random_config_model("gpt2", seed=0)
    >>> first_token_mass(m, torch.randint(3, 50, (2, 16))).shape
    torch.Size([2, 4])
    """
    if input_ids.dim() != 2 or input_ids.shape[1] < 2:
        raise ShapeError(f"input_ids: expected [batch, n >= 2], got {tuple(input_ids.shape)}")
    old = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        out = model(input_ids=input_ids, output_attentions=True)
    finally:
        model.set_attn_implementation(old)
    if len(out.attentions) != model.config.num_hidden_layers:
        raise ShapeError("model: expected one attention tensor per layer")
    att = torch.stack([a.double() for a in out.attentions])  # [L, B, H, n, n]
    return att[..., 1:, 0].mean(dim=(1, 3))


def uniform_first_mass(n: int) -> float:
    """Mass on position 0 under uniform causal attention: mean over t = 1..n-1 of 1 / (t + 1).

    Examples
    --------
    >>> round(uniform_first_mass(3), 4)  # (1/2 + 1/3) / 2
    0.4167
    """
    if n < 2:
        raise ShapeError(f"n: expected at least 2, got {n}")
    return float(sum(1.0 / (t + 1) for t in range(1, n)) / (n - 1))
