"""Every analysis, the blueprint's query and the report: DuckDB and a real Trino 476 agree.

Athena engine 3 is built on Trino. The same stored files (written by
``usagekit.dataset.open_dataset(...).write``: sandbox rows plus hard cases) are read by the
local engine (DuckDB, ``open_engine("local", ...)``) and by :class:`usagekit.engine.TrinoEngine`
over the table the kit creates (:meth:`TrinoEngine.create_table`), in NDJSON and in Parquet.
The frames must be equal: same columns, same dtypes, integers exactly, floats to 1e-9
relative. A difference is fixed in the SQL, the transpile or the result typing, never here.

In CI (``CI`` set) a Trino that cannot be had fails; elsewhere it skips with the reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.orgs import ORG
from usagekit.config import TrinoSettings
from usagekit.dataset import open_dataset
from usagekit.engine import DuckDBEngine, TrinoEngine, open_engine
from usagekit.exceptions import EngineError
from usagekit.row import PARTITION_KEYS, STORED_COLUMNS, Org

ROOT = Path(__file__).resolve().parents[1]
BLUEPRINT = ('SELECT * FROM "genesysclouddb"."gc_usage_api_source" '
             "WHERE granularity='month' ORDER BY status429 DESC limit 10")
FINE = "oauthclientid-templateuri-httpmethod"
#: Relative tolerance for floats (sums of the same integers, divided alike on both engines).
RTOL = 1e-9
#: A count near the int64 range; the org's total stays below 2**63 - 1 on every query.
HUGE = 2**62 + 12_345
NAMES = {
    "c-uni": 'Zoë\'s "Quoted" Bot — 日本語 ✓ \\ back 😀',
    "c-tab": "tab\there/and/slashes\\",
    "c-empty": "",
    "c-zero": "Zero Heavy",
    "c-huge": "Huge Counter",
    "c-tie-a": "Tie A",
    "c-tie-b": "Tie B",
    # the same ties again: their order is the ids' code-point order on every engine
    "C-TIE": "Tie Upper",
    "ç-tie": "Tie Cedilla",
    "c-Tie": "Tie Mixed",
    "c-renamed": "ärger",  # renamed to "Zed" mid-month: max() picks by code point
}


# -- the stored rows ----------------------------------------------------------------------

def _row(client: str, day: str, *, name: str | None = None, uri: str = "/api/v2/users",
         method: str = "GET", s200: int = 0, s300: int = 0, s400: int = 0, s429: int = 0,
         s500: int = 0) -> dict[str, Any]:
    """One day row grouped by client, template and method (``name`` overrides NAMES)."""
    return {"clientId": client, "clientName": NAMES[client] if name is None else name,
            "organizationId": "", "userId": "", "templateUri": uri, "httpMethod": method,
            "status200": s200, "status300": s300, "status400": s400, "status500": s500,
            "status429": s429, "requests": s200 + s300 + s400 + s500,
            "date": f"{day}T00:00:00Z"}


def _hard_day_rows() -> list[dict[str, Any]]:
    """August 2026, by client, template and method: every hard case at once."""
    rows = []
    for d in range(1, 32):
        day = f"2026-08-{d:02d}"
        rows += [
            _row("c-uni", day, uri="/api/v2/ünï/{id}", method="POST", s200=100 + d,
                 s400=7 + d % 3, s429=3 + d % 3, s500=d % 2),
            _row("c-tab", day, uri="/api/v2/a\tb/'q'", method="PUT", s200=50, s400=5 * (d % 4),
                 s429=2 * (d % 4)),
            _row("c-empty", day, uri="", method="", s200=10 * d, s300=d),  # empty dimensions
            _row("c-zero", day, uri="/api/v2/zero", method="DELETE"),  # all zero
            _row("c-zero", day, uri="/api/v2/zero", method="PATCH", s200=1 if d == 20 else 0),
            # ties on status429 (and on everything else) between five clients
            _row("c-tie-a", day, uri="/api/v2/tie", method="GET", s200=40, s400=9, s429=9),
            _row("c-tie-b", day, uri="/api/v2/tie", method="GET", s200=40, s400=9, s429=9),
            *(_row(c, day, uri=f"/api/v2/tie/{c}", method="GET", s200=40, s400=9, s429=9)
              for c in ("C-TIE", "ç-tie", "c-Tie")),
            _row("c-renamed", day, name=None if d < 15 else "Zed", uri="/api/v2/renamed",
                 method="POST", s200=400 - 10 * d, s400=d, s429=d // 10),
        ]
        # near the int64 range on one day: a spike over a flat baseline (sd 0, score NULL)
        big = HUGE if d == 25 else 1_000
        rows.append(_row("c-huge", day, uri="/api/v2/huge", method="GET", s200=big,
                         s400=big // 4 if d == 25 else 0, s429=big // 8 if d == 25 else 0))
    return rows


def _by_client(rows: list[dict[str, Any]], dates: list[str]) -> list[dict[str, Any]]:
    """Client-level rows summing ``rows`` into buckets starting at ``dates``."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        bucket = max(d for d in dates if d <= row["date"])
        key = (row["clientId"], bucket)
        if key not in out:
            out[key] = {**row, "templateUri": "", "httpMethod": "", "date": bucket,
                        **dict.fromkeys(("status200", "status300", "status400", "status500",
                                         "status429", "requests"), 0)}
        for name in ("status200", "status300", "status400", "status500", "status429",
                     "requests"):
            out[key][name] += row[name]
    return list(out.values())


