"""Tumour segmenter (3D U-Net) and ROI extraction on tiny synthetic spheres in noise.

The cohort: bright spheres (radius 2.5-4.5 voxels, +800 HU over a -800 HU background) in
Gaussian noise (SD 200 HU). Most volumes are 16^3; a few are 12 x 20 x 24 so that going
back from the network's 16^3 grid to each image's own grid is exercised.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from oncofusion.data import PatientDataset, load_cohort
from oncofusion.data.cohort import Cohort
from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.errors import CohortError, ModelLoadError, OncofusionError, UnknownOptionError
from oncofusion.models._segmentation_data import read_volume, to_network
from oncofusion.models.roi import EmptyMaskWarning, extract_roi, roi_box, roi_cohort
from oncofusion.models.segmentation import (
    FittedSegmenter,
    SegmentationConfig,
    dice_per_case,
    train_segmenter,
)

N_PATIENTS = 24
ODD_SHAPE = (12, 20, 24)
CONFIG = {
    "image_shape": (16, 16, 16), "channels": (8, 16, 32), "strides": (2, 2), "num_res_units": 1,
    "epochs": 25, "batch_size": 4, "lr": 1e-2, "patience": 5, "seed": 7,
}  # fmt: skip


def _sphere(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    r = rng.uniform(2.5, 4.5)
    centre = [rng.uniform(r + 1, s - r - 1) for s in shape]
    grids = np.meshgrid(*[np.arange(s) + 0.5 for s in shape], indexing="ij")
    d2 = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
    return (d2 <= r * r).astype(np.uint8)


def write_spheres(root: Path, *, n: int = N_PATIENTS, seed: int = 0) -> Path:
    """A volume cohort: patient ``s00`` ... with CT-like spheres and their masks."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows, patients = [], []
    for i in range(n):
        pid = f"s{i:02d}"
        shape = ODD_SHAPE if i % 6 == 5 else (16, 16, 16)
        mask = _sphere(shape, rng)
        volume = -800.0 + 800.0 * mask + rng.normal(0.0, 200.0, shape)
        np.save(root / "images" / f"{pid}.npy", volume.astype(np.float32))
        np.save(root / "images" / f"{pid}_mask.npy", mask)
        rows.append((pid, f"images/{pid}.npy", f"images/{pid}_mask.npy"))
        patients.append(
            (pid, float(rng.uniform(1, 30)), int(rng.integers(0, 2)), float(rng.normal(65, 8)))
        )
    patients.append(("noimg", 12.0, 1, 70.0))  # a patient without imaging
    pd.DataFrame(patients, columns=["patient_id", "time", "event", "age"]).to_csv(
        root / "patients.csv", index=False
    )
    pd.DataFrame(rows, columns=["patient_id", "path", "mask_path"]).to_csv(
        root / "imaging.csv", index=False
    )
    (root / "cohort.yaml").write_text(
        "name: spheres\ntime_unit: months\nclinical:\n  continuous: [age]\nimaging: volume\n"
    )
    return root


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Cohort:
    return load_cohort(write_spheres(tmp_path_factory.mktemp("spheres") / "cohort"))


@pytest.fixture(scope="module")
def parts(cohort) -> dict[str, Cohort]:
    ids = [f"s{i:02d}" for i in range(N_PATIENTS)]
    return {
        "train": cohort.subset(ids[:14]),
        "val": cohort.subset(ids[14:19]),
        "test": cohort.subset(ids[19:]),
    }


@pytest.fixture(scope="module")
def fitted(parts, tmp_path_factory) -> tuple[FittedSegmenter, Path]:
    work = tmp_path_factory.mktemp("seg") / "run"
    return train_segmenter(parts["train"], parts["val"], SegmentationConfig(**CONFIG), work), work


# ---------------------------------------------------------------------- input and config
def test_network_input_is_what_patient_dataset_serves(cohort):
    prep = TabularPreprocessor().fit(cohort)
    ds = PatientDataset(cohort, prep, image_shape=(16, 16, 16), modalities=["imaging"])
    for pid in ("s00", "s05"):  # a 16^3 volume and a 12 x 20 x 24 one
        sample = ds[ds.index_of(pid)]
        image = to_network(read_volume(cohort, f"images/{pid}.npy"), (16, 16, 16), mask=False)
        mask = to_network(np.load(cohort.root / f"images/{pid}_mask.npy"), (16, 16, 16), mask=True)
        np.testing.assert_allclose(image, sample["imaging"][0].numpy(), atol=1e-6)
        np.testing.assert_array_equal(mask, sample["imaging_seg"][0].numpy())
        assert bool(sample["has_seg"])


