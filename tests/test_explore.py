"""The interactive explorer: set widget values, check what the view shows.

The dataset is filled by :func:`usagekit.report.gather.refresh` from the embedded sandbox (real
HTTP on 127.0.0.1) and read by DuckDB; every expected number is computed here with pandas
from the stored rows (``Dataset.read``), not from the explorer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import sqlglot

from usagekit import charts
from usagekit.analyses.library import VIEW_METRICS
from usagekit.charts.metrics import LEGEND_WIDTH, METRIC_WORDS
from usagekit.charts.palette import OTHER, OTHER_COLOR
from usagekit.charts.tables import shorten
from usagekit.config import AthenaSettings
from usagekit.dataset import open_dataset
from usagekit.embedded import GENESYS_VARS
from usagekit.engine import AthenaEngine, open_engine
from usagekit.engine.athena import athena_literal
from usagekit.exceptions import ConfigError
from usagekit.explore import Explorer, ExplorerApp, Selection
from usagekit.explore.notebook import first_selection
from usagekit.explore.queries import SQL_DIR, Filters, Queries
from usagekit.explore.view import EXPORT_FILES
from usagekit.query import parse_interval
from usagekit.report import validate
from usagekit.report.gather import refresh

INTERVAL = "2026-10-26/2026-11-16"  # three whole weeks, in the past
FULL = "oauthclientid-templateuri-httpmethod"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    location = str(tmp_path_factory.mktemp("explore") / "data")
    with pytest.MonkeyPatch.context() as mp:
        for name in GENESYS_VARS:
            mp.delenv(name, raising=False)
        params = validate("explore-interactive", interval=INTERVAL, dataset=location)
        source, org = refresh(params)
        assert source == "sandbox" and org.fictional
    return location


@pytest.fixture(scope="module")
def rows(dataset: str) -> pd.DataFrame:
    """The interval's stored day rows, read without the explorer."""
    iv = parse_interval(INTERVAL)
    return open_dataset(dataset).read(granularity="day", grouping=FULL, start=iv.start,
                                      end=iv.end)


@pytest.fixture
def app(dataset: str, tmp_path: Path) -> Iterator[ExplorerApp]:
    with open_engine("local", dataset) as engine:
        yield ExplorerApp(Explorer(engine, top_n=5), Selection(parse_interval(INTERVAL)),
                          output_dir=tmp_path / "out")


def _line(app: ExplorerApp, label: str) -> list[float]:
    (ax,) = app.view.series_figure().axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    shown = shorten(label, LEGEND_WIDTH)
    assert shown in lines, sorted(lines)
    return [float(v) for v in lines[shown].get_ydata()]


def _client(rows: pd.DataFrame, rank: int = 0) -> tuple[str, str]:
    """(id, name) of the client with the ``rank``-th most requests."""
    totals = rows.groupby(["clientId", "clientName"])["requests"].sum().sort_values(
        ascending=False)
    return totals.index[rank]


def test_first_view_is_every_client_by_requests(app: ExplorerApp, rows: pd.DataFrame) -> None:
    per_day = rows.groupby("date")["requests"].sum()
    assert app.view.title == "Requests per day · All clients"
    assert app.chart_title.value.endswith("Requests per day · All clients</h3>")
    assert app.view.series["requests"].tolist() == per_day.tolist()
    assert _line(app, "All clients") == [float(v) for v in per_day]
    per_client = rows.groupby("clientId")["requests"].sum().sort_values(ascending=False)
    assert app.view.breakdown["key"].tolist() == list(per_client.index)
    assert app.view.breakdown["requests"].tolist() == per_client.tolist()
    # the pick lists: busiest first, labelled by name
    assert [cid for _label, cid in app.clients.options] == list(per_client.index)
    assert app.clients.options[0][0] == _client(rows)[1]
    methods = rows.groupby("httpMethod")["requests"].sum().sort_values(ascending=False)
    assert [m for _label, m in app.method.options] == ["", *methods.index]
    assert bytes(app.chart.value).startswith(PNG)
    assert app.table.value.count("<tr>") == 1 + 5 + 1  # header, top 5, other
    assert app.view.selection.breakdown == "client"
    assert len(app.drill.options) == rows["clientId"].nunique()


