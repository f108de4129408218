"""usagekit.dataset on S3 + Glue, against moto's server on 127.0.0.1 (fixture ``aws``)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta

import boto3
import pandas as pd
import pytest
import requests
from botocore.exceptions import ClientError

from tests.orgs import ORG, ORG_DIR
from usagekit.cli import main
from usagekit.dataset import open_dataset, run_crawler
from usagekit.exceptions import CrawlerTimeoutError, DatasetError
from usagekit.frame import to_frame
from usagekit.row import LEGACY_PARTITION_KEYS, PARTITION_KEYS, STORED_COLUMNS

pytestmark = [
    pytest.mark.aws,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:awswrangler"),
]

BUCKET = "usage-data"
ROOT = f"s3://{BUCKET}/usage/"
DB, TABLE = "genesysclouddb", "gc_usage_api_source"
DAY = "oauthclientid"
CLIENTS = [("c-0001", "Café Sync"), ("c-0002", "Ops/Reporting")]


def make_rows(start: str, end: str, *, version: int = 0) -> list[dict[str, object]]:
    """Deterministic daily API rows; a day's rows depend only on (day, version)."""
    rows = []
    day, stop = date.fromisoformat(start), date.fromisoformat(end)
    while day < stop:
        rng = random.Random(f"{day}-{version}")
        for client_id, name in CLIENTS:
            s200, s400 = rng.randrange(500), rng.randrange(40)
            rows.append({
                "clientId": client_id, "clientName": name, "organizationId": "",
                "userId": "", "templateUri": "", "httpMethod": "",
                "status200": s200, "status300": 0, "status400": s400, "status500": 0,
                "status429": rng.randrange(s400 + 1), "requests": s200 + s400,
                "date": f"{day.isoformat()}T00:00:00Z",
            })
        day += timedelta(days=1)
    return rows


def jq_lines(rows: list[dict[str, object]]) -> bytes:
    return b"".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in rows
    )


def expected(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = to_frame(rows, granularity="day", grouping=DAY)
    frame.insert(list(frame.columns).index("granularity"), "org",
                 pd.Series(ORG.id, index=frame.index, dtype="string"))
    frame["period"] = frame["date"].dt.strftime("%Y-%m").astype("string")
    return frame.sort_values(["date", "clientId"], ignore_index=True)


def sort(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["date", "clientId"], ignore_index=True)


def objects(s3: object) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])  # type: ignore[attr-defined]
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()  # type: ignore[attr-defined]
            for o in listing}


@pytest.fixture
def s3(aws: str) -> Iterator[object]:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client