def test_config_rejects_inconsistent_settings():
    with pytest.raises(ValueError, match="strides must be 2 positive integers"):
        SegmentationConfig(channels=(8, 16, 32), strides=(2,))
    with pytest.raises(ValueError, match="multiple of 4"):
        SegmentationConfig(image_shape=(16, 18, 16), channels=(8, 16, 32), strides=(2, 2))
    with pytest.raises(ValueError, match="Did you mean 'dice'"):
        SegmentationConfig(loss="dise")
    with pytest.raises(ValueError, match="extra"):
        SegmentationConfig(epoch=3)


def test_dice_per_case_against_hand_count():
    a = torch.zeros(3, 1, 4, 4, 4)
    b = torch.zeros(3, 1, 4, 4, 4)
    a[0, 0, :2] = 1  # 32 voxels
    b[0, 0, 1:3] = 1  # 32 voxels, 16 shared: 2 * 16 / 64
    b[1, 0, 0, 0, 0] = 1  # empty prediction, non-empty truth: 0
    # case 2: both empty: 1 (no NaN)
    np.testing.assert_allclose(dice_per_case(a, b), [0.5, 0.0, 1.0])


# ---------------------------------------------------------------------- training
def test_segmenter_learns_spheres(fitted, parts):
    seg, _ = fitted
    table = seg.dice(parts["test"])
    assert list(table["patient_id"]) == ["s19", "s20", "s21", "s22", "s23", "mean"]
    mean = float(table.loc[table["patient_id"] == "mean", "dice"].iloc[0])
    assert mean > 0.7
    assert mean == pytest.approx(table["dice"].iloc[:-1].mean())
    # Dice recomputed by hand from the masks at the original resolution
    masks = seg.predict_masks(parts["test"])
    for pid, dice in zip(table["patient_id"].iloc[:-1], table["dice"].iloc[:-1], strict=True):
        true = np.load(parts["test"].root / f"images/{pid}_mask.npy") > 0
        pred = masks[pid] > 0
        assert dice == pytest.approx(2 * (true & pred).sum() / (true.sum() + pred.sum()))
    info = seg.info
    assert info["n_train"] == 14 and info["n_val"] == 5
    val = [h["val_dice"] for h in seg.history]
    assert info["best_val_dice"] == pytest.approx(max(val))
    assert seg.history[info["best_epoch"] - 1]["val_dice"] == pytest.approx(max(val))
    assert seg.history[-1]["train_loss"] < seg.history[0]["train_loss"]


def test_masks_are_binary_at_original_resolution(fitted, cohort):
    seg, _ = fitted
    masks = seg.predict_masks(cohort.subset(["s05", "s06", "noimg"]))
    assert set(masks) == {"s05", "s06"}  # no image, no mask
    assert masks["s05"].shape == ODD_SHAPE and masks["s06"].shape == (16, 16, 16)
    for m in masks.values():
        assert m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1}
    true = np.load(cohort.root / "images/s05_mask.npy") > 0
    assert 2 * (true & (masks["s05"] > 0)).sum() / (true.sum() + masks["s05"].sum()) > 0.6


def test_training_is_seeded(parts):
    config = SegmentationConfig(**{**CONFIG, "epochs": 2})
    small = parts["train"].subset(["s00", "s01", "s02", "s03"])
    a = train_segmenter(small, parts["val"], config).network.state_dict()
    b = train_segmenter(small, parts["val"], config).network.state_dict()
    c = train_segmenter(
        small, parts["val"], config.model_copy(update={"seed": 8})
    ).network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_early_stopping_keeps_the_best_epoch(parts):
    config = SegmentationConfig(**{**CONFIG, "epochs": 6, "patience": 1, "min_delta": 1.0})
    seg = train_segmenter(parts["train"].subset(["s00", "s01"]), parts["val"], config)
    assert seg.info["epochs_run"] == 2 and seg.info["best_epoch"] == 1  # no gain of 1.0 possible
    assert seg.info["best_val_dice"] == pytest.approx(seg.history[0]["val_dice"])


def test_training_without_masks_or_validation(cohort, parts):
    no_masks = cohort.subset(["s00", "s01"])
    no_masks.imaging = no_masks.imaging.drop(columns="mask_path")
    with pytest.raises(CohortError, match="no training patient has a tumour mask"):
        train_segmenter(no_masks, None, SegmentationConfig(**CONFIG))
    with pytest.warns(UserWarning, match="no early stopping"):
        seg = train_segmenter(
            parts["train"].subset(["s00", "s01"]),
            None,
            SegmentationConfig(**{**CONFIG, "epochs": 2}),
        )
    assert seg.info["best_epoch"] == 2 and seg.info["best_val_dice"] is None
    with pytest.raises(CohortError, match="no patient has a ground-truth mask"):
        seg.dice(no_masks)


