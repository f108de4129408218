"""The report syncs (the blueprint's month query answers after it) and opens with the
alerts, worded as `usagekit check` words them."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from watch_data import limited, quiet_days, store

from tests.orgs import ORG
from usagekit.cli import main
from usagekit.display import markdown_text
from usagekit.engine import DuckDBEngine
from usagekit.report.first_screen import headline
from usagekit.report.gather import collect, refresh
from usagekit.report.params import validate

BLUEPRINT_SQL = ('SELECT * FROM "genesysclouddb"."gc_usage_api_source" WHERE '
                 "granularity='month' ORDER BY status429 DESC limit 10")


def test_blueprint_month_query_answers_after_the_default_refresh(
        no_genesys: None, tmp_path: Path) -> None:
    dataset = str(tmp_path / "data")
    refresh(validate("usage-report", dataset=dataset))  # the embedded default: the last 90 days
    with DuckDBEngine(dataset) as engine:
        rows = engine.sql(BLUEPRINT_SQL)
        days = engine.sql("SELECT min(\"date\") AS first, max(\"date\") AS last FROM "
                          '"genesysclouddb"."gc_usage_api_source" WHERE granularity = ?',
                          ["day"])
    assert len(rows) == 10
    assert set(rows["granularity"]) == {"month"}
    assert list(rows["status429"]) == sorted(rows["status429"], reverse=True)
    today = datetime.now(UTC).date()
    assert str(days.iloc[0]["last"])[:10] == str(today - timedelta(days=1))
    assert str(days.iloc[0]["first"])[:10] <= str(today - timedelta(days=90))


def test_first_screen_opens_with_the_alerts_check_prints(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    last = datetime.now(UTC).date() - timedelta(days=1)
    dataset = tmp_path / "data"
    store(dataset, limited(last, "Wallboard", s429=200))
    assert main(["check", "--dataset", str(dataset), "--json"]) == 1
    expected = [a["message"] for a in json.loads(capsys.readouterr().out)["alerts"]]
    assert any(m.startswith("Wallboard (id-wallboard) got 200 429s") for m in expected)

    params = validate("usage-report", dataset=str(dataset), refresh=False,
                      interval=f"{last - timedelta(days=13)}/{last + timedelta(days=1)}")
    text = str(headline(collect(params)))
    first = text.split("\n")
    assert html.unescape(first[0]) == f"**Organisation: {ORG.label}**"  # the dataset's only org
    assert first[1] == ""
    assert first[2].startswith(f"**Alerts: {len(expected)} firing** (`usagekit check` rules, "
                               f"last complete day {last})")
    shown = [html.unescape(line.split(": ", 1)[1])  # Markdown's character references
             for line in first if line.startswith("- `")]
    assert shown == expected


def test_first_screen_says_when_no_alert_fires(tmp_path: Path) -> None:
    last = datetime.now(UTC).date() - timedelta(days=1)
    dataset = tmp_path / "data"
    store(dataset, quiet_days(last, days=35))
    params = validate("usage-report", dataset=str(dataset), refresh=False,
                      interval=f"{last - timedelta(days=27)}/{last + timedelta(days=1)}")
    text = str(headline(collect(params)))
    assert text.startswith(f"**Organisation: {markdown_text(ORG.label)}**\n\n**Alerts:** none "
                           f"fire (`usagekit check` rules, last complete day {last}).")
