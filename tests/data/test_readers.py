"""Image readers, checked against the headers of real files that pydicom, pydicom-data and
nibabel ship (found locally: ``get_testdata_file(..., download=False)``), plus files the tests
write themselves (a DICOM series, videos, NumPy arrays, broken files)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from nibabel.testing import data_path as NIBABEL_DATA
from pydicom.data import get_testdata_file

from oncofusion.data.readers import ImageData, read_image
from oncofusion.errors import CohortError


def data_file(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not installed locally (pydicom / pydicom-data)"
    return str(path)


# --------------------------------------------------------------------------- DICOM files
def test_ct_small_single_slice_against_header():
    path = data_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    image = read_image(path)
    assert image.shape == (1, ds.Rows, ds.Columns)
    assert image.array.dtype == np.float32
    assert image.spacing == (float(ds.SpacingBetweenSlices), *map(float, ds.PixelSpacing))
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(image.array[0], expected)
    assert image.array.min() < 0  # intercept -1024 applied: Hounsfield units
    assert image.frame_time_ms is None
    assert image.meta["modality"] == "CT"
    assert image.meta["photometric_interpretation"] == "MONOCHROME2"
    assert not image.array.flags.writeable


@pytest.mark.parametrize(
    "name",
    [
        "emri_small.dcm",
        "emri_small_big_endian.dcm",
        "emri_small_RLE.dcm",
        "emri_small_jpeg_ls_lossless.dcm",
        "emri_small_jpeg_2k_lossless.dcm",
    ],
)
def test_emri_small_multiframe_mr_and_its_encodings(name):
    path = data_file(name)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    image = read_image(path)
    assert image.shape == (int(ds.NumberOfFrames), ds.Rows, ds.Columns) == (10, 64, 64)
    # the file gives SpacingBetweenSlices but no PixelSpacing (anonymised): in-plane is 1.0
    assert image.spacing == (float(ds.SpacingBetweenSlices), 1.0, 1.0)
    assert image.meta["spacing_source"] == ("SpacingBetweenSlices", "default", "default")
    assert image.meta["n_frames"] == 10
    reference = read_image(data_file("emri_small.dcm")).array
    np.testing.assert_array_equal(image.array, reference)  # lossless encodings decode the same


def test_ultrasound_cine_ybr_is_converted_to_rgb():
    path = data_file("examples_ybr_color.dcm")
    ds = pydicom.dcmread(path)
    image = read_image(path)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    assert image.shape == (int(ds.NumberOfFrames), ds.Rows, ds.Columns, 3) == (30, 240, 320, 3)
    assert image.frame_time_ms == pytest.approx(float(ds.FrameTime))
    region = ds.SequenceOfUltrasoundRegions[0]
    assert region.PhysicalUnitsXDirection == 3  # cm
    assert image.spacing == pytest.approx(
        (float(ds.FrameTime), 10 * region.PhysicalDeltaY, 10 * region.PhysicalDeltaX)
    )
    assert image.meta["converted_to"] == "RGB"
    # luminance of the RGB output reproduces the stored Y channel (ITU-R BT.601)
    from pydicom.pixels import pixel_array

    ybr = pixel_array(ds, as_rgb=False).astype(np.float32)
    luma = image.array @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    diff = np.abs(luma - ybr[..., 0])  # RGB is clipped to [0, 255], so allow a few outliers
    assert diff.mean() < 0.5 and np.percentile(diff, 99) < 1.5
    assert np.abs(image.array - ybr).max() > 50  # the chroma channels really were converted


def test_jpeg_baseline_colour_cine_from_pydicom_data():
    import pylibjpeg  # noqa: F401  (the JPEG plugin must be installed)

    path = data_file("color3d_jpeg_baseline.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.JPEGBaseline8Bit
    image = read_image(path)
    assert image.shape == (int(ds.NumberOfFrames), ds.Rows, ds.Columns, 3) == (120, 480, 640, 3)
    assert image.frame_time_ms == pytest.approx(float(ds.FrameTime))
    assert image.meta["modality"] == "US"
    assert 0 <= image.array.min() and image.array.max() <= 255


def test_dicom_without_suffix_is_sniffed(tmp_path):
    target = tmp_path / "IM0001"
    shutil.copy(data_file("CT_small.dcm"), target)
    assert read_image(target).shape == (1, 128, 128)


# --------------------------------------------------------------------------- DICOM series
def _write_series(folder: Path, *, positions: bool = True, shift: float = 2.5) -> np.ndarray:
    """Four CT slices written in scrambled file order; slice k has pixels base + 10 k."""
    folder.mkdir()
    base = pydicom.dcmread(data_file("CT_small.dcm"))
    z0 = float(base.ImagePositionPatient[2])
    raw = base.pixel_array.astype(np.int16)
    names = ["c.dcm", "a.dcm", "d.dcm", "b.dcm"]
    for k, name in enumerate(names):
        ds = pydicom.dcmread(data_file("CT_small.dcm"))
        ds.PixelData = (raw + 10 * k).astype(np.int16).tobytes()
        if positions:
            ds.ImagePositionPatient = [*map(float, base.ImagePositionPatient[:2]), z0 + shift * k]
            ds.InstanceNumber = 10 - k  # opposite of the spatial order: positions must win
        else:
            del ds.ImagePositionPatient
            ds.InstanceNumber = k + 1
        ds.save_as(folder / name)
    (folder / "README.txt").write_text("not a DICOM file")
    return raw * float(base.RescaleSlope) + float(base.RescaleIntercept)


def test_series_folder_sorted_by_position(tmp_path):
    expected0 = _write_series(tmp_path / "series")
    image = read_image(tmp_path / "series")
    assert image.shape == (4, 128, 128)
    assert image.spacing == pytest.approx((2.5, 0.661468, 0.661468))
    for k in range(4):
        np.testing.assert_array_equal(image.array[k], expected0 + 10 * k)
    assert image.meta["files"] == ["c.dcm", "a.dcm", "d.dcm", "b.dcm"]
    assert image.meta["source"] == "dicom-series"


def test_series_folder_falls_back_to_instance_number(tmp_path):
    expected0 = _write_series(tmp_path / "series", positions=False)
    image = read_image(tmp_path / "series")
    for k in range(4):
        np.testing.assert_array_equal(image.array[k], expected0 + 10 * k)
    assert image.spacing[0] == 5.0  # SpacingBetweenSlices of CT_small
    assert image.meta["spacing_source"][0] == "SpacingBetweenSlices"


def test_series_folder_errors(tmp_path):
    _write_series(tmp_path / "dup", shift=0.0)
    with pytest.raises(CohortError, match="same position"):
        read_image(tmp_path / "dup")
    _write_series(tmp_path / "two")
    other = pydicom.dcmread(tmp_path / "two" / "a.dcm")
    other.SeriesInstanceUID = pydicom.uid.generate_uid()
    other.save_as(tmp_path / "two" / "a.dcm")
    with pytest.raises(CohortError, match="2 series"):
        read_image(tmp_path / "two")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CohortError, match="no DICOM image"):
        read_image(tmp_path / "empty")


# --------------------------------------------------------------------------- NIfTI
def test_nifti_4d_returns_one_canonical_volume():
    path = os.path.join(NIBABEL_DATA, "example4d.nii.gz")
    raw = nib.load(path)
    assert nib.aff2axcodes(raw.affine) == ("L", "A", "S")
    x, y, z, t = raw.shape
    zooms = raw.header.get_zooms()
    image = read_image(path)
    assert image.shape == (z, y, x) == (24, 96, 128)
    assert image.spacing == pytest.approx((zooms[2], zooms[1], zooms[0]))
    assert image.meta["n_volumes"] == t == 2 and image.meta["volume_index"] == 0
    assert image.meta["orientation"] == "RAS"
    data = raw.get_fdata()
    # LAS -> RAS flips the x axis, which is W after the transpose
    np.testing.assert_allclose(image.array[:, :, ::-1], data[..., 0].transpose(2, 1, 0), rtol=1e-6)
    second = read_image(path, volume=1)
    np.testing.assert_allclose(second.array[:, :, ::-1], data[..., 1].transpose(2, 1, 0), rtol=1e-6)
    with pytest.raises(CohortError, match="2 volume"):
        read_image(path, volume=2)


def test_nifti_3d_spacing_and_axes(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (x, y, z)
    affine = np.diag([0.5, 0.8, 3.0, 1.0])
    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    image = read_image(path)
    assert image.shape == (6, 5, 4)
    assert image.spacing == pytest.approx((3.0, 0.8, 0.5))
    assert image.array[2, 3, 1] == data[1, 3, 2]


# --------------------------------------------------------------------------- video
@pytest.mark.parametrize(
    ("suffix", "codec", "fps"), [(".mp4", "libx264", 25), (".avi", "mpeg4", 10)]
)
def test_video_roundtrip(tmp_path, suffix, codec, fps):
    import imageio.v3 as iio

    frames = np.zeros((12, 48, 64, 3), dtype=np.uint8)
    for k in range(12):
        frames[k] = 20 * k  # a brightening grey clip
    path = tmp_path / f"clip{suffix}"
    iio.imwrite(path, frames, plugin="pyav", codec=codec, fps=fps)
    image = read_image(path)
    assert image.shape == (12, 48, 64, 3)
    assert image.frame_time_ms == pytest.approx(1000.0 / fps)
    assert image.spacing[0] == pytest.approx(1000.0 / fps)
    means = image.array.mean(axis=(1, 2, 3))
    np.testing.assert_allclose(means, 20 * np.arange(12), atol=6)  # lossy codec, same content


# --------------------------------------------------------------------------- numpy
def test_numpy_shapes(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((7, 9), dtype=np.uint8))
    assert read_image(tmp_path / "a.npy").shape == (1, 7, 9)
    np.save(tmp_path / "b.npy", np.ones((3, 7, 9, 4)))
    assert read_image(tmp_path / "b.npy").shape == (3, 7, 9, 3)
    np.savez(tmp_path / "c.npz", image=np.zeros((2, 4, 5)), spacing=np.array([3.0, 0.5, 0.25]))
    image = read_image(tmp_path / "c.npz")
    assert image.shape == (2, 4, 5) and image.spacing == (3.0, 0.5, 0.25)
    np.savez(tmp_path / "d.npz", volume=np.zeros((2, 4, 5)))
    assert read_image(tmp_path / "d.npz").meta["key"] == "volume"
    np.savez(tmp_path / "e.npz", image=np.zeros((2, 4, 5)), frame_time_ms=50.0)
    image = read_image(tmp_path / "e.npz")
    assert image.frame_time_ms == 50.0 and image.spacing[0] == 50.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: np.save(p / "x.npy", np.array([{"a": 1}], dtype=object)), "never loaded"),
        (lambda p: np.save(p / "x.npy", np.zeros((2, 2, 2, 2, 2))), "shape"),
        (lambda p: np.save(p / "x.npy", np.array([[[np.nan, 1.0]]])), "NaN"),
        (lambda p: np.savez(p / "x.npz", a=np.zeros((2, 2)), b=np.zeros((2, 2))), "'image'"),
        (
            lambda p: np.savez(p / "x.npz", image=np.zeros((2, 2)), spacing=[1.0, -1.0, 1.0]),
            "spacing",
        ),
    ],
)
def test_numpy_errors(tmp_path, make, message):
    make(tmp_path)
    (path,) = tmp_path.glob("x.*")
    with pytest.raises(CohortError, match=message) as info:
        read_image(path)
    assert info.value.file == str(path) and info.value.fix


# --------------------------------------------------------------------------- errors
def test_missing_file(tmp_path):
    with pytest.raises(CohortError, match="does not exist") as info:
        read_image(tmp_path / "nope.nii.gz")
    assert info.value.file == str(tmp_path / "nope.nii.gz")
    assert "imaging.csv" in info.value.fix


def test_truncated_dicom(tmp_path):
    src = Path(data_file("CT_small.dcm")).read_bytes()
    path = tmp_path / "truncated.dcm"
    path.write_bytes(src[: len(src) // 2])
    with pytest.raises(CohortError) as info:
        read_image(path)
    assert info.value.file == str(path)
    assert info.value.__cause__ is not None  # raised from the underlying error
    assert info.value.fix


@pytest.mark.parametrize(
    "name", ["noise.nii", "noise.nii.gz", "noise.dcm", "noise.mp4", "noise.npy"]
)
def test_random_bytes_with_an_image_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CohortError) as info:
        read_image(path)
    assert info.value.file == str(path)
    assert info.value.__cause__ is not None
    assert "imaging.csv" in info.value.fix or "re-" in info.value.fix


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(b"\x89PNG....")
    with pytest.raises(CohortError, match="not supported") as info:
        read_image(path)
    assert ".nii" in info.value.fix


def test_volume_argument_only_for_nifti():
    with pytest.raises(CohortError, match="4-D NIfTI"):
        read_image(data_file("CT_small.dcm"), volume=0)


def test_image_data_invariants():
    image = ImageData(np.zeros((2, 3, 4), dtype=np.float64), (1, 2, 3))
    assert image.array.dtype == np.float32 and image.spacing == (1.0, 2.0, 3.0)
    with pytest.raises(ValueError):
        ImageData(np.zeros((2, 3)), (1, 1, 1))
    with pytest.raises(ValueError):
        ImageData(np.zeros((2, 3, 4)), (1, 0, 1))
