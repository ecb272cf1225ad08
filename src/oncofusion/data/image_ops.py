"""From :class:`~oncofusion.data.readers.ImageData` to the model's fixed-size image tensor.

The steps, in order, for each image (one row of ``imaging.csv``):

1. colour to luminance, ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601);
2. intensity normalisation *per image*: clip to the image's 0.5th and 99.5th percentiles,
   then scale that range to [0, 1] (a constant image becomes 0). This is robust to the
   different units of CT (HU), MR (arbitrary) and ultrasound (8-bit), and to outliers;
3. spatial resize of every slice/frame to ``(H, W)``: bilinear with anti-aliasing
   (images) or nearest neighbour (masks, whose label values are kept as they are).

Then the images of a patient (several CEUS phases, in order) are concatenated along the
slice/frame axis, and that axis is resampled uniformly to ``T`` (or ``D``) positions,
``linspace(0, N - 1, T)``, by linear interpolation between the two nearest frames (images)
or by taking the nearest frame (masks).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LUMA_WEIGHTS", "normalise_intensity", "resample_axis0", "resize_frames", "to_luminance"]

#: ITU-R BT.601 luma weights for R, G, B
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_PERCENTILES = (0.5, 99.5)
_MAX_PERCENTILE_SAMPLES = 1_000_000


def to_luminance(array: np.ndarray) -> np.ndarray:
    """``(D, H, W, 3)`` RGB to ``(D, H, W)`` luminance; grey arrays pass through."""
    return array @ LUMA_WEIGHTS if array.ndim == 4 else array


def normalise_intensity(array: np.ndarray) -> np.ndarray:
    """Clip to the 0.5-99.5th percentiles of the image and scale to [0, 1] (float32).

    For large images the percentiles are computed on a regular subsample of at most one
    million voxels (deterministic).
    """
    flat = array.reshape(-1)
    step = max(1, flat.size // _MAX_PERCENTILE_SAMPLES)
    lo, hi = np.percentile(flat[::step], _PERCENTILES)
    if not hi > lo:
        return np.zeros(array.shape, np.float32)
    return ((np.clip(array, lo, hi) - lo) / (hi - lo)).astype(np.float32)


def resize_frames(array: np.ndarray, size: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """Resize every slice of a ``(N, h, w)`` array to ``(N, H, W)``."""
    import torch
    import torch.nn.functional as F

    if tuple(array.shape[1:]) == tuple(size):
        return np.array(array, dtype=np.float32)
    x = torch.from_numpy(np.array(array, dtype=np.float32))[
        :, None
    ]  # a copy: inputs may be read-only
    if nearest:
        y = F.interpolate(x, size=size, mode="nearest-exact")
    else:
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return y[:, 0].numpy()


def resample_axis0(array: np.ndarray, n: int, *, nearest: bool = False) -> np.ndarray:
    """Resample ``(N, H, W)`` to ``(n, H, W)`` at positions ``linspace(0, N - 1, n)``."""
    size = array.shape[0]
    pos = np.linspace(0.0, size - 1.0, n)
    if nearest or size == 1:
        return array[np.rint(pos).astype(int)].astype(np.float32)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, size - 1)
    w = (pos - lo).astype(np.float32)[:, None, None]
    return ((1.0 - w) * array[lo] + w * array[hi]).astype(np.float32)