def test_picking_a_client_shows_its_series_and_its_endpoints(
        app: ExplorerApp, rows: pd.DataFrame) -> None:
    cid, name = _client(rows, 1)
    before = bytes(app.chart.value)
    app.clients.value = (cid,)
    mine = rows[rows["clientId"] == cid]
    assert app.view.title == f"Requests per day · {name}"
    assert app.view.breakdown_title == f"Endpoints of {name} by requests"
    assert _line(app, name) == [float(v) for v in mine.groupby("date")["requests"].sum()]
    per_endpoint = mine.groupby(["httpMethod", "templateUri"])["requests"].sum().sort_values(
        ascending=False, kind="stable")
    assert app.view.breakdown["requests"].tolist() == per_endpoint.tolist()
    assert set(app.view.breakdown["key"]) == set(per_endpoint.index)
    top_method, top_uri = app.view.breakdown["key"].iloc[0]
    assert f"{top_method} {top_uri}" in app.table.value
    assert bytes(app.chart.value) != before
    assert "error" not in app.status.value and "1 query" in app.status.value


def test_drilling_goes_client_to_endpoints_to_clients_and_back(
        app: ExplorerApp, rows: pd.DataFrame) -> None:
    cid, _name = _client(rows)
    app.drill.value = cid  # a click on the client in "Drill into"
    assert app.view.selection.clients == (cid,)
    assert app.clients.value == (cid,)
    assert app.view.selection.breakdown == "endpoint"
    key = app.drill.options[0][1]  # its busiest endpoint
    app.drill.value = key
    method, uri = key
    assert (app.endpoint.value, app.method.value, app.clients.value) == (uri, method, ())
    assert app.view.selection.breakdown == "client"
    assert app.view.breakdown_title == f"Clients of {method} {uri} by requests"
    callers = rows[(rows["templateUri"] == uri) & (rows["httpMethod"] == method)]
    per_client = callers.groupby("clientId")["requests"].sum().sort_values(ascending=False)
    assert app.view.breakdown["key"].tolist() == list(per_client.index)
    assert _line(app, f"{method} {uri}") == [
        float(v) for v in callers.groupby("date")["requests"].sum()]
    asked = app.explorer.queries.asked
    app.back.click()
    assert app.view.selection.clients == (cid,) and app.endpoint.value == ""
    app.back.click()
    assert app.view.title == "Requests per day · All clients"
    assert app.explorer.queries.asked == asked, "earlier views come from the cache"
    app.drill.value = cid
    app.reset.click()
    assert app.view.selection.clients == () and app.clients.value == ()


def test_switching_the_metric_ranks_by_it_without_a_query(
        app: ExplorerApp, rows: pd.DataFrame) -> None:
    asked = app.explorer.queries.asked
    app.metric.value = "error_rate"
    assert app.explorer.queries.asked == asked
    assert app.view.title == "Error rate per day · All clients"
    per_day = rows.groupby("date")[["requests", "status400", "status500"]].sum()
    expected = (per_day["status400"] + per_day["status500"]) / per_day["requests"]
    assert _line(app, "All clients") == pytest.approx(list(expected))
    (ax,) = app.view.series_figure().axes
    assert ax.get_ylabel() == METRIC_WORDS["error_rate"]
    rates = app.view.breakdown["error_rate"].tolist()
    assert rates == sorted(rates, reverse=True)
    app.metric.value = "status429"
    per_client = rows.groupby("clientId")["status429"].sum()
    top = app.view.breakdown.iloc[0]
    assert top["status429"] == per_client.max()
    assert app.drill.options[0][0].endswith(f"· {per_client.max():,}")


def test_several_clients_draw_one_line_each_and_the_rest_as_other(
        dataset: str, rows: pd.DataFrame, tmp_path: Path) -> None:
    with open_engine("local", dataset) as engine:
        app = ExplorerApp(Explorer(engine, top_n=2), Selection(parse_interval(INTERVAL)),
                          output_dir=tmp_path)
        picked = [_client(rows, i) for i in range(3)]
        app.clients.value = tuple(cid for cid, _ in picked)
        (ax,) = app.view.series_figure().axes
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels == [picked[0][1], picked[1][1], OTHER]
        third = rows[rows["clientId"] == picked[2][0]].groupby("date")["requests"].sum()
        assert _line(app, OTHER) == [float(v) for v in third]
        assert app.view.subject == "3 clients"


