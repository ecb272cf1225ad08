"""The bad-input catalogue: every broken cohort gives one clear message and writes nothing.

Each case breaks a copy of the packaged tiny cohort in one way, then checks that
``load_cohort`` raises ``CohortError`` whose message names the file, the column and the
rows, and that ``oncofusion validate`` exits with status 2 and prints the same message on
stderr without a traceback. ``docs/errors.md`` quotes these messages.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import oncofusion
from oncofusion.cli import app
from oncofusion.data import load_cohort
from oncofusion.errors import CohortError

TINY = Path(oncofusion.__file__).parent / "data" / "examples" / "tiny"
ERRORS_DOC = (Path(__file__).parents[2] / "docs" / "errors.md").read_text(encoding="utf-8")


def copy_tiny(tmp_path: Path) -> Path:
    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    return root


def edit_csv(root: Path, name: str, fn: Callable[[pd.DataFrame], pd.DataFrame | None]) -> None:
    """Apply ``fn`` to ``name.csv`` read as text (cells as written, empty cells as '')."""
    path = root / f"{name}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = fn(frame)
    (frame if out is None else out).to_csv(path, index=False)


def set_cell(name: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Set data row ``row`` (1-based) of ``column`` in ``name.csv``."""

    def mutate(root: Path) -> None:
        def fn(df: pd.DataFrame) -> None:
            df.loc[row - 1, column] = value

        edit_csv(root, name, fn)

    return mutate


