"""Batch scoring in chunks with bounded memory, written atomically to Parquet or CSV.

The side tables (biomarkers, genomics, imaging) are grouped by patient once, so each chunk
is cut out by slicing (``O(chunk)``) rather than by filtering the whole cohort again
(``O(cohort)`` per chunk, quadratic over a registry). Only one chunk's samples and
predictions are held at a time; the output file appears only when complete.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.errors import OncofusionError

__all__ = ["iter_chunks", "predict_to_file"]

#: patients per forward pass when the model lets the caller choose (larger batches cost
#: less per patient; the memory of one batch of tabular patients is small)
SCORING_BATCH = 512


def iter_chunks(cohort: Any, chunk_size: int) -> Iterator[Any]:
    """Yield ``cohort`` as consecutive sub-cohorts of at most ``chunk_size`` patients.

    Patients keep their order; each side table keeps, per patient, the order of its rows
    (e.g. visits by time). Equivalent to ``cohort.subset(ids[i:i + chunk_size])`` for
    consecutive slices of ids, without scanning the whole cohort for every chunk.
    """
    import pandas as pd

    from oncofusion.data.cohort import Cohort

    patients = cohort.patients.reset_index(drop=True)
    position = pd.Index(patients["patient_id"].astype(str))
    side: dict[str, tuple[Any, np.ndarray, np.ndarray] | None] = {}
    for name in ("biomarkers", "genomics", "imaging"):
        table = getattr(cohort, name)
        if table is None:
            side[name] = None
            continue
        pos = position.get_indexer(table["patient_id"].astype(str))  # -1: not a patient of the cohort
        order = np.argsort(pos, kind="stable")
        side[name] = (table, order, pos[order])
    for start in range(0, len(patients), chunk_size):
        stop = min(start + chunk_size, len(patients))
        parts: dict[str, Any] = {}
        for name, entry in side.items():
            if entry is None:
                parts[name] = None
                continue
            table, order, sorted_pos = entry
            lo, hi = np.searchsorted(sorted_pos, [start, stop])
            parts[name] = table.iloc[order[lo:hi]].reset_index(drop=True)
        yield Cohort(
            root=cohort.root, schema=cohort.schema, patients=patients.iloc[start:stop].reset_index(drop=True),
            biomarkers=parts["biomarkers"], genomics=parts["genomics"], gene_graph=cohort.gene_graph,
            imaging=parts["imaging"], metadata=dict(cohort.metadata),
        )  # fmt: skip


def _predict_kwargs(model: Any) -> dict[str, Any]:
    try:
        params = inspect.signature(model.predict).parameters
    except (TypeError, ValueError):
        return {}
    return {"batch_size": SCORING_BATCH} if "batch_size" in params else {}


def predict_to_file(model: Any, cohort: Any, out: str | Path, *, landmark: float | None = None, chunk_size: int = 10_000) -> int:
    """Predict for ``cohort`` chunk by chunk and write one row per patient to ``out``.

    Only one chunk's predictions are held in memory; the file appears only when complete.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from oncofusion.utils.io import atomic_write

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise OncofusionError(f"output '{out}' must end in .parquet or .csv. Fix: rename it.")
    if chunk_size < 1:
        raise OncofusionError(f"chunk_size must be >= 1, got {chunk_size}.")
    kwargs = _predict_kwargs(model)
    n = 0
    with atomic_write(out, "wb") as fh:
        writer = None
        for chunk in iter_chunks(cohort, chunk_size):
            frame = model.predict(chunk, landmark=landmark, **kwargs).to_frame()
            if suffix == ".csv":
                fh.write(frame.to_csv(index=False, header=n == 0).encode())
                n += len(frame)
                continue
            n += len(frame)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(fh, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
    return n
