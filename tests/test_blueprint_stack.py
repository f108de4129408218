"""The kit against a stack shaped like the blueprint's, in moto's server.

The blueprint's CloudFormation template has fixed names: bucket ``gc-usage-api-source``
(results in ``gc-usage-api-results``), Glue database ``genesysclouddb``, crawler
``UsageApiCrawler`` whose table ``gc_usage_api_source`` is partitioned by ``granularity``
only, and workgroup ``UsageAPIWorkgroup``. moto's crawler never makes tables, so the test
creates that table as the crawler makes it (lower-case columns, JSON SerDe). The kit is
pointed at the stack only through ``USAGEKIT_ATHENA_*`` and ``--dataset``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from tests.orgs import ORG
from usagekit.cli import main
from usagekit.dataset import open_dataset

pytestmark = [pytest.mark.aws,
              pytest.mark.filterwarnings("ignore::DeprecationWarning:awswrangler")]

SOURCE, RESULTS = "gc-usage-api-source", "gc-usage-api-results"
DATABASE, CRAWLED, WORKGROUP = "genesysclouddb", "gc_usage_api_source", "UsageAPIWorkgroup"
KIT_TABLE = "usagekit_usage"
BLUEPRINT_SQL = ('SELECT * FROM "genesysclouddb"."gc_usage_api_source" '
                 "WHERE granularity='month' ORDER BY status429 DESC limit 10")
CRAWLER_COLUMNS = [("clientid", "string"), ("clientname", "string"),
                   ("organizationid", "string"), ("userid", "string"),
                   ("templateuri", "string"), ("httpmethod", "string"),
                   ("status200", "int"), ("status300", "int"), ("status400", "int"),
                   ("status500", "int"), ("status429", "int"), ("requests", "int"),
                   ("date", "string")]
ROWS = [
    {"clientId": "c1", "clientName": "Sample Client Credentials", "organizationId": "",
     "userId": "", "templateUri": "", "httpMethod": "", "status200": 145, "status300": 0,
     "status400": 12, "status500": 0, "status429": 12, "requests": 157,
     "date": "2020-11-01T00:00:00Z"},
    {"clientId": "c2", "clientName": "Another OAuth Client", "organizationId": "",
     "userId": "", "templateUri": "", "httpMethod": "", "status200": 16, "status300": 0,
     "status400": 0, "status500": 0, "status429": 0, "requests": 16,
     "date": "2020-11-01T00:00:00Z"},
]
EXPORT = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in ROWS)


def _crawled_table() -> dict[str, Any]:
    serde = {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
             "Parameters": {"paths": ",".join(n for n, _ in CRAWLER_COLUMNS)}}
    return {
        "Name": CRAWLED, "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "json", "UPDATED_BY_CRAWLER": "UsageApiCrawler"},
        "PartitionKeys": [{"Name": "granularity", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in CRAWLER_COLUMNS],
            "Location": f"s3://{SOURCE}/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": serde},
    }


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The blueprint's resources with its names, its export uploaded as its README says."""
    s3, glue, athena = (boto3.client(n) for n in ("s3", "glue", "athena"))
    for bucket in (SOURCE, RESULTS):
        s3.create_bucket(Bucket=bucket)
    # `aws s3 cp query-result.json s3://gc-usage-api-source/granularity=month/`
    s3.put_object(Bucket=SOURCE, Key="granularity=month/query-result.json", Body=EXPORT)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_crawler(Name="UsageApiCrawler", Role="arn:aws:iam::123456789012:role/glue",
                        DatabaseName=DATABASE, Targets={"S3Targets": [{"Path": f"s3://{SOURCE}"}]})
    glue.create_table(DatabaseName=DATABASE, TableInput=_crawled_table())
    glue.create_partition(DatabaseName=DATABASE, TableName=CRAWLED, PartitionInput={
        "Values": ["month"], "StorageDescriptor": {
            **_crawled_table()["StorageDescriptor"],
            "Location": f"s3://{SOURCE}/granularity=month/"}})
    athena.create_work_group(Name=WORKGROUP, Configuration={
        "EnforceWorkGroupConfiguration": True,
        "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/"}})
    for name in ("USAGEKIT_STACK", "USAGEKIT_DATASET", "USAGEKIT_ATHENA_OUTPUT",
                 "USAGEKIT_ATHENA_TABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USAGEKIT_ATHENA_DATABASE", DATABASE)
    monkeypatch.setenv("USAGEKIT_ATHENA_WORKGROUP", WORKGROUP)
    return {"s3": s3, "glue": glue, "athena": athena, "url": aws,
            "crawled": glue.get_table(DatabaseName=DATABASE, Name=CRAWLED)["Table"]}


