r"""Sparse attention graphs built from blocks of exact softmax rows, with exact row facts.

:class:`RowGraphBuilder` receives the :class:`~tgnn.convert.blockwise.RowBlock` s of one layer
and keeps, per row, only the edges that the sparsification asks for (the same rule as
:func:`~tgnn.convert.to_graph.attention_to_data` applied to the dense matrix), plus facts that
are computed from the full rows before anything is dropped:

- ``kept_mass`` :math:`\sum_{j \text{ kept}} A_{ij}` (the graph's own weights: head-reduced
  ``[n]``, or per head ``[n, H]`` when heads are kept);
- ``row_entropy`` :math:`-\sum_j A^h_{ij} \log A^h_{ij}` per head ``[n, H]`` (nats);
- ``first_token_mass`` :math:`A^h_{i, f}` for the first real token ``f`` (the usual sink),
  ``[n, H]``;
- ``column_sum`` :math:`\sum_i A^h_{ij}`, how much key ``j`` is read, ``[n, H]``.

Models with learned sink logits (gpt-oss ``s_aux``) get the sink as an explicit node 0: the
edge ``0 -> i`` carries the sink's softmax share, so every row still sums to one; node 0 reads
itself with weight 1, ``pos`` and ``token`` are -1 there and ``is_learned_sink`` marks it.
Tokens are nodes ``1 .. n`` then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch_geometric.data import Data

from tgnn.convert import fused_kernel
from tgnn.convert.blockwise import RowBlock
from tgnn.convert.sparsify import sparsify_mask, top_k_entries
from tgnn.convert.to_graph import HeadReduction, _reduce_heads

__all__ = ["SparseSpec", "RowGraphBuilder"]


@dataclass(frozen=True)
class SparseSpec:
    """What to keep of each row: head reduction and sparsification, as in attention_to_data."""

    head_reduction: HeadReduction = "mean"
    threshold: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    self_loops: bool = True

    def keep(self, rows: Tensor) -> Tensor:
        """Boolean keep-mask of ``rows`` ``[..., r, c]`` (entries equal to zero never kept)."""
        return sparsify_mask(rows, threshold=self.threshold, top_k=self.top_k, top_p=self.top_p)

    def kernel_selection(self) -> tuple[str, int] | None:
        """``(head_reduction, top_k)`` when the fused kernel can select the kept edges itself
        (head-reduced ``top_k`` alone), else None."""
        if self.threshold is not None or self.top_p is not None:
            return None
        if self.head_reduction is None or self.top_k is None:
            return None
        return self.head_reduction, self.top_k

    def kept_entries(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        """Row and column indices of the kept entries of ``rows`` ``[r, c]``, row-major (as
        ``keep(rows).nonzero()``; ``top_k`` alone is selected without the ``r x c`` mask)."""
        if self.top_k is not None and self.threshold is None and self.top_p is None:
            return top_k_entries(rows, self.top_k)
        row, col = self.keep(rows).nonzero(as_tuple=True)
        return row, col


@dataclass
class _Sequence:
    """Running state of one sequence of the batch."""

    real: Tensor  # [n] bool
    compact: Tensor  # [n] long, index among the real tokens (-1 for padding)
    first: int  # index of the first real token
    facts: dict[str, Tensor]
    column: Tensor  # [H, kv] float64
    keys: list[Tensor] = field(default_factory=list)
    queries: list[Tensor] = field(default_factory=list)
    weights: list[Tensor] = field(default_factory=list)
    acausal: bool = False
    whole: bool = False  # no padding: every token is its own node
    # blocks whose edges are built once per layer (fused, no padding): (first row, first key,
    # the kernel's keys [r, k], values [r, k] and counts [r])
    pending: list[tuple[int, int, Tensor, Tensor, Tensor]] = field(default_factory=list)


class RowGraphBuilder:
    """Accumulate one layer's row blocks into one sparse graph per sequence.

    Parameters
    ----------
    spec
        What to keep per row.
    padding
        ``[B, n]`` boolean, True for real tokens; padded rows and keys are dropped.
    heads
        Query heads of the layer.
    kv
        Number of keys.
    sink
        Whether the layer has learned sink logits (a sink node 0 is added).
    """

    def __init__(self, spec: SparseSpec, padding: Tensor, heads: int, kv: int, sink: bool):
        self.spec = spec
        self.heads = heads
        self.sink = int(sink)
        self.sequences = [self._sequence(real, heads, kv) for real in padding]

    def _sequence(self, real: Tensor, heads: int, kv: int) -> _Sequence:
        count = int(real.sum())
        zeros = real.new_zeros((count, heads), dtype=torch.float32)
        reduced = self.spec.head_reduction is not None
        facts = {
            "kept_mass": zeros[:, 0].clone() if reduced else zeros.clone(),
            "row_entropy": zeros.clone(),
            "first_token_mass": zeros.clone(),
        }
        if self.sink:
            facts["learned_sink_mass"] = zeros.clone()
        compact = torch.cumsum(real.long(), 0) - 1
        compact[~real] = -1
        first = int(real.nonzero()[0]) if count else 0
        column = real.new_zeros((heads, kv), dtype=torch.float64)
        return _Sequence(real=real, compact=compact, first=first, facts=facts, column=column,
                         whole=count == real.shape[0])

    def add(self, block: RowBlock) -> None:
        """Take the facts and kept edges of one block's rows."""
        seq = self.sequences[block.batch]
        rows = block.weights.shape[1]
        real_rows = seq.real[block.start : block.start + rows]
        selection = self.spec.kernel_selection() if block.fused else None
        if selection is not None and seq.whole:
            self._add_whole(seq, block, real_rows, selection)  # edges built once per layer
            return
        self._flush(seq)  # the blocks before come first
        if not bool(real_rows.any()):
            return
        weights, entropy, allowed = block.weights, block.entropy, block.allowed
        if not bool(real_rows.all()):
            weights, entropy = weights[:, real_rows], entropy[:, real_rows]
            allowed = allowed[real_rows]
        nodes = seq.compact[block.start : block.start + rows][real_rows]
        seq.facts["row_entropy"][nodes] = entropy.T
        selected = None
        if selection is not None:
            columns = seq.column[:, block.key_start : block.key_start + weights.shape[-1]]
            selected = fused_kernel.select_rows(weights, *selection, columns)
        self._facts(seq, block, weights, nodes, column_sums=selected is None)
        self._causality(seq, block, weights, allowed, real_rows)
        self._edges(seq, block, weights, nodes, real_rows, selected)

    def _add_whole(
        self, seq: _Sequence, block: RowBlock, real_rows: Tensor, selection: tuple[str, int]
    ) -> None:
        """A fused block of a sequence without padding: facts by slices, edges deferred to
        :meth:`_flush` (a few operations per block instead of some forty)."""
        weights, lo = block.weights, block.key_start
        nodes = slice(block.start, block.start + weights.shape[1])
        seq.facts["row_entropy"][nodes] = block.entropy.T
        columns = seq.column[:, lo : lo + weights.shape[-1]]
        if block.selected is not None:  # the kernel selected in its own pass
            cols, values, count, sums = block.selected
            columns += sums
        else:
            cols, values, count = fused_kernel.select_top_k(weights, *selection, columns)
        seq.pending.append((block.start, lo, cols, values, count))
        self._facts(seq, block, weights, nodes, column_sums=False)
        self._causality(seq, block, weights, block.allowed, real_rows)

    def _flush(self, seq: _Sequence) -> None:
        """Edges and kept mass of the pending blocks (tokens are their own nodes there)."""
        if not seq.pending:
            return
        width = max(cols.shape[1] for _, _, cols, _, _ in seq.pending)
        starts = torch.cat([torch.arange(start, start + cols.shape[0])
                            for start, _, cols, _, _ in seq.pending])
        keys = torch.cat([torch.nn.functional.pad(cols + lo, (0, width - cols.shape[1]))
                          for _, lo, cols, _, _ in seq.pending])
        values = torch.cat([torch.nn.functional.pad(v, (0, width - v.shape[1]))
                            for _, _, _, v, _ in seq.pending])
        kept = torch.arange(width) < torch.cat([c for *_, c in seq.pending])[:, None]
        if not self.spec.self_loops:
            kept &= keys != starts[:, None]
        values = torch.where(kept, values, 0.0)  # past a row's count the arrays hold anything
        seq.facts["kept_mass"][starts] = values.sum(1)
        seq.queries.append(starts[:, None].expand_as(keys)[kept])
        seq.keys.append(keys[kept])
        seq.weights.append(values[kept])
        seq.pending.clear()

    def _facts(
        self, seq: _Sequence, block: RowBlock, weights: Tensor, nodes: Tensor | slice,
        column_sums: bool,
    ) -> None:
        s, lo = block.sink, block.key_start
        keys = weights.shape[-1] - s
        if lo <= seq.first < lo + keys:
            seq.facts["first_token_mass"][nodes] = weights[:, :, s + seq.first - lo].T
        if s:
            seq.facts["learned_sink_mass"][nodes] = weights[:, :, 0].T
        if column_sums:
            seq.column[:, lo : lo + keys] += weights[:, :, s:].sum(1)  # float32 per block

    def _causality(
        self, seq: _Sequence, block: RowBlock, weights: Tensor, allowed: Tensor, real_rows: Tensor
    ) -> None:
        """Flag weight above the diagonal (only keys after the block's first row can be there)."""
        lo, keys = block.key_start, allowed.shape[-1]
        first = max(lo, block.start + 1)  # keys before it lie on or below every row's diagonal
        if seq.acausal or first >= lo + keys:
            return
        if bool(real_rows.all()):  # row i is query start + i: key first + j is above when
            upper = torch.triu(allowed[:, first - lo :], diagonal=block.start - first + 1)
        else:  # j - i > start - first
            device = allowed.device
            query = torch.arange(block.start, block.start + real_rows.shape[0], device=device)
            key = torch.arange(first, lo + keys, device=device)
            upper = allowed[:, first - lo :] & (key[None, :] > query[real_rows][:, None])
        upper &= seq.real[first : lo + keys]
        if bool(upper.any()):
            above = weights[:, :, block.sink + first - lo :]
            # one head usually settles it (bidirectional models read ahead everywhere)
            seq.acausal = bool((above[0][upper] > 0).any()) or bool(
                (above.amax(0)[upper] > 0).any()
            )

    def _edges(
        self, seq: _Sequence, block: RowBlock, weights: Tensor, nodes: Tensor, real_rows: Tensor,
        selected: tuple[Tensor, Tensor, Tensor] | None,
    ) -> None:
        s, lo = block.sink, block.key_start
        keys = weights.shape[-1] - s
        spec = self.spec
        if selected is not None:
            row, col, kept = selected
        else:
            reduced = _reduce_heads(weights, spec.head_reduction)
            if reduced is not None:
                row, col = spec.kept_entries(reduced)
                kept = reduced[row, col]
            else:
                row, col = spec.keep(weights).any(0).nonzero(as_tuple=True)
                kept = weights[:, row, col].T
        real_keys = seq.real[lo : lo + keys]
        if s:
            real_keys = torch.cat([real_keys.new_ones(1), real_keys])
        dropped = ~real_keys[col]
        if not self.spec.self_loops:
            query = torch.arange(block.start, block.start + real_rows.shape[0], device=col.device)
            dropped |= col == (query[real_rows] - lo + s)[row]  # the diagonal of each row
        if bool(dropped.any()):
            row, col, kept = row[~dropped], col[~dropped], kept[~dropped]
        key_nodes = seq.compact[(lo + col - s).clamp(min=0)] + s
        seq.keys.append(torch.where(col < s, torch.zeros_like(key_nodes), key_nodes))
        seq.queries.append(nodes[row] + s)
        seq.weights.append(kept)
        mass = kept.new_zeros((nodes.shape[0], *kept.shape[1:]))
        seq.facts["kept_mass"][nodes] = mass.index_add_(0, row, kept)

    def graphs(self, token: Tensor | None, layer: int, positions: Tensor | None) -> list[Data]:
        """One ``Data`` per sequence (see the module docstring for its attributes).

        ``positions`` ``[B, n]`` gives each column's position (``pos``); default its index.
        """
        for seq in self.sequences:
            self._flush(seq)
        return [self._graph(b, seq, token, layer, positions)
                for b, seq in enumerate(self.sequences)]

    def _graph(
        self, b: int, seq: _Sequence, token: Tensor | None, layer: int, positions: Tensor | None
    ) -> Data:
        s = self.sink
        keys, queries, weights = torch.cat(seq.keys), torch.cat(seq.queries), torch.cat(seq.weights)
        facts = dict(seq.facts)
        facts["column_sum"] = seq.column[:, seq.real].T.float()
        pos = seq.real.nonzero().flatten()
        if positions is not None:
            pos = positions[b].to(pos.device)[seq.real]
        tokens = None if token is None else token[b][seq.real]
        if s:
            learned = facts["learned_sink_mass"]
            facts = {name: _prepend(value, 0.0) for name, value in facts.items()}
            facts["column_sum"][0] = learned.sum(0, dtype=torch.float64).float()
            facts["kept_mass"][0] = 1.0 if self.spec.self_loops else 0.0
            pos = _prepend(pos, -1)
            tokens = None if tokens is None else _prepend(tokens, -1)
            if self.spec.self_loops:
                keys, queries = _prepend(keys, 0), _prepend(queries, 0)
                weights = _prepend(weights, 1.0)
        data = Data(
            edge_index=torch.stack([keys, queries]),
            num_nodes=int(seq.real.sum()) + s,
            is_causal=not seq.acausal,
            head_reduction=self.spec.head_reduction or "none",
            pos=pos,
            layer=layer,
        )
        if self.spec.head_reduction is not None:
            data.edge_weight = weights
        else:
            data.edge_attr = weights
        if tokens is not None:
            data.token = tokens
        for name, value in facts.items():
            data[name] = value
        if s:
            marker = torch.zeros(data.num_nodes, dtype=torch.bool, device=pos.device)
            marker[0] = True
            data.is_learned_sink = marker
        return data


def _prepend(values: Tensor, fill: float) -> Tensor:
    """``values`` with one row of ``fill`` in front (the learned sink node's row)."""
    return torch.cat([values.new_full((1, *values.shape[1:]), fill), values])
