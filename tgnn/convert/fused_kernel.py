r"""The fused CPU kernel of the sparse capture: scores, softmax, entropy and ``P V`` in one pass.

Library calls make one pass over a block's ``H x rows x keys`` scores each (product, scale, mask,
maximum, exponential, sum, normalisation, entropy, second product): on heads of width 32 to 64
the attention of a capture then costs 2.5 times a fused flash forward. ``fused_rows.c`` does
the same arithmetic a tile of 8 query rows at a time while the tile is in cache (its weights
agree with eager attention to a few units in the last place: another summation order and the
Cephes ``expf`` polynomial, not bitwise).

The C file ships with tgnn and is compiled on first use with the system's C compiler
(``$CC``, else ``cc`` / ``gcc`` / ``clang``; ``-O3 -march=native``) into a per-user cache
(``$TGNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/tgnn`` or ``~/.cache/tgnn``), keyed by the
source, the flags and the CPU, never into the installed package. Without a compiler, or if the
build fails, :func:`kernel_library` returns None and the capture uses library calls.
:func:`fused_kernel_status` says which, and why.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from tgnn.errors import AttentionUnavailableError, ShapeError

__all__ = [
    "PAD", "REDUCTIONS", "KernelLibrary", "attention_heads", "attention_select",
    "fused_attention_rows",
    "flatten_selection", "fused_kernel_status", "kernel_library", "padded", "select_rows",
    "select_top_k",
]

SOURCE = Path(__file__).with_name("fused_rows.c")
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-shared", "-fPIC")
OPENMP = "-fopenmp"
"""Tried first: the kernel then shares PyTorch's OpenMP runtime and threads (the loader reuses
the ``libgomp.so.1`` torch has loaded), so ``torch.set_num_threads`` sets its threads too and
no second pool competes with torch's spinning workers; without it the kernel runs on one
thread."""
_STATUS: dict[str, str] = {}


@dataclass(frozen=True)
class KernelLibrary:
    """The compiled functions of ``fused_rows.c`` (ctypes: they release the GIL)."""

    attention_heads: Callable[..., None]
    select_rows: Callable[..., int]
    attention_select: Callable[..., int]


def _cache_dir() -> Path:
    if os.environ.get("TGNN_CACHE_DIR"):
        return Path(os.environ["TGNN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tgnn"


def _cpu_fingerprint() -> str:
    """What ``-march=native`` depends on: the CPU's model and feature flags where Linux says."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    wanted = [line for line in lines if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(wanted))) or platform.machine()


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def _build(compiler: str, flags: tuple[str, ...]) -> Path:
    """Compile ``fused_rows.c`` into the cache (once per source, flags and CPU); its path."""
    key = hashlib.sha256(
        SOURCE.read_bytes() + " ".join((compiler, *flags)).encode() + _cpu_fingerprint().encode()
    ).hexdigest()[:16]
    target = _cache_dir() / f"fused_rows-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(handle)
    try:
        subprocess.run([compiler, *flags, str(SOURCE), "-o", partial, "-lm"],
                       check=True, capture_output=True, text=True, timeout=120)
        os.replace(partial, target)  # atomic: a concurrent build never loads a partial file
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


@functools.cache
def kernel_library() -> KernelLibrary | None:
    """The compiled kernel (built on the first call), or None where it cannot be (see
    :func:`fused_kernel_status`)."""
    if os.environ.get("TGNN_FUSED_KERNEL", "1") == "0":
        _STATUS["reason"] = "switched off (TGNN_FUSED_KERNEL=0)"
        return None
    compiler = _compiler()
    if compiler is None:
        _STATUS["reason"] = "no C compiler found ($CC, cc, gcc, clang)"
        return None
    failures = []
    for flags in ((*FLAGS, OPENMP), FLAGS):
        try:
            library = ctypes.CDLL(str(_build(compiler, flags)))
            break
        except (OSError, subprocess.SubprocessError) as error:
            failures.append((getattr(error, "stderr", "") or str(error)).strip()[:300])
    else:
        _STATUS["reason"] = f"build failed with {compiler}: {failures[-1]}"
        return None
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    attention = library.tgnn_attention_heads
    attention.argtypes = [pointer, size, pointer, size, size, pointer, size, pointer, size, size,
                          ctypes.c_float, size, size, size, size, size, pointer, size, size,
                          pointer, size, pointer, size]
    attention.restype = None
    select = library.tgnn_select_rows
    select.argtypes = [pointer, size, size, size, size, size, ctypes.c_int, size,
                       pointer, pointer, pointer, pointer, size]
    select.restype = ctypes.c_int
    both = library.tgnn_attention_select
    both.argtypes = [pointer, size, pointer, size, size, pointer, size, pointer, size, size,
                     ctypes.c_float, size, size, size, size, size, pointer, size, pointer, size,
                     pointer, size, ctypes.c_int, size, pointer, pointer, pointer, pointer]
    both.restype = ctypes.c_int
    threads = "OpenMP threads shared with torch" if len(failures) == 0 else "one thread"
    _STATUS["reason"] = f"compiled with {compiler} {' '.join(FLAGS)} ({threads})"
    return KernelLibrary(attention, select, both)


