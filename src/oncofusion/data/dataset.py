"""``PatientDataset``: one keyed sample per patient, as in ``docs/internals.md``.

Tabular modalities are preprocessed once, at construction, with a fitted
:class:`~oncofusion.data.preprocess.TabularPreprocessor`; images are read lazily with
:func:`~oncofusion.data.readers.read_image` and kept in a small LRU cache (per process: each
DataLoader worker has its own). How images become tensors is described in
:mod:`oncofusion.data.image_ops`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from oncofusion.data.cohort import Cohort
from oncofusion.data.collate import collate_patients
from oncofusion.data.image_ops import (
    normalise_intensity,
    resample_axis0,
    resize_frames,
    to_luminance,
)
from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.data.readers import read_image
from oncofusion.errors import CohortError, ConfigError
from oncofusion.registry import look_up_option

__all__ = ["MODALITIES", "PatientDataset", "collate_patients"]

#: the modality keys of every sample's ``modality_mask``
MODALITIES: tuple[str, ...] = ("clinical", "biomarkers", "genomics", "imaging")


def _phase_order(rows: pd.DataFrame, all_phases: pd.Series | None) -> pd.DataFrame:
    """Imaging rows of one patient in acquisition order.

    Numeric phases sort numerically; text phases follow the order in which each phase name
    first appears in ``imaging.csv`` (write them in temporal order: arterial, portal, late);
    ties and rows without a phase sort by path.
    """
    rows = rows.assign(_path=rows["path"].astype(str))
    if all_phases is None or "phase" not in rows:
        return rows.sort_values("_path", kind="stable")
    numeric = pd.to_numeric(all_phases, errors="coerce")
    if numeric.notna().sum() == all_phases.notna().sum():
        key = pd.to_numeric(rows["phase"], errors="coerce")
    else:
        first_seen = {p: i for i, p in enumerate(pd.unique(all_phases.dropna().astype(str)))}
        key = rows["phase"].map(lambda p: first_seen.get(str(p)) if pd.notna(p) else None)
    return rows.assign(_key=key.astype(float).fillna(np.inf)).sort_values(
        ["_key", "_path"], kind="stable"
    )


class PatientDataset(Dataset):
    """A torch ``Dataset`` of patients; ``dataset[i]`` is the sample dict of the contract.

    Parameters
    ----------
    cohort
        The patients to serve (e.g. ``cohort.subset(splits["val"])``).
    preprocessor
        A :class:`TabularPreprocessor` fitted on the *training* patients.
    image_shape
        ``(T, H, W)`` for videos (``(D, H, W)`` for volumes) that every image is resampled
        to. ``None`` leaves imaging out: its mask is False and its tensor a ``(1, 1, 1, 1)``
        placeholder.
    modalities
        The modalities to serve (default: all of ``clinical``, ``biomarkers``, ``genomics``
        and, when ``image_shape`` is given, ``imaging``). A modality left out is served as
        missing for every patient (mask False), as for ablations.
    max_visit_time
        Keep only biomarker visits with ``time <= max_visit_time`` (landmarking and dynamic
        updates: the data known at that time).
    cache_size
        How many processed images (per file) to keep in memory; 0 disables the cache.

    Notes
    -----
    Biomarker visits where no marker was measured are dropped. When the imaging table has a
    ``mask_path`` column, every sample also has ``imaging_seg`` ``(1, T, H, W)`` and a
    ``has_seg`` flag (False and zeros for patients without a mask); a mask with another
    number of frames than its image is resampled (nearest) to the image's frames.
    """

    def __init__(
        self,
        cohort: Cohort,
        preprocessor: TabularPreprocessor,
        *,
        image_shape: tuple[int, int, int] | None = None,
        modalities: Sequence[str] | None = None,
        max_visit_time: float | None = None,
        cache_size: int = 128,
    ) -> None:
        self.cohort = cohort
        self.preprocessor = preprocessor
        self.image_shape = self._check_shape(image_shape)
        self.modalities = self._check_modalities(modalities)
        self.max_visit_time = None if max_visit_time is None else float(max_visit_time)
        if int(cache_size) < 0:
            raise ConfigError(f"cache_size must be >= 0, got {cache_size}.")
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[tuple[str, bool], np.ndarray] = OrderedDict()
        self._hits = self._misses = 0

        patients = cohort.patients
        self.patient_ids: list[str] = patients["patient_id"].astype(str).tolist()
        self._index = {pid: i for i, pid in enumerate(self.patient_ids)}
        self._clinical, self._clinical_missing = preprocessor.transform_clinical(patients)
        self._outcomes(patients)
        self._biomarkers(cohort.biomarkers)
        self._genomics(cohort.genomics)
        self._imaging(cohort.imaging)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _check_shape(shape: Sequence[int] | None) -> tuple[int, int, int] | None:
        if shape is None:
            return None
        dims = tuple(shape)
        if len(dims) != 3 or not all(isinstance(d, int | np.integer) and d > 0 for d in dims):
            raise ConfigError(
                f"image_shape must be three positive integers (T, H, W), got {shape}."
            )
        return int(dims[0]), int(dims[1]), int(dims[2])

    def _check_modalities(self, modalities: Sequence[str] | None) -> tuple[str, ...]:
        if modalities is None:
            return tuple(m for m in MODALITIES if m != "imaging" or self.image_shape is not None)
        chosen = tuple(look_up_option(m, list(MODALITIES), what="modality") for m in modalities)
        if "imaging" in chosen and self.image_shape is None:
            raise ConfigError(
                "modality 'imaging' needs image_shape=(T, H, W). Fix: pass image_shape."
            )
        return chosen

    def _outcomes(self, patients: pd.DataFrame) -> None:
        n = len(patients)
        self._time = patients["time"].to_numpy(dtype=np.float32)
        self._event = patients["event"].to_numpy(dtype=np.float32)
        arms = list(self.cohort.schema.arms)
        self._arm = np.full(n, -1, dtype=np.int64)
        if arms and "arm" in patients:
            index = {a: i for i, a in enumerate(arms)}
            values = patients["arm"]
            unknown = values.notna() & ~values.astype(str).isin(arms)
            if unknown.any():
                raise CohortError(
                    f"arm(s) {sorted(values[unknown].astype(str).unique())} are not in cohort.yaml arms.",
                    file="patients.csv",
                    column="arm",
                    rows=patients.loc[unknown, "patient_id"].astype(str).tolist(),
                    fix=f"use one of {arms} (or leave the cell empty).",
                )
            self._arm = np.array(
                [index.get(str(a), -1) if pd.notna(a) else -1 for a in values], np.int64
            )
        lc_time = (
            patients["lc_time"]
            if "lc_time" in patients
            else pd.Series(np.nan, index=patients.index)
        )
        lc_event = (
            patients["lc_event"]
            if "lc_event" in patients
            else pd.Series(np.nan, index=patients.index)
        )
        self._has_lc = (lc_time.notna() & lc_event.notna()).to_numpy()
        self._lc_time = np.where(
            self._has_lc, lc_time.to_numpy(dtype=float, na_value=np.nan), np.nan
        )
        self._lc_event = np.where(self._has_lc, lc_event.to_numpy(dtype=float, na_value=0.0), 0.0)

    def _biomarkers(self, table: pd.DataFrame | None) -> None:
        self.n_markers = len(self.preprocessor.biomarker_names)
        self._visits: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        if table is None or self.n_markers == 0:
            return
        values, observed = self.preprocessor.transform_biomarkers(table)
        keep = observed.any(axis=1)
        times = table["time"].to_numpy(dtype=np.float32)
        ids = table["patient_id"].astype(str).to_numpy()
        rows = np.flatnonzero(keep)
        if rows.size == 0:  # no visit with a measured marker (e.g. a record whose visits are all empty)
            return
        # group rows by patient in one sort (patient, then time): O(n log n), not O(n * patients)
        rows = rows[np.lexsort((times[rows], ids[rows]))]
        grouped = ids[rows]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        for a, b in zip(starts, ends):
            r = rows[a:b]
            self._visits[str(grouped[a])] = (values[r], times[r], observed[r])

    def _genomics(self, table: pd.DataFrame | None) -> None:
        self.n_genes = len(self.preprocessor.genomic_names)
        self._genes: dict[str, np.ndarray] = {}
        if table is None or self.n_genes == 0:
            return
        values = self.preprocessor.transform_genomics(table)
        for i, pid in enumerate(table["patient_id"].astype(str)):
            self._genes.setdefault(pid, values[i])

    def _imaging(self, table: pd.DataFrame | None) -> None:
        self._images: dict[str, list[tuple[str, str | None]]] = {}
        self.has_segmentation = bool(
            table is not None and "mask_path" in table and table["mask_path"].notna().any()
        )
        if table is None or self.image_shape is None:
            return
        phases = table.get("phase")
        for pid, rows in table.groupby(table["patient_id"].astype(str), sort=False):
            ordered = _phase_order(rows, phases)
            masks = (
                ordered["mask_path"]
                if "mask_path" in ordered
                else pd.Series(None, index=ordered.index)
            )
            self._images[str(pid)] = [
                (str(p), str(m) if pd.notna(m) else None)
                for p, m in zip(ordered["path"], masks, strict=True)
            ]

    # ------------------------------------------------------------------ images
    def _frames(self, rel_path: str, *, mask: bool) -> np.ndarray:
        """One image (or mask) file as ``(N, H, W)`` float32, through the LRU cache."""
        key = (rel_path, mask)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self._hits += 1
            return cached
        self._misses += 1
        image = read_image(self.cohort.root / rel_path)
        array = to_luminance(image.array)
        if not mask:
            array = normalise_intensity(array)
        assert self.image_shape is not None  # only called when imaging is served
        frames = resize_frames(array, self.image_shape[1:], nearest=mask)
        frames.flags.writeable = False
        if self.cache_size:
            self._cache[key] = frames
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return frames

    def cache_info(self) -> dict[str, int]:
        """``hits``, ``misses`` (files read), ``size`` and ``maxsize`` of the image cache."""
        return {
            "hits": self._hits,
            "misses": self._misses,
            "size": len(self._cache),
            "maxsize": self.cache_size,
        }

    def _patient_images(self, pid: str) -> tuple[np.ndarray, np.ndarray | None]:
        assert self.image_shape is not None
        t = self.image_shape[0]
        images, masks, any_mask = [], [], False
        for path, mask_path in self._images[pid]:
            frames = self._frames(path, mask=False)
            images.append(frames)
            if mask_path is not None:
                m = self._frames(mask_path, mask=True)
                masks.append(
                    m if len(m) == len(frames) else resample_axis0(m, len(frames), nearest=True)
                )
                any_mask = True
            else:
                masks.append(np.zeros_like(frames))
        image = resample_axis0(np.concatenate(images, axis=0), t)
        seg = resample_axis0(np.concatenate(masks, axis=0), t, nearest=True) if any_mask else None
        return image, seg

    # ------------------------------------------------------------------ samples
    def __len__(self) -> int:
        return len(self.patient_ids)

    def index_of(self, patient_id: str) -> int:
        """The dataset index of ``patient_id``."""
        try:
            return self._index[str(patient_id)]
        except KeyError:
            raise CohortError(
                f"patient '{patient_id}' is not in this dataset.", file="patients.csv"
            ) from None

    @property
    def dims(self) -> dict[str, Any]:
        """Feature sizes for building models: ``clinical`` F, ``biomarkers`` M, ``genomics`` G,
        ``imaging`` ``(1, T, H, W)`` or None."""
        return {
            "clinical": int(self._clinical.shape[1]),
            "biomarkers": self.n_markers,
            "genomics": self.n_genes,
            "imaging": None if self.image_shape is None else (1, *self.image_shape),
        }

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= int(i) < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} patients")
        i = int(i) % len(self)
        pid = self.patient_ids[i]
        use = set(self.modalities)
        present: dict[str, bool] = {}

        n_clin = self._clinical.shape[1]
        clin_missing = self._clinical_missing[i]
        present["clinical"] = "clinical" in use and n_clin > 0 and not bool(clin_missing.all())
        clinical = self._clinical[i] if present["clinical"] else np.zeros(n_clin, np.float32)
        if not present["clinical"]:
            clin_missing = np.ones(n_clin, bool)

        m = self.n_markers
        values, times, observed = (
            np.zeros((0, m), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, m), bool),
        )
        if "biomarkers" in use and pid in self._visits:
            values, times, observed = self._visits[pid]
            if self.max_visit_time is not None:
                keep = times <= self.max_visit_time
                values, times, observed = values[keep], times[keep], observed[keep]
        present["biomarkers"] = len(times) > 0

        present["genomics"] = "genomics" in use and pid in self._genes
        genomics = self._genes[pid] if present["genomics"] else np.zeros(self.n_genes, np.float32)

        present["imaging"] = "imaging" in use and pid in self._images
        shape = (1, *self.image_shape) if self.image_shape is not None else (1, 1, 1, 1)
        seg = None
        if present["imaging"]:
            image, seg = self._patient_images(pid)
            imaging = torch.from_numpy(image).reshape(shape)
        else:
            imaging = torch.zeros(shape)

        sample: dict[str, Any] = {
            "patient_id": pid,
            "clinical": torch.tensor(clinical, dtype=torch.float32),
            "clinical_missing": torch.tensor(clin_missing, dtype=torch.bool),
            "biomarkers": torch.tensor(values, dtype=torch.float32).reshape(len(times), m),
            "biomarker_times": torch.tensor(times, dtype=torch.float32),
            "biomarker_observed": torch.tensor(observed, dtype=torch.bool).reshape(len(times), m),
            "genomics": torch.tensor(genomics, dtype=torch.float32),
            "imaging": imaging,
            "modality_mask": {k: torch.tensor(present[k]) for k in MODALITIES},
            "time": torch.tensor(self._time[i]),
            "event": torch.tensor(self._event[i]),
            "arm": torch.tensor(self._arm[i], dtype=torch.int64),
            "lc_time": torch.tensor(self._lc_time[i], dtype=torch.float32),
            "lc_event": torch.tensor(self._lc_event[i], dtype=torch.float32),
            "has_lc": torch.tensor(bool(self._has_lc[i])),
        }
        if self.has_segmentation and self.image_shape is not None:
            sample["imaging_seg"] = (
                torch.from_numpy(seg).reshape(shape) if seg is not None else torch.zeros(shape)
            )
            sample["has_seg"] = torch.tensor(seg is not None)
        return sample

    def __repr__(self) -> str:
        return (
            f"PatientDataset({len(self)} patients, modalities={list(self.modalities)}, "
            f"image_shape={self.image_shape}, max_visit_time={self.max_visit_time})"
        )
