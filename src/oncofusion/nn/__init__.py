"""Neural building blocks: encoders, soft-DTW alignment, fusions and heads.

Every component is registered by name and built from a config::

    from oncofusion.nn import ENCODERS, FUSIONS, HEADS
    enc = ENCODERS.build("bilstm_attention", n_markers=2, hidden=16)

Importing this package registers all built-in components.
"""

from __future__ import annotations

from oncofusion.nn import align, encoders, fusion, heads
from oncofusion.nn.registries import ALIGNERS, ENCODERS, FUSIONS, HEADS

__all__ = ["ALIGNERS", "ENCODERS", "FUSIONS", "HEADS", "align", "encoders", "fusion", "heads"]
