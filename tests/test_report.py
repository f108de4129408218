"""run_report: papermill into a dated folder, one self-contained HTML, failures kept."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
import requests

from usagekit.cli import main
from usagekit.embedded import GENESYS_VARS
from usagekit.exceptions import ConfigError, ReportError
from usagekit.report import run_report
from usagekit.report.run import REPORT_NOTEBOOK, ReportResult, render_html, run_folder

pytestmark = pytest.mark.notebooks

INTERVAL = "2026-10-26/2026-11-16"
STARTED = datetime(2026, 11, 23, 6, 30, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """One report run on the sandbox (module-wide: it takes a few seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in GENESYS_VARS:
            mp.delenv(name, raising=False)
        tmp = tmp_path_factory.mktemp("report")
        return run_report({"interval": INTERVAL, "dataset": str(tmp / "data")},
                          tmp / "reports", now=STARTED)


def broken_notebook(tmp_path: Path) -> Path:
    """The report notebook's parameters cell followed by a cell that raises."""
    source = nbformat.read(REPORT_NOTEBOOK, as_version=4)
    params = next(c for c in source.cells if "parameters" in c.metadata.get("tags", []))
    nb = nbformat.v4.new_notebook(metadata=source.metadata, cells=[
        params, nbformat.v4.new_code_cell("raise RuntimeError('deliberate failure')")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    return path


def test_run_goes_into_a_dated_folder_with_a_latest_copy(report: ReportResult) -> None:
    assert report.run_dir.name == "2026-11-23T063005Z"
    assert report.run_dir == run_folder(report.run_dir.parent, STARTED)
    assert report.notebook == report.run_dir / "usage-report.ipynb"
    assert report.html == report.run_dir / "usage-report.html"
    assert report.latest == report.run_dir.parent / "usage-report.html"
    assert report.latest.read_bytes() == report.html.read_bytes()
    assert report.parameters["output_dir"] == str(report.run_dir)
    summary = json.loads((report.run_dir / "summary.json").read_text())
    assert summary["interval"].startswith("2026-10-26T00:00:00Z/")
    executed = nbformat.read(report.notebook, as_version=4)
    assert executed.metadata["papermill"]["parameters"]["interval"] == INTERVAL


def test_html_is_self_contained_without_code(report: ReportResult) -> None:
    html = report.html.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html), "no external (or any) script files"
    assert not re.search(r"""<link[^>]+href=["']https?:""", html)
    tags = re.findall(r"<img [^>]+>", html)
    assert len(tags) == 8
    assert all('src="data:image/png;base64,' in tag for tag in tags)
    alts = [re.search(r'alt="([^"]*)"', tag).group(1) for tag in tags]  # type: ignore[union-attr]
    assert "Requests per day" in alts and "Status mix of" in " ".join(alts)
    body = html[html.index("<body"):]
    for code in ("report.collect(", "report.validate(", "charts.", "import "):
        assert code not in body, f"code input {code!r} leaked into the HTML"
    assert 'class="highlight' not in body and "jp-InputPrompt" not in body
    assert "Traceback" not in html and "jp-OutputArea-error" not in html
    assert "<title>Genesys Cloud API usage report</title>" in html


def test_first_screen_states_what_where_and_when(report: ReportResult) -> None:
    html = report.html.read_text(encoding="utf-8")
    headline = html[: html.index('id="Requests-over-time"')]
    for text in ("2026-10-26 to 2026-11-15", "21 UTC days, by day", "embedded sandbox",
                 "engine DuckDB", "Traffic:", "Rate-limited (429):", "Failing endpoints:",
                 "Fair use:", "Changes:"):
        assert text in headline, text
    assert re.search(r"made \d{4}-\d\d-\d\d \d\d:\d\d UTC", headline)
    # no licences file: the sandbox's org's licences from its billable-usage report
    # (CX3 180, CX1 45, Communicate 30 named users)
    assert ("against an allowance of 28,875,000 (CX3 180 named x 140,000; CX1 45 named x "
            "75,000; Communicate 30 named x 10,000, as Genesys's billable-usage report "
            "counts them)") in unescape(headline)
    fair_use = json.loads((report.run_dir / "summary.json").read_text())["fair_use"]
    assert fair_use["licences_from"] == "billing"
    assert fair_use["allowance"] == 180 * 140_000 + 45 * 75_000 + 30 * 10_000


def test_first_screen_opens_with_the_alerts(report: ReportResult) -> None:
    """The alerts come first, each worded as `usagekit check` words it (summary.json)."""
    html = report.html.read_text(encoding="utf-8")
    headline = html[: html.index('id="Requests-over-time"')]
    text = unescape(re.sub(r"<[^>]+>", "", headline))
    alerts = json.loads((report.run_dir / "summary.json").read_text())["alerts"]
    assert alerts["firing"], "the sandbox's clients are rate-limited"
    first = text.index(f"Alerts: {len(alerts['firing'])} firing")
    assert first < text.index("2026-10-26 to 2026-11-15") < text.index("Traffic:")
    for alert in alerts["firing"]:
        assert f"{alert['rule']}: {alert['message']}" in text, alert["message"]


def test_tables_are_formatted(report: ReportResult) -> None:
    html = report.html.read_text(encoding="utf-8")
    assert re.search(r">\d{1,3}(,\d{3})+<", html), "thousands separators"
    assert re.search(r">\d+\.\d %<", html), "percentages"
    assert "Client</th>" in html and "429 rate</th>" in html


def test_a_failing_run_raises_and_keeps_the_executed_notebook(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with pytest.raises(ReportError, match=r"deliberate failure.*kept at") as info:
        run_report({"interval": INTERVAL}, reports, notebook=broken_notebook(tmp_path),
                   now=STARTED)
    run_dir = reports / "2026-11-23T063005Z"
    kept = nbformat.read(run_dir / "usage-report.ipynb", as_version=4)
    assert kept.metadata["papermill"]["exception"] is True
    assert str(run_dir / "usage-report.ipynb") in str(info.value)
    assert not (run_dir / "usage-report.html").exists()
    assert not (reports / "usage-report.html").exists()


def test_bad_parameters_fail_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'Fortnight': use one of Day, Week, Month"):
        run_report({"granularity": "Fortnight"}, tmp_path / "reports")
    with pytest.raises(ConfigError, match="unknown parameter 'granularty'"):
        run_report({"granularty": "Day"}, tmp_path / "reports")
    with pytest.raises(ReportError, match="not as a notebook parameter"):
        run_report({"output_dir": "x"}, tmp_path / "reports")
    with pytest.raises(ReportError, match="not found"):
        run_report({}, tmp_path / "reports", notebook=tmp_path / "missing.ipynb")
    assert not (tmp_path / "reports").exists()


def test_render_errors_are_report_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match="could not render"):
        render_html(bad, tmp_path / "bad.html")


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse choices
        main(["report", "--granularity", "Fortnight"])
    assert exited.value.code == 2
    assert "invalid choice: 'Fortnight'" in capsys.readouterr().err
    assert main(["report", "-p", "top_n", "0", "--output-dir", str(tmp_path)]) == 2
    assert "invalid top_n 0" in capsys.readouterr().err
    code = main(["report", "--interval", INTERVAL, "--output-dir", str(tmp_path / "r"),
                 "--notebook", str(broken_notebook(tmp_path))])
    assert code == 1
    err = capsys.readouterr().err
    assert "deliberate failure" in err and "usage-report.ipynb" in err
    assert list((tmp_path / "r").glob("*/usage-report.ipynb"))


def test_python_dash_m_usagekit_report_is_the_make_target() -> None:
    done = subprocess.run([sys.executable, "-m", "usagekit", "report", "--help"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0
    for flag in ("--interval", "--granularity", "--engine", "--dataset", "--output-dir",
                 "-p NAME VALUE"):
        assert flag in done.stdout



def test_a_report_run_prints_its_path_and_no_warning(no_genesys: None, tmp_path: Path) -> None:
    """What ``make report`` runs says where the report is and nothing else: no warning meant
    for developers (such as ipykernel's about a kernel on TCP without encryption)."""
    done = subprocess.run([sys.executable, "-m", "usagekit", "report", "--interval", INTERVAL,
                           "--dataset", str(tmp_path / "data"),
                           "--output-dir", str(tmp_path / "reports")],
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    # one line on stderr: where the refresh fetched from (the sandbox and its fictional org)
    assert re.fullmatch(r"usagekit: embedded sandbox at http://127\.0\.0\.1:\d+ \(fictional "
                        r"data; [^)]*\): Sandbox .*\(fictional\) \(\w{8}, sandbox\)\n",
                        done.stderr), done.stderr
    (html,) = (tmp_path / "reports").glob("*/usage-report.html")
    assert done.stdout == f"{html}\n"

class _Recording:
    """An engine that remembers every statement, its parameters and its result, in order."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.kind, self.database, self.table = engine.kind, engine.database, engine.table
        self.calls: list[tuple[str, list[Any], pd.DataFrame]] = []

    @property
    def source(self) -> str:
        return self.engine.source

    def sql(self, text: str, params: Any = None) -> pd.DataFrame:
        frame = self.engine.sql(text, params)
        self.calls.append((text, list(params or []), frame))
        return frame


_ATHENA_TYPES = {"int64": "bigint", "float64": "double", "bool": "boolean",
                 "datetime64[us, UTC]": "timestamp", "string": "varchar"}


def _athena_cell(value: Any) -> dict[str, str]:
    if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return {}
    if isinstance(value, pd.Timestamp):
        return {"VarCharValue": value.strftime("%Y-%m-%d %H:%M:%S.000")}
    if isinstance(value, bool):
        return {"VarCharValue": str(value).lower()}
    return {"VarCharValue": str(value)}


def _queue_in_moto(url: str, frame: pd.DataFrame) -> None:
    """Queue ``frame`` as Athena's next result: lower-case names, Athena's types as text."""
    names = [c.lower() for c in frame.columns]
    rows = [{"Data": [{"VarCharValue": n} for n in names]}]
    rows += [{"Data": [_athena_cell(v) for v in record]}
             for record in frame.astype(object).itertuples(index=False)]
    info = [{"Name": n, "Label": n, "Type": _ATHENA_TYPES[str(frame[c].dtype)]}
            for n, c in zip(names, frame.columns, strict=True)]
    requests.post(f"{url}/moto-api/static/athena/query-results",
                  json={"results": [{"rows": rows, "column_info": info}]},
                  timeout=10).raise_for_status()


@pytest.mark.aws
def test_report_on_the_athena_engine(aws: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The report on Athena sends DuckDB's very statements and reads back the same report.

    moto runs no SQL, so each Athena result is what DuckDB answered for the same
    statement on the same (sandbox) data, queued in order and typed as Athena types it.
    """
    import boto3

    from usagekit.engine import DuckDBEngine
    from usagekit.engine.athena import athena_literal
    from usagekit.report import gather as report_module
    from usagekit.report.first_screen import headline
    from usagekit.report.params import validate

    dataset = str(tmp_path / "data")
    values = {"interval": "2026-10-05/2026-10-26", "dataset": dataset, "refresh": False,
              "output_dir": str(tmp_path / "out")}
    report_module.refresh(validate("usage-report", **{**values, "refresh": True}), env={})
    local = _Recording(DuckDBEngine(dataset))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_module, "open_engine", lambda kind, location: local)
        on_duckdb = report_module.collect(validate("usage-report", **values), now=STARTED)
    assert not on_duckdb.missing and on_duckdb.summary()["totals"]["requests"] > 0

    boto3.client("s3").create_bucket(Bucket="athena-results")
    monkeypatch.setenv("USAGEKIT_ATHENA_OUTPUT", "s3://athena-results/usagekit/")
    for _text, _params, frame in local.calls:
        _queue_in_moto(aws, frame)
    on_athena = report_module.collect(validate("usage-report", **values, engine="athena"),
                                      now=STARTED)

    athena = boto3.client("athena")
    executions = sorted(
        (athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]
         for i in athena.list_query_executions()["QueryExecutionIds"]),
        key=lambda e: e["Status"]["SubmissionDateTime"])
    assert [(e["Query"], e.get("ExecutionParameters", [])) for e in executions] == [
        (text, [athena_literal(p) for p in params]) for text, params, _ in local.calls]
    assert not on_athena.missing
    assert on_athena.source["engine"] == "Athena (genesysclouddb.gc_usage_api_source)"
    athena_summary, duckdb_summary = on_athena.summary(), on_duckdb.summary()
    for summary in (athena_summary, duckdb_summary):
        summary.pop("source"), summary.pop("parameters")
    assert athena_summary == duckdb_summary
    assert on_athena.alerts is not None and on_duckdb.alerts is not None
    assert on_athena.alerts.alerts == on_duckdb.alerts.alerts  # check's rules, on Athena too
    assert {a.rule for a in on_athena.alerts.alerts} >= {"rate_limited", "stale"}

    def without_source(text: str) -> list[str]:  # the "Data: ... engine ..." line differs
        return [line for line in text.split("\n") if not line.startswith("Data: ")]

    assert without_source(str(headline(on_athena))) == without_source(str(headline(on_duckdb)))
    # not refreshed, no licences file: no allowance guessed, and how to give it
    assert duckdb_summary["fair_use"]["allowance"] is None
    assert ("the allowance is unknown: give the org's licences with `--licences FILE`"
            in str(headline(on_duckdb)))


def test_refresh_on_consecutive_days_keeps_whole_weeks(tmp_path: Path) -> None:
    """Two refreshes whose intervals start on different weekdays both store, and the
    stored weeks are whole (Monday-aligned), so neither run drops the other's days."""
    from usagekit.dataset import open_dataset
    from usagekit.report import gather as report_module
    from usagekit.report.params import validate

    dataset = str(tmp_path / "data")
    for interval in ("2026-10-06/2026-10-20", "2026-10-07/2026-10-21"):  # a Tue, then a Wed
        report_module.refresh(validate("usage-report", interval=interval, dataset=dataset), env={})
    weeks = open_dataset(dataset).read(granularity="week")
    assert set(weeks["date"].dt.strftime("%Y-%m-%d")) == {"2026-10-05", "2026-10-12",
                                                          "2026-10-19"}
    assert set(weeks["date"].dt.day_of_week) == {0}
    days = open_dataset(dataset).read(granularity="day")
    in_week = days[(days["date"] >= "2026-10-05") & (days["date"] < "2026-10-12")]
    week = weeks[weeks["date"] == "2026-10-05"]
    assert week["requests"].sum() == in_week["requests"].sum() > 0
