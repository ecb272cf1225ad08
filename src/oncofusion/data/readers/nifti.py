"""NIfTI reader (``.nii``, ``.nii.gz``) via nibabel.

The image is reoriented to the closest canonical (RAS+) orientation with
:func:`nibabel.as_closest_canonical`, so voxel axes run to the patient's Right, Anterior and
Superior. The array is then transposed from nibabel's ``(x, y, z)`` to ``(D, H, W) =
(z, y, x)``: slices are axial, ordered inferior to superior; rows run posterior to anterior,
columns left to right. Spacing is the header zooms in the same order.

**4-D images** (e.g. fMRI/DCE time series, ``(x, y, z, t)``): the reader contract is one
3-D image, so the reader returns *one volume*, the first unless ``volume=`` picks another;
``meta["n_volumes"]`` gives the count, ``meta["volume_index"]`` the one returned and
``meta["volume_interval"]`` and ``meta["volume_interval_unit"]`` the time between volumes
as the header states it (pixdim[4] and its xyzt unit; headers often get the unit wrong).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.data.readers.base import ImageData, image_error

__all__ = ["read_nifti"]


def read_nifti(path: Path, *, volume: int | None = None) -> ImageData:
    """Read a NIfTI-1/2 image as a canonical ``(D, H, W)`` volume.

    Parameters
    ----------
    path
        A ``.nii`` or ``.nii.gz`` file.
    volume
        For a 4-D image, the index of the volume to return (default 0). Must be ``None`` or
        ``0`` for a 3-D image.

    Returns
    -------
    ImageData
        ``array`` of shape ``(z, y, x)`` after reorientation, ``spacing`` the matching zooms
        in mm, ``frame_time_ms=None``.
    """
    import nibabel as nib

    try:
        img: Any = nib.load(str(path))
    except Exception as e:
        raise image_error(path, f"cannot read the NIfTI file: {type(e).__name__}: {e}") from e
    if not hasattr(img, "affine") or img.affine is None or len(img.shape) < 2:
        raise image_error(
            path, "is not a NIfTI image with a spatial affine (a CIFTI or 1-D file?)."
        )
    shape = tuple(int(s) for s in img.shape)
    if len(shape) > 4 and any(s > 1 for s in shape[4:]):
        raise image_error(
            path,
            f"has shape {shape}; images with more than 4 dimensions are not supported.",
            fix="save each 3-D volume as its own file.",
        )
    try:
        img = nib.as_closest_canonical(img)
    except Exception as e:
        raise image_error(path, f"cannot reorient the image: {type(e).__name__}: {e}") from e

    zooms = [float(z) for z in img.header.get_zooms()]
    n_volumes = shape[3] if len(shape) >= 4 else 1
    index = 0 if volume is None else int(volume)
    if not 0 <= index < n_volumes:
        raise image_error(
            path,
            f"volume={volume} was asked for but the image has {n_volumes} volume(s).",
            fix=f"pass a volume index between 0 and {n_volumes - 1}.",
        )
    try:
        if len(shape) == 2:
            data = np.asarray(img.dataobj, dtype=np.float32)[:, :, np.newaxis]
        elif len(shape) == 3:
            data = np.asarray(img.dataobj, dtype=np.float32)
        else:
            data = np.asarray(img.dataobj[:, :, :, index], dtype=np.float32)
            data = data.reshape(data.shape[:3])
    except Exception as e:
        raise image_error(path, f"cannot read the voxel data: {type(e).__name__}: {e}") from e
    if data.dtype.fields is not None:  # pragma: no cover - RGB NIfTI has a structured dtype
        raise image_error(
            path, "RGB NIfTI images are not supported.", fix="save a grey-level image."
        )

    sx, sy, sz = (zooms + [1.0, 1.0, 1.0])[:3]
    spacing = (sz if sz > 0 else 1.0, sy if sy > 0 else 1.0, sx if sx > 0 else 1.0)
    meta: dict = {
        "source": "nifti",
        "path": str(path),
        "modality": None,
        "photometric_interpretation": "MONOCHROME2",
        "n_frames": int(data.shape[2]),
        "n_volumes": n_volumes,
        "volume_index": index,
        "orientation": "".join(nib.aff2axcodes(img.affine)),
        "axes": "(D, H, W) = (S, A, R) voxel axes of the canonical image",
    }
    if n_volumes > 1 and len(zooms) >= 4 and zooms[3] > 0:
        meta["volume_interval"] = zooms[3]
        meta["volume_interval_unit"] = img.header.get_xyzt_units()[1]
    return ImageData(np.ascontiguousarray(data.transpose(2, 1, 0)), spacing, None, meta)