def test_week_granularity_and_a_new_interval(app: ExplorerApp, dataset: str) -> None:
    app.granularity.value = "Week"
    weeks = app.view.series["date"]
    assert (weeks.dt.day_of_week == 0).all() and len(weeks) == 3
    stored = open_dataset(dataset).read(granularity="week", grouping=FULL)
    assert app.view.series["requests"].sum() == stored["requests"].sum()
    app.end.value = parse_interval("2026-11-09/2026-11-10").start.date()
    assert app.view.selection.interval.text == "2026-10-26T00:00:00Z/2026-11-10T00:00:00Z"
    assert len(app.view.series) == 3  # the week of Nov 9 is shown whole
    shown = app.view
    app.start.value = parse_interval("2026-11-12/2026-11-13").start.date()
    assert "ends (2026-11-09) before it starts (2026-11-12)" in app.status.value
    assert app.view is shown, "a bad pick keeps the view on screen"


def test_export_writes_the_view_on_screen(app: ExplorerApp, rows: pd.DataFrame) -> None:
    cid, name = _client(rows)
    app.clients.value = (cid,)
    paths = app.export()
    assert [p.name for p in paths] == list(EXPORT_FILES)
    folder = app.output_dir
    series = pd.read_csv(folder / "explore-series.csv")
    mine = rows[rows["clientId"] == cid]
    assert series["requests"].tolist() == mine.groupby("date")["requests"].sum().tolist()
    assert set(series["series"]) == {name}
    breakdown = pd.read_csv(folder / "explore-breakdown.csv")
    assert breakdown["requests"].sum() == mine["requests"].sum()
    assert (folder / "explore-series.png").read_bytes() == app.view.png("series")
    assert (folder / "explore-breakdown.png").read_bytes().startswith(PNG)
    view = json.loads((folder / "explore-view.json").read_text())
    assert view["selection"]["clients"] == [cid]
    assert view["title"] == f"Requests per day · {name}"
    assert "exported" in app.status.value
    assert not list(folder.glob(".*.tmp")), "no half-written file left behind"


def test_parameters_pick_the_first_view(dataset: str, rows: pd.DataFrame) -> None:
    params = validate("explore-interactive", interval=INTERVAL, dataset=dataset,
                      client="wallboard", template_uri="QUEUES/OBSERVATIONS", metric="status429",
                      refresh=False)
    with open_engine("local", dataset) as engine:
        selection = first_selection(Explorer(engine), params)
        wanted = rows[rows["clientName"].str.lower().str.contains("wallboard")]
        assert set(selection.clients) == set(wanted["clientId"])
        assert selection.template_uri == "api/v2/analytics/queues/observations/query"
        assert selection.metric == "status429"
        with pytest.raises(ConfigError, match=r"invalid client 'no-such'.*valid: "):
            first_selection(Explorer(engine), validate(
                "explore-interactive", interval=INTERVAL, dataset=dataset, client="no-such"))


def test_bad_values_name_the_valid_ones() -> None:
    iv = parse_interval(INTERVAL)
    with pytest.raises(ConfigError, match=r"invalid metric 'hits'.*requests, status429, "
                                          r"errors, error_rate"):
        Selection(iv, metric="hits")
    with pytest.raises(ConfigError, match=r"invalid granularity 'Hour'.*Day, Week, Month"):
        Selection(iv, granularity="Hour")
    with pytest.raises(ConfigError, match=r"invalid metric 'hits'.*error_rate"):
        validate("explore-interactive", interval=INTERVAL, metric="hits")
    with pytest.raises(ConfigError, match=r"invalid engine 'spark'.*local, athena"):
        validate("explore-interactive", interval=INTERVAL, engine="spark")
    with pytest.raises(ConfigError, match="invalid endpoint"):
        Selection(iv, clients=("c1",)).drill("not a pair")


