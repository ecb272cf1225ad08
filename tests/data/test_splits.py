"""Patient-level splits: exact sizes, disjoint and complete parts, determinism, stratification."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofusion.data.splits import kfold_patients, split_patients, stratum_labels
from oncofusion.errors import CohortError, ConfigError, UnknownOptionError


@pytest.fixture
def patients() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 300
    stage = rng.choice(["I", "II", "III", "IV"], n, p=[0.2, 0.3, 0.35, 0.15])
    event = (rng.random(n) < np.where(stage == "IV", 0.6, 0.25)).astype(int)
    table = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "event": event,
            "stage": stage,
            "emvi": rng.integers(0, 2, n),
            "age": rng.normal(62, 9, n).round(1),
        }
    )
    table.loc[5, "stage"] = "0"  # a singleton stratum: train_test_split would fail here
    table.loc[9, "emvi"] = np.nan
    return table


STRATIFY = ("event", "stage", "emvi")


def test_exact_counts_disjoint_and_complete(patients):
    parts = split_patients(patients, sizes=(180, 60, 60), stratify=STRATIFY, seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [180, 60, 60]
    sets = [set(parts[k]) for k in ("train", "val", "test")]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert set.union(*sets) == set(patients["patient_id"])


def test_fractions_use_largest_remainder(patients):
    parts = split_patients(patients.iloc[:101], sizes=(0.6, 0.2, 0.2), seed=3)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [61, 20, 20]
    two = split_patients(patients, sizes=(0.75, 0.25), seed=3)
    assert (len(two["train"]), len(two["val"]), len(two["test"])) == (225, 0, 75)


def test_deterministic_from_seed_and_independent_of_row_order(patients):
    a = split_patients(patients, sizes=(180, 60, 60), stratify=STRATIFY, seed=11)
    b = split_patients(
        patients.sample(frac=1.0, random_state=1), sizes=(180, 60, 60), stratify=STRATIFY, seed=11
    )
    assert a == b
    c = split_patients(patients, sizes=(180, 60, 60), stratify=STRATIFY, seed=12)
    assert a["test"] != c["test"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stratification_is_preserved(patients, seed):
    parts = split_patients(patients, sizes=(180, 60, 60), stratify=STRATIFY, seed=seed)
    by_id = patients.set_index("patient_id")
    n = len(by_id)
    for name, ids in parts.items():
        sub, share = by_id.loc[ids], len(ids) / n
        # strata sharing their leading columns are dealt as one block: every part holds its
        # share of events, and of each stage, to within one patient
        assert abs(sub["event"].sum() - share * by_id["event"].sum()) <= 1.0, name
        for stage in ("I", "II", "III", "IV"):
            expected = share * (by_id["stage"] == stage).sum()
            assert abs((sub["stage"] == stage).sum() - expected) <= 1.0 + 1e-9, (name, stage)
    # an unstratified split drifts much further on some seed
    drift = []
    for s in range(20):
        plain = split_patients(patients, sizes=(180, 60, 60), stratify=(), seed=s)
        drift.append(abs(by_id.loc[plain["test"], "event"].sum() - 0.2 * by_id["event"].sum()))
    assert max(drift) > 3


def test_rare_strata_are_merged_into_their_parent(patients):
    labels = stratum_labels(patients, STRATIFY, min_stratum=3)
    values, counts = np.unique(labels, return_counts=True)
    assert counts.min() >= 3 or "(pooled rare strata)" in values
    assert labels[5].count("|") < 2  # stage "0" occurs once: merged to (event,) or pooled
    common = labels[(patients["stage"] == "III").to_numpy() & (patients["emvi"] == 1).to_numpy()]
    assert all(lab.count("|") == 2 for lab in common)  # common strata keep every column
    age = stratum_labels(patients, ("age",))
    assert set(age) == {"q0", "q1", "q2", "q3"}  # a continuous column is cut into quartiles


def test_argument_errors(patients):
    with pytest.raises(ConfigError, match="add up to 290"):
        split_patients(patients, sizes=(180, 60, 50))
    with pytest.raises(ConfigError, match="add up to 1"):
        split_patients(patients, sizes=(0.6, 0.3, 0.2))
    with pytest.raises(UnknownOptionError, match="stage"):
        split_patients(patients, stratify=("event", "stgae"))
    dup = pd.concat([patients, patients.iloc[:1]])
    with pytest.raises(CohortError, match="unique") as info:
        split_patients(dup)
    assert info.value.rows == ["P000"]
    with pytest.raises(ConfigError, match="k must"):
        next(kfold_patients(patients, k=1))


def test_kfold_every_patient_tested_once_per_repeat(patients):
    folds = list(kfold_patients(patients, k=5, stratify=STRATIFY, seed=0, repeats=2))
    assert len(folds) == 10
    everyone = set(patients["patient_id"])
    overall_event = patients["event"].mean()
    by_id = patients.set_index("patient_id")
    for r in range(2):
        tested: list[str] = []
        for train, test in folds[5 * r : 5 * r + 5]:
            assert not set(train) & set(test) and set(train) | set(test) == everyone
            assert len(test) == 60
            assert abs(by_id.loc[test, "event"].sum() - overall_event * 60) <= 1.0
            tested += test
        assert sorted(tested) == sorted(everyone)
    assert folds[0][1] != folds[5][1]  # repeats reshuffle
    again = list(kfold_patients(patients, k=5, stratify=STRATIFY, seed=0, repeats=2))
    assert folds == again
    sizes = [len(test) for _, test in kfold_patients(patients.iloc[:103], k=5)]
    assert sorted(sizes) == [20, 20, 21, 21, 21]