# ---------------------------------------------------------------------- persistence
def test_save_load_round_trip(fitted, cohort, tmp_path):
    seg, work = fitted
    assert {p.name for p in work.iterdir()} == {
        "run.json",
        "config.json",
        "history.json",
        "weights.pt",
        "checksums.json",
    }
    loaded = FittedSegmenter.load(work)
    assert loaded.config == seg.config and loaded.history == seg.history
    assert loaded.info["best_epoch"] == seg.info["best_epoch"]
    before, after = seg.predict_proba(cohort), loaded.predict_proba(cohort)
    assert set(before) == set(after)
    for pid in before:
        np.testing.assert_array_equal(before[pid], after[pid])
    # weights only, no pickle; tampering is caught
    state = torch.load(work / "weights.pt", weights_only=True)
    assert set(state) == set(seg.network.state_dict())
    copy = tmp_path / "copy"
    seg.save(copy)
    with pytest.raises(OncofusionError, match="not empty"):
        seg.save(copy)
    (copy / "weights.pt").write_bytes((copy / "weights.pt").read_bytes()[:-8])
    with pytest.raises(ModelLoadError, match="checksum"):
        FittedSegmenter.load(copy)


# ---------------------------------------------------------------------- ROI
def _ellipsoid(shape, centre, radii) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    return (
        sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii, strict=True)) <= 1
    ).astype(np.uint8)


def test_roi_contains_the_whole_mask_at_the_requested_shape():
    rng = np.random.default_rng(3)
    mask = _ellipsoid((30, 40, 50), (10, 22, 30), (3, 5, 8))
    image = (-800 + 900.0 * mask + rng.normal(0, 20, mask.shape)).astype(np.float32)
    roi = extract_roi(image, mask, margin=4, out_shape=(12, 16, 20))
    assert roi.image.shape == (12, 16, 20) and roi.mask.shape == (12, 16, 20)
    assert roi.image.dtype == np.float32 and roi.mask.dtype == np.uint8 and not roi.empty_mask
    (z0, z1), (y0, y1), (x0, x1) = roi.box
    assert mask[max(z0, 0) : z1, max(y0, 0) : y1, max(x0, 0) : x1].sum() == mask.sum()
    idx = np.argwhere(mask)
    assert np.all(np.array([z0, y0, x0]) <= idx.min(0) - 4)
    assert np.all(np.array([z1, y1, x1]) >= idx.max(0) + 1 + 4)
    extents = np.array([z1 - z0, y1 - y0, x1 - x0])  # aspect of out_shape (isotropic voxels)
    np.testing.assert_allclose(extents / np.array([12, 16, 20]), extents[2] / 20, atol=0.1)
    assert roi.background == pytest.approx(image.min())
    assert roi.mask.mean() == pytest.approx(
        mask.sum() / extents.prod(), abs=0.01
    )  # same tumour share
    # outside the dilated tumour everything is background; the tumour stays bright
    assert roi.image[0, 0, 0] == pytest.approx(roi.background, abs=1.0)
    assert roi.image[roi.mask > 0].mean() > 0
    unmasked = extract_roi(image, mask, margin=4, out_shape=(12, 16, 20), mask_outside=False)
    assert unmasked.image[0, 0, 0] == pytest.approx(-800, abs=30)  # the lung-like value, kept
    np.testing.assert_array_equal(unmasked.mask, roi.mask)


def test_mask_outside_keeps_a_shell_of_dilation_voxels():
    image = np.arange(21**3, dtype=np.float32).reshape(21, 21, 21)
    mask = np.zeros(image.shape, np.uint8)
    mask[10, 10, 10] = 1
    roi = extract_roi(
        image, mask, margin=4, dilation=2, out_shape=(9, 9, 9), keep_aspect=False, background=-1.0
    )
    assert roi.box == ((6, 15), (6, 15), (6, 15))  # the crop needs no resize: values compare 1:1
    assert roi.image[4, 4, 6] == image[10, 10, 12] and roi.image[5, 5, 5] == image[11, 11, 11]
    assert roi.image[4, 4, 7] == -1.0 and roi.image[6, 5, 4] == -1.0  # distances 3 and sqrt(5)
    assert (roi.image != -1.0).sum() == 33  # voxels within distance 2 of the centre
    assert roi.mask.sum() == 1 and roi.mask[4, 4, 4] == 1


