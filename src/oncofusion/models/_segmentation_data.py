"""Images and masks for the tumour segmenter: one volume per patient, read and resampled.

The network input is made exactly as :class:`~oncofusion.data.PatientDataset` makes its
``imaging`` tensor for a patient with one image (the steps of :mod:`oncofusion.data.image_ops`):
luminance, per-image percentile normalisation to [0, 1], bilinear resize of every slice to
``(H, W)``, linear resampling of the slice axis to ``D``. Masks are binarised (any non-zero
label is tumour) and resampled with nearest neighbours, as ``imaging_seg``. Going back,
:func:`to_original` resamples a probability map from the network's grid to the image's own
grid with the same (linear) interpolation, so that thresholding it at 0.5 gives a mask at the
original resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from oncofusion.data.cohort import Cohort
from oncofusion.data.image_ops import (
    normalise_intensity,
    resample_axis0,
    resize_frames,
    to_luminance,
)
from oncofusion.data.readers import read_image
from oncofusion.errors import CohortError

__all__ = [
    "VolumeRecord",
    "image_rows",
    "load_network_arrays",
    "read_mask",
    "read_volume",
    "to_network",
    "to_original",
]

Shape3 = tuple[int, int, int]


@dataclass(frozen=True)
class VolumeRecord:
    """One patient's volume: its id, image path and mask path (relative to the cohort)."""

    patient_id: str
    path: str
    mask_path: str | None


def image_rows(cohort: Cohort) -> list[VolumeRecord]:
    """The imaging rows of ``cohort``, one per patient, in ``imaging.csv`` order.

    Raises
    ------
    CohortError
        When the cohort has no imaging table or a patient has more than one image
        (segmentation works on one volume per patient).
    """
    table = cohort.imaging
    if table is None or len(table) == 0:
        raise CohortError(
            "the cohort has no images to segment.",
            file="imaging.csv",
            fix="add imaging.csv with one CT volume per patient (and mask_path for training).",
        )
    ids = table["patient_id"].astype(str)
    several = ids[ids.duplicated()].unique().tolist()
    if several:
        raise CohortError(
            "segmentation needs one volume per patient, but these patients have several images.",
            file="imaging.csv",
            column="patient_id",
            rows=several,
            fix="keep one row (e.g. one phase) per patient in the cohort you segment.",
        )
    masks = table["mask_path"] if "mask_path" in table else pd.Series(None, index=table.index)
    return [
        VolumeRecord(str(pid), str(path), str(m) if pd.notna(m) else None)
        for pid, path, m in zip(ids, table["path"], masks, strict=True)
    ]


def read_volume(cohort: Cohort, path: str) -> np.ndarray:
    """The image at ``path`` (relative to the cohort) as ``(D, H, W)`` float32, values as stored."""
    return np.asarray(to_luminance(read_image(cohort.root / path).array), dtype=np.float32)


def read_mask(cohort: Cohort, path: str) -> np.ndarray:
    """The mask at ``path`` as a binary ``(D, H, W)`` uint8 array (any non-zero label is 1)."""
    return (read_volume(cohort, path) != 0).astype(np.uint8)


def to_network(array: np.ndarray, shape: Shape3, *, mask: bool) -> np.ndarray:
    """Resample an image (normalised first) or a binary mask to the network's ``shape``."""
    frames = array if mask else normalise_intensity(array)
    frames = resize_frames(frames, shape[1:], nearest=mask)
    return resample_axis0(frames, shape[0], nearest=mask).astype(np.float32)


def to_original(prob: np.ndarray, shape: Shape3) -> np.ndarray:
    """Resample a ``(d, h, w)`` probability map linearly to the image's ``(D, H, W)``."""
    out = resample_axis0(np.asarray(prob, dtype=np.float32), int(shape[0]))
    return np.clip(resize_frames(out, (int(shape[1]), int(shape[2]))), 0.0, 1.0)


def load_network_arrays(
    cohort: Cohort, shape: Shape3, *, labelled_only: bool
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Images (and masks) of a cohort on the network's grid.

    Parameters
    ----------
    cohort
        The patients.
    shape
        The network's ``(D, H, W)``.
    labelled_only
        Keep only patients with a mask and return the masks too (training, validation).

    Returns
    -------
    ids : list of str
    images : ndarray, float32, shape (n, 1, D, H, W)
    masks : ndarray, float32, shape (n, 1, D, H, W), or None when ``labelled_only`` is False
    """
    records = image_rows(cohort)
    if labelled_only:
        records = [r for r in records if r.mask_path is not None]
    ids, images, masks = [], [], []
    for r in records:
        ids.append(r.patient_id)
        images.append(to_network(read_volume(cohort, r.path), shape, mask=False))
        if labelled_only:
            assert r.mask_path is not None
            masks.append(to_network(read_mask(cohort, r.mask_path), shape, mask=True))
    empty = np.zeros((0, 1, *shape), np.float32)
    x = np.stack(images)[:, None] if images else empty
    if not labelled_only:
        return ids, x, None
    return ids, x, (np.stack(masks)[:, None] if masks else empty.copy())
