"""Regions of interest: the CT masked and cropped around the tumour, at a fixed shape.

MM-Care (Lou & Mo, 2026, §3.2) feeds its imaging encoder the CT restricted to the
segmented tumour. :func:`extract_roi` does this for one volume, in four steps:

1. **box**: the tumour's bounding box grown by ``margin`` voxels on every side, then (with
   ``keep_aspect``) grown about its centre until its physical extents are proportional to
   ``out_shape``, so the resize in step 4 does not distort the tumour;
2. **crop**: the box may reach past the image; those voxels are padding of value ``background``;
3. **mask**: with ``mask_outside``, voxels farther than ``dilation`` voxels (Euclidean) from
   the tumour are set to ``background`` (the crop holds the whole tumour, so the distance is
   exact inside it);
4. **resize** to ``out_shape`` with MONAI ``Resize`` (trilinear, anti-aliased when shrinking;
   the mask trilinear then thresholded at 0.5, or at half its peak for a tumour too small
   to reach 0.5 anywhere, so that a non-empty mask stays non-empty).

An **empty mask** (the segmenter found nothing) never crashes: the ROI falls back to a centred
box of ``fallback_fraction`` of the image on each axis, nothing is masked, ``ROI.empty_mask``
is True and an :class:`EmptyMaskWarning` names the case. :func:`roi_cohort` writes a whole
cohort of ROIs as a new cohort directory.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from oncofusion.data.cohort import Cohort
from oncofusion.data.image_ops import to_luminance
from oncofusion.errors import CohortError, ConfigError
from oncofusion.models._segmentation_data import image_rows, read_mask
from oncofusion.models.run import write_json
from oncofusion.registry import look_up_option
from oncofusion.utils.io import atomic_directory

__all__ = ["ROI", "EmptyMaskWarning", "extract_roi", "roi_box", "roi_cohort"]

Box = tuple[tuple[int, int], ...]


class EmptyMaskWarning(UserWarning):
    """A mask was empty, so its ROI is a centred crop rather than a crop around a tumour."""


@dataclass(frozen=True)
class ROI:
    """One region of interest.

    Attributes
    ----------
    image
        ``out_shape`` float32, in the input image's units (e.g. HU).
    mask
        ``out_shape`` uint8, the tumour mask cropped and resized the same way.
    box
        ``((start, stop), ...)`` per axis in the input's voxel grid; it may reach past the
        image, where the crop was padded with ``background``.
    empty_mask
        True when the mask was empty and the centred fallback box was used.
    background
        The value given to masked-out and padded voxels.
    """

    image: np.ndarray
    mask: np.ndarray
    box: Box
    empty_mask: bool
    background: float


def _check_shape(out_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in out_shape)
    if len(shape) != 3 or any(s < 1 for s in shape):
        raise ConfigError(f"out_shape must be three positive integers (D, H, W), got {out_shape}.")
    return shape  # type: ignore[return-value]


def roi_box(
    mask: np.ndarray,
    *,
    margin: int = 4,
    out_shape: Sequence[int] = (32, 32, 32),
    spacing: Sequence[float] | None = None,
    keep_aspect: bool = True,
    fallback_fraction: float = 0.5,
) -> tuple[Box, bool]:
    """The crop box of :func:`extract_roi` (step 1) and whether the mask was empty.

    Returns ``(box, empty)``; ``box`` holds every voxel of a non-empty mask plus ``margin``.
    """
    shape = _check_shape(out_shape)
    if int(margin) < 0:
        raise ConfigError(f"margin must be >= 0 voxels, got {margin}.")
    if not 0.0 < fallback_fraction <= 1.0:
        raise ConfigError(f"fallback_fraction must be in (0, 1], got {fallback_fraction}.")
    sp = np.ones(3) if spacing is None else np.asarray(spacing, dtype=float)
    if sp.shape != (3,) or not np.all(np.isfinite(sp) & (sp > 0)):
        raise ConfigError(f"spacing must be three positive numbers (d, h, w), got {spacing}.")
    dims = np.asarray(mask.shape[:3])
    idx = np.argwhere(mask > 0)
    empty = len(idx) == 0
    if empty:
        extent = np.maximum(1, np.ceil(fallback_fraction * dims)).astype(int)
        lo = (dims - extent) // 2
        hi = lo + extent
    else:
        lo = idx.min(axis=0) - int(margin)
        hi = idx.max(axis=0) + 1 + int(margin)
    if keep_aspect:
        target = np.asarray(shape, dtype=float)
        scale = float(np.max((hi - lo) * sp / target))
        extent = np.maximum(hi - lo, np.ceil(scale * target / sp - 1e-9).astype(int))
        lo = np.floor((lo + hi) / 2.0 - extent / 2.0).astype(int)
        hi = lo + extent
    return tuple((int(a), int(b)) for a, b in zip(lo, hi, strict=True)), empty


def _crop(array: np.ndarray, box: Box, fill: float) -> np.ndarray:
    """``array[box]``, padded with ``fill`` where the box reaches past the array."""
    out = np.full(tuple(b - a for a, b in box), fill, dtype=array.dtype)
    src, dst = [], []
    for (a, b), n in zip(box, array.shape, strict=True):
        s0, s1 = max(a, 0), min(b, n)
        if s1 <= s0:
            return out
        src.append(slice(s0, s1))
        dst.append(slice(s0 - a, s1 - a))
    out[tuple(dst)] = array[tuple(src)]
    return out


def _resize(
    array: np.ndarray, shape: tuple[int, int, int], *, anti_aliasing: bool = True
) -> np.ndarray:
    from monai.transforms import Resize

    resize = Resize(spatial_size=shape, mode="trilinear", anti_aliasing=anti_aliasing)
    import torch

    out = resize(torch.from_numpy(np.ascontiguousarray(array[None], dtype=np.float32)))
    return np.asarray(out[0], dtype=np.float32)


def _resize_mask(mask: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Trilinear resize thresholded at 0.5; a tumour too small to reach 0.5 anywhere keeps
    the voxels at or above half its peak, so a non-empty mask never comes out empty."""
    soft = _resize(mask, shape, anti_aliasing=False)
    peak = float(soft.max())
    return (soft >= min(0.5, 0.5 * peak) if peak > 0 else soft > 0).astype(np.uint8)


