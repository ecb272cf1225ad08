"""Video reader (``.mp4``, ``.avi``, ``.mov``) via imageio v3 with the PyAV plugin."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oncofusion.data.readers.base import ImageData, image_error

__all__ = ["read_video"]


def read_video(path: Path) -> ImageData:
    """Read every frame of a video as ``(T, H, W, 3)`` RGB.

    Returns
    -------
    ImageData
        ``frame_time_ms = 1000 / fps`` from the container's frame rate (``None`` when the file
        gives none) and ``spacing = (frame_time_ms or 1.0, 1.0, 1.0)``: a video carries no
        pixel size. ``meta`` holds ``fps``, ``codec`` and ``n_frames``.
    """
    try:
        import imageio.v3 as iio
    except ImportError as e:  # pragma: no cover - part of oncofusion[imaging]
        raise image_error(
            path, "reading videos needs imageio[pyav].", fix="pip install 'oncofusion[imaging]'."
        ) from e
    try:
        frames = np.asarray(iio.imread(path, plugin="pyav"))
        info = iio.immeta(path, plugin="pyav")
    except Exception as e:
        raise image_error(path, f"cannot decode the video: {type(e).__name__}: {e}") from e
    if frames.ndim == 4 and frames.shape[-1] == 4:
        frames = frames[..., :3]
    if frames.ndim == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    if frames.ndim not in (3, 4) or frames.shape[0] == 0:
        raise image_error(path, f"decoded to an unexpected frame array of shape {frames.shape}.")
    fps = info.get("fps")
    frame_ms = 1000.0 / float(fps) if fps and float(fps) > 0 else None
    meta = {
        "source": "video",
        "path": str(path),
        "modality": None,
        "photometric_interpretation": "RGB" if frames.ndim == 4 else "MONOCHROME2",
        "n_frames": int(frames.shape[0]),
        "fps": float(fps) if fps else None,
        "codec": info.get("codec"),
        "spacing_source": ("fps" if frame_ms else "default", "default", "default"),
    }
    return ImageData(frames.astype(np.float32), (frame_ms or 1.0, 1.0, 1.0), frame_ms, meta)