def test_roi_box_past_the_image_is_padded_and_spacing_sets_the_aspect():
    mask = _ellipsoid((10, 20, 20), (1, 1, 18), (1, 1, 1))  # touches three borders
    image = np.where(mask > 0, 100.0, -500.0).astype(np.float32)
    roi = extract_roi(image, mask, margin=6, out_shape=(8, 8, 8), background=-1000.0)
    assert roi.image.shape == (8, 8, 8) and roi.image.min() == pytest.approx(-1000.0)
    assert roi.box[0][0] < 0 and roi.box[2][1] > 20 and roi.mask.sum() > 0
    box, empty = roi_box(mask, margin=0, out_shape=(8, 8, 8), spacing=(4.0, 1.0, 1.0))
    ext_mm = np.array([b - a for a, b in box]) * np.array([4.0, 1.0, 1.0])
    assert not empty and ext_mm[1] == ext_mm[2] and abs(ext_mm[0] - ext_mm[1]) <= 4.0


def test_empty_mask_falls_back_to_a_flagged_centred_crop():
    image = np.random.default_rng(0).normal(size=(20, 24, 28)).astype(np.float32)
    with pytest.warns(EmptyMaskWarning, match="empty"):
        roi = extract_roi(image, np.zeros(image.shape, np.uint8), out_shape=(8, 8, 8))
    assert roi.empty_mask and roi.image.shape == (8, 8, 8) and roi.mask.sum() == 0
    centre = [(a + b) / 2 for a, b in roi.box]
    np.testing.assert_allclose(centre, [10, 12, 14], atol=1)
    assert np.isfinite(roi.image).all() and roi.image.std() > 0  # nothing masked away
    with pytest.raises(OncofusionError, match="same shape"):
        extract_roi(image, np.zeros((2, 2, 2)))


def test_roi_cohort_loads(cohort, fitted, tmp_path):
    seg, _ = fitted
    part = cohort.subset(["s00", "s05", "s10", "noimg"])
    masks = {
        "s00": np.load(cohort.root / "images/s00_mask.npy"),
        "s05": np.zeros(ODD_SHAPE, np.uint8),
    }
    with pytest.warns(EmptyMaskWarning, match=r"2 patient\(s\).*s05, s10"):
        out = roi_cohort(part, masks, tmp_path / "roi", out_shape=(8, 8, 8))  # s10 has none
    roi = load_cohort(out)
    assert sorted(roi.patient_ids) == ["noimg", "s00", "s05", "s10"]
    pd.testing.assert_frame_equal(roi.patients, part.patients)
    table = roi.imaging.set_index("patient_id")
    assert pd.isna(table.loc["s05", "mask_path"]) and pd.isna(table.loc["s10", "mask_path"])
    assert np.load(out / table.loc["s00", "path"]).shape == (8, 8, 8)
    manifest = json.loads((out / "roi.json").read_text())
    assert (
        manifest["fallback"] == ["s05", "s10"]
        and manifest["patients"]["s00"]["empty_mask"] is False
    )
    ds = PatientDataset(roi, TabularPreprocessor().fit(roi), image_shape=(8, 8, 8))
    assert bool(ds[ds.index_of("s00")]["has_seg"]) and not bool(ds[ds.index_of("s05")]["has_seg"])
    # masks from the segmenter and from the cohort itself
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyMaskWarning)
        from_seg = load_cohort(roi_cohort(part, seg, tmp_path / "roi_seg", out_shape=(8, 8, 8)))
        from_gt = load_cohort(roi_cohort(part, "cohort", tmp_path / "roi_gt", out_shape=(8, 8, 8)))
    assert (
        from_seg.imaging["mask_path"].notna().all() and from_gt.imaging["mask_path"].notna().all()
    )
    assert (
        json.loads((tmp_path / "roi_seg" / "roi.json").read_text())["settings"]["mask_source"]
        == "segmenter"
    )


def test_roi_cohort_bad_input_writes_nothing(cohort, tmp_path):
    part = cohort.subset(["s00", "s01"])
    with pytest.raises(CohortError, match=r"row\(s\) s01.*shape"):
        roi_cohort(part, {"s01": np.ones((3, 3, 3))}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(UnknownOptionError, match="Did you mean 'cohort'"):
        roi_cohort(part, "cohrt", tmp_path / "bad")
    with pytest.raises(OncofusionError, match="FittedSegmenter"):
        roi_cohort(part, 3, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