def extract_roi(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    margin: int = 4,
    out_shape: Sequence[int] = (32, 32, 32),
    mask_outside: bool = True,
    dilation: float | None = None,
    background: float | None = None,
    spacing: Sequence[float] | None = None,
    keep_aspect: bool = True,
    fallback_fraction: float = 0.5,
    warn: bool = True,
) -> ROI:
    """Crop ``image`` around the tumour of ``mask`` and resize it to ``out_shape``.

    Parameters
    ----------
    image
        ``(D, H, W)`` volume, e.g. CT in HU.
    mask
        ``(D, H, W)`` tumour mask on the same grid (non-zero = tumour).
    margin
        Voxels added to the tumour's bounding box on every side.
    out_shape
        ``(D, H, W)`` of the ROI.
    mask_outside
        Set voxels farther than ``dilation`` voxels from the tumour to ``background``.
    dilation
        Radius (voxels) of the kept peritumoural shell; default ``margin``.
    background
        Value of masked-out and padded voxels; default the image's minimum.
    spacing
        Voxel spacing ``(d, h, w)`` for the aspect of the box; default isotropic.
    keep_aspect
        Grow the box to the aspect of ``out_shape`` (in mm when ``spacing`` is given).
    fallback_fraction
        Extent of the centred fallback box for an empty mask, as a fraction of the image.
    warn
        Issue an :class:`EmptyMaskWarning` for an empty mask (``ROI.empty_mask`` flags it
        either way).

    Returns
    -------
    ROI
    """
    image = np.asarray(image, dtype=np.float32)
    mask = np.asarray(mask)
    if image.ndim != 3 or image.shape != mask.shape:
        raise ConfigError(
            f"image and mask must be 3-D arrays of the same shape, got {image.shape} and {mask.shape}."
        )
    shape = _check_shape(out_shape)
    box, empty = roi_box(
        mask, margin=margin, out_shape=shape, spacing=spacing,
        keep_aspect=keep_aspect, fallback_fraction=fallback_fraction,
    )  # fmt: skip
    fill = float(np.min(image)) if background is None else float(background)
    crop = _crop(image, box, fill)
    crop_mask = _crop((mask > 0).astype(np.float32), box, 0.0)
    if empty:
        if warn:
            warnings.warn(
                "the tumour mask is empty: the ROI is a centred crop, not a crop around a tumour.",
                EmptyMaskWarning,
                stacklevel=2,
            )
    elif mask_outside:
        from scipy.ndimage import distance_transform_edt

        radius = float(margin if dilation is None else dilation)
        if radius < 0:
            raise ConfigError(f"dilation must be >= 0 voxels, got {dilation}.")
        keep = distance_transform_edt(crop_mask == 0) <= radius
        crop = np.where(keep, crop, np.float32(fill))
    roi_mask = _resize_mask(crop_mask, shape)
    return ROI(
        image=_resize(crop, shape), mask=roi_mask, box=box, empty_mask=empty, background=fill
    )


def _safe_name(i: int, pid: str) -> str:
    return f"{i:05d}_{re.sub(r'[^A-Za-z0-9._-]', '_', pid)[:60]}"


def _masks_from(cohort: Cohort, source: Any) -> tuple[str, dict[str, np.ndarray]]:
    if isinstance(source, str):
        look_up_option(source, ["cohort"], what="ROI mask source")
        records = image_rows(cohort)
        return "cohort", {
            r.patient_id: read_mask(cohort, r.mask_path) for r in records if r.mask_path is not None
        }
    if hasattr(source, "predict_masks"):
        return "segmenter", dict(source.predict_masks(cohort))
    if isinstance(source, Mapping):
        return "masks", {str(k): np.asarray(v) for k, v in source.items()}
    raise ConfigError(
        f"source must be a FittedSegmenter, a mapping patient_id -> mask or 'cohort', got "
        f"{type(source).__name__}."
    )