def test_write_registers_glue_table_and_partitions(s3: object) -> None:
    rows = make_rows("2026-10-25", "2026-11-05")
    ds = open_dataset(ROOT, org=ORG)
    ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-25/2026-11-05")
    stored = objects(s3)
    assert sorted(stored) == [
        "usage/_usagekit.manifest",
        f"usage/{ORG_DIR}/_org.json",
        f"usage/{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10/usage.json",
        f"usage/{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-11/usage.json",
    ]
    november = f"usage/{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-11/usage.json"
    assert stored[november] == jq_lines([r for r in rows if r["date"] >= "2026-11"])
    table = boto3.client("glue").get_table(DatabaseName=DB, Name=TABLE)["Table"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == [(k.lower(), v) for k, v in STORED_COLUMNS.items()]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == list(PARTITION_KEYS.items())
    assert table["StorageDescriptor"]["Location"].rstrip("/") + "/" == ROOT
    assert "JsonSerDe" in table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    parts = boto3.client("glue").get_partitions(DatabaseName=DB, TableName=TABLE)["Partitions"]
    assert sorted((tuple(p["Values"]), p["StorageDescriptor"]["Location"]) for p in parts) == [
        ((ORG.id, "day", DAY, "2026-10"),
         f"{ROOT}{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10/"),
        ((ORG.id, "day", DAY, "2026-11"),
         f"{ROOT}{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-11/"),
    ]
    pd.testing.assert_frame_equal(sort(open_dataset(ROOT, org=ORG).read()), expected(rows))


def test_overlapping_reexports_keep_each_row_once(s3: object) -> None:
    ds = open_dataset(ROOT, org=ORG)
    old = make_rows("2026-10-20", "2026-11-10", version=1)
    new = make_rows("2026-11-05", "2026-11-20", version=2)
    ds.write(old, granularity="day", grouping=DAY, interval="2026-10-20/2026-11-10")
    ds.write(new, granularity="day", grouping=DAY, interval="2026-11-05/2026-11-20")
    ds.write(new, granularity="day", grouping=DAY, interval="2026-11-05/2026-11-20")
    want = [r for r in old if r["date"] < "2026-11-05"] + new
    pd.testing.assert_frame_equal(sort(ds.read()), expected(want))
    parts = boto3.client("glue").get_partitions(DatabaseName=DB, TableName=TABLE)["Partitions"]
    assert sorted(p["Values"][3] for p in parts) == ["2026-10", "2026-11"]


def test_parquet_dataset_on_s3(s3: object) -> None:
    rows = make_rows("2026-10-30", "2026-11-03")
    ds = open_dataset(ROOT, format="parquet", org=ORG)
    ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-30/2026-11-03")
    assert all(k.endswith((".parquet", ".manifest", "_org.json")) for k in objects(s3))
    table = boto3.client("glue").get_table(DatabaseName=DB, Name=TABLE)["Table"]
    assert "parquet" in table["StorageDescriptor"]["InputFormat"].lower()
    pd.testing.assert_frame_equal(sort(open_dataset(ROOT, org=ORG).read()), expected(rows))
    with pytest.raises(DatasetError, match="holds parquet files, not ndjson"):
        open_dataset(ROOT, format="ndjson", org=ORG)


def test_interrupted_write_leaves_every_partition_whole(s3: object,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ds = open_dataset(ROOT, org=ORG)
    old = make_rows("2026-09-20", "2026-10-10", version=1)
    ds.write(old, granularity="day", grouping=DAY, interval="2026-09-20/2026-10-10")
    before = objects(s3)
    client = ds._storage._client  # type: ignore[attr-defined]
    real_put = client.put_object
    calls = []

    def failing_put(**kwargs: object) -> object:
        calls.append(kwargs["Key"])
        if len(calls) == 2:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}},
                              "PutObject")
        return real_put(**kwargs)

    monkeypatch.setattr(client, "put_object", failing_put)
    new = make_rows("2026-09-20", "2026-10-10", version=2)
    with pytest.raises(DatasetError, match="InternalError"):
        ds.write(new, granularity="day", grouping=DAY, interval="2026-09-20/2026-10-10")
    after = objects(s3)
    october = f"usage/{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10/usage.json"
    assert sorted(after) == sorted(before)
    assert after[october] == before[october]
    want = [r for r in new if r["date"] < "2026-10"] + [r for r in old if r["date"] >= "2026-10"]
    pd.testing.assert_frame_equal(sort(ds.read()), expected(want))
    monkeypatch.setattr(client, "put_object", real_put)
    ds.write(new, granularity="day", grouping=DAY, interval="2026-09-20/2026-10-10")
    pd.testing.assert_frame_equal(sort(ds.read()), expected(new))


def test_missing_bucket_is_a_clear_error_and_creates_nothing(s3: object) -> None:
    rows = make_rows("2026-10-01", "2026-10-02")
    with pytest.raises(DatasetError, match=r"s3://no-such-bucket/.*bucket does not exist"):
        open_dataset("s3://no-such-bucket/usage/", org=ORG)
    ds = open_dataset(ROOT, org=ORG)
    s3.delete_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
    with pytest.raises(DatasetError, match=r"usage-data.*bucket does not exist"):
        ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-01/2026-10-02")
    assert boto3.client("glue").get_databases()["DatabaseList"] == []
    with pytest.raises(DatasetError, match="bucket does not exist"):
        ds.read()


