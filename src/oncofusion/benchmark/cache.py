"""The results cache: one finished (model, split) cell per key, so a benchmark resumes.

A cell's key is the SHA-256 of everything its predictions depend on: the cohort's
content (:func:`cohort_fingerprint`), the split (train, validation and test patient ids),
the runner and its resolved options, the seed and what was predicted (time grid or
landmarks and horizons). Change any of them and the cell is recomputed; rename a model
(its display name) and it is not.

A cell is stored as ``<key>.parquet`` (the predictions: ``patient_id``, optional
``landmark``, one column per prediction time) and ``<key>.json`` (what the key hashes,
wall times, the display name). The JSON is written last, so a cell interrupted while
saving has no JSON and is recomputed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.utils.io import atomic_write

__all__ = ["CACHE_FORMAT", "CachedCell", "ResultCache", "cell_key", "cohort_fingerprint"]

#: bump when the stored predictions change meaning; old cells are then ignored
CACHE_FORMAT = 1


def _hash_frame(h: Any, df: pd.DataFrame | None, name: str) -> None:
    h.update(name.encode())
    if df is None:
        h.update(b"<none>")
        return
    h.update(json.dumps([str(c) for c in df.columns]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())


def cohort_fingerprint(cohort: Any) -> str:
    """SHA-256 of a cohort's schema and tables (patients, biomarkers, genomics, imaging)."""
    h = hashlib.sha256()
    h.update(cohort.schema.model_dump_json().encode())
    for name in ("patients", "biomarkers", "genomics", "gene_graph", "imaging"):
        _hash_frame(h, getattr(cohort, name), name)
    return h.hexdigest()


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    return v


def cell_key(
    *,
    cohort: str,
    split: dict[str, list[str]],
    runner: str,
    options: dict[str, Any],
    seed: int,
    target: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """The key of one cell and the (JSON-able) description it hashes.

    Parameters
    ----------
    cohort
        :func:`cohort_fingerprint` of the full cohort.
    split
        ``{"train": ids, "val": ids, "test": ids}``.
    runner, options, seed
        The runner name, its options (without ``work_dir``) and the seed.
    target
        What is predicted: ``{"grid": [...]}`` or ``{"landmarks": [...], "windows": [...]}``.
    """
    split_hash = hashlib.sha256(
        json.dumps({k: sorted(map(str, v)) for k, v in sorted(split.items())}).encode()
    ).hexdigest()
    desc = {
        "format": CACHE_FORMAT,
        "cohort": cohort,
        "split": split_hash,
        "runner": runner,
        "options": _jsonable({k: v for k, v in options.items() if k != "work_dir"}),
        "seed": int(seed),
        "target": _jsonable(target),
    }
    key = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:32]
    return key, desc


@dataclass
class CachedCell:
    """A stored cell: its predictions and metadata."""

    frame: pd.DataFrame
    meta: dict[str, Any]


class ResultCache:
    """Per-cell predictions under ``root`` (Parquet + JSON, keyed by :func:`cell_key`).

    Parameters
    ----------
    root
        The cache directory (created on the first save).
    enabled
        False: :meth:`load` never finds anything (every cell is recomputed and re-saved).
    """

    def __init__(self, root: str | Path, *, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled

    def paths(self, key: str) -> tuple[Path, Path]:
        """``(parquet, json)`` paths of a key."""
        return self.root / f"{key}.parquet", self.root / f"{key}.json"

    def load(self, key: str) -> CachedCell | None:
        """The stored cell, or None (missing, disabled, incomplete or unreadable)."""
        if not self.enabled:
            return None
        pq, js = self.paths(key)
        if not (pq.is_file() and js.is_file()):
            return None
        try:
            meta = json.loads(js.read_text(encoding="utf-8"))
            frame = pd.read_parquet(pq)
        except (OSError, ValueError):
            return None
        if meta.get("key") != key:
            return None
        return CachedCell(frame=frame, meta=meta)

    def save(self, key: str, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
        """Store a cell atomically (Parquet first, then the JSON that marks it complete)."""
        pq, js = self.paths(key)
        frame = frame.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        with atomic_write(pq, "wb") as fh:
            frame.to_parquet(fh, index=False)
        with atomic_write(js, "w", encoding="utf-8") as fh:
            json.dump(_jsonable({**meta, "key": key}), fh, indent=2)

    def cells(self) -> list[dict[str, Any]]:
        """Metadata of every complete cell in the cache."""
        out = []
        for js in sorted(self.root.glob("*.json")):
            try:
                meta = json.loads(js.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if (self.root / f"{js.stem}.parquet").is_file():
                out.append(meta)
        return out

    def delete(self, key: str) -> None:
        """Remove a cell (both files)."""
        for p in self.paths(key):
            p.unlink(missing_ok=True)