#: The sandbox's rows are stored as a second org's: the table holds two.
SECOND_ORG = Org("3c9d1e7f-5a2b-4c6d-8e0f-1a2b3c4d5e6f", "Second Org", "mypurecloud.de")


def _write_all(location: Path, fmt: str, sandbox: list[tuple[str, str, str, list]]) -> None:
    """The hard rows (August: day, week, month) as one org's and the sandbox's rows as
    another's, in one kit dataset."""
    dataset = open_dataset(str(location), format=fmt, org=ORG)
    day = _hard_day_rows()
    weeks = [f"2026-{m}T00:00:00Z" for m in ("07-27", "08-03", "08-10", "08-17", "08-24",
                                             "08-31")]
    dataset.write(day, granularity="day", grouping=FINE, interval="2026-08-01/2026-09-01")
    # the week of Monday 31 August crosses the month end (its September days are absent)
    dataset.write(_by_client(day, weeks), granularity="week", grouping="oauthclientid",
                  interval="2026-07-27/2026-09-07")
    dataset.write(_by_client(day, ["2026-08-01T00:00:00Z"]), granularity="month",
                  grouping="oauthclientid", interval="2026-08-01/2026-09-01")
    other = open_dataset(str(location), format=fmt, org=SECOND_ORG)  # a second org
    for granularity, grouping, interval, rows in sandbox:
        other.write(rows, granularity=granularity, grouping=grouping, interval=interval)


@pytest.fixture(scope="module")
def sandbox_rows() -> list[tuple[str, str, str, list]]:
    """Rows fetched from the embedded sandbox: September-October 2026 by day, week, month."""
    from usagekit.embedded import connect
    from usagekit.query import UsageQuery

    wanted = [("Day", "2026-09-01/2026-11-01", ["OAuthClientId", "TemplateUri", "HttpMethod"]),
              ("Week", "2026-09-07/2026-11-02", ["OAuthClientId"]),
              ("Month", "2026-09-01/2026-11-01", ["OAuthClientId"])]
    out = []
    with connect({}) as client:
        for granularity, interval, group_by in wanted:
            query = UsageQuery.build(interval, granularity=granularity, group_by=group_by)
            out.append((granularity, query.grouping, interval, client.fetch(query).rows))
    return out


@pytest.fixture(scope="module")
def datasets(trino_root: Path, sandbox_rows: list) -> dict[str, Path]:
    """The same rows as an NDJSON and a Parquet dataset under the Trino server's root."""
    out = {}
    for fmt in ("ndjson", "parquet"):
        out[fmt] = trino_root / f"analyses_{fmt}"
        _write_all(out[fmt], fmt, sandbox_rows)
    return out


@pytest.fixture(scope="module", params=["ndjson", "parquet"])
def engines(request: pytest.FixtureRequest, trino_server: Any, trino_url: str,
            datasets: dict[str, Path]) -> Iterator[tuple[DuckDBEngine, TrinoEngine]]:
    """DuckDB and Trino over the same files of one format (the kit's table on Trino)."""
    fmt: str = request.param
    trino_server.execute("DROP TABLE IF EXISTS hive.genesysclouddb.gc_usage_api_source")
    trino = TrinoEngine(TrinoSettings(trino_url))
    trino.create_table(f"local:///analyses_{fmt}", fmt)
    duck = open_engine("local", datasets[fmt])
    assert isinstance(duck, DuckDBEngine)
    yield duck, trino
    trino.execute("DROP TABLE hive.genesysclouddb.gc_usage_api_source")
    trino.close()


