"""Balanced Forman curvature (Topping et al. 2022, Def. 1) in one home: the paper's formula and
the legacy one (:mod:`.formula`), the compiled all-edges kernels (:mod:`.kernels`,
:mod:`.cycle_kernel`), both variants on chosen edges (:mod:`.variants`) and the one-edge
evaluation on neighbour sets that SDRF re-runs after each edge toggle (:mod:`.formula`).
The public function is :func:`tgnn.metrics.balanced_forman_curvature`.
"""

from tgnn.metrics._balanced_forman.formula import (
    affected_edges,
    bfc_edge,
    bfc_reference_edge,
    bfc_value,
    legacy_value,
)
from tgnn.metrics._balanced_forman.kernels import bfc_entries
from tgnn.metrics._balanced_forman.variants import bfc_pairs

__all__ = [
    "affected_edges",
    "bfc_edge",
    "bfc_entries",
    "bfc_pairs",
    "bfc_reference_edge",
    "bfc_value",
    "legacy_value",
]