class _Recorder:
    """An engine that records what it is sent and answers from DuckDB."""

    def __init__(self, engine: Any) -> None:
        self.inner, self.sent = engine, []
        self.kind, self.database, self.table = "recorder", engine.database, engine.table
        self.source = engine.source

    def sql(self, text: str, params: list[Any] | None = None) -> pd.DataFrame:
        self.sent.append((text, list(params or [])))
        return self.inner.sql(text, params)


def test_every_value_is_bound_never_written_into_the_sql(dataset: str) -> None:
    evil = "x' OR '1'='1"
    with open_engine("local", dataset) as engine:
        recorder = _Recorder(engine)
        queries = Queries(recorder)
        got = queries.series("day", "2026-10-26", "2026-11-16",
                             Filters((evil, "c2"), evil, "GET"), by_client=True)
        assert got.empty
        text, params = recorder.sent[-1]
        assert evil not in text and "GET" not in text
        assert params.count(evil) == 2 and "GET" in params and "c2" in params
        assert text.count("?") == len(params)
        sqlglot.parse_one(text, read="athena")
    for path in sorted(SQL_DIR.glob("*.sql")):
        body = path.read_text().replace("{filters}", "")
        rendered = body.replace("{source}", '"db"."t"').replace("{where}", "1 = 1")
        assert len(sqlglot.parse(rendered.format_map(_Anything()), read="athena")) == 1, path


class _Anything(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _preload(url: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    def row(values: list[str]) -> dict[str, Any]:
        return {"Data": [{"VarCharValue": v} for v in values]}

    body = {"results": [{
        "rows": [row([name for name, _ in columns])] + [row(r) for r in rows],
        "column_info": [{"Name": n, "Type": t, "Label": n} for n, t in columns],
    }]}
    requests.post(f"{url}/moto-api/static/athena/query-results", json=body,
                  timeout=10).raise_for_status()


@pytest.mark.aws
def test_the_explorer_runs_on_athena_with_execution_parameters(
        aws: str, tmp_path: Path) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket="athena-results")
    engine = AthenaEngine(AthenaSettings(output_location="s3://athena-results/explore/"))
    counts = [("requests", "bigint"), ("status429", "bigint"), ("errors", "bigint")]
    _preload(aws, [("grouping", "varchar")], [[FULL]])
    _preload(aws, [("clientid", "varchar"), ("clientname", "varchar"),
                   ("templateuri", "varchar"), ("httpmethod", "varchar"), *counts],
             [["c1", "One", "api/v2/users", "GET", "90", "5", "9"],
              ["c2", "Two", "api/v2/users", "GET", "10", "0", "1"]])
    _preload(aws, [("date", "timestamp"), *counts],
             [["2026-10-26 00:00:00.000", "60", "5", "6"],
              ["2026-10-27 00:00:00.000", "40", "0", "4"]])
    app = ExplorerApp(Explorer(engine), Selection(parse_interval(INTERVAL)),
                      output_dir=tmp_path)
    assert app.view.breakdown["key"].tolist() == ["c1", "c2"]
    assert app.view.series["requests"].tolist() == [60, 40]
    assert app.status.value.startswith("athena · ")
    athena = boto3.client("athena")
    executions = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]
                  for i in athena.list_query_executions()["QueryExecutionIds"]]
    series = max(executions, key=lambda e: e["Status"]["SubmissionDateTime"])
    text, params = app.explorer.queries.statement(
        "series_total", "day", "2026-10-26", "2026-11-16", Filters())
    assert series["Query"] == text
    assert series["ExecutionParameters"] == [athena_literal(p) for p in params]