# -- comparing ----------------------------------------------------------------------------

def assert_same(on_trino: pd.DataFrame, on_duckdb: pd.DataFrame) -> None:
    """Same columns and dtypes; integers, text and timestamps exactly; floats to RTOL."""
    assert list(on_trino.columns) == list(on_duckdb.columns)
    assert {c: str(t) for c, t in on_trino.dtypes.items()} == {
        c: str(t) for c, t in on_duckdb.dtypes.items()}
    assert len(on_trino) == len(on_duckdb)
    for name in on_duckdb.columns:
        got, want = on_trino[name], on_duckdb[name]
        if pd.api.types.is_float_dtype(want.dtype):
            pd.testing.assert_series_equal(got, want, check_exact=False, rtol=RTOL, atol=0.0)
        else:  # pandas would apply rtol to integers too: never for counts
            pd.testing.assert_series_equal(got, want, check_exact=True)


def test_the_comparison_sees_one_off_in_a_huge_count_and_a_float_past_rtol() -> None:
    frame = pd.DataFrame({"n": pd.Series([HUGE, 1], dtype="int64"), "x": [0.5, 1.0]})
    assert_same(frame, frame.copy())
    assert_same(frame, frame.assign(x=[0.5 * (1 + RTOL / 2), 1.0]))
    for changed in (frame.assign(n=[HUGE + 1, 1]), frame.assign(x=[0.5 * (1 + 3 * RTOL), 1.0]),
                    frame.astype({"n": "Int64"})):
        with pytest.raises(AssertionError):
            assert_same(changed, frame)


def _both(engines: tuple[DuckDBEngine, TrinoEngine], name: str, **options: Any
          ) -> pd.DataFrame:
    from usagekit.analyses import ANALYSES

    duck, trino = engines
    on_duckdb = ANALYSES[name](duck, **options)
    on_trino = ANALYSES[name](trino, **options)
    assert_same(on_trino, on_duckdb)
    return on_trino


AUGUST = {"start": "2026-08-01", "end": "2026-09-01"}
#: (analysis, options): every analysis at its defaults, and non-default options.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("requests_over_time", {"grouping": FINE}),
    ("requests_over_time", {"granularity": "week", "grouping": "oauthclientid"}),
    ("requests_over_time", {"granularity": "month", "grouping": "oauthclientid"}),
    ("requests_over_time", {"grouping": FINE, "start": "2026-08-20", "end": "2026-09-10"}),
    ("status_mix", {"grouping": FINE}),
    ("status_mix", {"grouping": FINE, "per_period": True}),
    ("status_mix", {"granularity": "week", "grouping": "oauthclientid", "per_period": True}),
    ("top_clients_429", {"grouping": FINE}),
    ("top_clients_429", {"grouping": FINE, "limit": 3, **AUGUST}),
    ("top_clients_429", {"granularity": "month", "grouping": "oauthclientid"}),
    ("rate_429_over_time", {"grouping": FINE}),
    ("rate_429_over_time", {"grouping": FINE, "client_id": "c-uni"}),
    ("rate_429_over_time", {"grouping": FINE, "top": 3, **AUGUST}),
    ("rate_429_over_time", {"granularity": "week", "grouping": "oauthclientid"}),
    ("error_rate_by_endpoint", {"grouping": FINE}),
    ("error_rate_by_endpoint", {"grouping": FINE, "limit": 5, "min_requests": 1000}),
    ("method_mix", {"grouping": FINE}),
    ("method_mix", {"grouping": FINE, **AUGUST}),
    ("client_changes", {"grouping": "oauthclientid"}),
    ("client_changes", {"grouping": "oauthclientid", "factor": 1.5, "min_requests": 1}),
    ("client_changes", {"granularity": "day", "grouping": FINE, "factor": 1.1,
                        "min_requests": 1, **AUGUST}),
    ("spikes", {"grouping": FINE}),
    ("spikes", {"grouping": FINE, "k": 1.0, "window": 3, "min_value": 1}),
    ("spikes", {"grouping": FINE, "metric": "requests", "k": 0.5, "window": 5, **AUGUST}),
    ("spikes", {"granularity": "week", "grouping": "oauthclientid", "window": 2, "k": 0.0,
                "min_value": 1}),
    ("fair_use", {"grouping": FINE}),
    ("fair_use", {"grouping": FINE, "licences": {"licences": {"CX2": {"named": 250},
                                                              "CX1": {"concurrent": 3}}}}),
    ("fair_use", {"grouping": FINE, "licences": {"licences": {"Communicate": {"named": 1}}},
                  "as_of": "2026-10-15"}),
    ("fair_use_daily", {"grouping": FINE, "licences": {"licences": {"CX3": {"named": 1}}}}),
    ("overage_by_client", {"grouping": FINE, "licences": {
        "licences": {"Communicate": {"named": 1}},
        "fair_use": {"price_per_request": 0.001, "currency": "EUR"}}}),
    ("overage_by_client", {"grouping": FINE, "per": "team", "licences": {
        "licences": {"EX": {"named": 1}}, "teams": {"c-uni": "Unicode team"}}}),
]


