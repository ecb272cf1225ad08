"""DICOM readers: a single file (2-D or multi-frame) and a series folder, via pydicom.

Compressed transfer syntaxes (JPEG baseline/lossless/LS, JPEG 2000, RLE) are decoded by
pydicom's pixel backends plus the ``pylibjpeg`` plugins. Grey images are returned in
modality units (RescaleSlope/Intercept applied, MONOCHROME1 inverted to MONOCHROME2);
colour images (RGB, YBR_*, PALETTE COLOR) as ``(D, H, W, 3)`` RGB.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.data.readers.base import ImageData, image_error

__all__ = ["is_dicom_file", "read_dicom", "read_dicom_file", "read_dicom_series"]

#: Physical Units X/Y Direction code for centimetres in Sequence of Ultrasound Regions
_US_UNITS_CM = 3


def is_dicom_file(path: Path) -> bool:
    """True if ``path`` has the DICM magic at byte 128 (a DICOM Part 10 file)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def read_dicom(path: Path) -> ImageData:
    """Read a DICOM file, or a folder holding one series (one file per slice)."""
    return read_dicom_series(path) if path.is_dir() else read_dicom_file(path)


# --------------------------------------------------------------------------- helpers
def _dcmread(path: Path) -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path)
    except InvalidDicomError as e:
        raise image_error(path, f"is not a DICOM file ({e}).") from e
    except Exception as e:  # truncated/corrupt files raise EOFError, OSError, struct errors ...
        raise image_error(path, f"cannot parse the DICOM file: {type(e).__name__}: {e}") from e


def _seq_item(ds: Any, *names: str) -> Any | None:
    """``ds.<names[0]>[0].<names[1]>[0]...`` or None when any level is absent."""
    cur = ds
    for name in names:
        seq = cur.get(name) if cur is not None else None
        if not seq:
            return None
        cur = seq[0]
    return cur


def _functional(ds: Any, group: str, frame: int = 0) -> Any | None:
    """A functional-group macro item from the shared groups, else from frame ``frame``."""
    item = _seq_item(ds, "SharedFunctionalGroupsSequence", group)
    if item is None:
        per_frame = ds.get("PerFrameFunctionalGroupsSequence")
        if per_frame and len(per_frame) > frame:
            item = _seq_item(per_frame[frame], group)
    return item


