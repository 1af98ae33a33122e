"""Checks of attention tensors, re-exported from the base layer :mod:`tgnn._checks`.

Kept so that ``from tgnn.convert.validate import check_attention`` and the public
``tgnn.convert.check_attention`` (and friends) go on working.
"""

from tgnn._checks import check_attention, check_causal, check_finite, row_sum_tolerance

__all__ = ["row_sum_tolerance", "check_attention", "check_finite", "check_causal"]
