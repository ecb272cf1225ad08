"""Handcrafted radiomic features of a region of interest (ROI).

:func:`radiomic_features` computes, in the spirit of the IBSI/pyradiomics definitions but
with NumPy, SciPy and scikit-image only:

* **first order** (intensities :math:`x_1..x_n` inside the ROI): mean, standard deviation,
  skewness, excess kurtosis, histogram entropy
  :math:`-\\sum_b p_b \\log_2 p_b` over ``bins`` equal-width bins, min, max, range,
  10/25/50/75/90th percentiles and the interquartile range;
* **shape** (from the mask, in physical units of ``spacing``): voxel volume, surface area
  and enclosed volume of the marching-cubes mesh (``skimage.measure``), sphericity
  :math:`\\pi^{1/3}(6V)^{2/3}/A`, major axis length :math:`4\\sqrt{\\lambda_1}`, elongation
  :math:`\\sqrt{\\lambda_2/\\lambda_1}` and flatness :math:`\\sqrt{\\lambda_3/\\lambda_1}` from the
  eigenvalues :math:`\\lambda_1 \\ge \\lambda_2 \\ge \\lambda_3` of the covariance of the voxel
  coordinates;
* **GLCM texture**: ROI intensities quantised to ``glcm_levels`` equal-width levels, grey
  level co-occurrence matrices per slice (axis 0) at distance(s) ``glcm_distances`` and
  angles 0, 45, 90, 135 degrees (symmetric; pairs touching the background excluded),
  summed over slices, then contrast, dissimilarity, homogeneity, ASM, energy,
  correlation (``skimage.feature.graycoprops``) and entropy, averaged over directions.

References
----------
Zwanenburg A, et al. The Image Biomarker Standardization Initiative. Radiology 2020;295:328-338.
Haralick RM, Shanmugam K, Dinstein I. Textural features for image classification. IEEE
Trans Syst Man Cybern 1973;3:610-621.
van Griethuysen JJM, et al. Computational radiomics system to decode the radiographic
phenotype. Cancer Res 2017;77:e104-e107.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.baselines._common import warn_once
from oncofusion.errors import CohortError

__all__ = ["GLCM_PROPS", "cohort_radiomics", "radiomic_features"]

GLCM_PROPS = ("contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation")
_ANGLES: list[float] = [0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]


def _as_volume(x: Any) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    spacing = None
    if hasattr(x, "array") and hasattr(x, "spacing"):
        spacing = tuple(float(s) for s in x.spacing)
        x = x.array
    a = np.asarray(x)
    if a.ndim == 4 and a.shape[-1] == 3:
        a = a.mean(axis=-1)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise CohortError(
            f"an image for radiomics must be 2-D or 3-D (optionally RGB), got shape {a.shape}."
        )
    return a, spacing  # type: ignore[return-value]


def radiomic_features(
    image: Any,
    mask: Any = None,
    *,
    spacing: Sequence[float] | None = None,
    bins: int = 32,
    glcm_levels: int = 32,
    glcm_distances: Sequence[int] = (1,),
) -> dict[str, float]:
    """First-order, shape and GLCM texture features of the ROI ``mask`` in ``image``.

    Parameters
    ----------
    image
        ``(D, H, W)`` or ``(H, W)`` array (RGB last axis averaged to grey), or an
        :class:`~oncofusion.data.readers.ImageData` (its ``spacing`` is used).
    mask
        Boolean (or 0/non-0) array of the same shape; ``None`` = the whole image.
    spacing
        Voxel size ``(d, h, w)`` in mm (default: the image's, else 1).
    bins, glcm_levels, glcm_distances
        Histogram bins for the entropy, quantisation levels and pixel distances of the GLCM.

    Returns
    -------
    dict
        ``firstorder_*``, ``shape_*`` and ``glcm_*`` values (floats). GLCM values are NaN
        only when no two ROI pixels are neighbours in any slice.
    """
    img, img_spacing = _as_volume(image)
    img = img.astype(np.float64)
    if mask is None:
        m = np.ones(img.shape, dtype=bool)
    else:
        m, _ = _as_volume(mask)
        m = m != 0
        if m.shape[0] == 1 and img.shape[0] > 1 and m.shape[1:] == img.shape[1:]:
            m = np.broadcast_to(m, img.shape)
        if m.shape != img.shape:
            raise CohortError(
                f"the mask has shape {m.shape} but the image has shape {img.shape}.",
                fix="give a mask on the image grid (same depth/frames, height and width, or depth 1).",
            )
    if not m.any():
        raise CohortError(
            "the ROI mask selects no voxel.", fix="check the segmentation (mask_path)."
        )
    sp = tuple(
        float(s) for s in (spacing if spacing is not None else img_spacing or (1.0, 1.0, 1.0))
    )
    out: dict[str, float] = {}
    out.update(_first_order(img[m], bins))
    out.update(_shape(m, sp))
    out.update(_glcm(img, m, int(glcm_levels), tuple(int(d) for d in glcm_distances)))
    return out


def _first_order(v: np.ndarray, bins: int) -> dict[str, float]:
    from scipy.stats import kurtosis, skew

    sd = float(v.std())
    p10, p25, p50, p75, p90 = np.percentile(v, [10, 25, 50, 75, 90])
    lo, hi = float(v.min()), float(v.max())
    if hi > lo:
        counts, _ = np.histogram(v, bins=bins, range=(lo, hi))
        p = counts[counts > 0] / v.size
        ent = float(-(p * np.log2(p)).sum())
    else:
        ent = 0.0
    return {
        "firstorder_mean": float(v.mean()),
        "firstorder_sd": sd,
        "firstorder_skewness": float(skew(v)) if sd > 0 else 0.0,
        "firstorder_kurtosis": float(kurtosis(v)) if sd > 0 else 0.0,
        "firstorder_entropy": ent,
        "firstorder_min": lo,
        "firstorder_max": hi,
        "firstorder_range": hi - lo,
        "firstorder_p10": float(p10),
        "firstorder_p25": float(p25),
        "firstorder_median": float(p50),
        "firstorder_p75": float(p75),
        "firstorder_p90": float(p90),
        "firstorder_iqr": float(p75 - p25),
    }


def _shape(m: np.ndarray, spacing: tuple[float, ...]) -> dict[str, float]:
    from skimage.measure import marching_cubes, mesh_surface_area

    voxel_volume = float(m.sum() * np.prod(spacing))
    padded = np.pad(m.astype(np.float32), 1)
    verts, faces, _, _ = marching_cubes(padded, level=0.5, spacing=spacing)
    area = float(mesh_surface_area(verts, faces))
    tri = verts[faces]
    mesh_volume = float(
        abs(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0
    )
    sphericity = float(np.pi ** (1 / 3) * (6 * mesh_volume) ** (2 / 3) / area) if area > 0 else 0.0
    coords = np.argwhere(m).astype(np.float64) * np.asarray(spacing)
    if len(coords) > 1:
        lam = np.sort(
            np.clip(np.linalg.eigvalsh(np.cov(coords, rowvar=False, bias=True)), 0, None)
        )[::-1]
    else:
        lam = np.zeros(3)
    if lam[0] > 0:
        elong, flat = float(np.sqrt(lam[1] / lam[0])), float(np.sqrt(lam[2] / lam[0]))
    else:
        elong = flat = 1.0
    return {
        "shape_voxel_volume": voxel_volume,
        "shape_mesh_volume": mesh_volume,
        "shape_surface_area": area,
        "shape_sphericity": sphericity,
        "shape_major_axis_length": float(4 * np.sqrt(lam[0])),
        "shape_elongation": elong,
        "shape_flatness": flat,
    }


def _glcm(
    img: np.ndarray, m: np.ndarray, levels: int, distances: tuple[int, ...]
) -> dict[str, float]:
    from skimage.feature import graycomatrix, graycoprops

    if not 2 <= levels <= 255:
        raise CohortError(f"glcm_levels must be in [2, 255], got {levels}.")
    v = img[m]
    lo, hi = float(v.min()), float(v.max())
    q = np.zeros(img.shape, dtype=np.uint8)
    if hi > lo:
        q[m] = (np.clip(np.floor((v - lo) / (hi - lo) * levels), 0, levels - 1) + 1).astype(
            np.uint8
        )
    else:
        q[m] = 1
    P = np.zeros((levels + 1, levels + 1, len(distances), len(_ANGLES)), dtype=np.float64)
    for z in range(len(q)):
        if m[z].any():
            P += graycomatrix(q[z], list(distances), _ANGLES, levels=levels + 1, symmetric=True)
    P = P[1:, 1:]  # drop pairs that touch the background (level 0)
    total = P.sum(axis=(0, 1))
    ok = total > 0
    names = [f"glcm_{p.lower()}" for p in GLCM_PROPS] + ["glcm_entropy"]
    if not ok.any():
        warn_once(
            "glcm-empty",
            "an ROI has no pair of neighbouring pixels in any slice: GLCM features are NaN.",
        )
        return dict.fromkeys(names, float("nan"))
    out: dict[str, float] = {}
    Pn = np.where(ok, P / np.where(ok, total, 1.0), 0.0)
    sel = np.broadcast_to(ok, Pn.shape[2:])
    for prop, key in zip(GLCM_PROPS, names, strict=False):
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = graycoprops(Pn, prop)
        out[key] = float(vals[sel].mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(Pn > 0, Pn * np.log2(Pn), 0.0).sum(axis=(0, 1))
    out["glcm_entropy"] = float(ent[sel].mean())
    return out


def cohort_radiomics(
    cohort: Any, *, bins: int = 32, glcm_levels: int = 32, glcm_distances: Sequence[int] = (1,)
) -> pd.DataFrame:
    """Radiomic features of every image of a cohort, one row per patient.

    Images (and masks, when ``mask_path`` is given; else the whole image is the ROI) are
    read with :func:`oncofusion.data.readers.read_image`, paths relative to ``cohort.root``.
    Columns are ``<phase>__<feature>`` (phase ``image`` when the table has none); a patient
    without an image (or without that phase) has NaN there. Rows follow ``cohort.patients``.
    """
    from oncofusion.data.readers import read_image

    ids = cohort.patients["patient_id"].astype(str).tolist()
    rows: dict[str, dict[str, float]] = {pid: {} for pid in ids}
    im = cohort.imaging
    if im is not None and len(im):
        has_mask = "mask_path" in im.columns
        if not has_mask or im["mask_path"].isna().any():
            warn_once(
                "radiomics-nomask", "some images have no mask_path: their ROI is the whole image."
            )
        for _, r in im.iterrows():
            pid = str(r["patient_id"])
            if pid not in rows:
                continue
            phase = (
                str(r["phase"]) if "phase" in im.columns and pd.notna(r.get("phase")) else "image"
            )
            if any(k.startswith(f"{phase}__") for k in rows[pid]):
                continue  # first image of a phase wins
            image = read_image(cohort.root / str(r["path"]))
            mask = None
            if has_mask and pd.notna(r["mask_path"]):
                mask = read_image(cohort.root / str(r["mask_path"])).array
            try:
                feats = radiomic_features(
                    image, mask, bins=bins, glcm_levels=glcm_levels, glcm_distances=glcm_distances
                )
            except CohortError as e:
                raise CohortError(
                    e.problem, file="imaging", column="path", rows=[pid], fix=e.fix
                ) from e
            rows[pid].update({f"{phase}__{k}": v for k, v in feats.items()})
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "patient_id"
    return frame.reindex(ids)