def edit_yaml(old: str, new: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / "cohort.yaml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new))

    return mutate


def drop_column(name: str, column: str) -> Callable[[Path], None]:
    return lambda root: edit_csv(root, name, lambda df: df.drop(columns=[column]))


def add_column(name: str, column: str, value: str = "1") -> Callable[[Path], None]:
    return lambda root: edit_csv(root, name, lambda df: df.assign(**{column: value}))


def delete(*names: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        for n in names:
            (root / n).unlink()

    return mutate


def both(*mutations: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        for m in mutations:
            m(root)

    return mutate


def to_parquet_too(name: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        pd.read_csv(root / f"{name}.csv", dtype=str).to_parquet(root / f"{name}.parquet")

    return mutate


def write_image(
    rel: str, array: np.ndarray | None = None, raw: bytes | None = None
) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        if raw is not None:
            (root / rel).write_bytes(raw)
        else:
            np.save(root / rel, array)

    return mutate


@dataclass(frozen=True)
class Case:
    """One broken cohort: how to break it and what the message must contain."""

    id: str
    mutate: Callable[[Path], None]
    file: str | None
    column: str | None
    rows: str | None
    fragment: str
    require_events: bool = False
    #: for messages that quote a library's own words: docs/errors.md shows them up to here
    doc_until: str | None = None


CASES = [
    # --- files and cohort.yaml
    Case("missing_cohort_yaml", delete("cohort.yaml"), "cohort.yaml", None, None, "has no cohort.yaml"),
    Case("missing_patients", delete("patients.csv"), "patients.csv", None, None, "required table 'patients' is missing"),
    Case(
        "misnamed_patients",
        lambda r: (r / "patients.csv").rename(r / "patient.csv"),
        "patients.csv", None, None, "found 'patient.csv'",
    ),
    Case("yaml_syntax", edit_yaml("[age, cea]", "[age, cea"), "cohort.yaml", None, None, "the file is not valid YAML at line 8, column 14"),
    Case(
        "yaml_unknown_key", edit_yaml("horizons:", "horizon:"), "cohort.yaml", None, None,
        "unknown key 'horizon' (line 5). Did you mean 'horizons'?",
    ),
    Case(
        "yaml_unknown_nested_key", edit_yaml("continuous:", "continous:"), "cohort.yaml", None, None,
        "unknown key 'continous' under 'clinical' (line 7). Did you mean 'continuous'?",
    ),
    Case(
        "yaml_bad_time_unit", edit_yaml("time_unit: months", "time_unit: weeks"), "cohort.yaml", None, None,
        "key 'time_unit' (line 4) must be one of 'days', 'months' or 'years', got 'weeks'",
    ),
    Case(
        "yaml_missing_key", edit_yaml("time_unit: months\n", ""), "cohort.yaml", None, None,
        "the required key 'time_unit' is missing",
    ),
    Case(
        "yaml_duplicate_key", edit_yaml("extra: [site]", "extra: [site]\nname: again"), "cohort.yaml", None, None,
        "key 'name' is given twice (line 14)",
    ),
    Case(
        "both_csv_and_parquet", to_parquet_too("biomarkers"), "biomarkers.csv", None, None,
        "both biomarkers.csv and biomarkers.parquet exist",
    ),
    Case(
        "yaml_not_a_mapping", lambda r: (r / "cohort.yaml").write_text("- name\n- tiny\n"), "cohort.yaml",
        None, None, "the file must be a mapping of keys to values, but it is a list",
    ),
    Case(
        "yaml_bad_horizons", edit_yaml("horizons: [3, 6, 12]", "horizons: [3, 12, 6]"), "cohort.yaml", None, None,
        "key 'horizons' (line 5) is invalid: horizons must be strictly increasing",
    ),
    Case(
        "yaml_declares_reserved_column", edit_yaml("biomarkers: [ezh2, cd10]", "biomarkers: [ezh2, cd10, time]"),
        "cohort.yaml", None, None, "'time' is declared under biomarkers, but it is a column the format itself",
    ),
    Case(
        "csv_not_utf8",
        lambda r: (r / "gene_graph.csv").write_bytes("gene_a,gene_b\negfr,kras\nkras,br\u00e9f\n".encode("latin-1")),
        "gene_graph.csv", None, None, "the file cannot be read as CSV: 'utf-8' codec can't decode byte 0xe9",
    ),
    Case(
        "parquet_corrupt",
        both(delete("genomics.csv"), write_image("genomics.parquet", raw=b"PAR1 this is not parquet")),
        "genomics.parquet", None, None, "the file cannot be read as Parquet",
        doc_until="cannot be read as Parquet: ",
    ),
    Case(
        "header_blank_column", lambda r: (r / "gene_graph.csv").write_text("gene_a,gene_b,\negfr,kras,\n"),
        "gene_graph.csv", None, None, "header column number(s) 3 have no name",
    ),
    Case(
        "semicolon_separated", lambda r: (r / "gene_graph.csv").write_text("gene_a;gene_b\negfr;kras\n"),
        "gene_graph.csv", None, None, "separated by semicolons, not commas",
    ),
    Case(
        "look_alike_table", lambda r: (r / "genomics.csv").rename(r / "genomic.csv"), "genomic.csv", None, None,
        "looks like the 'genomics' table",
    ),
    Case("empty_file", write_image("genomics.csv", raw=b""), "genomics.csv", None, None, "the file is empty"),
    Case(
        "csv_row_too_long", lambda r: (r / "genomics.csv").write_text("patient_id,egfr,kras,tp53,braf\n001,1,0,0,0,9\n"),
        "genomics.csv", None, "1", "line 2 has 6 fields but the header has 5",
    ),
    Case(
        "duplicate_header", lambda r: edit_csv(r, "genomics", lambda df: df.set_axis([*df.columns[:-1], "kras"], axis=1)),
        "genomics.csv", "kras", None, "appears more than once",
    ),
    Case(
        "declared_table_missing", delete("biomarkers.csv"), "biomarkers.csv", None, None,
        "declares 'biomarkers: ezh2, cd10' but the cohort has no biomarkers table",
    ),
    # --- patients: columns
    Case("missing_required_column", drop_column("patients", "event"), "patients.csv", "event", None, "required column is missing; the header has 'patient_id', 'time', 'arm',"),
    Case(
        "required_column_misspelt", lambda r: edit_csv(r, "patients", lambda df: df.rename(columns={"event": "Event"})),
        "patients.csv", "event", None, "Did you mean 'Event'?",
    ),
    Case(
        "declared_clinical_missing", drop_column("patients", "cea"), "patients.csv", "cea", None,
        "declares column 'cea' under clinical.continuous, clinical.categorical or extra",
    ),
    Case(
        "undeclared_clinical", add_column("patients", "ceaa"), "patients.csv", "ceaa", None,
        "not declared in cohort.yaml (undeclared columns are errors so that typos surface). Did you mean 'cea'?",
    ),
    Case(
        "empty_cohort", lambda r: edit_csv(r, "patients", lambda df: df.iloc[:0]), "patients.csv", None, None,
        "the cohort is empty",
    ),
    # --- patients: ids and outcome
    Case(
        "duplicate_patient_id", set_cell("patients", 5, "patient_id", "004"), "patients.csv", "patient_id", "4, 5",
        "patient_id must be unique in this table; these ids appear more than once (patient_id 004)",
    ),
    Case("missing_patient_id", set_cell("patients", 3, "patient_id", ""), "patients.csv", "patient_id", "3", "patient_id is missing"),
    Case(
        "time_negative", set_cell("patients", 2, "time", "-3"), "patients.csv", "time", "2",
        "follow-up time must be greater than 0 (found '-3' (patient 002))",
    ),
    Case("time_zero", set_cell("patients", 7, "time", "0"), "patients.csv", "time", "7", "found '0' (patient 007)"),
    Case(
        "time_nan", set_cell("patients", 4, "time", "NaN"), "patients.csv", "time", "4",
        "follow-up time is missing (empty or NA), and it is required in every row (patient_id 004)",
    ),
    Case("time_inf", set_cell("patients", 4, "time", "inf"), "patients.csv", "time", "4", "follow-up time must be finite"),
    Case("time_text", set_cell("patients", 1, "time", "12 months"), "patients.csv", "time", "1", "must be a number (found '12 months'"),
    Case(
        "event_not_binary", set_cell("patients", 9, "event", "2"), "patients.csv", "event", "9",
        "the event indicator must be 0 or 1 (found '2' (patient 009))",
    ),
    Case("event_missing", set_cell("patients", 9, "event", ""), "patients.csv", "event", "9", "the event indicator is missing"),
    Case(
        "no_events", lambda r: edit_csv(r, "patients", lambda df: df.assign(event="0")), "patients.csv", "event", None,
        "no patient has an event (event = 1): all 12 patients are censored", require_events=True,
    ),
    Case(
        "lc_time_without_lc_event", drop_column("patients", "lc_event"), "patients.csv", "lc_event", None,
        "has 'lc_time' but not 'lc_event'",
    ),
    Case(
        "lc_event_without_lc_time", drop_column("patients", "lc_time"), "patients.csv", "lc_time", None,
        "has 'lc_event' but not 'lc_time'",
    ),
    Case(
        "lc_half_missing_row", set_cell("patients", 5, "lc_time", "3.0"), "patients.csv", "lc_event", "5",
        "'lc_time' is given but 'lc_event' is missing (patient_id 005)",
    ),
    Case(
        "continuous_not_numeric", set_cell("patients", 3, "age", "sixty"), "patients.csv", "age", "3",
        "a continuous clinical variable must be a number (found 'sixty' (patient 003))",
    ),
    # --- arms
    Case(
        "arm_not_declared_value", set_cell("patients", 6, "arm", "chemo"), "patients.csv", "arm", "6",
        "the arm is not one of the arms declared in cohort.yaml: sbrt, surgery (found 'chemo' (patient 006))",
    ),
    Case(
        "arm_missing", set_cell("patients", 4, "arm", ""), "patients.csv", "arm", "4",
        "the treatment arm is missing",
    ),
    Case(
        "arm_column_without_arms", edit_yaml("arms: [sbrt, surgery]\n", ""), "patients.csv", "arm", None,
        "has an 'arm' column but cohort.yaml declares no arms",
    ),
    Case(
        "arms_without_column", drop_column("patients", "arm"), "patients.csv", "arm", None,
        "declares arms sbrt, surgery but the table has no 'arm' column",
    ),
    # --- biomarkers
    Case(
        "biomarker_unknown_patient", set_cell("biomarkers", 2, "patient_id", "099"), "biomarkers.csv", "patient_id", "2",
        "these patient ids are not in the patients table (patient_id 099)",
    ),
    Case(
        "biomarker_after_follow_up", set_cell("biomarkers", 1, "time", "3.0"), "biomarkers.csv", "time", "1",
        "the visit is after the patient's follow-up ended, i.e. later than the patient's 'time' in "
        "the patients table (found '3.0' (patient 001, follow-up 1.3))",
    ),
    Case(
        "biomarker_negative_time", set_cell("biomarkers", 5, "time", "-1"), "biomarkers.csv", "time", "5",
        "visit time must be 0 (baseline) or later",
    ),
    Case(
        "biomarker_duplicate_visit", set_cell("biomarkers", 5, "time", "0.0"), "biomarkers.csv", "time", "3, 5",
        "the patient has more than one visit at this time",
    ),
    Case("marker_missing", drop_column("biomarkers", "cd10"), "biomarkers.csv", "cd10", None, "declares column 'cd10' under biomarkers"),
    Case("marker_undeclared", add_column("biomarkers", "cea"), "biomarkers.csv", "cea", None, "not declared in cohort.yaml"),
    Case("marker_not_numeric", set_cell("biomarkers", 6, "ezh2", "high"), "biomarkers.csv", "ezh2", "6", "a biomarker value must be a number"),
    # --- genomics and gene graph
    Case(
        "genomics_unknown_patient", set_cell("genomics", 3, "patient_id", "13"), "genomics.csv", "patient_id", "3",
        "not in the patients table (patient_id 13)",
    ),
    Case("genomics_duplicate_patient", set_cell("genomics", 2, "patient_id", "001"), "genomics.csv", "patient_id", "1, 2", "must be unique"),
    Case("gene_missing", drop_column("genomics", "braf"), "genomics.csv", "braf", None, "declares column 'braf' under genomics"),
    Case("gene_undeclared", add_column("genomics", "alk"), "genomics.csv", "alk", None, "not declared in cohort.yaml"),
    Case(
        "gene_graph_unknown_gene", set_cell("gene_graph", 2, "gene_b", "brca1"), "gene_graph.csv", "gene_b", "2",
        "the gene is not among the genomics columns declared in cohort.yaml: egfr, kras, tp53, braf (found 'brca1')",
    ),
    Case("gene_graph_extra_column", add_column("gene_graph", "weight"), "gene_graph.csv", "weight", None, "not part of the format"),
    # --- imaging
    Case(
        "imaging_unknown_patient", set_cell("imaging", 4, "patient_id", "P002"), "imaging.csv", "patient_id", "4",
        "not in the patients table",
    ),
    Case(
        "image_does_not_exist", set_cell("imaging", 2, "path", "images/001_portl.npy"), "imaging.csv", "path", "2",
        "the image file does not exist (found 'images/001_portl.npy' (patient 001))",
    ),
    Case(
        "image_absolute_path", set_cell("imaging", 3, "path", "/data/ceus/001_late.npy"),
        "imaging.csv", "path", "3", "must be relative to the cohort directory, not absolute",
    ),
    Case(
        "image_escapes_cohort", set_cell("imaging", 3, "path", "../cohort/images/001_late.npy"),
        "imaging.csv", "path", "3", "leaves the cohort directory",
    ),
    Case(
        "image_corrupt", write_image("images/002_portal.npy", raw=b"\x93NUMPY garbage"), "imaging.csv", "path", "5",
        "the image cannot be used", doc_until="the image cannot be used: ",
    ),
    Case(
        "image_2d", write_image("images/005_late.npy", np.zeros((16, 16), np.uint8)), "imaging.csv", "path", "9",
        "the image has shape (1, 16, 16); imaging: video needs a 3-D image",
    ),
    Case(
        "image_4d_stacked_phases", write_image("images/005_late.npy", np.zeros((3, 8, 16, 16), np.uint8)),
        "imaging.csv", "path", "9", "has an array of shape (3, 8, 16, 16)",
    ),
    Case(
        "mask_shape_differs",
        both(
            write_image("images/mask.npy", np.ones((8, 8, 8), np.uint8)),
            lambda r: edit_csv(r, "imaging", lambda df: df.assign(mask_path=["images/mask.npy"] + [""] * (len(df) - 1))),
        ),
        "imaging.csv", "mask_path", "1", "the mask's shape differs from its image's",
    ),
    Case(
        "duplicate_phase", set_cell("imaging", 2, "phase", "arterial"), "imaging.csv", "phase", "1, 2",
        "more than one image for this phase",
    ),
    Case(
        "imaging_not_declared", edit_yaml("imaging: video\n", ""), "imaging.csv", None, None,
        "does not say which kind of images",
    ),
]  # fmt: skip


def snapshot(*dirs: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``dirs`` with its size and modification time."""
    out = {}
    for d in dirs:
        for p in d.rglob("*"):
            st = p.stat()
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_cohort_is_rejected_with_a_clear_message(
    case: Case, tmp_path: Path, monkeypatch
) -> None:
    root = copy_tiny(tmp_path)
    case.mutate(root)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)

    with pytest.raises(CohortError) as info:
        load_cohort(root, require_events=case.require_events)
    message = str(info.value)
    if case.file is not None:
        assert message.startswith(f"file '{case.file}'"), message
    if case.column is not None:
        assert f"column '{case.column}'" in message, message
    if case.rows is not None:
        assert f"row(s) {case.rows}:" in message, message
    assert case.fragment in message, message
    assert " Fix: " in message, message
    assert "\n" not in message

    # docs/errors.md shows this very message under the case's anchor
    shown = "error: " + message.replace(str(root), "/path/to/cohort")
    if case.doc_until is not None:
        shown = shown[: shown.index(case.doc_until) + len(case.doc_until)]
    section = ERRORS_DOC.split(f'<a id="{case.id}"></a>', 1)
    assert len(section) == 2, f"docs/errors.md has no section for {case.id}"
    assert shown in section[1].split("<a id=", 1)[0], f"docs/errors.md is out of date for {case.id}"

    result = CliRunner().invoke(app, ["validate", str(root)])
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""

    assert snapshot(tmp_path) == before, "validation must not write anything"


def test_catalogue_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_no_events_is_allowed_without_require_events(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    edit_csv(root, "patients", lambda df: df.assign(event="0"))
    cohort = load_cohort(root)
    assert int(cohort.patients["event"].sum()) == 0


def test_missing_cohort_directory(tmp_path: Path) -> None:
    with pytest.raises(CohortError, match="the cohort directory '.*nowhere' does not exist"):
        load_cohort(tmp_path / "nowhere")
    (tmp_path / "file.csv").write_text("x\n")
    with pytest.raises(CohortError, match="the cohort directory '.*file.csv' is not a directory"):
        load_cohort(tmp_path / "file.csv")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_ten_rows_at_most_are_listed(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    edit_csv(root, "patients", lambda df: df.assign(time="-1"))
    with pytest.raises(CohortError) as info:
        load_cohort(root)
    message = str(info.value)
    assert "row(s) 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 (and 2 more):" in message
    assert "(patient 010)" in message and "(patient 011)" not in message
    assert info.value.rows == list(range(1, 13))


def test_image_checks_can_be_skipped(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    (root / "images" / "002_portal.npy").write_bytes(b"not an array")
    cohort = load_cohort(root, check_images=False)
    assert cohort.metadata["images_checked"] is False
    result = CliRunner().invoke(app, ["validate", str(root), "--no-images"])
    assert result.exit_code == 0, result.output
    assert "images were not opened" in result.stdout


def test_symlinked_image_folder_is_allowed(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    store = tmp_path / "store"
    shutil.move(root / "images", store)
    os.symlink(store, root / "images")
    assert len(load_cohort(root).imaging) == 12
