"""Random in-plane image augmentation for training batches.

Tumour-centred ROIs (CEUS video frames, CT patches) carry no meaning in their in-plane
orientation, so each training sample is mapped by a random element of the dihedral group
of the square (identity, three 90° rotations, and their mirror images) applied to the last
two axes (height, width), the same map for every frame or slice of the sample and for its
segmentation mask. With small cohorts this is the standard remedy against a convolutional
encoder memorising orientation-specific texture (MONAI ``RandFlipd`` + ``RandRotate90d``;
Cireşan et al., CVPR 2012), applied here on the collated batch so it costs one gather.

``"flip"`` draws only the four flips (identity, horizontal, vertical, both).
"""

from __future__ import annotations

from typing import Any, Literal

import torch

__all__ = ["ImageAugment", "augment_images"]

ImageAugment = Literal["none", "flip", "dihedral"]

_KEYS = ("imaging", "imaging_seg")


def _transform(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Apply dihedral element ``code[b]`` (0-7) to sample ``b`` of ``x`` (B, ..., H, W).

    Bits: 1 = flip width, 2 = flip height, 4 = transpose (H, W); all eight elements of
    the group are compositions of these.
    """
    out = x
    flip_w = (code & 1).bool().view(-1, *([1] * (x.dim() - 1)))
    flip_h = (code & 2).bool().view(-1, *([1] * (x.dim() - 1)))
    out = torch.where(flip_w, out.flip(-1), out)
    out = torch.where(flip_h, out.flip(-2), out)
    if out.shape[-1] == out.shape[-2]:
        swap = (code & 4).bool().view(-1, *([1] * (x.dim() - 1)))
        out = torch.where(swap, out.transpose(-1, -2), out)
    return out


def augment_images(batch: dict[str, Any], mode: ImageAugment, *, generator: torch.Generator | None = None) -> dict[str, Any]:
    """Return ``batch`` with ``imaging`` (and ``imaging_seg``) randomly re-oriented per sample.

    Draws from the global torch generator unless ``generator`` is given (the training step
    reseeds it per step, so runs stay reproducible and resumable). Non-square images get
    flips only. ``mode="none"`` or a batch without images returns ``batch`` unchanged.
    """
    if mode == "none" or "imaging" not in batch:
        return batch
    x = batch["imaging"]
    n = 8 if mode == "dihedral" else 4
    code = torch.randint(0, n, (x.shape[0],), generator=generator).to(x.device)
    out = dict(batch)
    for key in _KEYS:
        if key in batch and isinstance(batch[key], torch.Tensor) and batch[key].dim() >= 3:
            out[key] = _transform(batch[key], code)
    return out
