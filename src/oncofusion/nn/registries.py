"""Registries of the building blocks of :mod:`oncofusion.nn`.

A config names a component and gives its keyword arguments::

    ENCODERS.build("resnet3d", in_channels=1, width=16, temporal_tokens=12)

An unknown name raises :class:`oncofusion.errors.UnknownOptionError` with a did-you-mean
hint. Importing :mod:`oncofusion.nn` registers every built-in component.
"""

from __future__ import annotations

from oncofusion.registry import Registry

__all__ = ["ALIGNERS", "ENCODERS", "FUSIONS", "HEADS"]

#: Modality encoders (imaging, biomarker sequences, clinical vectors, genomics).
ENCODERS: Registry = Registry("encoder")
#: Fusions of modality embeddings under a modality mask.
FUSIONS: Registry = Registry("fusion")
#: Prediction heads (discrete-time hazards, Cox log hazard, per-arm outcomes).
HEADS: Registry = Registry("head")
#: Differentiable temporal alignments (soft-DTW).
ALIGNERS: Registry = Registry("aligner")
