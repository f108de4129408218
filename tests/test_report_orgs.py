"""The report, the explorer and their parameters on a dataset holding two organisations.

Two fictional orgs of one sandbox are synced over real HTTP into one dataset, each with its
own credentials (as a partner with two customers' client credentials would). The report
covers the org asked for, opens with a cross-org overview whose numbers match pandas over
the stored rows, and refuses to guess when nothing chooses an org.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from usagekit.cli import main
from usagekit.config.settings import ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REGION, REPORT_GROUP_BY
from usagekit.dataset import open_dataset
from usagekit.embedded import GENESYS_VARS
from usagekit.exceptions import ConfigError
from usagekit.explore import open_explorer
from usagekit.report import run_report, validate
from usagekit.report.gather import collect, refresh
from usagekit.report.run import ReportResult
from usagekit.row import Org
from usagekit.sandbox import Sandbox

pytestmark = pytest.mark.notebooks

INTERVAL = "2026-10-26/2026-11-16"  # three whole weeks


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Org], Any]]:
    """Both sandbox orgs synced into one dataset; the sandbox stays up for refresh tests."""
    location = str(tmp_path_factory.mktemp("two-orgs") / "data")
    with Sandbox(orgs=2) as sandbox:
        envs = [{ENV_REGION: sandbox.url, ENV_CLIENT_ID: org.client_id,
                 ENV_CLIENT_SECRET: org.client_secret} for org in sandbox.orgs]
        orgs = []
        for env in envs:
            _, org = refresh(validate("usage-report", interval=INTERVAL, dataset=location),
                             env)
            orgs.append(org)
        yield location, orgs, envs


@pytest.fixture(scope="module")
def report(synced: tuple[str, list[Org], Any],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportResult]:
    location, orgs, _ = synced
    with pytest.MonkeyPatch.context() as mp:
        for name in GENESYS_VARS:
            mp.delenv(name, raising=False)
        yield run_report({"interval": INTERVAL, "dataset": location, "refresh": False,
                          "org": orgs[1].short_id},
                         tmp_path_factory.mktemp("reports"))


def day_rows(location: str) -> pd.DataFrame:
    """The stored day rows of the interval, every org's (the oracle's input)."""
    start, end = INTERVAL.split("/")
    return open_dataset(location).read(granularity="day", grouping=REPORT_GROUP_BY,
                                       start=start, end=end)


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_two_orgs_were_synced_apart(synced: tuple[str, list[Org], Any]) -> None:
    location, orgs, _ = synced
    assert len({o.id for o in orgs}) == 2 and len({o.name for o in orgs}) == 2
    assert sorted(o.id for o in open_dataset(location).orgs()) == sorted(o.id for o in orgs)
    rows = day_rows(location)
    sums = rows.groupby("org")["requests"].sum()
    assert set(sums.index) == {o.id for o in orgs} and sums.nunique() == 2


def test_the_report_covers_the_org_asked_for(report: ReportResult,
                                            synced: tuple[str, list[Org], Any]) -> None:
    location, orgs, _ = synced
    summary = json.loads((report.run_dir / "summary.json").read_text())
    assert summary["org"]["id"] == orgs[1].id and summary["org"]["name"] == orgs[1].name
    rows = day_rows(location)
    mine = rows[rows["org"] == orgs[1].id]
    assert summary["totals"]["requests"] == int(mine["requests"].sum())
    assert summary["totals"]["status429"] == int(mine["status429"].sum())
    top = mine.groupby("clientId")["status429"].sum().sort_values(ascending=False)
    assert summary["rate_limited"][0]["clientId"] == top.index[0]


def test_the_overview_matches_each_orgs_rows(report: ReportResult,
                                            synced: tuple[str, list[Org], Any]) -> None:
    location, orgs, _ = synced
    summary = json.loads((report.run_dir / "summary.json").read_text())
    rows = day_rows(location)
    by_id = {row["org_id"]: row for row in summary["orgs"]}
    assert set(by_id) == {o.id for o in orgs}
    for org in orgs:
        mine = rows[rows["org"] == org.id]
        row = by_id[org.id]
        assert row["org"] == org.label and row["fair_use"] == "unknown"
        assert row["requests"] == int(mine["requests"].sum())
        assert row["rate429"] == pytest.approx(mine["status429"].sum() / mine["requests"].sum())
        per_client = mine.groupby("clientId").agg(n=("status429", "sum"),
                                                  name=("clientName", "max"))
        best = per_client.sort_values("n", ascending=False).iloc[0]
        assert (row["top_client"], row["top_client_status429"]) == (best["name"], best["n"])
        monday = mine["date"] - pd.to_timedelta(mine["date"].dt.day_of_week, unit="D")
        weeks = mine.assign(week=monday).groupby("week")["requests"].sum()
        assert (row["week_requests"], row["previous_week_requests"]) == (
            int(weeks.iloc[-1]), int(weeks.iloc[-2]))


def test_the_first_screen_names_the_org_then_every_org(
        report: ReportResult, synced: tuple[str, list[Org], Any]) -> None:
    _, orgs, _ = synced
    html = report.html.read_text(encoding="utf-8")
    text = text_of(html[: html.index('id="Requests-over-time"')])
    assert text.index(f"Organisation: {orgs[1].label}") < text.index(
        "All 2 organisations in the dataset") < text.index("Alerts")
    assert f"{orgs[1].label} (this report)" in text and orgs[0].label in text
    assert f"{orgs[0].label} (this report)" not in text


def test_several_orgs_and_no_choice_is_said_before_anything_runs(
        synced: tuple[str, list[Org], Any], tmp_path: Path) -> None:
    location, orgs, _ = synced
    with pytest.raises(ConfigError, match="holds 2 organisations") as exc:
        run_report({"interval": INTERVAL, "dataset": location, "refresh": False},
                   tmp_path / "reports")
    assert all(o.label in str(exc.value) for o in orgs) and "--org" in str(exc.value)
    assert not (tmp_path / "reports").exists()
    with pytest.raises(ConfigError, match=r"no org of the dataset .* match it"):
        validate("usage-report", dataset=location, org="Nobody")


def test_a_refresh_connected_to_another_org_stops_before_fetching(
        synced: tuple[str, list[Org], Any]) -> None:
    location, orgs, envs = synced
    before = day_rows(location)
    params = validate("usage-report", interval=INTERVAL, dataset=location, org=orgs[0].name)
    with pytest.raises(ConfigError, match="settings connect to") as exc:
        collect(params, env=envs[1])
    assert orgs[0].label in str(exc.value) and orgs[1].label in str(exc.value)
    pd.testing.assert_frame_equal(day_rows(location), before)
    connected = collect(validate("usage-report", interval=INTERVAL, dataset=location),
                        env=envs[0])  # no org asked: the connected one
    assert connected.org == orgs[0] and len(connected.overview) == 2


def test_the_explorer_shows_one_org(synced: tuple[str, list[Org], Any], tmp_path: Path) -> None:
    location, orgs, _ = synced
    params = validate("explore-interactive", interval=INTERVAL, dataset=location,
                      refresh=False, org=orgs[0].id, output_dir=str(tmp_path))
    app = open_explorer(params)
    assert orgs[0].label in unescape(app.org_line.value) and orgs[1].label not in unescape(
        app.org_line.value)
    rows = day_rows(location)
    mine = rows[rows["org"] == orgs[0].id]
    assert app.view is not None
    per_day = mine.groupby("date")["requests"].sum()
    assert app.view.series["requests"].tolist() == per_day.tolist()
    app.export()
    view = json.loads((tmp_path / "explore-view.json").read_text())
    assert view["org"] == {"id": orgs[0].id, "name": orgs[0].name, "region": orgs[0].region,
                           "fictional": orgs[0].fictional}


@pytest.mark.browser
def test_the_browser_shows_both_orgs(chromium: str, report: ReportResult,
                                     synced: tuple[str, list[Org], Any], tmp_path: Path) -> None:
    _, orgs, _ = synced
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                           "--dump-dom", report.html.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    text = text_of(done.stdout)
    assert all(org.label in text for org in orgs), done.stderr[-2000:]
    assert "Traceback" not in done.stdout


def test_usagekit_report_org_flag(synced: tuple[str, list[Org], Any], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Without --org on two orgs: exit 2 naming both, nothing written; --org names one."""
    location, orgs, _ = synced
    out = tmp_path / "reports"
    assert main(["report", "--dataset", location, "--no-refresh", "--interval", INTERVAL,
                 "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds 2 organisations" in err and all(o.label in err for o in orgs)
    assert not out.exists()
    assert main(["report", "--dataset", location, "--no-refresh", "--interval", INTERVAL,
                 "--output-dir", str(out), "--org", "nobody"]) == 2
    assert "invalid org 'nobody'" in capsys.readouterr().err and not out.exists()


def test_the_overview_shows_each_orgs_fair_use_from_its_licences(
        synced: tuple[str, list[Org], Any], tmp_path: Path) -> None:
    """A licences file with a section for one org: that org's position, the other unknown."""
    from usagekit import analyses
    from usagekit.engine import DuckDBEngine

    location, orgs, _ = synced
    licences = tmp_path / "licences.toml"
    licences.write_text(f'[orgs."{orgs[0].id}".licences]\nCX1 = {{ named = 1 }}\n')
    params = validate("usage-report", interval=INTERVAL, dataset=location, refresh=False,
                      org=orgs[0].short_id, licences=str(licences))
    data = collect(params)
    assert data.overview is not None
    by_id = data.overview.set_index("org_id")["fair_use"].to_dict()
    assert by_id[orgs[1].id] == "unknown"  # the file has no section for it
    with DuckDBEngine(location) as engine:
        month = analyses.fair_use(engine, org=orgs[0], licences=str(licences),
                                  grouping="-".join(g.lower() for g in REPORT_GROUP_BY),
                                  start="2026-11-01", end="2026-11-16",
                                  as_of="2026-11-15").iloc[-1]
    assert int(month["allowance"]) == 75_000 and not month["complete"]
    over = ", over" if month["projected_overage"] else ""
    assert by_id[orgs[0].id] == f"{month['projected_share']:.0%} projected{over}"


def test_the_explorer_names_who_causes_the_overage(synced: tuple[str, list[Org], Any],
                                                   tmp_path: Path) -> None:
    """With licences far below the org's traffic, the explorer's fair-use line names the top
    contributors and their shares of the month's requests (pandas over the stored rows);
    without licences it says the allowance is unknown."""
    from usagekit.analyses.licences import is_genesys_client

    location, orgs, _ = synced
    licences = tmp_path / "licences.toml"
    licences.write_text('[licences]\nCX1 = { named = 1 }\n')  # 75,000 a month
    base = {"interval": INTERVAL, "dataset": location, "refresh": False, "org": orgs[0].id,
            "output_dir": str(tmp_path)}
    unknown = open_explorer(validate("explore-interactive", **base))
    assert "allowance unknown" in unescape(unknown.fair_use_line.value)
    app = open_explorer(validate("explore-interactive", **base, licences=str(licences)))
    line = unescape(app.fair_use_line.value)
    rows = day_rows(location)
    november = rows[(rows["org"] == orgs[0].id) & (rows["date"] >= "2026-11-01")
                    & ~rows["clientName"].map(is_genesys_client)]
    sums = november.groupby(["clientId", "clientName"])["requests"].sum().nlargest(3)
    assert sums.sum() > 75_000
    named = [f"{name} {requests / november['requests'].sum():.0%}"
             for (_, name), requests in sums.items()]
    assert f"over it; top contributors {', '.join(named)}" in line, line
    assert "November 2026" in line and "of the allowance 75,000" in line
