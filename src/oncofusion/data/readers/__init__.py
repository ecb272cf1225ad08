"""Image readers: one entry point, :func:`read_image`, for every format a cohort may use.

Heavy libraries (pydicom, nibabel, imageio) are imported inside the readers, so importing
this package is cheap.

=====================  =========================================  ======================
path                   reader                                     array
=====================  =========================================  ======================
folder                 :func:`~.dicom.read_dicom_series`          (D, H, W)
``.dcm``/``.dicom``    :func:`~.dicom.read_dicom_file`            (D, H, W[, 3])
``.ima``, no suffix    DICOM when the file has the DICM magic
``.nii``/``.nii.gz``   :func:`~.nifti.read_nifti`                 (D, H, W), canonical
``.mp4``/``.avi``      :func:`~.video.read_video`                 (T, H, W, 3)
``.mov``
``.npy``/``.npz``      :func:`~.arrays.read_numpy`                (D, H, W[, 3])
=====================  =========================================  ======================
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from oncofusion.data.readers.base import UNREADABLE_FIX, ImageData, image_error
from oncofusion.errors import CohortError

__all__ = ["SUPPORTED_SUFFIXES", "ImageData", "read_image"]

_DICOM = (".dcm", ".dicom", ".ima")
_NIFTI = (".nii", ".nii.gz")
_VIDEO = (".mp4", ".avi", ".mov")
_NUMPY = (".npy", ".npz")
#: suffixes :func:`read_image` dispatches on (a folder is read as a DICOM series)
SUPPORTED_SUFFIXES: tuple[str, ...] = (*_DICOM, *_NIFTI, *_VIDEO, *_NUMPY)


def _kind(path: Path) -> str:
    if path.is_dir():
        return "dicom"
    name = path.name.lower()
    for kind, suffixes in (
        ("nifti", _NIFTI),
        ("dicom", _DICOM),
        ("video", _VIDEO),
        ("numpy", _NUMPY),
    ):
        if name.endswith(suffixes):
            return kind
    from oncofusion.data.readers.dicom import is_dicom_file

    if is_dicom_file(path):
        return "dicom"
    raise image_error(
        path,
        f"the file type '{path.suffix or '(no suffix)'}' is not supported.",
        fix=(
            "convert it to NIfTI (.nii/.nii.gz), DICOM (a file or a series folder), "
            "video (.mp4/.avi/.mov) or NumPy (.npy/.npz)."
        ),
    )


def read_image(path: str | os.PathLike[str], *, volume: int | None = None) -> ImageData:
    """Read one image, volume or video from disk.

    Parameters
    ----------
    path
        A file or (for a DICOM series) a folder. The reader is chosen by suffix; a file with
        another suffix is read as DICOM when it carries the DICM magic.
    volume
        For a 4-D NIfTI image, which volume to return (default: the first); see
        :mod:`oncofusion.data.readers.nifti`. Must be ``None`` for other formats.

    Returns
    -------
    ImageData
        ``float32`` ``(D, H, W)`` or ``(D, H, W, 3)`` array, ``spacing`` (slice/frame axis
        first), ``frame_time_ms`` and ``meta``.

    Raises
    ------
    CohortError
        The path does not exist, its type is not supported, or the file cannot be decoded
        (truncated, corrupt, wrong content for its suffix), or it holds NaN/inf values. The
        error names the file and how to fix it; the original exception is its ``__cause__``.
    """
    path = Path(path)
    if not path.exists():
        raise image_error(
            path,
            "the image file does not exist.",
            fix="check the path in imaging.csv (paths are relative to the cohort directory) or add the file.",
        )
    kind = _kind(path)
    if volume is not None and kind != "nifti":
        raise image_error(
            path, f"volume={volume} only applies to 4-D NIfTI images.", fix="leave volume=None."
        )
    try:
        if kind == "dicom":
            from oncofusion.data.readers.dicom import read_dicom

            image = read_dicom(path)
        elif kind == "nifti":
            from oncofusion.data.readers.nifti import read_nifti

            image = read_nifti(path, volume=volume)
        elif kind == "video":
            from oncofusion.data.readers.video import read_video

            image = read_video(path)
        else:
            from oncofusion.data.readers.arrays import read_numpy

            image = read_numpy(path)
    except (CohortError, MemoryError):
        raise
    except Exception as e:
        raise image_error(
            path, f"cannot read the image: {type(e).__name__}: {e}", fix=UNREADABLE_FIX
        ) from e
    bad = int(np.size(image.array) - np.count_nonzero(np.isfinite(image.array)))
    if bad:
        raise image_error(
            path,
            f"the image holds {bad} NaN or infinite value(s).",
            fix="replace them (e.g. with the background value) and save the image again.",
        )
    return image
