"""PatientDataset and collate_patients against the sample/batch contract of docs/internals.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

import oncofusion.data.dataset as dataset_module
from oncofusion.data.cohort import Cohort
from oncofusion.data.collate import collate_patients
from oncofusion.data.dataset import MODALITIES, PatientDataset, _phase_order
from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.data.schema import CohortSchema
from oncofusion.errors import ConfigError, UnknownOptionError

SHAPE = (6, 8, 8)


@pytest.fixture
def cohort(tmp_path) -> Cohort:
    """p1: two CEUS phases (+ a mask on one), 3 visits, genomics; p2: phases, 1 visit;
    p3: a colour clip, a visit with nothing measured; p4-p6: tabular only."""
    img = tmp_path / "img"
    img.mkdir()
    ramp_w = np.broadcast_to(np.arange(12, dtype=float), (4, 10, 12))  # varies along W
    ramp_h = np.broadcast_to(np.arange(10, dtype=float)[:, None], (5, 10, 12))  # varies along H
    # file names sort against the phase order, so ordering by path would be caught
    np.save(img / "p1_z_art.npy", ramp_w)
    np.save(img / "p1_a_por.npy", ramp_h)
    mask = np.zeros((4, 10, 12))
    mask[:, 2:6, 3:9] = 1
    np.save(img / "p1_art_mask.npy", mask)
    np.save(img / "p2_z_art.npy", ramp_h[:3])
    np.save(img / "p2_a_por.npy", ramp_w[:2])
    rgb = np.random.default_rng(0).integers(0, 255, (7, 9, 11, 3)).astype(np.uint8)
    np.savez(img / "p3.npz", image=rgb)
    schema = CohortSchema(
        name="ds",
        time_unit="months",
        clinical={"continuous": ["age"], "categorical": ["sex"]},
        biomarkers=["ezh2", "cd10"],
        genomics=["egfr", "kras"],
        arms=["sbrt", "surgery"],
        imaging="video",
    )
    ids = ["p1", "p2", "p3", "p4", "p5", "p6"]
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "time": [5.0, 7.0, 3.0, 12.0, 9.0, 4.0],
            "event": [1, 0, 1, 0, 0, 1],
            "arm": ["sbrt", "surgery", None, "sbrt", "surgery", "sbrt"],
            "lc_time": [4.0, np.nan, 3.0, 12.0, 9.0, 4.0],
            "lc_event": [1, np.nan, 0, 0, 0, 1],
            "age": [61.0, 55.0, np.nan, 70.0, 48.0, 66.0],
            "sex": ["F", "M", "F", "M", None, "F"],
        }
    )
    biomarkers = pd.DataFrame(
        {
            "patient_id": ["p1", "p1", "p2", "p1", "p3"],
            "time": [6.0, 0.0, 0.0, 3.0, 0.0],  # p1's visits out of order on purpose
            "ezh2": [3.0, 1.0, 2.0, np.nan, np.nan],
            "cd10": [0.5, np.nan, 1.0, 0.7, np.nan],
        }
    )
    genomics = pd.DataFrame({"patient_id": ["p1", "p4"], "egfr": [1.0, 3.0], "kras": [0.0, 1.0]})
    imaging = pd.DataFrame(
        {
            "patient_id": ["p2", "p2", "p1", "p1", "p3"],
            "path": [
                "img/p2_z_art.npy",
                "img/p2_a_por.npy",
                "img/p1_a_por.npy",
                "img/p1_z_art.npy",
                "img/p3.npz",
            ],
            "phase": ["arterial", "portal", "portal", "arterial", None],
            "mask_path": [None, None, None, "img/p1_art_mask.npy", None],
        }
    )
    return Cohort(tmp_path, schema, patients, biomarkers, genomics, None, imaging)


@pytest.fixture
def prep(cohort) -> TabularPreprocessor:
    return TabularPreprocessor().fit(cohort, patient_ids=["p1", "p2", "p3", "p4"])


def test_sample_keys_shapes_and_dtypes(cohort, prep):
    ds = PatientDataset(cohort, prep, image_shape=SHAPE)
    assert len(ds) == 6 and ds.dims == {
        "clinical": 3,
        "biomarkers": 2,
        "genomics": 2,
        "imaging": (1, *SHAPE),
    }
    s = ds[0]
    assert s["patient_id"] == "p1"
    expected = {
        "clinical": ((3,), torch.float32),
        "clinical_missing": ((3,), torch.bool),
        "biomarkers": ((3, 2), torch.float32),
        "biomarker_times": ((3,), torch.float32),
        "biomarker_observed": ((3, 2), torch.bool),
        "genomics": ((2,), torch.float32),
        "imaging": ((1, *SHAPE), torch.float32),
        "imaging_seg": ((1, *SHAPE), torch.float32),
        "has_seg": ((), torch.bool),
        "time": ((), torch.float32),
        "event": ((), torch.float32),
        "arm": ((), torch.int64),
        "lc_time": ((), torch.float32),
        "lc_event": ((), torch.float32),
        "has_lc": ((), torch.bool),
    }
    for key, (shape, dtype) in expected.items():
        assert tuple(s[key].shape) == shape and s[key].dtype == dtype, key
    assert set(s["modality_mask"]) == set(MODALITIES)
    assert all(v.dtype == torch.bool and v.shape == () for v in s["modality_mask"].values())
    assert all(bool(v) for v in s["modality_mask"].values())
    assert s["biomarker_times"].tolist() == [0.0, 3.0, 6.0]  # sorted
    assert s["biomarker_observed"].tolist() == [[True, False], [False, True], [True, True]]
    assert s["arm"].item() == 0 and ds[1]["arm"].item() == 1 and ds[2]["arm"].item() == -1
    assert s["event"].item() == 1.0 and s["time"].item() == 5.0
    assert ds[1]["has_lc"].item() is False and np.isnan(ds[1]["lc_time"].item())
    assert ds[0]["has_lc"].item() is True and ds[0]["lc_event"].item() == 1.0


def test_missing_modalities_are_mask_bits_with_placeholders(cohort, prep):
    ds = PatientDataset(cohort, prep, image_shape=SHAPE)
    s3, s4 = ds[2], ds[3]
    # p3: its only visit measured nothing -> no biomarkers; no genomics
    assert not s3["modality_mask"]["biomarkers"] and s3["biomarkers"].shape == (0, 2)
    assert not s3["modality_mask"]["genomics"] and torch.equal(s3["genomics"], torch.zeros(2))
    assert s3["modality_mask"]["imaging"]
    assert not s4["modality_mask"]["imaging"] and torch.equal(s4["imaging"], torch.zeros(1, *SHAPE))
    assert not s4["has_seg"] and torch.equal(s4["imaging_seg"], torch.zeros(1, *SHAPE))
    assert s4["modality_mask"]["genomics"]
    # p3's age and p5's sex are imputed and flagged, the modality is still present
    assert s3["clinical_missing"].tolist() == [True, False, False]
    assert ds[4]["clinical_missing"].tolist() == [False, True, True]
    assert ds[4]["modality_mask"]["clinical"]


def test_modalities_argument_serves_the_rest_as_missing(cohort, prep):
    ds = PatientDataset(cohort, prep, image_shape=SHAPE, modalities=["clinical", "genomics"])
    s = ds[0]
    assert s["modality_mask"]["clinical"] and s["modality_mask"]["genomics"]
    assert not s["modality_mask"]["biomarkers"] and not s["modality_mask"]["imaging"]
    assert s["clinical_missing"].sum() == 0
    no_clin = PatientDataset(cohort, prep, modalities=["biomarkers"])[0]
    assert not no_clin["modality_mask"]["clinical"] and no_clin["clinical_missing"].all()
    assert torch.equal(no_clin["clinical"], torch.zeros(3))
    assert no_clin["imaging"].shape == (1, 1, 1, 1)  # image_shape=None: imaging left out
    with pytest.raises(UnknownOptionError, match="genomics"):
        PatientDataset(cohort, prep, modalities=["genomic"])
    with pytest.raises(ConfigError, match="image_shape"):
        PatientDataset(cohort, prep, modalities=["imaging"])
    with pytest.raises(ConfigError, match="three positive"):
        PatientDataset(cohort, prep, image_shape=(6, 8))


def test_phases_ordered_concatenated_and_resampled(cohort, prep):
    ds = PatientDataset(cohort, prep, image_shape=SHAPE)
    image = ds[0]["imaging"][0]  # p1: arterial (4 frames, ramp along W) then portal (5, along H)
    assert 0.0 <= image.min() and image.max() <= 1.0  # per-image normalisation to [0, 1]
    first, last = image[0], image[-1]
    assert torch.allclose(first, first[:1].expand_as(first)) and first[0, -1] > first[0, 0] + 0.5
    assert torch.allclose(last, last[:, :1].expand_as(last)) and last[-1, 0] > last[0, 0] + 0.5
    # p2's rows are in the same text phase order (arterial first: its ramp is along H)
    p2 = ds[1]["imaging"][0]
    assert torch.allclose(p2[0], p2[0][:, :1].expand_as(p2[0]))
    # the mask follows its image's frames and is zero on the portal frames (no mask there)
    seg = ds[0]["imaging_seg"][0]
    assert set(seg.unique().tolist()) <= {0.0, 1.0}
    assert seg[0].sum() > 0 and seg[-1].sum() == 0
    assert ds[0]["has_seg"].item() is True
    colour = ds[2]["imaging"]  # RGB clip -> luminance, one channel
    assert colour.shape == (1, *SHAPE) and colour.std() > 0


def test_numeric_phases_sort_numerically_and_text_phases_by_first_appearance():
    rows = pd.DataFrame({"path": ["a", "b", "c"], "phase": ["10", 9, 1]})  # not by path or text
    assert _phase_order(rows, rows["phase"])["path"].tolist() == ["c", "b", "a"]
    rows = pd.DataFrame(
        {"path": ["c", "b", "a", "d"], "phase": ["late", "portal", "arterial", None]}
    )
    table = pd.Series(["arterial", "portal", "late"])  # as first written in imaging.csv
    assert _phase_order(rows, table)["path"].tolist() == ["a", "b", "c", "d"]
    assert _phase_order(rows, None)["path"].tolist() == ["a", "b", "c", "d"]


def test_max_visit_time_truncates_visits(cohort, prep):
    full = PatientDataset(cohort, prep)[0]
    early = PatientDataset(cohort, prep, max_visit_time=3.0)[0]
    assert early["biomarker_times"].tolist() == [0.0, 3.0]
    assert torch.equal(early["biomarkers"], full["biomarkers"][:2])
    none = PatientDataset(cohort, prep, max_visit_time=-1.0)[0]
    assert none["biomarkers"].shape == (0, 2) and not none["modality_mask"]["biomarkers"]


def test_lru_cache_reads_each_file_once(cohort, prep, monkeypatch):
    reads: list[str] = []
    real = dataset_module.read_image

    def counting(path, **kw):
        reads.append(str(path))
        return real(path, **kw)

    monkeypatch.setattr(dataset_module, "read_image", counting)
    ds = PatientDataset(cohort, prep, image_shape=SHAPE)
    a = ds[0]["imaging"]
    assert len(reads) == 3  # two phases and one mask
    b = ds[0]["imaging"]
    assert len(reads) == 3 and torch.equal(a, b)
    assert ds.cache_info() == {"hits": 3, "misses": 3, "size": 3, "maxsize": 128}
    b.add_(1.0)  # a caller mutating its tensor cannot corrupt the cache
    assert torch.equal(ds[0]["imaging"], a)
    small = PatientDataset(cohort, prep, image_shape=SHAPE, cache_size=1)
    reads.clear()
    small[0], small[0]
    assert len(reads) == 6 and small.cache_info()["size"] == 1  # evicted: read again
    off = PatientDataset(cohort, prep, image_shape=SHAPE, cache_size=0)
    reads.clear()
    off[2], off[2]
    assert len(reads) == 2 and off.cache_info()["size"] == 0


def test_samples_are_deterministic(cohort, prep):
    a = PatientDataset(cohort, prep, image_shape=SHAPE)
    b = PatientDataset(cohort, prep, image_shape=SHAPE)
    for i in range(len(a)):
        sa, sb = a[i], b[i]
        for key, value in sa.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, sb[key]) or (
                    value.isnan().all() and sb[key].isnan().all()
                ), key


def test_collate_pads_and_stacks(cohort, prep):
    ds = PatientDataset(cohort, prep, image_shape=SHAPE)
    batch = collate_patients([ds[i] for i in range(6)])
    assert batch["patient_id"] == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert batch["biomarkers"].shape == (6, 3, 2)
    assert batch["biomarker_times"].shape == (6, 3) and batch["biomarker_observed"].shape == (
        6,
        3,
        2,
    )
    assert batch["biomarker_valid"].sum(dim=1).tolist() == [3, 1, 0, 0, 0, 0]
    assert batch["biomarker_valid"].dtype == torch.bool
    assert torch.equal(batch["biomarkers"][0], ds[0]["biomarkers"])
    assert (
        torch.all(batch["biomarkers"][1, 1:] == 0) and not batch["biomarker_observed"][1, 1:].any()
    )
    assert batch["clinical"].shape == (6, 3) and batch["genomics"].shape == (6, 2)
    assert batch["imaging"].shape == (6, 1, *SHAPE) and batch["imaging_seg"].shape == (6, 1, *SHAPE)
    assert batch["has_seg"].tolist() == [True, False, False, False, False, False]
    assert batch["time"].shape == (6,) and batch["arm"].dtype == torch.int64
    assert set(batch["modality_mask"]) == set(MODALITIES)
    assert batch["modality_mask"]["imaging"].tolist() == [True, True, True, False, False, False]
    assert batch["modality_mask"]["biomarkers"].shape == (6,)


def test_batch_without_any_visit_keeps_one_padded_step(cohort, prep):
    ds = PatientDataset(cohort, prep)
    batch = collate_patients([ds[3], ds[4], ds[5]])
    assert batch["biomarkers"].shape == (3, 1, 2)
    assert batch["biomarker_times"].shape == (3, 1)
    assert not batch["biomarker_valid"].any() and not batch["modality_mask"]["biomarkers"].any()
    assert "imaging_seg" not in batch  # image_shape=None: no imaging served


def test_dataloader_with_collate(cohort, prep):
    ds = PatientDataset(cohort, prep, image_shape=SHAPE)
    loader = DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate_patients)
    sizes = [len(b["patient_id"]) for b in loader]
    assert sizes == [4, 2]
    with pytest.raises(ValueError):
        collate_patients([])