def roi_cohort(
    cohort: Cohort,
    source: Any,
    out_dir: str | os.PathLike[str],
    *,
    margin: int = 4,
    out_shape: Sequence[int] = (32, 32, 32),
    mask_outside: bool = True,
    dilation: float | None = None,
    background: float | None = None,
    keep_aspect: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write a cohort directory whose images are the tumour ROIs of ``cohort``.

    Parameters
    ----------
    cohort
        A volume cohort with one image per patient.
    source
        Where the tumour masks come from: a :class:`~oncofusion.models.segmentation.FittedSegmenter`
        (its :meth:`predict_masks`), a mapping ``patient_id -> mask`` on each image's grid, or
        ``"cohort"`` for the cohort's own ``mask_path`` masks. A patient with an image but no
        (or an empty) mask gets the centred fallback ROI.
    out_dir
        The new cohort directory (written atomically; must be absent or empty unless
        ``overwrite``).
    margin, out_shape, mask_outside, dilation, background, keep_aspect
        As in :func:`extract_roi`; the image's spacing sets the box's aspect.
    overwrite
        Replace a non-empty ``out_dir``.

    Returns
    -------
    pathlib.Path
        ``out_dir``. It holds ``cohort.yaml`` and the same tables as ``cohort`` (restricted
        to its patients), ``imaging.csv`` with ``path`` (``images/*.npy``, the ROI) and
        ``mask_path`` (``masks/*.npy``, the ROI mask; empty for fallback ROIs), and
        ``roi.json`` (settings, each patient's box and ``fallback`` ids). One
        :class:`EmptyMaskWarning` lists the fallback patients, if any.
    """
    from oncofusion.data.readers import read_image

    if cohort.schema.imaging != "volume":
        raise ConfigError(
            f"ROIs are cut from volumes, but cohort '{cohort.name}' has imaging "
            f"'{cohort.schema.imaging}'. Fix: use a cohort with 'imaging: volume'."
        )
    shape = _check_shape(out_shape)
    kind, masks = _masks_from(cohort, source)
    rows, boxes, fallback = [], {}, []
    out_dir = Path(out_dir)
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        for i, r in enumerate(image_rows(cohort)):
            data = read_image(cohort.root / r.path)
            image = np.asarray(to_luminance(data.array), dtype=np.float32)
            mask = masks.get(r.patient_id)
            if mask is None:
                mask = np.zeros(image.shape, np.uint8)
            elif mask.shape != image.shape:
                raise CohortError(
                    f"the {kind} mask has shape {mask.shape} but the image has shape {image.shape}.",
                    file="imaging.csv", column="path", rows=[r.patient_id],
                    fix="give masks on each image's own voxel grid (as predict_masks returns them).",
                )  # fmt: skip
            roi = extract_roi(
                image, mask, margin=margin, out_shape=shape, mask_outside=mask_outside,
                dilation=dilation, background=background, spacing=data.spacing,
                keep_aspect=keep_aspect, warn=False,
            )  # fmt: skip
            name = _safe_name(i, r.patient_id)
            np.save(tmp / "images" / f"{name}.npy", roi.image, allow_pickle=False)
            mask_path: str | None = None
            if roi.empty_mask:
                fallback.append(r.patient_id)
            else:
                mask_path = f"masks/{name}.npy"
                np.save(tmp / mask_path, roi.mask, allow_pickle=False)
            rows.append(
                {"patient_id": r.patient_id, "path": f"images/{name}.npy", "mask_path": mask_path}
            )
            boxes[r.patient_id] = {
                "box": [list(b) for b in roi.box],
                "empty_mask": roi.empty_mask,
                "background": roi.background,
            }
        schema = cohort.schema.model_dump(mode="json", exclude_none=True)
        (tmp / "cohort.yaml").write_text(
            yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
        )
        for name in ("patients", "biomarkers", "genomics", "gene_graph"):
            table = getattr(cohort, name)
            if table is not None:
                table.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
        pd.DataFrame(rows, columns=["patient_id", "path", "mask_path"]).to_csv(
            tmp / "imaging.csv", index=False, lineterminator="\n"
        )
        settings = {
            "margin": int(margin), "out_shape": list(shape), "mask_outside": bool(mask_outside),
            "dilation": float(margin if dilation is None else dilation),
            "background": None if background is None else float(background),
            "keep_aspect": bool(keep_aspect), "mask_source": kind,
        }  # fmt: skip
        write_json(
            tmp / "roi.json", {"settings": settings, "patients": boxes, "fallback": fallback}
        )
    if fallback:
        shown = ", ".join(fallback[:10]) + (
            f" (and {len(fallback) - 10} more)" if len(fallback) > 10 else ""
        )
        warnings.warn(
            f"{len(fallback)} patient(s) had an empty tumour mask and got a centred ROI "
            f"(listed under 'fallback' in {out_dir / 'roi.json'}): {shown}.",
            EmptyMaskWarning,
            stacklevel=2,
        )
    return out_dir
