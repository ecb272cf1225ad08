"""NumPy readers (``.npy``, ``.npz``), never unpickling (``allow_pickle=False``).

Accepted shapes: ``(H, W)`` (read as ``D = 1``), ``(D, H, W)``, ``(D, H, W, 1)`` and
``(D, H, W, 3|4)`` (RGB; an alpha channel is dropped). A 3-D array is always ``(D, H, W)``
grey, never a 2-D colour image. A ``.npz`` holds either one array, or an array ``image``
with optional ``spacing`` (three positive numbers, ``(d, h, w)``) and ``frame_time_ms``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.data.readers.base import ImageData, image_error

__all__ = ["read_numpy"]

_SHAPE_FIX = "save a (D, H, W) grey or (D, H, W, 3) RGB numeric array."


def _as_image(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise image_error(
            path, f"holds a {arr.dtype} array; a numeric array is needed.", fix=_SHAPE_FIX
        )
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 4 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if not (arr.ndim == 3 or (arr.ndim == 4 and arr.shape[-1] == 3)) or 0 in arr.shape:
        raise image_error(path, f"has an array of shape {arr.shape}.", fix=_SHAPE_FIX)
    return arr.astype(np.float32)


def _spacing(value: Any, path: Path) -> tuple[float, float, float]:
    s = np.asarray(value, dtype=float).ravel()
    if s.shape != (3,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise image_error(
            path,
            f"its 'spacing' entry is {s.tolist()}; it must be three positive numbers (d, h, w).",
            fix="save spacing=np.array([d, h, w]) in the .npz, or leave it out.",
        )
    return float(s[0]), float(s[1]), float(s[2])


def read_numpy(path: Path) -> ImageData:
    """Read a ``.npy`` or ``.npz`` image (see the module docstring for shapes and keys)."""
    spacing: tuple[float, float, float] | None = None
    frame_ms: float | None = None
    source_key = None
    try:
        if path.name.lower().endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.files)
                if "image" in keys:
                    source_key = "image"
                elif len(keys) == 1:
                    source_key = keys[0]
                else:
                    raise image_error(
                        path,
                        f"holds arrays {keys} and none is called 'image'.",
                        fix="save the image under the key 'image' (np.savez(path, image=arr)).",
                    )
                arr = z[source_key]
                if source_key == "image" and "spacing" in keys:
                    spacing = _spacing(z["spacing"], path)
                if source_key == "image" and "frame_time_ms" in keys:
                    frame_ms = float(np.asarray(z["frame_time_ms"]).ravel()[0])
        else:
            arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise image_error(
                path,
                f"is not a NumPy array file, or it holds pickled Python objects, which are never loaded ({e}).",
                fix="re-save the image with numpy.save/numpy.savez as a numeric array.",
            ) from e
        raise image_error(path, f"cannot read the NumPy file: {e}") from e
    except OSError as e:
        raise image_error(path, f"cannot read the NumPy file: {e}") from e
    if not isinstance(arr, np.ndarray):  # pragma: no cover - np.load of .npy gives an array
        raise image_error(path, "does not hold an array.", fix=_SHAPE_FIX)
    image = _as_image(arr, path)
    meta = {
        "source": "numpy",
        "path": str(path),
        "modality": None,
        "photometric_interpretation": "RGB" if image.ndim == 4 else "MONOCHROME2",
        "n_frames": int(image.shape[0]),
        "key": source_key,
    }
    if frame_ms is not None and not frame_ms > 0:
        raise image_error(path, f"its 'frame_time_ms' is {frame_ms}; it must be positive.")
    if spacing is None:
        spacing = (frame_ms if frame_ms else 1.0, 1.0, 1.0)
    return ImageData(image, spacing, frame_ms, meta)
