"""DuckDB engine: the blueprint query verbatim, typed transpiling, binding, layouts, S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.orgs import ORG
from usagekit.config import AthenaSettings
from usagekit.dataset import open_dataset
from usagekit.engine import AthenaEngine, DuckDBEngine, Engine, open_engine
from usagekit.engine.base import tidy_result
from usagekit.exceptions import ConfigError, EngineError

BLUEPRINT = ('SELECT * FROM "genesysclouddb"."gc_usage_api_source" '
             "WHERE granularity='month' ORDER BY status429 DESC limit 10")
INTERVAL = "2026-01-01/2026-03-01"


def _row(client: str, day: str, requests: int, s400: int, s429: int, **extra: str) -> dict:
    return {"clientId": client, "clientName": f"name {client}", "organizationId": "",
            "userId": "", "templateUri": "", "httpMethod": "", "status200": requests - s400,
            "status300": 0, "status400": s400, "status500": 0, "status429": s429,
            "requests": requests, "date": f"{day}T00:00:00Z", **extra}


# 12 clients with distinct status429 totals per month, so the top 10 is well defined
MONTH_ROWS = [_row(f"c{i:02d}", month, 1000 + i, 100 + i, 7 * i + (month == "2026-02-01"))
              for i in range(12) for month in ("2026-01-01", "2026-02-01")]
DAY_ROWS = [_row(f"c{i:02d}", day, 50 + 3 * i, 9, i % 4)
            for i in range(12) for day in ("2026-01-05", "2026-02-10", "2026-02-28")]


def _write(location: str, fmt: str) -> None:
    dataset = open_dataset(location, format=fmt, catalog=False, org=ORG)
    dataset.write(MONTH_ROWS, granularity="month", grouping="oauthclientid", interval=INTERVAL)
    dataset.write(DAY_ROWS, granularity="day", grouping="oauthclientid", interval=INTERVAL)


@pytest.fixture(scope="module", params=["ndjson", "parquet"])
def engine(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    root = tmp_path_factory.mktemp(request.param)
    _write(str(root), request.param)
    with DuckDBEngine(root) as eng:
        yield eng


def _blueprint_reference() -> pd.DataFrame:
    frame = pd.DataFrame(MONTH_ROWS)
    return frame.sort_values("status429", ascending=False).head(10).reset_index(drop=True)


def test_blueprint_query_runs_verbatim(engine: DuckDBEngine) -> None:
    got = engine.sql(BLUEPRINT)
    want = _blueprint_reference()
    assert len(got) == 10
    assert got["clientId"].tolist() == want["clientId"].tolist()
    assert got["status429"].tolist() == want["status429"].tolist()
    assert got["date"].tolist() == pd.to_datetime(want["date"], utc=True).tolist()
    assert set(got["granularity"]) == {"month"} and set(got["grouping"]) == {"oauthclientid"}
    assert set(got["period"]) == {"2026-01", "2026-02"}


def test_result_dtypes_follow_the_frame_schema(engine: DuckDBEngine) -> None:
    got = engine.sql(BLUEPRINT)
    assert list(got.columns[:13]) == list(MONTH_ROWS[0])
    assert str(got["date"].dtype) == "datetime64[us, UTC]"
    for name in ("clientId", "userId", "granularity", "grouping", "period"):
        assert isinstance(got[name].dtype, pd.StringDtype), name
    assert (got["userId"] == "").all()
    for name in ("status200", "status429", "requests"):
        assert got[name].dtype == "int64"


def test_engine_satisfies_the_protocol(engine: DuckDBEngine) -> None:
    assert isinstance(engine, Engine)
    assert engine.source == '"genesysclouddb"."gc_usage_api_source"'


def test_trino_integer_division_and_try_are_kept(engine: DuckDBEngine) -> None:
    text = (f"SELECT clientid, sum(status429) * 100 / sum(requests) AS pct, "
            f"sum(try(status400 / status429)) AS per429 FROM {engine.source} "
            "WHERE granularity = 'day' GROUP BY clientid ORDER BY clientid")
    got = engine.sql(text)
    rows = pd.DataFrame(DAY_ROWS)
    frame = rows.groupby("clientId")[["status429", "requests"]].sum()
    assert got["pct"].tolist() == (frame["status429"] * 100 // frame["requests"]).tolist()
    assert got["pct"].dtype == "int64"
    nonzero = rows[rows["status429"] > 0]  # try(): division by zero -> NULL, skipped by sum
    per429 = (nonzero["status400"] // nonzero["status429"]).groupby(nonzero["clientId"]).sum()
    want = [per429.get(c) for c in frame.index]
    assert [None if pd.isna(v) else int(v) for v in got["per429"]] == want


def test_try_around_an_aggregate_is_a_clear_error(engine: DuckDBEngine) -> None:
    with pytest.raises(EngineError, match="TRY"):
        engine.sql(f"SELECT try(sum(status400) / sum(status429)) FROM {engine.source}")


def test_from_iso8601_and_week_truncation_in_utc(engine: DuckDBEngine) -> None:
    got = engine.sql(
        f"SELECT DISTINCT CAST(date_trunc('week', from_iso8601_timestamp(\"date\")) AS "
        f"timestamp) AS wk FROM {engine.source} WHERE granularity = ? ORDER BY 1", ["day"])
    assert got["wk"].tolist() == [pd.Timestamp(d, tz="UTC") for d in
                                  ("2026-01-05", "2026-02-09", "2026-02-23")]
    zone = engine.sql("SELECT current_setting('TimeZone') AS tz", dialect="duckdb")
    assert zone["tz"].iloc[0] == "UTC"


def test_parameters_are_bound(engine: DuckDBEngine) -> None:
    text = f"SELECT count(*) AS n FROM {engine.source} WHERE granularity = ? AND clientid = ?"
    assert engine.sql(text, ["month", "c03"])["n"].iloc[0] == 2
    for evil in ("' OR 1=1 --", "c03' OR '1'='1",
                 "x'; DROP TABLE genesysclouddb.gc_usage_api_source; --"):
        assert engine.sql(text, ["month", evil])["n"].iloc[0] == 0
    assert engine.sql(text, ["month", "c03"])["n"].iloc[0] == 2  # nothing was dropped


@pytest.mark.parametrize("value", [b"bytes", object(), float("nan"), pd.Timestamp("2026-01-01")])
def test_unsupported_parameter_types(engine: DuckDBEngine, value: object) -> None:
    with pytest.raises(ConfigError, match="parameter"):
        engine.sql(f"SELECT count(*) FROM {engine.source} WHERE clientid = ?", [value])
    with pytest.raises(ConfigError, match="list of values"):
        engine.sql(f"SELECT count(*) FROM {engine.source} WHERE clientid = ?", "c1")


def test_native_duckdb_opt_out(engine: DuckDBEngine) -> None:
    native = ("SELECT list_sum([1, 2, 3]) AS s, count(*) AS n "
              "FROM genesysclouddb.gc_usage_api_source")
    got = engine.sql(native, dialect="duckdb")
    assert got["s"].iloc[0] == 6 and got["n"].iloc[0] == len(MONTH_ROWS) + len(DAY_ROWS)
    with pytest.raises(ConfigError, match="valid: athena, duckdb"):
        engine.sql("SELECT 1", dialect="postgres")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "match"), [
    ("SELEC garbage FROM nowhere", "not valid Athena"),
    ("SELECT 1; SELECT 2", "exactly one SQL statement"),
    ("SELECT nope FROM genesysclouddb.gc_usage_api_source", "cannot compile"),
    ("SELECT * FROM genesysclouddb.other_table", "other_table does not exist"),
])
def test_bad_sql_is_a_clear_error(engine: DuckDBEngine, text: str, match: str) -> None:
    with pytest.raises(EngineError, match=match):
        engine.sql(text)


def test_duckdb_errors_become_engine_errors(engine: DuckDBEngine) -> None:
    with pytest.raises(EngineError, match="DuckDB could not run"):
        engine.sql("SELECT CAST('x' AS INTEGER)", dialect="duckdb")


def test_configured_names(tmp_path: Path) -> None:
    _write(str(tmp_path), "ndjson")
    settings = AthenaSettings(database="usage_db", table="api_usage")
    with DuckDBEngine(tmp_path, settings=settings) as eng:
        got = eng.sql("SELECT count(*) AS n FROM usage_db.api_usage")
        assert got["n"].iloc[0] == len(MONTH_ROWS) + len(DAY_ROWS)
        assert eng.source == '"usage_db"."api_usage"'


@pytest.mark.parametrize("name", ['gc"; DROP TABLE x; --', "Upper", "1abc", "a-b", ""])
def test_identifiers_are_validated(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lower-case letters"):
        DuckDBEngine(tmp_path, settings=AthenaSettings(table=name))
    with pytest.raises(ConfigError, match="lower-case letters"):
        AthenaSettings(database=name)


def test_dataset_object_and_env_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(str(tmp_path), "parquet")
    with DuckDBEngine(open_dataset(str(tmp_path), org=ORG)) as eng:
        assert eng.location == str(tmp_path)
        assert len(eng.sql(BLUEPRINT)) == 10
    monkeypatch.setenv("USAGEKIT_DATASET", str(tmp_path))
    with open_engine("local") as eng:
        assert eng.location == str(tmp_path)


def test_empty_folder_gives_typed_empty_result(tmp_path: Path) -> None:
    with DuckDBEngine(tmp_path) as eng:
        got = eng.sql(BLUEPRINT)
    assert got.empty
    assert list(got.columns[:13]) == list(MONTH_ROWS[0])
    assert str(got["date"].dtype) == "datetime64[us, UTC]"
    assert got["requests"].dtype == "int64"


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"does not exist.*usagekit import"):
        DuckDBEngine(tmp_path / "nowhere")


def test_new_files_are_seen_and_stray_files_ignored(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("{not json")
    with DuckDBEngine(tmp_path) as eng:
        assert eng.sql(BLUEPRINT).empty
        _write(str(tmp_path), "ndjson")
        assert len(eng.sql(BLUEPRINT)) == 10


def test_open_engine_kinds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="valid: local, athena"):
        open_engine("spark")
    assert isinstance(open_engine("athena"), AthenaEngine)
    assert isinstance(open_engine("local", tmp_path), DuckDBEngine)


@pytest.mark.aws
@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_s3_dataset_through_pyarrow(aws: str, fmt: str, tmp_path: Path) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket="usage-data")
    _write("s3://usage-data/usage/", fmt)
    _write(str(tmp_path), fmt)
    with DuckDBEngine("s3://usage-data/usage/") as remote, DuckDBEngine(tmp_path) as local:
        pd.testing.assert_frame_equal(remote.sql(BLUEPRINT), local.sql(BLUEPRINT))
        text = f"SELECT clientid, sum(requests) AS r FROM {remote.source} " \
               "WHERE granularity = ? GROUP BY 1 ORDER BY 1"
        pd.testing.assert_frame_equal(remote.sql(text, ["day"]), local.sql(text, ["day"]))


@pytest.mark.aws
def test_s3_empty_prefix_and_no_extension_download(aws: str) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket="usage-empty")
    with DuckDBEngine("s3://usage-empty/usage/") as eng:
        assert eng.sql(BLUEPRINT).empty
        rows = eng.sql("SELECT extension_name FROM duckdb_extensions() WHERE installed "
                       "AND extension_name = 'httpfs'", dialect="duckdb")
        assert rows.empty
    assert duckdb.__version__


@pytest.mark.parametrize("dtype", ["string", "string[pyarrow]", "str", object])
@pytest.mark.parametrize("values", [[], [None], ["a", None]])
def test_tidy_result_types_text_columns_even_when_empty(dtype: object, values: list) -> None:
    """awswrangler hands back ``string`` columns; an empty or all-NULL one must not fail."""
    got = tidy_result(pd.DataFrame({"change": pd.Series(values, dtype=dtype),
                                    "n": pd.Series(range(len(values)), dtype="Int64")}))
    assert isinstance(got["change"].dtype, pd.StringDtype)
    assert got["change"].isna().tolist() == [v is None for v in values]
    assert got["n"].dtype == "int64"


def test_transpile_is_cached_per_text_and_schema() -> None:
    from usagekit.engine import dialect

    text = 'SELECT "clientId", sum(requests) * 100 / sum(status200) AS r FROM "db"."t" GROUP BY 1'
    first = dialect.athena_to_duckdb(text, {("db", "t"): {"clientId": "VARCHAR",
                                                           "requests": "BIGINT",
                                                           "status200": "BIGINT"}})
    hits = dialect._transpile.cache_info().hits
    again = dialect.athena_to_duckdb(text, {("db", "t"): {"clientId": "VARCHAR",
                                                           "requests": "BIGINT",
                                                           "status200": "BIGINT"}})
    assert again == first and dialect._transpile.cache_info().hits == hits + 1
    # another schema is another entry: DOUBLE columns divide without the integer cast
    other = dialect.athena_to_duckdb(text, {("db", "t"): {"clientId": "VARCHAR",
                                                           "requests": "DOUBLE",
                                                           "status200": "DOUBLE"}})
    assert other != first and dialect._transpile.cache_info().hits == hits + 1
    with pytest.raises(EngineError):  # errors are raised every time, not cached
        dialect.athena_to_duckdb('SELECT nope FROM "db"."t"', {("db", "t"): {"a": "BIGINT"}})
    with pytest.raises(EngineError):
        dialect.athena_to_duckdb('SELECT nope FROM "db"."t"', {("db", "t"): {"a": "BIGINT"}})
