"""The PDFs as printed: pdftoppm turns every page into an image; each report has the pages
its layout promises (one section group per page), none of them blank, each headed by the
section it should hold (pdftotext)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"'{name}' is missing: run 'make ensure-browser' (apt-get install poppler-utils).")
    return path


def _pages(pdf: Path, out: Path) -> list[Path]:
    prefix = out / pdf.stem
    subprocess.run([_tool("pdftoppm"), "-r", "40", "-png", str(pdf), str(prefix)], check=True, timeout=120)
    return sorted(out.glob(f"{pdf.stem}-*.png"))


def _ink(png: Path) -> float:
    """Share of the page that is not white."""
    from PIL import Image

    gray = np.asarray(Image.open(png).convert("L"))
    return float((gray < 235).mean())


def _text(pdf: Path, page: int) -> str:
    res = subprocess.run([_tool("pdftotext"), "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                         check=True, capture_output=True, text=True, timeout=60)
    return res.stdout


@pytest.mark.parametrize(("name", "titles"), [
    # patient 005: summary | follow-up + biomarkers | explanations | data quality + model card
    ("patient", ["Risk summary", "How the risk changed", "Why this prediction", "Data quality"]),
    # the two-arm model adds the treatment-options page, right after the summary
    ("arms", ["Risk summary", "Treatment options", "How the risk changed", "Why this prediction", "Data quality"]),
    # overview + tables | figures | notes | model card
    ("cohort", ["Overview", "Figures", "Notes", "Model card"]),
])
def test_pdf_pages(reports: Any, artifact_dir: Path, name: str, titles: list[str]) -> None:
    pdf = getattr(reports, f"{name}_pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pages = _pages(pdf, artifact_dir)
    if name == "cohort":  # the figures of an evaluation fill two pages
        titles = titles[:2] + ["Figures"] + titles[2:]
    assert len(pages) == len(titles), f"{name}: {len(pages)} pages for sections {titles}"
    for i, (png, title) in enumerate(zip(pages, titles, strict=True), start=1):
        assert _ink(png) > 0.005, f"{name} page {i} is blank"  # a page with only its footer: ~0.0003
        text = _text(pdf, i)
        assert title in text or (title == "Figures" and "Figures" in _text(pdf, i - 1)), \
            f"{name} page {i} should hold '{title}'"
        assert "page " + str(i) + " of " + str(len(pages)) in text