def test_access_denied_is_a_clear_error_and_loses_nothing(
        s3: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto enforces IAM once ``INITIAL_NO_AUTH_ACTION_COUNT`` is reached (here: at once)."""
    import moto.settings

    rows = make_rows("2026-10-01", "2026-10-04")
    open_dataset(ROOT, org=ORG).write(rows, granularity="day", grouping=DAY,
                             interval="2026-10-01/2026-10-04")
    before = objects(s3)
    iam = boto3.client("iam")
    keys = {}
    for user, actions in (("admin", ["*"]),
                          ("reader", ["s3:GetObject", "s3:ListBucket", "glue:*"])):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }))
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)

    def session(user: str) -> boto3.Session:
        return boto3.Session(aws_access_key_id=keys[user]["AccessKeyId"],
                             aws_secret_access_key=keys[user]["SecretAccessKey"],
                             region_name="us-east-1")

    reader = open_dataset(ROOT, boto3_session=session("reader"), org=ORG)
    with pytest.raises(DatasetError, match=r"cannot write s3://usage-data/usage/.*access denied"):
        reader.write(make_rows("2026-10-01", "2026-10-04", version=9), granularity="day",
                     grouping=DAY, interval="2026-10-01/2026-10-04")
    pd.testing.assert_frame_equal(sort(reader.read()), expected(rows))
    admin_s3 = session("admin").client("s3")
    assert objects(admin_s3) == before
    with pytest.raises(DatasetError, match="access denied"):
        open_dataset(ROOT, boto3_session=boto3.Session(
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="wrong",
            region_name="us-east-1"), org=ORG).read()


def test_existing_table_of_another_shape_is_refused(s3: object) -> None:
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": DB})
    glue.create_table(DatabaseName=DB, TableInput={
        "Name": TABLE,
        "StorageDescriptor": {"Columns": [{"Name": "clientid", "Type": "string"}],
                              "Location": "s3://usage-data/usage/"},
        "PartitionKeys": [{"Name": "granularity", "Type": "string"}],
    })
    ds = open_dataset(ROOT, org=ORG)
    with pytest.raises(DatasetError, match=r"partition keys \['granularity'\]"):
        ds.write(make_rows("2026-10-01", "2026-10-02"), granularity="day", grouping=DAY,
                 interval="2026-10-01/2026-10-02")
    assert [k for k in objects(s3) if k.endswith(".json")] == []


def test_without_catalog_nothing_is_registered(s3: object) -> None:
    ds = open_dataset(ROOT, catalog=False, org=ORG)
    ds.write(make_rows("2026-10-01", "2026-10-02"), granularity="day", grouping=DAY,
             interval="2026-10-01/2026-10-02")
    assert boto3.client("glue").get_databases()["DatabaseList"] == []
    assert len(ds.read()) == 2


@pytest.fixture
def crawler(aws: str) -> Iterator[str]:
    glue = boto3.client("glue")
    glue.create_crawler(Name="UsageApiCrawler", Role="arn:aws:iam::123456789012:role/glue",
                        DatabaseName=DB, Targets={"S3Targets": [{"Path": ROOT}]})
    yield "UsageApiCrawler"
    requests.post(f"{aws}/moto-api/state-manager/unset-transition",
                  json={"model_name": "glue::crawl"}, timeout=10).raise_for_status()


def _transition(url: str, transition: dict[str, object]) -> None:
    requests.post(f"{url}/moto-api/state-manager/set-transition",
                  json={"model_name": "glue::crawl", "transition": transition},
                  timeout=10).raise_for_status()


def test_run_crawler_waits_for_ready(aws: str, crawler: str) -> None:
    _transition(aws, {"progression": "immediate"})
    last = run_crawler(crawler, timeout=10, poll=0.05)
    assert last["Status"] in ("SUCCEEDED", "COMPLETED")
    assert boto3.client("glue").get_crawler(Name=crawler)["Crawler"]["State"] == "READY"


def test_run_crawler_deadline(aws: str, crawler: str) -> None:
    _transition(aws, {"progression": "manual", "times": 1000})
    with pytest.raises(CrawlerTimeoutError, match=r"still RUNNING after 0\.3 s"):
        run_crawler(crawler, timeout=0.3, poll=0.05)
    with pytest.raises(DatasetError, match="no Glue crawler named 'Nope'"):
        run_crawler("Nope", timeout=1)


def test_a_legacy_s3_dataset_is_migrated_with_its_glue_table(s3: object) -> None:
    """An S3 dataset and Glue table from before organisations: ``usagekit migrate`` moves the
    objects under ``org=`` (same bytes), recreates the kit's table with the org key and
    registers the moved partitions."""
    import awswrangler as wr

    rows = make_rows("2026-10-25", "2026-11-05")
    open_dataset(ROOT, org=ORG).write(rows, granularity="day", grouping=DAY,
                                      interval="2026-10-25/2026-11-05")
    before = objects(s3)
    client = boto3.client("s3")
    for key, body in before.items():  # lay it out as usagekit 0.x did
        if f"/{ORG_DIR}/" in key:
            client.delete_object(Bucket=BUCKET, Key=key)
            if key.endswith("usage.json"):
                client.put_object(Bucket=BUCKET, Key=key.replace(f"{ORG_DIR}/", ""), Body=body)
    boto3.client("glue").delete_table(DatabaseName=DB, Name=TABLE)
    wr.catalog.create_json_table(database=DB, table=TABLE, path=ROOT,
                                 columns_types=STORED_COLUMNS,
                                 partitions_types=dict.fromkeys(LEGACY_PARTITION_KEYS, "string"))
    with pytest.raises(DatasetError, match="laid out as before organisations"):
        open_dataset(ROOT, org=ORG).write(rows, granularity="day", grouping=DAY,
                                          interval="2026-10-25/2026-11-05")
    assert main(["migrate", "--dataset", ROOT, "--org", ORG.id, "--org-name", ORG.name,
                 "--region", ORG.region]) == 0
    after = objects(s3)
    assert {k: v for k, v in after.items() if k.endswith("usage.json")} == {
        k: v for k, v in before.items() if k.endswith("usage.json")}
    table = boto3.client("glue").get_table(DatabaseName=DB, Name=TABLE)["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == list(PARTITION_KEYS)
    parts = boto3.client("glue").get_partitions(DatabaseName=DB, TableName=TABLE)["Partitions"]
    assert sorted(p["Values"] for p in parts) == [[ORG.id, "day", DAY, "2026-10"],
                                                  [ORG.id, "day", DAY, "2026-11"]]
    pd.testing.assert_frame_equal(sort(open_dataset(ROOT).read()), expected(rows))
