"""Modality dropout (DMA-Net §2.4: p = 0.15): randomly mask a present modality in training.

It acts on the batch's ``modality_mask`` only (a missing modality is a mask bit), and never
removes the last present modality of a patient.
"""

from __future__ import annotations

import torch

from oncofusion.errors import ConfigError

__all__ = ["modality_dropout"]


def modality_dropout(
    modality_mask: dict[str, torch.Tensor],
    p: float,
    *,
    generator: torch.Generator | None = None,
    modalities: list[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Return a new mask dict where each present modality is dropped with probability ``p``.

    Parameters
    ----------
    modality_mask
        ``{name: (B,) bool}``.
    p
        Drop probability per (patient, modality), in [0, 1).
    modalities
        The modalities eligible for dropout (default: all keys).
    """
    if not 0.0 <= p < 1.0:
        raise ConfigError(f"modality dropout p must be in [0, 1), got {p}.")
    names = list(modalities) if modalities is not None else list(modality_mask)
    if p == 0.0 or not names:
        return dict(modality_mask)
    present = torch.stack([modality_mask[m].bool() for m in names], dim=1)  # (B, M)
    drop = torch.rand(present.shape, generator=generator, device=present.device) < p
    kept = present & ~drop
    # never drop every present modality of a patient: restore the original row
    emptied = ~kept.any(dim=1) & present.any(dim=1)
    kept[emptied] = present[emptied]
    out = dict(modality_mask)
    for j, m in enumerate(names):
        out[m] = kept[:, j]
    return out
