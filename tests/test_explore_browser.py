"""What a person sees: the explorer notebook in JupyterLab, driven in headless Chromium.

The test starts JupyterLab on 127.0.0.1 (a free port, a token, a temporary root folder
holding the notebook with its parameters filled in), opens the notebook with Playwright
driving Debian's Chromium, runs all cells, picks a client in the explorer and checks that
the page shows that client's chart: its title in the DOM, and on screen the very PNG the
explorer draws for that client. Skips (saying why) without Chromium, JupyterLab or
Playwright, but fails when ``CI`` is set.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import requests
from matplotlib import image

from usagekit.config.settings import PROJECT_ROOT
from usagekit.embedded import GENESYS_VARS
from usagekit.engine import open_engine
from usagekit.explore import Explorer, Selection
from usagekit.explore.widgets import CHART_CLASS, TITLE_CLASS
from usagekit.query import parse_interval

pytestmark = [pytest.mark.browser, pytest.mark.notebooks, pytest.mark.slow]

NOTEBOOK = "04-explore-interactive.ipynb"
INTERVAL = "2026-10-26/2026-11-16"
CLIENT = "Wallboard Realtime Poller"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 90
RUN_TIMEOUT_MS = 180_000
CHANGE_TIMEOUT_MS = 60_000


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        _missing("no Chromium: install Debian's chromium package (apt-get install chromium)")
    for module in ("jupyterlab", "playwright"):
        try:
            __import__(module)
        except ImportError:
            _missing(f"{module} is not installed: pip install -e '.[test]'")
    return str(found)


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its URL, token and root folder."""

    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(root: Path) -> None:
    """The notebook in ``root`` with its parameters set (papermill's injected cell)."""
    import papermill

    papermill.execute_notebook(
        str(PROJECT_ROOT / "notebooks" / NOTEBOOK), str(root / NOTEBOOK), prepare_only=True,
        parameters={"interval": INTERVAL, "dataset": str(root / "data"),
                    "output_dir": str(root / "out")}, progress_bar=False)


@pytest.fixture(scope="module")
def lab(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    _prepare(root)
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = {k: v for k, v in os.environ.items() if k not in GENESYS_VARS}
    env |= {"JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp / "config")}
    token, port = secrets.token_hex(16), _free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    log = (tmp / "lab.log").open("wb")
    server = subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if requests.get(f"{url}/api/status", params={"token": token},
                                timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start:\n"
                            + (tmp / "lab.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield Lab(url, token, root)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _png_pixels(data: bytes) -> np.ndarray:
    return image.imread(BytesIO(data), format="png")[..., :3]


def _same_picture(shown: np.ndarray, drawn: np.ndarray) -> float:
    """Mean pixel difference of the shown chart and the drawn PNG (0: identical).

    The element's box may be a pixel taller or wider than the PNG (sub-pixel layout: the
    picture then sits at its top or bottom, left or right); more than that means the
    browser scaled the picture.
    """
    (h, w), (sh, sw) = drawn.shape[:2], shown.shape[:2]
    assert 0 <= sh - h <= 1 and 0 <= sw - w <= 1, f"shown at {sw}x{sh}, drawn at {w}x{h}"
    return min(float(np.abs(shown[dy:dy + h, dx:dx + w] - drawn).mean())
               for dy in {0, sh - h} for dx in {0, sw - w})


def _expected_chart(root: Path, client_id: str | None) -> bytes:
    """The chart the explorer draws for that client (or all clients), made here."""
    with open_engine("local", str(root / "data")) as engine:
        explorer = Explorer(engine)
        clients = (client_id,) if client_id else ()
        return explorer.view(Selection(parse_interval(INTERVAL), clients=clients)).png(
            "series")


def _client_id(root: Path) -> str:
    with open_engine("local", str(root / "data")) as engine:
        choices = Explorer(engine).choices(Selection(parse_interval(INTERVAL)))
    return dict(choices.clients)[CLIENT]


def test_picking_a_client_shows_its_chart(chromium: str, lab: Lab, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
            page.wait_for_function(
                "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                " && window.jupyterapp.shell.currentWidget.sessionContext"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                timeout=RUN_TIMEOUT_MS)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            title = page.locator(f".{TITLE_CLASS}")
            expect(title).to_have_text("Requests per day · All clients",
                                       timeout=RUN_TIMEOUT_MS)
            chart = page.locator(f"img.{CHART_CLASS}")
            expect(chart).to_be_visible()
            before = chart.screenshot()
            page.screenshot(path=str(tmp_path / "explorer-all-clients.png"), full_page=True)

            clients = page.locator(".widget-select-multiple select")
            clients.select_option(label=CLIENT)
            expect(title).to_have_text(f"Requests per day · {CLIENT}",
                                       timeout=CHANGE_TIMEOUT_MS)
            expect(page.get_by_text(f"Endpoints of {CLIENT} by requests")).to_be_visible()
            page.wait_for_timeout(500)  # the new PNG's blob URL is set with the title
            after = chart.screenshot()
            page.screenshot(path=str(tmp_path / "explorer-client.png"), full_page=True)
            dom = page.content()
        finally:
            browser.close()

    assert errors == []
    for bad in ("Traceback", "jp-OutputArea-error"):
        assert bad not in dom, bad
    shown_before, shown_after = _png_pixels(before), _png_pixels(after)
    expected_all = _png_pixels(_expected_chart(lab.root, None))
    expected_client = _png_pixels(_expected_chart(lab.root, _client_id(lab.root)))
    print("differences:", _same_picture(shown_before, expected_all),
          _same_picture(shown_after, expected_client), _same_picture(shown_after, expected_all))
    assert _same_picture(shown_before, expected_all) < 0.01, "first view: all clients"
    assert _same_picture(shown_after, expected_client) < 0.01, "the client's chart"
    assert _same_picture(shown_after, expected_all) > 0.01, "the chart changed"
    assert (lab.root / "out" / "explore-series.png").exists()  # the export cell ran
