"""Batch scoring in chunks with bounded memory, written atomically to Parquet or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oncofusion.errors import OncofusionError

__all__ = ["predict_to_file"]


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
    ids = cohort.patient_ids
    n = 0
    with atomic_write(out, "wb") as fh:
        writer = None
        for start in range(0, len(ids), chunk_size):
            chunk = cohort.subset(ids[start : start + chunk_size])
            frame = model.predict(chunk, landmark=landmark).to_frame()
            n += len(frame)
            if suffix == ".csv":
                fh.write(frame.to_csv(index=False, header=start == 0).encode())
                continue
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(fh, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
    return n
