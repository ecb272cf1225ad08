"""The common return type of every image reader, and the errors they raise."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np

from oncofusion.errors import CohortError

__all__ = ["UNREADABLE_FIX", "ImageData", "image_error"]

#: the generic fix for a file that exists but cannot be decoded
UNREADABLE_FIX = (
    "re-export the image from the scanner/PACS (or re-save it), or remove its row from imaging.csv."
)


@dataclass(frozen=True, eq=False)
class ImageData:
    """An image as read from disk, before any resizing or normalisation.

    Attributes
    ----------
    array
        ``float32`` array of shape ``(D, H, W)`` (grey) or ``(D, H, W, C)`` with ``C = 3``
        (RGB). ``D`` is the slice axis of a volume or the frame axis of a video/cine; a 2-D
        image has ``D = 1``. The array is read-only: readers' results are cached and shared.
    spacing
        ``(d, h, w)``: distance between slices and pixel spacing along rows (H) and columns
        (W), in mm for spatial axes. For a video/cine the first entry is the frame interval
        in ms when it is known. An entry the file does not give is ``1.0``
        (``meta["spacing_source"]`` says where each value came from).
    frame_time_ms
        Time between frames in ms for videos/cines, ``None`` for still images and volumes.
    meta
        ``modality``, ``photometric_interpretation`` (as stored), ``n_frames``, ``source``
        (the reader: ``dicom``, ``dicom-series``, ``nifti``, ``video``, ``numpy``), ``path``
        and reader-specific entries.
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    frame_time_ms: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = np.asarray(self.array, dtype=np.float32)
        if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
            raise ValueError(f"ImageData.array must be (D, H, W) or (D, H, W, 3), got {arr.shape}")
        if not arr.flags.owndata and arr.base is not None:
            arr = arr.copy()
        arr.flags.writeable = False
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing):
            raise ValueError(
                f"ImageData.spacing must be three positive numbers, got {self.spacing}"
            )
        object.__setattr__(self, "array", arr)
        object.__setattr__(self, "spacing", spacing)
        if self.frame_time_ms is not None:
            object.__setattr__(self, "frame_time_ms", float(self.frame_time_ms))

    @property
    def is_color(self) -> bool:
        """True for an RGB image of shape ``(D, H, W, 3)``."""
        return self.array.ndim == 4

    @property
    def n_frames(self) -> int:
        """Number of slices or frames ``D``."""
        return int(self.array.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.array.shape)

    def __repr__(self) -> str:
        return (
            f"ImageData(shape={self.shape}, spacing={self.spacing}, "
            f"frame_time_ms={self.frame_time_ms}, source={self.meta.get('source')!r})"
        )


def image_error(
    path: str | PathLike[str], problem: str, *, fix: str = UNREADABLE_FIX, column: str | None = None
) -> CohortError:
    """A :class:`CohortError` about one image file (the caller raises it ``from`` the cause)."""
    return CohortError(problem, file=str(path), column=column, fix=fix)
