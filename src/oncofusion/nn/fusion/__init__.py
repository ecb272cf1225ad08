"""Fusions of modality embeddings under a modality mask: ``fusion(features, mask)``."""

from __future__ import annotations

from oncofusion.nn.fusion.base import FusionBase, ModalityInput
from oncofusion.nn.fusion.bidirectional import BidirectionalCrossAttentionFusion
from oncofusion.nn.fusion.concat import ConcatFusion
from oncofusion.nn.fusion.cross_attention import CrossModalAttentionFusion
from oncofusion.nn.fusion.kronecker import KroneckerFusion
from oncofusion.nn.fusion.late import LateFusion
from oncofusion.nn.fusion.weighted_sum import WeightedSumFusion

__all__ = [
    "BidirectionalCrossAttentionFusion",
    "ConcatFusion",
    "CrossModalAttentionFusion",
    "FusionBase",
    "KroneckerFusion",
    "LateFusion",
    "ModalityInput",
    "WeightedSumFusion",
]