def test_every_analysis_is_covered() -> None:
    from usagekit.analyses import ANALYSES

    assert {name for name, _ in CASES} == set(ANALYSES)


@pytest.mark.parametrize(("name", "options"), CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_analysis_is_the_same_on_trino(engines: tuple[DuckDBEngine, TrinoEngine], name: str,
                                       options: dict[str, Any]) -> None:
    frame = _both(engines, name, **options)
    assert len(frame) > 0, "an empty frame proves nothing"


NOTHING = {"start": "2030-01-01", "end": "2030-02-01"}


@pytest.mark.parametrize("name", ["requests_over_time", "status_mix", "top_clients_429",
                                  "rate_429_over_time", "error_rate_by_endpoint", "method_mix",
                                  "client_changes", "spikes", "fair_use", "fair_use_daily",
                                  "overage_by_client"])
def test_no_rows_are_typed_alike(engines: tuple[DuckDBEngine, TrinoEngine], name: str) -> None:
    """An interval without data: empty frames with the same columns and dtypes."""
    grouping = "oauthclientid" if name == "client_changes" else FINE
    frame = _both(engines, name, grouping=grouping, **NOTHING)
    assert len(frame) == 0


def test_the_hard_rows_come_through(engines: tuple[DuckDBEngine, TrinoEngine]) -> None:
    """The odd names, the empty dimensions, the huge count and the tie, on both engines."""
    top = _both(engines, "top_clients_429", grouping=FINE, **AUGUST)
    assert top["clientId"].tolist()[:7] == ["c-huge", "C-TIE", "c-Tie", "c-tie-a", "c-tie-b",
                                            "ç-tie", "c-uni"]
    assert top.loc[0, "status429"] == HUGE // 8
    assert top.loc[6, "clientName"] == NAMES["c-uni"]
    assert NAMES["c-tab"] in set(top["clientName"])
    assert top.set_index("clientId").loc["c-renamed", "clientName"] == "ärger"
    methods = _both(engines, "method_mix", grouping=FINE, **AUGUST)
    assert "" in set(methods["httpMethod"])
    endpoints = _both(engines, "error_rate_by_endpoint", grouping=FINE, min_requests=1, **AUGUST)
    assert "/api/v2/a\tb/'q'" in set(endpoints["templateUri"])
    spikes = _both(engines, "spikes", grouping=FINE, metric="requests", **AUGUST)
    assert "c-huge" in set(spikes["clientId"])


@pytest.mark.parametrize("sql", [
    BLUEPRINT,
    BLUEPRINT.replace("'month'", "'week'"),
    'SELECT granularity, "grouping", period, clientid, sum(requests) AS r, '
    "sum(status429) AS s429, count(*) AS n FROM genesysclouddb.gc_usage_api_source "
    "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
    "SELECT org, granularity, count(*) AS n, sum(requests) AS r, count(DISTINCT clientid) AS c "
    "FROM genesysclouddb.gc_usage_api_source GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT clientname, templateuri, httpmethod, platform, \"date\", requests "
    "FROM genesysclouddb.gc_usage_api_source WHERE clientid IN ('c-uni', 'c-tab', 'c-empty') "
    "AND granularity = 'day' ORDER BY \"date\", clientname",
], ids=["blueprint", "blueprint-week", "grouping-sums", "per-org", "odd-names"])
def test_sql_is_the_same_on_trino(engines: tuple[DuckDBEngine, TrinoEngine], sql: str) -> None:
    duck, trino = engines
    on_trino, on_duckdb = trino.sql(sql), duck.sql(sql)
    if "limit 10" in sql:  # ORDER BY status429 alone: tied rows may come in any order
        eleven = trino.sql(sql.replace("limit 10", "limit 11"))["status429"]
        assert eleven[9] != eleven[10], "a tie at the LIMIT: the ten rows are ambiguous"
        on_trino, on_duckdb = (f.sort_values(list(f.columns), ignore_index=True)
                               for f in (on_trino, on_duckdb))
    assert len(on_trino) > 0
    assert_same(on_trino, on_duckdb)


def test_the_blueprint_query_types_like_the_dataset(
        engines: tuple[DuckDBEngine, TrinoEngine]) -> None:
    """``SELECT *``: the API's camelCase names, ``date`` a UTC timestamp, NULL platform ""."""
    _duck, trino = engines
    frame = trino.sql(BLUEPRINT)
    assert list(frame.columns) == [*STORED_COLUMNS, *PARTITION_KEYS]
    assert str(frame["date"].dtype) == "datetime64[us, UTC]"
    assert (frame["platform"] == "").all()
    assert frame.loc[0, "clientId"] == "c-huge" and frame.loc[0, "status429"] == HUGE // 8


def test_a_sum_past_int64_fails_alike(engines: tuple[DuckDBEngine, TrinoEngine]) -> None:
    """Summing past 2**63 - 1 is an EngineError on both engines, never a wrapped number."""
    duck, trino = engines
    sql = ("SELECT sum(requests) AS r FROM genesysclouddb.gc_usage_api_source "
           "WHERE clientid = 'c-huge'")  # day + week + month: three times 1.25 * 2**62
    for engine in (trino, duck):
        with pytest.raises(EngineError, match=r"(?i)overflow|out of range"):
            engine.sql(sql)


# -- the report ---------------------------------------------------------------------------

REPORT_INTERVAL = "2026-10-05/2026-10-26"


@pytest.fixture(scope="module")
def report_dataset(trino_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report's own refresh (sandbox) into a dataset under the Trino root."""
    from usagekit.report import gather as report_module
    from usagekit.report.params import validate

    dataset = trino_root / "report_ndjson"
    out = tmp_path_factory.mktemp("report-out")
    report_module.refresh(validate("usage-report", interval=REPORT_INTERVAL,
                                   dataset=str(dataset), refresh=True, output_dir=str(out)),
                          env={})
    return dataset


@pytest.fixture
def report_table(report_dataset: Path, trino_url: str,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[TrinoEngine]:
    """The kit's table ``report_usage`` over the report's dataset; the env points at it."""
    monkeypatch.setenv("USAGEKIT_TRINO_URL", trino_url)
    monkeypatch.setenv("USAGEKIT_ATHENA_TABLE", "report_usage")
    engine = TrinoEngine()
    engine.execute("DROP TABLE IF EXISTS hive.genesysclouddb.report_usage")
    engine.create_table("local:///report_ndjson", "ndjson")
    yield engine
    engine.execute("DROP TABLE hive.genesysclouddb.report_usage")
    engine.close()


def test_report_data_is_the_same_on_trino(report_dataset: Path,
                                          report_table: TrinoEngine) -> None:
    from usagekit.report import gather as report_module
    from usagekit.report.first_screen import headline
    from usagekit.report.params import validate

    values = {"interval": REPORT_INTERVAL, "dataset": str(report_dataset), "refresh": False}
    made_at = datetime(2026, 10, 26, 6, tzinfo=UTC)
    on_duckdb = report_module.collect(validate("usage-report", **values), now=made_at)
    on_trino = report_module.collect(validate("usage-report", **values, engine="trino"),
                                     now=made_at)
    assert not on_duckdb.missing and not on_trino.missing
    assert on_trino.source["engine"] == "Trino (hive.genesysclouddb.report_usage)"
    for name, frame in on_duckdb.frames.items():
        assert_same(on_trino.frames[name], frame)
    trino_summary, duckdb_summary = on_trino.summary(), on_duckdb.summary()
    for summary in (trino_summary, duckdb_summary):
        summary.pop("source"), summary.pop("parameters")
    assert trino_summary == duckdb_summary
    assert duckdb_summary["totals"]["requests"] > 0
    def without_source(text: str) -> list[str]:  # the "Data: ... engine ..." line differs
        return [line for line in text.split("\n") if not line.startswith("Data: ")]

    assert without_source(str(headline(on_trino))) == without_source(str(headline(on_duckdb)))
    assert any(line.startswith("Data: ") for line in str(headline(on_trino)).split("\n"))


@pytest.mark.notebooks
def test_report_renders_on_trino(report_dataset: Path, report_table: TrinoEngine,
                                 tmp_path: Path) -> None:
    from usagekit.report import run_report

    result = run_report({"interval": "2026-10-12/2026-10-26", "engine": "trino",
                         "dataset": str(report_dataset), "refresh": False},
                        output_dir=tmp_path / "reports")
    html = result.html.read_text(encoding="utf-8")
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["source"]["engine"] == "Trino (hive.genesysclouddb.report_usage)"
    assert summary["totals"]["requests"] > 0
    assert "Trino (hive.genesysclouddb.report_usage)" in html
    assert "Traceback" not in html


# -- errors from the real server ----------------------------------------------------------

@pytest.mark.parametrize(("path", "table", "sql", "message"), [
    ("nocatalog/genesysclouddb", "gc_usage_api_source", None,
     r"catalog does not exist: .*nocatalog"),
    ("hive/noschema", "gc_usage_api_source", None, r"schema does not exist: .*noschema"),
    ("hive/genesysclouddb", "no_such_table", None, r"table does not exist: .*no_such_table"),
    ("hive/genesysclouddb", "gc_usage_api_source",
     "SELECT CAST(? AS bigint) AS n", r"query failed: INVALID_CAST_ARGUMENT: .*'twelve'"),
], ids=["catalog", "schema", "table", "query"])
def test_errors_name_the_server_catalog_schema_and_trinos_message(
        trino_server: Any, path: str, table: str, sql: str | None, message: str) -> None:
    settings = TrinoSettings(f"http://ana@127.0.0.1:{trino_server.port}/{path}", table=table)
    catalog, schema = path.split("/")
    with TrinoEngine(settings) as engine, pytest.raises(EngineError) as caught:
        engine.sql(sql or f"SELECT count(*) AS n FROM {engine.source}",
                   ["twelve"] if sql else None)
    text = str(caught.value)
    assert text.startswith(f"Trino at http://ana@127.0.0.1:{trino_server.port}/{path} "
                           f"(catalog {catalog!r}, schema {schema!r})"), text
    assert re.search(message, text), text


# -- usagekit trino-table --create --------------------------------------------------------

def test_trino_table_cli_creates_and_syncs(trino_server: Any, trino_url: str,
                                           datasets: dict[str, Path]) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GENESYSCLOUD_", "USAGEKIT_", "AWS_"))}
    env.update(USAGEKIT_TRINO_URL=trino_url, USAGEKIT_ATHENA_TABLE="cli_usage")
    trino_server.execute("DROP TABLE IF EXISTS hive.genesysclouddb.cli_usage")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "usagekit", "trino-table", "--location",
             "local:///analyses_parquet", "--format", "parquet", "--create"],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "CREATE TABLE hive.genesysclouddb.cli_usage (" in done.stdout
        assert "created hive.genesysclouddb.cli_usage at local:///analyses_parquet" in done.stdout
        described = trino_server.execute("DESCRIBE hive.genesysclouddb.cli_usage")
        assert [(r[0], r[1]) for r in described] == [
            (name.lower(), {"string": "varchar", "bigint": "bigint"}[kind])
            for name, kind in {**STORED_COLUMNS, **PARTITION_KEYS}.items()]
        assert [r[2] for r in described[-3:]] == ["partition key"] * 3
        created = trino_server.execute("SHOW CREATE TABLE hive.genesysclouddb.cli_usage")[0][0]
        assert "format = 'PARQUET'" in created
        assert "partitioned_by = ARRAY['org','granularity','grouping','period']" in created
        duck = DuckDBEngine(datasets["parquet"])
        counts = ('SELECT granularity, "grouping", period, count(*) AS n FROM {} '
                  "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        on_trino = TrinoEngine(TrinoSettings(trino_url, table="cli_usage"))
        got = on_trino.sql(counts.format(on_trino.source))
        assert set(got["granularity"]) == {"day", "week", "month"}
        assert_same(got, duck.sql(counts.format(duck.source)))
    finally:
        trino_server.execute("DROP TABLE IF EXISTS hive.genesysclouddb.cli_usage")