@pytest.mark.notebooks
def test_notebook_runs_headless_and_writes_the_first_view(
        dataset: str, rows: pd.DataFrame, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    from usagekit.config.settings import PROJECT_ROOT

    for name in GENESYS_VARS:
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "out"
    nb = papermill.execute_notebook(
        str(PROJECT_ROOT / "notebooks" / "04-explore-interactive.ipynb"),
        str(tmp_path / "executed.ipynb"), kernel_name="python3", progress_bar=False,
        cwd=str(tmp_path), parameters={"interval": INTERVAL, "dataset": dataset,
                                       "output_dir": str(out), "client": "wallboard",
                                       "metric": "status429", "refresh": False})
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in outputs), "the explorer's widgets are displayed"
    view = json.loads((out / "explore-view.json").read_text())
    wanted = rows[rows["clientName"].str.lower().str.contains("wallboard")]
    assert set(view["selection"]["clients"]) == set(wanted["clientId"])
    assert view["selection"]["metric"] == "status429"
    breakdown = pd.read_csv(out / "explore-breakdown.csv")
    assert breakdown["status429"].sum() == wanted["status429"].sum()
    assert breakdown["status429"].tolist() == sorted(breakdown["status429"], reverse=True)
    for name in ("explore-series.png", "explore-breakdown.png"):
        assert (out / name).read_bytes().startswith(PNG)


def test_metric_charts_draw_what_they_are_given() -> None:
    days = pd.to_datetime(["2026-11-02", "2026-11-03"], utc=True)
    series = pd.DataFrame({"date": [*days, *days, days[0]],
                           "series": ["b", "b", "a", "a", OTHER],
                           "requests": [10, 20, 1, 2, 5], "error_rate": [0.5, 0.25, 0, 1, 0.1]})
    palette = charts.Palette.from_ranking(["a", "b"], top_n=2)
    fig = charts.plot_metric_over_time(series, metric="requests", granularity="Day",
                                       palette=palette, title="Requests per day · 2 clients")
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["b", "a", OTHER]  # other last, dashed, grey
    assert lines["a"].get_color() == palette.color("a")
    assert list(lines[OTHER].get_ydata()) == [5, 0]  # a missing period counts 0
    assert lines[OTHER].get_linestyle() == "--"
    rate = charts.plot_metric_over_time(series, metric="error_rate", granularity="day")
    (ax,) = rate.axes
    other = next(li for li in ax.get_lines() if li.get_label() == OTHER)
    assert pd.isna(other.get_ydata()[1]), "an unknown rate is not drawn as 0"
    assert ax.get_ylabel() == METRIC_WORDS["error_rate"]
    ranked = pd.DataFrame({"label": ["x", "other (3)"], "requests": [9, 4]})
    (ax,) = charts.plot_ranked_bars(ranked, metric="requests", title="T").axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["other (3)", "x"]
    grey = tuple(int(OTHER_COLOR[i:i + 2], 16) / 255 for i in (1, 3, 5))
    assert ax.patches[0].get_facecolor()[:3] == pytest.approx(grey)  # the bottom bar
    (ax,) = charts.plot_ranked_bars(ranked.iloc[:0], metric="requests").axes
    assert ax.texts[0].get_text() == "No requests in this interval"
    with pytest.raises(ConfigError, match=r"invalid metric 'hits'.*requests, status429"):
        charts.plot_ranked_bars(ranked, metric="hits")
    assert set(METRIC_WORDS) == set(VIEW_METRICS)


def test_hostile_names_are_shown_as_text(tmp_path: Path) -> None:
    """Client names with markup and control characters: escaped in every widget."""
    from datetime import date, timedelta

    from hostile import NAMES
    from watch_data import row, store

    from usagekit.display import html_text, visible

    first = date(2026, 10, 26)
    store(tmp_path / "data", [row(first + timedelta(days=n), name, 1000 + i)
                              for n in range(7) for i, name in enumerate(NAMES)])
    with open_engine("local", str(tmp_path / "data")) as engine:
        app = ExplorerApp(Explorer(engine, top_n=5), Selection(parse_interval(
            "2026-10-26/2026-11-02")), output_dir=tmp_path / "out")
        labels = [label for label, _ in app.drill.options]
        assert len(labels) == len(NAMES)
        assert all(label == visible(label) for label in labels)  # no control characters
        for cid, name in [(f"id-{n.lower()}", n) for n in NAMES[:3] + NAMES[8:13]]:
            app.clients.value = (cid,)
            assert app.chart_title.value.count("<") == 2  # its own <h3> and </h3> only
            assert html_text(shorten(name)) in app.chart_title.value or (
                html_text(name) in app.chart_title.value)
            assert "<h4>" + html_text(app.view.breakdown_title) + "</h4>" == (
                app.breakdown_title.value)
            assert "error" not in app.status.value
