"""Athena engine against moto's server: what the kit sends and how it types the answer.

moto runs no SQL: each test preloads the result (header row first) and checks the
plumbing: SQL text, execution parameters, workgroup, database, output location, dtypes.
The numbers themselves are checked on DuckDB (test_analyses.py).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import requests
import sqlglot
from sqlglot import exp

from usagekit import analyses
from usagekit.config import AthenaSettings
from usagekit.engine import AthenaEngine, open_engine
from usagekit.engine.athena import athena_literal
from usagekit.exceptions import ConfigError, EngineError, MissingCountsError

pytestmark = pytest.mark.aws

OUTPUT = "s3://athena-results/usagekit/"
BLUEPRINT = ('SELECT * FROM "genesysclouddb"."gc_usage_api_source" '
             "WHERE granularity='month' ORDER BY status429 DESC limit 10")


def _preload(url: str, columns: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """Queue one Athena result in moto: header row first, then the data rows."""
    def row(values: list[str | None]) -> dict[str, Any]:
        return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}

    body = {"results": [{
        "rows": [row([name for name, _ in columns])] + [row(r) for r in rows],
        "column_info": [{"Name": n, "Type": t, "Label": n} for n, t in columns],
    }]}
    requests.post(f"{url}/moto-api/static/athena/query-results", json=body,
                  timeout=10).raise_for_status()


@pytest.fixture
def athena(aws: str) -> Any:
    import boto3

    boto3.client("s3").create_bucket(Bucket="athena-results")
    client = boto3.client("athena")
    client.create_work_group(Name="usagekit", Configuration={
        "EnforceWorkGroupConfiguration": False,
        "ResultConfiguration": {"OutputLocation": "s3://athena-results/wg/"}})
    return client


def _last_execution(client: Any) -> dict[str, Any]:
    ids = client.list_query_executions()["QueryExecutionIds"]
    executions = [client.get_query_execution(QueryExecutionId=i)["QueryExecution"]
                  for i in ids]
    return max(executions, key=lambda e: e["Status"]["SubmissionDateTime"])


def test_blueprint_query_and_result_types(aws: str, athena: Any) -> None:
    settings = AthenaSettings(workgroup="usagekit", output_location=OUTPUT)
    _preload(aws, [("clientid", "varchar"), ("status429", "bigint"), ("requests", "bigint"),
                   ("date", "varchar"), ("rate", "double"), ("seen", "timestamp"),
                   ("granularity", "varchar")],
             [["c1", "7", "100", "2026-01-01T00:00:00Z", "0.07", "2026-01-02 03:04:05.000",
               "month"],
              ["c2", "3", "50", "2026-02-01T00:00:00Z", None, None, "month"]])
    got = AthenaEngine(settings).sql(BLUEPRINT)

    execution = _last_execution(athena)
    assert execution["Query"] == BLUEPRINT
    assert execution["WorkGroup"] == "usagekit"
    assert execution["QueryExecutionContext"]["Database"] == "genesysclouddb"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(OUTPUT)
    assert "ExecutionParameters" not in execution
    assert got.attrs["query_execution_id"] == execution["QueryExecutionId"]

    assert list(got.columns) == ["clientId", "status429", "requests", "date", "rate", "seen",
                                 "granularity"]
    assert isinstance(got["clientId"].dtype, pd.StringDtype)
    assert got["status429"].dtype == "int64" and got["requests"].dtype == "int64"
    assert str(got["date"].dtype) == "datetime64[us, UTC]"
    assert got["date"].tolist() == [pd.Timestamp("2026-01-01", tz="UTC"),
                                    pd.Timestamp("2026-02-01", tz="UTC")]
    assert got["rate"].dtype == "float64" and pd.isna(got["rate"].iloc[1])
    assert str(got["seen"].dtype) == "datetime64[us, UTC]"
    assert got["seen"].iloc[0] == pd.Timestamp("2026-01-02T03:04:05", tz="UTC")
    assert pd.isna(got["seen"].iloc[1])


def test_parameters_go_as_execution_parameters(aws: str, athena: Any) -> None:
    evil = "x'; DROP TABLE gc_usage_api_source; --"
    _preload(aws, [("n", "bigint")], [["0"]])
    engine = AthenaEngine(AthenaSettings(workgroup="usagekit"))
    text = ('SELECT count(*) AS n FROM "genesysclouddb"."gc_usage_api_source" '
            "WHERE clientid = ? AND requests > ? AND status429 >= ?")
    got = engine.sql(text, [evil, 10, 0.5])
    execution = _last_execution(athena)
    assert execution["Query"] == text  # nothing pasted in
    assert execution["ExecutionParameters"] == ["'x''; DROP TABLE gc_usage_api_source; --'",
                                                "10", "0.5E0"]
    # the workgroup's own output location when none is configured
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://athena-results/wg/")
    assert got["n"].tolist() == [0]


@pytest.mark.parametrize("value", ["' OR 1=1 --", "x'; DROP TABLE t; --", "it's", "",
                                   "\\'", "a''b"])
def test_string_literals_stay_one_literal(value: str) -> None:
    literal = sqlglot.parse_one(athena_literal(value), read="athena")
    assert isinstance(literal, exp.Literal) and literal.is_string
    assert literal.this == value


@pytest.mark.parametrize(("value", "text"), [(None, "NULL"), (True, "TRUE"), (3, "3"),
                                             (-2, "-2"), (1e-7, "1e-07")])
def test_other_literals(value: Any, text: str) -> None:
    assert athena_literal(value) == text


def test_analysis_on_athena_sends_its_sql(aws: str, athena: Any) -> None:
    settings = AthenaSettings(workgroup="usagekit", output_location=OUTPUT)
    engine = AthenaEngine(settings)
    # first query: which groupings are stored; second: do the rows hold the counts it
    # needs (none missing); third: the analysis
    _preload(aws, [("grouping", "varchar")], [["oauthclientid"], ["httpmethod"]])
    _preload(aws, [("n", "bigint"), ("status429", "bigint"), ("requests", "bigint")],
             [["12", "0", "0"]])
    _preload(aws, [("rank", "bigint"), ("clientid", "varchar"), ("clientname", "varchar"),
                   ("status429", "bigint"), ("requests", "bigint"), ("rate429", "double")],
             [["1", "c1", "One", "40", "400", "0.1"], ["2", "c2", "", "5", "50", "0.1"]])
    got = analyses.top_clients_429(engine, start="2026-10-01", end="2026-11-01", limit=2)

    analysis = analyses.ANALYSES["top_clients_429"]
    values = analysis.bind(None, grouping="oauthclientid", start="2026-10-01",
                           end="2026-11-01", limit=2)
    text, params = analysis.render(engine.source, values)
    execution = _last_execution(athena)
    assert execution["Query"] == text
    assert execution["ExecutionParameters"] == [athena_literal(p) for p in params]
    assert execution["ExecutionParameters"][:4] == ["'day'", "'oauthclientid'", "'2026-10'",
                                                    "'2026-10'"]
    assert list(got.columns) == list(analysis.columns)
    assert got["clientName"].tolist() == ["One", ""]
    assert got["rank"].dtype == "int64" and got["rate429"].dtype == "float64"


def test_invalid_sql_never_reaches_athena(aws: str, athena: Any) -> None:
    with pytest.raises(EngineError, match="not valid Athena"):
        AthenaEngine(AthenaSettings(workgroup="usagekit")).sql("SELEC garbage FROM nowhere")
    assert athena.list_query_executions()["QueryExecutionIds"] == []


def test_missing_result_is_a_clear_error(aws: str, athena: Any) -> None:
    # moto answers an un-preloaded query with no result file
    with pytest.raises(EngineError, match="no readable result"):
        AthenaEngine(AthenaSettings(workgroup="usagekit", output_location=OUTPUT)).sql(
            "SELECT 1 AS x")


def test_repr_has_no_secrets(aws: str) -> None:
    engine = AthenaEngine(AthenaSettings(workgroup="usagekit", output_location=OUTPUT))
    assert "testing" not in repr(engine)
    assert "usagekit" in repr(engine) and OUTPUT in repr(engine)


def test_no_region_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Any) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match=r"AWS region.*USAGEKIT_STACK.*USAGEKIT_ATHENA_OUTPUT"):
        AthenaEngine(AthenaSettings()).sql("SELECT 1")


def test_no_result_location_is_refused_rather_than_a_bucket_created(aws: str) -> None:
    """moto's ``primary`` workgroup has no result location, like a fresh account's."""
    import boto3

    with pytest.raises(ConfigError, match=r"'primary' has no query result location.*"
                                          r"USAGEKIT_STACK.*USAGEKIT_ATHENA_OUTPUT"):
        AthenaEngine(AthenaSettings()).sql("SELECT 1")
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert boto3.client("athena").list_query_executions()["QueryExecutionIds"] == []


def test_unknown_workgroup_is_an_engine_error(aws: str) -> None:
    with pytest.raises(EngineError, match="workgroup 'nope'"):
        AthenaEngine(AthenaSettings(workgroup="nope")).sql("SELECT 1")


def test_usagekit_stack_alone_configures_open_engine(aws: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Only USAGEKIT_STACK set: database, workgroup and output come from the stack."""
    import boto3
    from test_stack import _small_stack  # the stack test's two-bucket stack with outputs

    _small_stack("uk-dev")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in boto3.client(
        "cloudformation").describe_stacks(StackName="uk-dev")["Stacks"][0]["Outputs"]}
    athena = boto3.client("athena")
    athena.create_work_group(Name="ukdev-usage", Configuration={})
    for name in ("USAGEKIT_DATASET", "USAGEKIT_ATHENA_DATABASE", "USAGEKIT_ATHENA_TABLE",
                 "USAGEKIT_ATHENA_WORKGROUP", "USAGEKIT_ATHENA_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USAGEKIT_STACK", "uk-dev")
    _preload(aws, [("n", "bigint")], [["3"]])

    engine = open_engine("athena")
    got = engine.sql(f"SELECT count(*) AS n FROM {engine.source}")

    assert engine.source == '"genesysclouddb_dev"."gc_usage_api_source"'
    execution = _last_execution(athena)
    assert execution["WorkGroup"] == "ukdev-usage"
    assert execution["QueryExecutionContext"]["Database"] == "genesysclouddb_dev"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(
        outputs["AthenaOutputLocation"])
    assert got["n"].tolist() == [3]


def test_analysis_needing_a_missing_count_says_so_on_athena(aws: str, athena: Any) -> None:
    engine = AthenaEngine(AthenaSettings(workgroup="usagekit", output_location=OUTPUT))
    _preload(aws, [("n", "bigint"), ("status429", "bigint"), ("requests", "bigint")],
             [["12", "0", "12"]])  # every row lacks requests (a Status200/429 export)
    with pytest.raises(MissingCountsError, match=r"top_clients_429 needs requests, which "
                                                 r"stored rows lack \(requests: 12 of 12 rows"):
        analyses.top_clients_429(engine, grouping="oauthclientid", start="2026-10-01",
                                 end="2026-11-01")
    check = _last_execution(athena)
    assert check["Query"].startswith("SELECT count(*) AS n, count(*) - count(requests) AS "
                                     "requests, count(*) - count(status429) AS status429 FROM")
    assert len(athena.list_query_executions()["QueryExecutionIds"]) == 1  # never answered
