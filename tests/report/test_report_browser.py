"""The reports as a person sees them: headless Debian chromium (driven by Playwright) opens
them from file://, the charts render, nothing reaches the network, the console stays clean,
the treatment-arm tabs switch, and a screenshot of each page is saved.

Chromium comes from Debian (``make ensure-browser``); Playwright's own browser download is
never used. Without chromium this test fails, on purpose: CI must not silently skip it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("Debian's chromium is not installed: run 'make ensure-browser' "
                         "(apt-get install chromium chromium-driver poppler-utils).")


def _open(context: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    """Open ``path``; return the page, console/page errors and every non-local request."""
    page = context.new_page()
    errors: list[str] = []
    network: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:", "about:")) else network.append(r.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_function("() => window.Plotly !== undefined && Array.from(document.querySelectorAll("
                           "'.plotly-graph-div')).every(d => d.querySelector('svg.main-svg'))", timeout=20_000)
    return page, errors, network


def _charts_render(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("""() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => ({
        id: d.id, traces: (d.data || []).length, svg: d.querySelectorAll('svg.main-svg').length,
        marks: d.querySelectorAll('g.trace').length,
        height: d.getBoundingClientRect().height}))"""))


def _screenshot(page: Any, path: Path) -> None:
    from PIL import Image

    page.screenshot(path=str(path), full_page=True)
    pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert path.stat().st_size > 20_000 and pixels.std() > 10, f"screenshot {path} looks blank"


def test_reports_in_headless_chromium(reports: Any, artifact_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=executable, headless=True,
                                                       args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        context.route("**/*", lambda route: route.abort() if route.request.url.startswith(("http:", "https:", "ws"))
                      else route.continue_())
        try:
            for name, path, n_charts in (("patient", reports.patient_html, 5), ("arms", reports.arms_html, 6),
                                         ("cohort", reports.cohort_html, 3)):
                page, errors, network = _open(context, path)
                charts = _charts_render(page)
                assert len(charts) >= n_charts, charts
                for c in charts:  # every chart drew its SVG with its traces
                    assert c["svg"] >= 1 and c["traces"] >= 1 and c["marks"] >= 1 and c["height"] > 100, c
                if name == "arms":
                    _click_arms(page)
                _screenshot(page, artifact_dir / f"{name}.png")
                assert not errors, errors
                assert not network, f"{name} report requested {network}"
                page.close()
        finally:
            context.close()


def _click_arms(page: Any) -> None:
    """Clicking a tab shows that arm's panel, marks its row and highlights its curves."""
    def state() -> dict[str, Any]:
        return dict(page.evaluate("""() => ({
            selected: document.body.dataset.selectedArm,
            visible: Array.from(document.querySelectorAll('.arm-panel')).filter(p => !p.hidden).map(p => p.dataset.arm),
            row: Array.from(document.querySelectorAll('.arm-row.selected')).map(r => r.dataset.arm),
            active: Array.from(document.querySelectorAll('.arm-tab.active')).map(b => b.dataset.arm),
            opacity: Object.fromEntries(document.getElementById('chart-os').data
                .filter(t => t.name === t.meta).map(t => [t.meta, t.opacity])),
        })"""))

    first = state()
    assert len(first["visible"]) == 1 and first["visible"] == first["row"] == first["active"] == [first["selected"]]
    for arm in ("sbrt", "surgery", "sbrt"):
        page.get_by_role("tab", name=f"Under {arm}").click()
        s = state()
        other = "surgery" if arm == "sbrt" else "sbrt"
        assert s["selected"] == arm and s["visible"] == [arm] and s["row"] == [arm] and s["active"] == [arm], s
        assert s["opacity"][arm] == 1 and s["opacity"][other] < 1, s
        assert page.locator(f'.arm-panel[data-arm="{arm}"]').is_visible()
        assert not page.locator(f'.arm-panel[data-arm="{other}"]').is_visible()
