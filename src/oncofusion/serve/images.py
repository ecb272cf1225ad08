"""Images sent to the service: uploads kept by content, and limits on their dimensions.

An uploaded file is stored once under ``IMAGE_ROOT/uploads/<sha256><suffix>`` (the name a
client gave it is not kept: it may carry patient data), and the record's
``upload:<filename>`` path is replaced by that stored path, so the stored record still
names the image when the patient is scored again from the registry.

Dimensions are read from the file header where the format has one (NumPy, NIfTI), so an
oversized image is refused before it is decoded; other formats (DICOM, video) are
decoded, which the upload size limit bounds.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

__all__ = ["ALLOWED_SUFFIXES", "ImageLimitError", "UploadError", "check_image", "image_shape", "store_upload"]

ALLOWED_SUFFIXES = (".npy", ".npz", ".nii", ".nii.gz", ".dcm", ".mp4", ".avi", ".mov")
UPLOAD_DIR = "uploads"


class ImageLimitError(Exception):
    """An image is larger than the service accepts."""


class UploadError(Exception):
    """An uploaded file cannot be accepted (its type)."""


def _suffix(name: str) -> str:
    low = name.lower()
    for s in ALLOWED_SUFFIXES:
        if low.endswith(s):
            return s
    return ""


def store_upload(stream: BinaryIO, filename: str, root: Path) -> str:
    """Copy an uploaded file into the image store; return its path relative to ``root``.

    Raises
    ------
    UploadError
        The file's type is not one the readers support.
    """
    suffix = _suffix(filename)
    if not suffix:
        raise UploadError(f"unsupported file type; send one of {', '.join(ALLOWED_SUFFIXES)}")
    target_dir = root / UPLOAD_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        rel = f"{UPLOAD_DIR}/{digest.hexdigest()}{suffix}"
        os.replace(tmp, root / rel)  # same content, same name: a resent file replaces itself
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rel


def _npy_header_shape(fh: IO[bytes]) -> tuple[int, ...]:
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, _ = read(fh)
    return tuple(int(s) for s in shape)


def image_shape(path: Path) -> tuple[int, ...]:
    """The array shape of an image file (header only for .npy, .npz and NIfTI)."""
    name = path.name.lower()
    if name.endswith(".npy"):
        with open(path, "rb") as fh:
            return _npy_header_shape(fh)
    if name.endswith(".npz"):
        import zipfile

        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if m.endswith(".npy")]
            if not members:
                raise ValueError("the .npz file holds no array")
            with zf.open(members[0]) as fh:
                return _npy_header_shape(fh)
    if name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        return tuple(int(s) for s in nib.load(str(path)).shape)  # type: ignore[attr-defined]
    from oncofusion.data.readers import read_image

    return tuple(int(s) for s in np.shape(read_image(path).array))


def check_image(path: Path, *, max_side: int, max_voxels: int) -> tuple[int, ...]:
    """The image's shape, or :class:`ImageLimitError` if an axis or the voxel count is too big.

    A trailing colour axis of 3 or 4 is not counted as a spatial axis.
    """
    shape = image_shape(path)
    spatial = shape[:-1] if len(shape) == 4 and shape[-1] in (3, 4) else shape
    if any(s > max_side for s in spatial):
        raise ImageLimitError(f"the image has shape {spatial}; no axis may exceed {max_side} voxels")
    voxels = int(np.prod(spatial, dtype=np.int64)) if spatial else 0
    if voxels > max_voxels:
        raise ImageLimitError(f"the image has {voxels} voxels (shape {spatial}); at most {max_voxels} are accepted")
    return shape
