"""Modality encoders. Each has ``out_features``, ``forward(...)`` returning a dict with
``embedding`` (B, out_features) (and ``tokens`` for sequences) and ``forward_batch(batch)``
reading a collated batch (docs/internals.md)."""

from __future__ import annotations

from oncofusion.nn.encoders.genomic import GCNEncoder
from oncofusion.nn.encoders.imaging import ResNetEncoder
from oncofusion.nn.encoders.sequence import BiLSTMAttentionEncoder
from oncofusion.nn.encoders.tabular import GatedMLPEncoder, GenomicMLPEncoder, MLPEncoder

__all__ = [
    "BiLSTMAttentionEncoder",
    "GCNEncoder",
    "GatedMLPEncoder",
    "GenomicMLPEncoder",
    "MLPEncoder",
    "ResNetEncoder",
]
