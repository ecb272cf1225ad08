"""Rules for the imaging table and the image files it points to."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from oncofusion.data.schema import CohortSchema
from oncofusion.data.validation._checks import (
    Table,
    check_declared_columns,
    check_patient_ids,
    fail_rows,
)
from oncofusion.errors import CohortError

if TYPE_CHECKING:
    from oncofusion.data.readers import ImageData

__all__ = ["check_image_files", "validate_imaging"]

_AXES = {
    "video": ("time x height x width", "frames"),
    "volume": ("depth x height x width", "slices"),
}


def validate_imaging(
    table: Table, schema: CohortSchema, root: Path, patient_ids: set[str]
) -> pd.DataFrame:
    """Check the imaging table and that every path names a file inside the cohort directory.

    Rules: columns ``patient_id``, ``path``, optional ``phase`` and ``mask_path``; ids are
    patients; ``path`` present, relative, not leaving the cohort directory (no ``..`` above
    it) and existing; ``mask_path`` the same where given; one row per (patient, phase).
    The files are not opened here (see :func:`check_image_files`).

    Parameters
    ----------
    table
        The imaging table as read.
    schema
        The cohort's schema (``imaging`` must say ``video`` or ``volume``).
    root
        The cohort directory.
    patient_ids
        The ids of the patients table.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``path`` (str, relative, ``/``-separated), then ``phase`` and
        ``mask_path`` (str or NaN) when present.

    Raises
    ------
    CohortError
        For the first rule the table breaks.
    """
    if schema.imaging is None:
        raise CohortError(
            "the cohort has an imaging table but cohort.yaml does not say which kind of images.",
            file=table.file,
            fix="add 'imaging: video' (time x height x width) or 'imaging: volume' "
            "(depth x height x width) to cohort.yaml, or remove the table.",
        )
    check_declared_columns(
        table, fixed=("patient_id", "path"), optional=("phase", "mask_path"), yaml_key=None
    )
    check_patient_ids(table, unique=False, known=patient_ids)
    frame = table.frame
    _check_paths(table, "path", root, allow_missing=False)
    if "mask_path" in frame.columns:
        _check_paths(table, "mask_path", root, allow_missing=True)
    has_phase = "phase" in frame.columns
    dup = frame.duplicated(
        subset=["patient_id", "phase"] if has_phase else ["patient_id"], keep=False
    )
    if dup.any():
        raise fail_rows(
            table, dup.to_numpy(),
            "the patient has more than one image for this phase" if has_phase
            else "the patient has more than one image", column="phase" if has_phase else "patient_id",
            show_values=has_phase,
            fix="keep one image per patient and phase; for several phases of one examination "
            "(e.g. arterial, portal, late) use a 'phase' column that tells them apart.",
        )  # fmt: skip
    cols = ["patient_id", "path", *[c for c in ("phase", "mask_path") if c in frame.columns]]
    return frame[cols].copy().reset_index(drop=True)


def _check_paths(table: Table, column: str, root: Path, *, allow_missing: bool) -> None:
    paths = table.frame[column]
    present = paths.notna().to_numpy()
    if not allow_missing and not present.all():
        raise fail_rows(
            table, ~present, "the image path is missing", column=column, show_values=False,
            fix="give the image file of every row (relative to the cohort directory), or delete the row.",
        )  # fmt: skip
    text = paths.where(present, "").astype(str)
    absolute = text.map(
        lambda p: bool(p) and (PurePosixPath(p).is_absolute() or PureWindowsPath(p).is_absolute())
    )
    if absolute.any():
        raise fail_rows(
            table, absolute.to_numpy(), "image paths must be relative to the cohort directory, not absolute",
            column=column,
            fix="move or link the images into the cohort directory and write paths such as "
            "'images/003_arterial.npy'.",
        )  # fmt: skip
    escapes = text.map(
        lambda p: bool(p) and os.path.normpath(p.replace("\\", "/")).split("/")[0] == ".."
    )
    if escapes.any():
        raise fail_rows(
            table, escapes.to_numpy(), "the image path leaves the cohort directory ('..')",
            column=column,
            fix="keep every image inside the cohort directory (a symbolic link there to the "
            "image store is fine) and write the path relative to it.",
        )  # fmt: skip
    absent = text.map(lambda p: bool(p) and not (root / p).exists())
    if absent.any():
        backslash = text[absent].str.contains("\\", regex=False).any()
        raise fail_rows(
            table, absent.to_numpy(), "the image file does not exist", column=column,
            fix="correct the path (relative to the cohort directory, case-sensitive"
            + (", with '/' rather than '\\' between folders" if backslash else "")
            + ") or add the file.",
        )  # fmt: skip


def check_image_files(
    table: Table, imaging: pd.DataFrame, schema: CohortSchema, root: Path
) -> None:
    """Open every image (and mask) with :func:`oncofusion.data.readers.read_image`.

    Rules: the file is readable; after removing a trailing colour axis it is 3-D with at
    least two frames (video) or slices (volume); a mask has the image's shape.

    Parameters
    ----------
    table
        The imaging table as read (for row numbers in messages).
    imaging
        The imaging table as returned by :func:`validate_imaging`.
    schema
        The cohort's schema.
    root
        The cohort directory.

    Raises
    ------
    CohortError
        For the first file that breaks a rule, naming the imaging table's row and the file.
    """
    from oncofusion.data.readers import read_image

    kind = schema.imaging or "volume"
    axes, unit = _AXES[kind]
    shapes: dict[str, tuple[int, ...]] = {}
    columns = ["path", *(["mask_path"] if "mask_path" in imaging.columns else [])]
    for column in columns:
        for path in imaging[column].dropna().unique():
            rows = (imaging[column] == path).to_numpy()
            shape = shapes.get(path) or _read_shape(read_image, table, rows, column, root / path)
            shapes[path] = shape
            if len(shape) != 3 or shape[0] < 2 or min(shape) < 1:
                raise fail_rows(
                    table, rows, f"the image has shape {shape}; imaging: {kind} needs a 3-D image "
                    f"({axes}, a trailing colour axis allowed) with at least 2 {unit}", column=column,
                    fix=f"give one {kind} per row: a single 2-D frame or slice cannot be used, and "
                    "several phases stacked in one file go in separate rows with a 'phase' column.",
                )  # fmt: skip
    if "mask_path" in imaging.columns:
        has_mask = imaging["mask_path"].notna()
        image_shapes = imaging["path"].map(shapes)
        mask_shapes = imaging["mask_path"].map(shapes)
        differ = (has_mask & (image_shapes != mask_shapes)).to_numpy()
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            raise fail_rows(
                table, differ, f"the mask's shape differs from its image's (e.g. {mask_shapes.iat[i]} "
                f"against {image_shapes.iat[i]})", column="mask_path",
                fix="give the segmentation of that very image, on the same grid.",
            )  # fmt: skip


def _read_shape(
    read_image: Callable[[Path], ImageData], table: Table, rows: np.ndarray, column: str, path: Path
) -> tuple[int, ...]:
    """The image's shape without a trailing colour axis, or a CohortError naming the row."""
    try:
        image = read_image(path)
    except CohortError as e:
        raise fail_rows(
            table,
            rows,
            f"the image cannot be used: {e.problem.rstrip('.')}",
            column=column,
            fix=e.fix or "re-export the file or remove its row.",
        ) from e
    except Exception as e:
        raise fail_rows(
            table,
            rows,
            f"the image cannot be read ({type(e).__name__}: {e})",
            column=column,
            fix="re-export the file in a supported format (.nii/.nii.gz, DICOM, .mp4/.avi, .npy/.npz) "
            "or remove its row.",
        ) from e
    shape = tuple(int(s) for s in np.shape(image.array))
    return shape[:-1] if len(shape) == 4 else shape
