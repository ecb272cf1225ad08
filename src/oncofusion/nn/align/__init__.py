"""Differentiable temporal alignment (soft-DTW)."""

from __future__ import annotations

from oncofusion.nn.align.softdtw import SoftDTW, align_sequence, soft_dtw, soft_dtw_cost

__all__ = ["SoftDTW", "align_sequence", "soft_dtw", "soft_dtw_cost"]
