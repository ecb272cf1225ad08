"""Chunked batch scoring (``oncofusion.models.batch``): same numbers as one big prediction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import TINY
from oncofusion.data import load_cohort
from oncofusion.errors import OncofusionError
from oncofusion.models.batch import iter_chunks, predict_to_file


@pytest.fixture(scope="module")
def tiny() -> Any:
    cohort = load_cohort(TINY, check_images=False)
    # shuffle the patients so the chunk order differs from the side tables' (sorted) order
    order = np.random.default_rng(3).permutation(len(cohort))
    cohort.patients = cohort.patients.iloc[order].reset_index(drop=True)
    return cohort


@pytest.mark.parametrize("size", [1, 5, 100])
def test_chunks_equal_subsets(tiny: Any, size: int) -> None:
    ids = tiny.patient_ids
    chunks = list(iter_chunks(tiny, size))
    assert len(chunks) == -(-len(ids) // size)
    for i, chunk in enumerate(chunks):
        expected = tiny.subset(ids[i * size:(i + 1) * size])
        assert chunk.patient_ids == ids[i * size:(i + 1) * size]
        for name in ("biomarkers", "genomics", "imaging"):
            got, want = getattr(chunk, name), getattr(expected, name)
            key = ["patient_id", *(["time"] if name == "biomarkers" else ["path"] if name == "imaging" else [])]
            pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                          want.sort_values(key).reset_index(drop=True))
            # within a patient, rows keep their order (visits by time)
            for pid, rows in got.groupby("patient_id"):
                assert rows.index.tolist() == sorted(rows.index.tolist())
                pd.testing.assert_frame_equal(rows.reset_index(drop=True),
                                              want[want.patient_id == pid].reset_index(drop=True))


@pytest.mark.parametrize(("size", "suffix"), [(1, ".parquet"), (5, ".csv"), (1000, ".parquet")])
def test_predict_to_file_matches_one_prediction(scorer: Any, tiny: Any, tmp_path: Path, size: int, suffix: str) -> None:
    model = scorer.model
    out = tmp_path / f"pred{suffix}"
    assert predict_to_file(model, tiny, out, chunk_size=size) == len(tiny)
    got = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype={"patient_id": str})
    want = model.predict(tiny).to_frame()
    assert got["patient_id"].tolist() == tiny.patient_ids
    np.testing.assert_allclose(got.drop(columns="patient_id").to_numpy(float),
                               want.drop(columns="patient_id").to_numpy(float), rtol=1e-5, atol=1e-7)


def test_predict_to_file_errors(scorer: Any, tiny: Any, tmp_path: Path) -> None:
    with pytest.raises(OncofusionError, match=r"\.parquet or \.csv"):
        predict_to_file(scorer.model, tiny, tmp_path / "p.xlsx")
    with pytest.raises(OncofusionError, match="chunk_size"):
        predict_to_file(scorer.model, tiny, tmp_path / "p.csv", chunk_size=0)
    assert not (tmp_path / "p.csv").exists()
