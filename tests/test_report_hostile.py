"""A report made from hostile names, opened in the real browser: no script runs, every name
is shown as text, and the report's CSVs start no formula."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hostile import NAMES, TEMPLATE
from watch_data import row, store

from usagekit.display import FORMULA_STARTS, visible
from usagekit.embedded import GENESYS_VARS
from usagekit.report import run_report
from usagekit.report.run import ReportResult
from usagekit.row import Org

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]

#: Organisations whose names are hostile too: the report covers the first, the cross-org
#: overview names both.
ORGS = (Org("1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", "<img src=x onerror=alert(7)> & Co",
            "mypurecloud.ie"),
        Org("2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "<script>alert(8)</script> **Org** |x|",
            "usw2.pure.cloud"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    tmp = tmp_path_factory.mktemp("hostile")
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=20)
    rows: list[dict[str, Any]] = []
    for n in range(21):
        day = first + timedelta(days=n)
        for i, name in enumerate(NAMES):
            rows.append(row(day, name, 1000 + 10 * i, s429=50 + i))
        rows.append(row(day, "Endpoint Caller", 500, s5xx=200, uri=TEMPLATE))
    store(tmp / "data", rows, org=ORGS[0])
    store(tmp / "data", [row(first + timedelta(days=n), NAMES[0], 100) for n in range(21)],
          org=ORGS[1])
    with pytest.MonkeyPatch.context() as mp:
        for name in GENESYS_VARS:
            mp.delenv(name, raising=False)
        return run_report({"interval": f"{first}/{last + timedelta(days=1)}",
                           "dataset": str(tmp / "data"), "refresh": False,
                           "org": ORGS[0].id}, tmp / "reports")


def test_no_script_runs_and_every_name_is_text(report: ReportResult, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(report.html.as_uri(), wait_until="load")
            page.wait_for_timeout(500)  # an onerror handler would have fired by now
            handlers = page.evaluate("""() => [...document.querySelectorAll('*')]
                .filter(e => [...e.attributes].some(a => a.name.startsWith('on')))
                .map(e => e.outerHTML.slice(0, 80))""")
            scripts = page.evaluate("""() => [...document.querySelectorAll('script')]
                .map(s => s.textContent).filter(t => t.includes('alert('))""")
            links = page.evaluate("""() => [...document.querySelectorAll('a[href]')]
                .map(a => a.getAttribute('href')).filter(h => !h.startsWith('#'))""")
            text = page.inner_text("body")
        finally:
            browser.close()
    assert dialogs == [] and handlers == [] and scripts == [] and links == []
    for name in NAMES[:3]:  # the headline names the top three rate-limited clients
        assert visible(name) in text, name
    assert "api/v2/`<img src=y onerror=alert(5)>`/users" in text  # the code span, whole
    shown = {visible(name) for name in NAMES} | {org.label for org in ORGS}
    assert all(name in text for name in shown), [n[:40] for n in shown if n not in text]
    assert f"Organisation: {ORGS[0].label}" in text


def test_csvs_for_people_start_no_formula(report: ReportResult) -> None:
    cells: list[str] = []
    for path in sorted(report.run_dir.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            cells += [cell for record in csv.reader(fh) for cell in record]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
    formulas = [name for name in NAMES if name.startswith(FORMULA_STARTS)]
    neutralised = {name for name in formulas if "'" + name in cells}
    assert len(neutralised) >= 2, neutralised  # the top-429 table lists several of them