def fused_kernel_status() -> str:
    """One line: whether the fused kernel is in use, and why (or why not).

    Examples
    --------
    >>> fused_kernel_status().startswith(("in use", "not in use"))
    True
    """
    in_use = kernel_library() is not None
    return f"{'in use' if in_use else 'not in use'}: {_STATUS.get('reason', '')}"


PAD = 32
"""The kernel works on rows padded to a multiple of this many keys (two vectors of 16)."""


def padded(keys: int) -> int:
    """``keys`` rounded up to a multiple of :data:`PAD`.

    Examples
    --------
    >>> padded(1), padded(32), padded(33)
    (32, 32, 64)
    """
    return -(-keys // PAD) * PAD


def fused_attention_rows(
    query: Tensor, key_t: Tensor, value: Tensor, bias: Tensor | None, scale: float,
    weights: Tensor, output: Tensor, entropy: Tensor, bias_start: int = 0,
) -> None:
    r"""Fill ``weights``, ``output`` and ``entropy`` for one block of one key/value head.

    ``query`` ``[G r, d]`` (the ``G`` query heads of the group, ``r`` rows each), ``value``
    ``[m, d]``, ``key_t`` ``[d, >= padded(m)]`` (the block's keys in columns, a slice of the
    layer's padded ``K^T``: columns past ``m`` are read, never used), ``bias`` ``[r, b]`` with
    0 for a key a row may read and ``-inf`` for a masked one, for the keys ``bias_start ..
    bias_start + b - 1`` (the others are readable), or None; all float32, contiguous
    rows, on the CPU. Writes :math:`P = \operatorname{softmax}(\text{scale}\, Q K^T + \text{bias})`
    into ``weights[:, :m]`` (``weights`` ``[G r, >= padded(m)]``, 0 in the padding), :math:`P V`
    into ``output`` ``[G r, d]`` and the row entropies (nats) into ``entropy`` ``[G r]``.
    """
    attention_heads(query[None], key_t[None], value[None], bias, scale, weights[None],
                    output[None], entropy[None], bias_start=bias_start)


def attention_heads(
    query: Tensor, key_t: Tensor, value: Tensor, bias: Tensor | None, scale: float,
    weights: Tensor, output: Tensor, entropy: Tensor, bias_start: int = 0,
) -> None:
    """:func:`fused_attention_rows` for every key/value head of a block, in one kernel call.

    Each argument but ``bias`` and ``scale`` gets a leading head dimension ``[H_kv, ...]``. The
    (head, 32 rows) pieces run on torch's OpenMP threads where the kernel was built with OpenMP
    (:data:`OPENMP`).
    """
    library = kernel_library()
    if library is None:
        raise AttentionUnavailableError(f"fused_attention_rows: {fused_kernel_status()}")
    heads, rows, dim = query.shape
    keys = value.shape[1]
    _check_heads(query, key_t, value, bias, weights, output, entropy, bias_start)
    library.attention_heads(
        query.data_ptr(), query.stride(0), key_t.data_ptr(), key_t.stride(0), key_t.stride(1),
        value.data_ptr(), value.stride(0), None if bias is None else bias.data_ptr(),
        bias_start, 0 if bias is None else bias.shape[-1], scale, heads, rows,
        rows if bias is None else bias.shape[0], keys, dim, weights.data_ptr(),
        weights.stride(0), weights.stride(1), output.data_ptr(), output.stride(0),
        entropy.data_ptr(), entropy.stride(0))


def attention_select(
    query: Tensor, key_t: Tensor, value: Tensor, bias: Tensor | None, scale: float,
    weights: Tensor, output: Tensor, entropy: Tensor, rows: int, reduction: str, k: int,
    bias_start: int = 0,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`attention_heads` and :func:`select_top_k` in one pass over a block of ``rows``.

    Arguments as :func:`attention_heads`, with ``query`` ``[H_kv, G rows, d]`` (``G`` query
    heads of ``rows`` rows per key/value head) and ``weights`` one contiguous padded array
    ``[H_kv, G rows, w]``. Each piece of 16 block rows computes its rows of every head, then
    selects their edges while they are in cache. Returns the selection as :func:`select_top_k`
    on the ``[H, rows, m]`` weights (keys ``[rows, k']``, values, counts) and the block's column
    sums ``[H, m]`` in float64.
    """
    library = kernel_library()
    if library is None:
        raise AttentionUnavailableError(f"attention_select: {fused_kernel_status()}")
    _check_heads(query, key_t, value, bias, weights, output, entropy, bias_start)
    kv_heads, grouped, dim = query.shape
    keys = value.shape[1]
    group = grouped // rows if rows > 0 else 0
    if rows < 1 or group * rows != grouped or not weights.is_contiguous():
        raise ShapeError(f"rows: expected a count dividing the {grouped} grouped rows, with "
                         f"weights one contiguous array, got {rows} and strides "
                         f"{weights.stride()}")
    k = min(k, keys)
    cols = torch.empty(rows, k, dtype=torch.int64)
    values = torch.empty(rows, k)
    count = torch.empty(rows, dtype=torch.int64)
    column_sums = torch.zeros(kv_heads * group, keys, dtype=torch.float64)
    status = library.attention_select(
        query.data_ptr(), query.stride(0), key_t.data_ptr(), key_t.stride(0), key_t.stride(1),
        value.data_ptr(), value.stride(0), None if bias is None else bias.data_ptr(),
        bias_start, 0 if bias is None else bias.shape[-1], scale, kv_heads, group, rows, keys,
        dim, weights.data_ptr(), weights.shape[-1], output.data_ptr(), output.stride(0),
        entropy.data_ptr(), entropy.stride(0), REDUCTIONS[reduction], k, cols.data_ptr(),
        values.data_ptr(), count.data_ptr(), column_sums.data_ptr())
    if status != 0:
        raise MemoryError(f"attention_select: no memory for the scratch of {keys} keys")
    return cols, values, count, column_sums


def _check_heads(
    query: Tensor, key_t: Tensor, value: Tensor, bias: Tensor | None, weights: Tensor,
    output: Tensor, entropy: Tensor, bias_start: int,
) -> None:
    """The layouts :func:`attention_heads` and :func:`attention_select` need (named errors)."""
    heads, rows, dim = query.shape
    keys = value.shape[1]
    width = padded(keys)
    if bias is not None and not 0 <= bias_start <= keys - bias.shape[-1]:
        raise ShapeError(f"bias_start: expected 0 <= bias_start <= {keys} - {bias.shape[-1]} "
                         f"(keys - bias width), got {bias_start}")
    _check_layout("query", query, (heads, rows, dim), whole=True)
    _check_layout("value", value, (heads, keys, dim), whole=True)
    _check_layout("key_t", key_t, (heads, dim, width), whole=False)
    _check_layout("weights", weights, (heads, rows, width), whole=False)
    _check_layout("output", output, (heads, rows, dim), whole=True)
    _check_layout("entropy", entropy, (heads, rows), whole=True)
    if bias is not None:
        _check_layout("bias", bias, (bias.shape[0], bias.shape[-1]), whole=True)


def _check_layout(name: str, tensor: Tensor, shape: tuple[int, ...], whole: bool) -> None:
    """``tensor`` float32 on the CPU with ``shape`` (the last dimension may be longer unless
    ``whole``), unit stride in its last dimension and, if ``whole``, dense past the first."""
    size, strides = tuple(tensor.shape), tensor.stride()
    fits = len(size) == len(shape) and size[:-1] == shape[:-1] and (
        size[-1] == shape[-1] if whole else size[-1] >= shape[-1])
    dense = (strides[-1] == 1 or size[-1] <= 1) and (
        not whole or len(size) < 2 or size[-1] <= 1 or strides[-2] == size[-1])
    if not (fits and dense and tensor.dtype == torch.float32 and tensor.device.type == "cpu"):
        raise ShapeError(
            f"{name}: expected a float32 CPU tensor of shape {shape}"
            f"{'' if whole else ' (at least, in the last dimension)'} with contiguous rows, got "
            f"{size} {tensor.dtype} on {tensor.device} with strides {strides}")


REDUCTIONS = {"mean": 0, "sum": 1, "max": 2}
"""Head reductions :func:`select_rows` computes, by their code in ``fused_rows.c``."""


def select_rows(
    weights: Tensor, reduction: str, k: int, column_sums: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Rows, keys and reduced weights of the edges ``top_k`` keeps in a block, in one pass
    (:func:`select_top_k`'s rows flattened).

    ``weights`` ``[H, r, m]`` float32 on the CPU (last dimension contiguous); ``reduction`` one
    of :data:`REDUCTIONS`. The same entries, in the same order, as reducing the heads
    (``weights.mean(0)``, ``sum`` or ``amax``) and ``top_k_entries(reduced, k)``: the ``k``
    largest positive entries per row, ties to the earliest key, without the ``r x m`` reduced
    matrix. ``column_sums`` (float64 ``[H, m]``, last dimension contiguous), when given, gets
    ``weights.sum(1)`` added in the same pass. Rows run on torch's OpenMP threads where the
    kernel was built with OpenMP (each thread with its own column sums, added at the end).

    Examples
    --------
    >>> w = torch.tensor([[[0.2, 0.5, 0.3]], [[0.4, 0.1, 0.5]]])  # two heads, one row
    >>> rows, cols, values = select_rows(w, "mean", 2)
    >>> cols.tolist(), [round(v, 2) for v in values.tolist()]
    ([0, 2], [0.3, 0.4])
    """
    cols, values, count = select_top_k(weights, reduction, k, column_sums)
    return flatten_selection(cols, values, count)


def flatten_selection(cols: Tensor, values: Tensor, count: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Rows, keys and values of the first ``count[i]`` entries of each row ``i`` of ``cols``
    and ``values`` ``[r, k]``, row-major."""
    rows, k = cols.shape
    if bool((count == k).all()):
        return torch.arange(rows).repeat_interleave(k), cols.reshape(-1), values.reshape(-1)
    valid = torch.arange(k) < count[:, None]
    return torch.arange(rows)[:, None].expand(rows, k)[valid], cols[valid], values[valid]


def select_top_k(
    weights: Tensor, reduction: str, k: int, column_sums: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """The kernel's selection as arrays: keys ``[r, k']`` (``k' = min(k, m)``), their reduced
    weights ``[r, k']`` and how many of each row are kept ``[r]`` (the first ``count[i]``,
    ascending keys); arguments as :func:`select_rows`."""
    library = kernel_library()
    if library is None:
        raise AttentionUnavailableError(f"select_rows: {fused_kernel_status()}")
    heads, rows, keys = weights.shape
    k = min(k, keys)
    cols = torch.empty(rows, k, dtype=torch.int64)
    values = torch.empty(rows, k)
    count = torch.empty(rows, dtype=torch.int64)
    if column_sums is not None and not (
        column_sums.dtype == torch.float64 and tuple(column_sums.shape) == (heads, keys)
        and column_sums.stride(-1) == 1 and column_sums.device.type == "cpu"
    ):
        raise ShapeError(f"column_sums: expected float64 [{heads}, {keys}] with contiguous rows, "
                         f"got {column_sums.dtype} {tuple(column_sums.shape)}")
    _check_layout("weights", weights, (heads, rows, keys), whole=False)
    status = library.select_rows(
        weights.data_ptr(), weights.stride(0), weights.stride(1), heads, rows, keys,
        REDUCTIONS[reduction], k, cols.data_ptr(), values.data_ptr(), count.data_ptr(),
        None if column_sums is None else column_sums.data_ptr(),
        0 if column_sums is None else column_sums.stride(0))
    if status != 0:
        raise MemoryError(f"select_rows: no memory for the scratch of {keys} keys")
    return cols, values, count


def usable(query: Tensor, *others: Tensor | None) -> bool:
    """Whether the fused kernel applies: CPU float32 tensors, head width a multiple of 16."""
    tensors = [query, *(t for t in others if t is not None)]
    return (
        query.shape[-1] % 16 == 0
        and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
        and kernel_library() is not None
    )