def _positive(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def _in_plane_spacing(ds: Any) -> tuple[float, float, str]:
    """(row spacing H, column spacing W) in mm and where they came from."""
    candidates = [("PixelSpacing", ds.get("PixelSpacing"))]
    measures = _functional(ds, "PixelMeasuresSequence")
    if measures is not None:
        candidates.append(("PixelMeasuresSequence.PixelSpacing", measures.get("PixelSpacing")))
    candidates.append(("ImagerPixelSpacing", ds.get("ImagerPixelSpacing")))
    for source, value in candidates:
        if value is not None and len(value) == 2:
            h, w = _positive(value[0]), _positive(value[1])
            if h and w:
                return h, w, source
    region = _seq_item(ds, "SequenceOfUltrasoundRegions")
    if region is not None and (
        region.get("PhysicalUnitsXDirection") == _US_UNITS_CM
        and region.get("PhysicalUnitsYDirection") == _US_UNITS_CM
    ):
        h, w = _positive(region.get("PhysicalDeltaY")), _positive(region.get("PhysicalDeltaX"))
        if h and w:
            return 10.0 * h, 10.0 * w, "SequenceOfUltrasoundRegions"
    return 1.0, 1.0, "default"


def _slice_spacing(ds: Any) -> tuple[float, str]:
    measures = _functional(ds, "PixelMeasuresSequence")
    for source, holder in (("", ds), ("PixelMeasuresSequence.", measures)):
        if holder is None:
            continue
        for key in ("SpacingBetweenSlices", "SliceThickness"):
            v = _positive(holder.get(key))
            if v:
                return v, source + key
    return 1.0, "default"


def _frame_time_ms(ds: Any) -> tuple[float | None, str | None]:
    v = _positive(ds.get("FrameTime"))
    if v:
        return v, "FrameTime"
    vector = ds.get("FrameTimeVector")
    if vector is not None and len(vector) > 1:
        v = _positive(float(np.mean([float(x) for x in list(vector)[1:]])))
        if v:
            return v, "FrameTimeVector"
    rate = _positive(ds.get("CineRate"))
    if rate:
        return 1000.0 / rate, "CineRate"
    return None, None


def _slice_normal(orientation: Any) -> np.ndarray | None:
    if orientation is None or len(orientation) != 6:
        return None
    o = np.asarray([float(x) for x in orientation])
    n = np.cross(o[:3], o[3:])
    norm = float(np.linalg.norm(n))
    return n / norm if norm > 1e-6 else None


def _rescale(ds: Any, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame RescaleSlope and RescaleIntercept (top level, shared or per-frame groups)."""
    slope = np.ones(n_frames)
    intercept = np.zeros(n_frames)
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        slope[:] = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept[:] = float(ds.get("RescaleIntercept", 0.0) or 0.0)
        return slope, intercept
    shared = _seq_item(ds, "SharedFunctionalGroupsSequence", "PixelValueTransformationSequence")
    if shared is not None:
        slope[:] = float(shared.get("RescaleSlope", 1.0) or 1.0)
        intercept[:] = float(shared.get("RescaleIntercept", 0.0) or 0.0)
        return slope, intercept
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    for i, fg in enumerate(list(per_frame)[:n_frames]):
        item = _seq_item(fg, "PixelValueTransformationSequence")
        if item is not None:
            slope[i] = float(item.get("RescaleSlope", 1.0) or 1.0)
            intercept[i] = float(item.get("RescaleIntercept", 0.0) or 0.0)
    return slope, intercept


def _pixels(ds: Any, path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Decoded pixels as float32 ``(F, H, W)`` (modality units) or ``(F, H, W, 3)`` RGB."""
    from pydicom.pixels import apply_color_lut, convert_color_space, get_decoder

    if "PixelData" not in ds:
        raise image_error(
            path,
            "holds no pixel data (it may be a DICOMDIR, a structured report or a presentation state).",
            fix="point imaging.csv at the image file or the folder of the image series.",
        )
    tsyntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if tsyntax is None:
        raise image_error(path, "its file meta information gives no Transfer Syntax UID.")
    try:
        decoder = get_decoder(tsyntax)
        # decode without colour conversion; YBR -> RGB is done below, explicitly
        arr, info = decoder.as_array(ds, as_rgb=False)  # type: ignore[arg-type]
    except NotImplementedError as e:
        raise image_error(
            path,
            f"its transfer syntax {getattr(tsyntax, 'name', tsyntax)} cannot be decoded: {e}",
            fix="install oncofusion[imaging] (pylibjpeg plugins) or export the series uncompressed.",
        ) from e
    except Exception as e:
        raise image_error(path, f"cannot decode the pixel data: {type(e).__name__}: {e}") from e

    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if n_frames == 1:
        arr = arr[np.newaxis]
    stored_pi = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    pi = str(info.get("photometric_interpretation", stored_pi))
    out: dict[str, Any] = {"n_frames": n_frames, "photometric_interpretation": stored_pi}

    if samples == 1 and pi == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        out["converted_to"] = "RGB"
        return arr.astype(np.float32), out
    if samples == 3:
        if pi.startswith("YBR_FULL"):
            arr = convert_color_space(arr, "YBR_FULL", "RGB")
            out["converted_to"] = "RGB"
        return arr.astype(np.float32), out
    if samples != 1:
        raise image_error(
            path, f"has {samples} samples per pixel; only 1 (grey) or 3 (colour) are supported."
        )

    values = arr.astype(np.float64)
    if pi == "MONOCHROME1":  # invert so that higher always means brighter
        bits = int(ds.get("BitsStored", 16))
        values = (
            (-values - 1.0)
            if int(ds.get("PixelRepresentation", 0))
            else ((2.0**bits - 1.0) - values)
        )
        out["inverted"] = True
    slope, intercept = _rescale(ds, n_frames)
    values = values * slope[:, None, None] + intercept[:, None, None]
    out["rescale_slope"], out["rescale_intercept"] = float(slope[0]), float(intercept[0])
    return values.astype(np.float32), out


def _common_meta(ds: Any, path: Path, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "path": str(path),
        "modality": str(ds.get("Modality", "")) or None,
        "sop_class": str(ds.get("SOPClassUID", "")) or None,
    }


# --------------------------------------------------------------------------- readers
def read_dicom_file(path: Path) -> ImageData:
    """Read one DICOM file: a 2-D image (``D = 1``) or a multi-frame image.

    Multi-frame cines (a ``FrameTime``, ``FrameTimeVector`` or ``CineRate``) get the frame
    interval in ms as ``spacing[0]`` and ``frame_time_ms``; multi-frame volumes the distance
    between the per-frame plane positions, else ``SpacingBetweenSlices``/``SliceThickness``
    (top level or the pixel-measures functional group). In-plane spacing comes from
    ``PixelSpacing`` (or its functional group), ``ImagerPixelSpacing`` or the ultrasound
    regions (cm converted to mm).
    """
    ds = _dcmread(path)
    arr, pix_meta = _pixels(ds, path)
    n_frames = pix_meta["n_frames"]
    h, w, plane_source = _in_plane_spacing(ds)
    frame_ms, time_source = _frame_time_ms(ds) if n_frames > 1 else (None, None)
    if frame_ms is not None:
        first, first_source = frame_ms, time_source
    else:
        first, first_source = _slice_spacing(ds)
        positions = _frame_positions(ds, n_frames)
        if positions is not None:
            order = np.argsort(positions, kind="stable")
            arr = arr[order]
            gaps = np.diff(positions[order])
            if len(gaps) and np.median(gaps) > 1e-6:
                first, first_source = float(np.median(gaps)), "PlanePositionSequence"
    meta = _common_meta(ds, path, "dicom") | pix_meta
    meta["spacing_source"] = (first_source, plane_source, plane_source)
    meta["transfer_syntax"] = str(getattr(ds.file_meta, "TransferSyntaxUID", "")) or None
    return ImageData(arr, (first, h, w), frame_ms, meta)


def _frame_positions(ds: Any, n_frames: int) -> np.ndarray | None:
    """Per-frame positions along the slice normal (enhanced multi-frame), or None."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if n_frames < 2 or not per_frame or len(per_frame) != n_frames:
        return None
    orient = _functional(ds, "PlaneOrientationSequence")
    normal = _slice_normal(orient.get("ImageOrientationPatient") if orient is not None else None)
    if normal is None:
        return None
    pos = []
    for fg in per_frame:
        item = _seq_item(fg, "PlanePositionSequence")
        ipp = item.get("ImagePositionPatient") if item is not None else None
        if ipp is None or len(ipp) != 3:
            return None
        pos.append(float(np.dot([float(x) for x in ipp], normal)))
    return np.asarray(pos)


def read_dicom_series(folder: Path) -> ImageData:
    """Read a folder of single-frame DICOM slices into one ``(D, H, W)`` volume.

    Slices are sorted by ``ImagePositionPatient`` projected on the slice normal (from
    ``ImageOrientationPatient``) and the slice spacing is the median distance between
    neighbours; without positions they are sorted by ``InstanceNumber`` (spacing from
    ``SpacingBetweenSlices``/``SliceThickness``), else by file name. Files that are not
    DICOM (a README, a thumbnail) are skipped; a DICOMDIR is skipped. One folder must hold
    one series.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    headers: list[tuple[Path, Any]] = []
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except InvalidDicomError:
            continue
        except Exception as e:
            raise image_error(f, f"cannot parse the DICOM file: {type(e).__name__}: {e}") from e
        if f.name.upper() == "DICOMDIR" or "DirectoryRecordSequence" in ds:
            continue
        headers.append((f, ds))
    if not headers:
        raise image_error(
            folder,
            "the folder holds no DICOM image file.",
            fix="point imaging.csv at a folder of DICOM slices, or at the image file itself.",
        )
    if len(headers) == 1:
        return read_dicom_file(headers[0][0])
    series = sorted({str(ds.get("SeriesInstanceUID", "")) for _, ds in headers})
    if len(series) > 1:
        raise image_error(
            folder,
            f"the folder holds {len(series)} series (SeriesInstanceUID {', '.join(series[:3])}...).",
            fix="put each series in its own folder and give each its own row in imaging.csv.",
        )
    multi = [f.name for f, ds in headers if int(ds.get("NumberOfFrames", 1) or 1) > 1]
    if multi:
        raise image_error(
            folder,
            f"a series folder must hold single-frame slices, but {multi[:3]} are multi-frame.",
            fix="give a multi-frame file its own row in imaging.csv.",
        )

    order, first, first_source = _series_order(folder, headers)
    slices: list[np.ndarray] = []
    pi = None
    for i in order:
        f = headers[i][0]
        ds = _dcmread(f)
        arr, pix_meta = _pixels(ds, f)
        if slices and arr.shape[1:] != slices[0].shape[1:]:
            raise image_error(
                folder,
                f"slice '{f.name}' has shape {arr.shape[1:]} but the first slice has {slices[0].shape[1:]}.",
                fix="keep only the slices of one series (same rows and columns) in the folder.",
            )
        slices.append(arr)
        pi = pix_meta["photometric_interpretation"]
    ds0 = headers[order[0]][1]
    h, w, plane_source = _in_plane_spacing(ds0)
    meta = _common_meta(ds0, folder, "dicom-series")
    meta.update(
        n_frames=len(slices),
        photometric_interpretation=pi,
        files=[headers[i][0].name for i in order],
        spacing_source=(first_source, plane_source, plane_source),
    )
    return ImageData(np.concatenate(slices, axis=0), (first, h, w), None, meta)


def _series_order(folder: Path, headers: list[tuple[Path, Any]]) -> tuple[list[int], float, str]:
    """Slice order and spacing along the slice axis."""
    n = len(headers)
    normal = _slice_normal(headers[0][1].get("ImageOrientationPatient"))
    ipps = [ds.get("ImagePositionPatient") for _, ds in headers]
    if normal is not None and all(p is not None and len(p) == 3 for p in ipps):
        proj = np.asarray([np.dot([float(x) for x in p], normal) for p in ipps])
        order = list(np.argsort(proj, kind="stable"))
        gaps = np.diff(proj[order])
        if np.any(gaps < 1e-4):
            k = int(np.argmin(gaps))
            dup = (headers[order[k]][0].name, headers[order[k + 1]][0].name)
            raise image_error(
                folder,
                f"slices '{dup[0]}' and '{dup[1]}' lie at the same position.",
                fix="remove duplicate slices, or split the folder into one folder per series.",
            )
        return [int(i) for i in order], float(np.median(gaps)), "ImagePositionPatient"
    first, source = _slice_spacing(headers[0][1])
    numbers = [ds.get("InstanceNumber") for _, ds in headers]
    if all(v is not None for v in numbers):
        return sorted(range(n), key=lambda i: (int(numbers[i]), headers[i][0].name)), first, source
    return list(range(n)), first, source