def _preload(url: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    def row(values: list[str]) -> dict[str, Any]:
        return {"Data": [{"VarCharValue": v} for v in values]}

    requests.post(f"{url}/moto-api/static/athena/query-results", json={"results": [{
        "rows": [row([n for n, _ in columns])] + [row(r) for r in rows],
        "column_info": [{"Name": n, "Type": t, "Label": n} for n, t in columns]}]},
        timeout=10).raise_for_status()


def _executions(athena: Any) -> list[dict[str, Any]]:
    ids = athena.list_query_executions()["QueryExecutionIds"]
    found = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
    return sorted(found, key=lambda e: e["Status"]["SubmissionDateTime"])


def test_blueprint_query_on_its_stack(stack: dict[str, Any], tmp_path: Path) -> None:
    _preload(stack["url"], [("clientid", "varchar"), ("status429", "integer"),
                            ("granularity", "varchar")],
             [["c1", "12", "month"], ["c2", "0", "month"]])
    out = tmp_path / "top.csv"
    assert main(["sql", BLUEPRINT_SQL, "--engine", "athena", "--output", str(out)]) == 0
    assert out.read_text().splitlines() == ["clientId,status429,granularity", "c1,12,month",
                                            "c2,0,month"]
    (execution,) = _executions(stack["athena"])
    assert execution["Query"] == BLUEPRINT_SQL
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["QueryExecutionContext"]["Database"] == DATABASE
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{RESULTS}/")


def test_import_their_bucket_and_analyse_it_on_their_stack(
        stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("USAGEKIT_ATHENA_TABLE", KIT_TABLE)  # the kit's table beside theirs
    dataset = f"s3://{SOURCE}/usagekit/"
    assert main(["import", "--org", ORG.id, f"s3://{SOURCE}/", "--dataset", dataset]) == 0
    assert "read 2 rows from 1 file(s)" in capsys.readouterr().err
    frame = open_dataset(dataset).read()
    assert sorted(zip(frame["clientId"], frame["requests"], strict=True)) == [("c1", 157),
                                                                              ("c2", 16)]
    glue = stack["glue"]
    kit = glue.get_table(DatabaseName=DATABASE, Name=KIT_TABLE)["Table"]
    assert [k["Name"] for k in kit["PartitionKeys"]] == ["org", "granularity", "grouping",
                                                         "period"]
    assert kit["StorageDescriptor"]["Location"] == dataset
    parts = glue.get_partitions(DatabaseName=DATABASE, TableName=KIT_TABLE)["Partitions"]
    assert [p["Values"] for p in parts] == [[ORG.id, "month", "oauthclientid", "2020-11"]]
    # their table, their object: untouched
    crawled = glue.get_table(DatabaseName=DATABASE, Name=CRAWLED)["Table"]
    assert crawled["StorageDescriptor"] == stack["crawled"]["StorageDescriptor"]
    assert crawled["PartitionKeys"] == stack["crawled"]["PartitionKeys"]
    assert stack["s3"].get_object(Bucket=SOURCE, Key="granularity=month/query-result.json")[
        "Body"].read() == EXPORT
    # again: the kit's own files under the source are not read back as exports
    assert main(["import", "--org", ORG.id, f"s3://{SOURCE}/", "--dataset", dataset]) == 0
    err = capsys.readouterr().err
    assert "read 2 rows from 1 file(s); 2 duplicate" in err and "written: none" in err

    # an analysis on Athena over the kit's table, in their workgroup
    _preload(stack["url"], [("n", "bigint"), ("status429", "bigint"), ("requests", "bigint")],
             [["2", "0", "0"]])
    _preload(stack["url"], [("rank", "bigint"), ("clientid", "varchar"),
                            ("clientname", "varchar"), ("status429", "bigint"),
                            ("requests", "bigint"), ("rate429", "double")],
             [["1", "c1", "Sample Client Credentials", "12", "157", "0.0764"]])
    assert main(["analyze", "top_clients_429", "--engine", "athena", "--granularity",
                 "month", "--grouping", "oauthclientid"]) == 0
    assert "Sample Client Credentials" in capsys.readouterr().out
    check, answer = _executions(stack["athena"])
    for execution in (check, answer):
        assert f'FROM "{DATABASE}"."{KIT_TABLE}"' in execution["Query"]
        assert execution["WorkGroup"] == WORKGROUP
        assert execution["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{RESULTS}/")


def test_the_crawlers_table_is_never_rewritten(stack: dict[str, Any],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Without a table of its own, the kit refuses to register its layout in theirs."""
    dataset = f"s3://{SOURCE}/usagekit/"
    assert main(["import", "--org", ORG.id, f"s3://{SOURCE}/", "--dataset", dataset]) == 1
    err = capsys.readouterr().err
    assert f"the Glue table {DATABASE}.{CRAWLED} does not describe this dataset" in err
    assert "partition keys ['granularity']" in err and "crawler" in err
    keys = [o["Key"] for o in stack["s3"].list_objects_v2(Bucket=SOURCE)["Contents"]]
    assert keys == ["granularity=month/query-result.json"]  # nothing half-written
    crawled = stack["glue"].get_table(DatabaseName=DATABASE, Name=CRAWLED)["Table"]
    assert crawled["StorageDescriptor"] == stack["crawled"]["StorageDescriptor"]
