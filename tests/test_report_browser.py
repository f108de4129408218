"""What a person sees: the HTML report rendered by headless Chromium.

Skips (saying why) on a machine without Chromium, but fails when ``CI`` is set: CI installs
Debian's ``chromium`` package (``.ci/run``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from usagekit.embedded import GENESYS_VARS
from usagekit.report import run_report
from usagekit.report.run import ReportResult

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
WIDTH, HEIGHT = 1280, 2000


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    with pytest.MonkeyPatch.context() as mp:
        for name in GENESYS_VARS:
            mp.delenv(name, raising=False)
        tmp = tmp_path_factory.mktemp("browser")
        return run_report({"interval": "2026-10-26/2026-11-16",
                           "dataset": str(tmp / "data")}, tmp / "reports")


def _chromium(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_screenshot_is_not_blank(chromium: str, report: ReportResult, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _chromium(chromium, tmp_path, f"--screenshot={shot}",
                     f"--window-size={WIDTH},{HEIGHT}", report.html.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    assert float(pixels.std()) > 0.05, "the page looks blank"
    # the first screen carries text and charts, not only a white page with a title
    ink = (pixels.mean(axis=2) < 0.6).mean(axis=1)
    assert (ink[: HEIGHT // 2] > 0.01).sum() > 100, "too little content on the first screen"
    colourful = np.ptp(pixels, axis=2) > 0.25  # chart lines and bars, not grey text
    assert colourful.mean() > 0.001, "no chart visible"


def test_rendered_page_has_content_and_no_error_outputs(
        chromium: str, report: ReportResult, tmp_path: Path) -> None:
    done = _chromium(chromium, tmp_path, "--dump-dom", report.html.as_uri())
    dom = done.stdout
    assert "Genesys Cloud API usage report" in dom, done.stderr[-2000:]
    charts = sorted(report.run_dir.rglob("*.png"))  # each chart the notebook saved
    assert len(charts) >= 7 and dom.count('src="data:image/png;base64,') == len(charts)
    for bad in ("Traceback", "jp-OutputArea-error", 'data-mime-type="application/vnd.'
                "jupyter.stderr", "Error:"):
        assert bad not in dom, bad
