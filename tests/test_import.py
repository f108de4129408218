"""``usagekit import``: the blueprint's folder or bucket of exports into the kit's dataset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.orgs import ORG, ORG_DIR
from usagekit import analyses
from usagekit.cli import main
from usagekit.dataset import open_dataset
from usagekit.dataset.importer import fuller, import_usage
from usagekit.engine import DuckDBEngine
from usagekit.exceptions import InvalidRowsError, MissingCountsError

#: The blueprint's sample query-result.json (its README, "Transform the JSON result").
BLUEPRINT_SAMPLE = (
    b'{"clientId":"d57acb58-54a8-44ce-bafa-0c273a357a94","clientName":"Sample Client '
    b'Credentials","organizationId":"","userId":"","templateUri":"","httpMethod":"",'
    b'"status200":3,"status300":0,"status400":0,"status500":1,"status429":0,"requests":4,'
    b'"date":"2021-01-12T00:00:00Z"}\n'
    b'{"clientId":"47de8a75-c884-487c-bd30-f4b476622bb7","clientName":"Another OAUth Client",'
    b'"organizationId":"","userId":"","templateUri":"","httpMethod":"","status200":16,'
    b'"status300":0,"status400":0,"status500":0,"status429":0,"requests":16,'
    b'"date":"2021-01-29T00:00:00Z"}\n'
)


def row(client: str, date: str, s200: int, s429: int = 0, **extra: object) -> dict[str, object]:
    return {"clientId": client, "clientName": f"Client {client}", "organizationId": "",
            "userId": "", "templateUri": extra.pop("uri", ""), "httpMethod": "",
            "status200": s200, "status300": 0, "status400": s429, "status500": 0,
            "status429": s429, "requests": s200 + s429, "date": date, **extra}


def ndjson(rows: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in rows)


def days(first: int, last: int, version: int = 0) -> list[dict[str, object]]:
    return [row(c, f"2026-10-{d:02d}T00:00:00Z", 10 * d + version, d % 3)
            for d in range(first, last + 1) for c in ("a", "b")]


def put(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def fingerprint(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_blueprint_sample_imports_as_day_rows(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "gc-usage-api-source"
    put(src, "granularity=day/query-result.json", BLUEPRINT_SAMPLE)
    ds = tmp_path / "ds"
    assert main(["import", "--org", ORG.id, str(src), "--dataset", str(ds)]) == 0
    assert "read 2 rows from 1 file(s)" in capsys.readouterr().err
    frame = open_dataset(ds, org=ORG).read()
    assert frame["granularity"].unique().tolist() == ["day"]
    assert frame["grouping"].unique().tolist() == ["oauthclientid"]
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-01-12", "2021-01-29"]
    assert frame["requests"].tolist() == [4, 16]
    stored = ds / ORG_DIR / "granularity=day/grouping=oauthclientid/period=2021-01/usage.json"
    assert stored.read_bytes() == BLUEPRINT_SAMPLE  # the bytes, as the blueprint wrote them


def test_overlapping_exports_store_each_row_once(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    put(src, "granularity=day/2026-10-01_10.json", ndjson(days(1, 10)))
    put(src, "granularity=day/nested/again-5-15.json", ndjson(days(5, 15)))
    before = fingerprint(src)
    ds = tmp_path / "ds"
    assert main(["import", "--org", ORG.id, str(src), "--dataset", str(ds)]) == 0
    err = capsys.readouterr().err
    assert "read 42 rows from 2 file(s); 12 duplicate row(s) stored once; 0 conflict(s)" in err
    frame = open_dataset(ds, org=ORG).read()
    assert len(frame) == 30
    assert not frame.duplicated(["clientId", "date"]).any()
    assert int(frame["requests"].sum()) == sum(int(r["requests"]) for r in days(1, 15))
    assert fingerprint(src) == before  # the source is only read
    # again: nothing changes, nothing is rewritten
    stored = fingerprint(ds)
    assert main(["import", "--org", ORG.id, str(src), "--dataset", str(ds)]) == 0
    assert "partitions written: none" in capsys.readouterr().err
    assert fingerprint(ds) == stored


def test_a_bucket_exported_twice_keeps_the_fuller_row(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    # October as a month bucket, exported mid-month (cut) and again after it ended
    cut = put(src, "granularity=month/early.json",
              ndjson([row("a", "2026-10-01T00:00:00Z", 150, 5),
                      row("b", "2026-10-01T00:00:00Z", 40)]))
    whole = put(src, "granularity=month/late.json",
                ndjson([row("a", "2026-10-01T00:00:00Z", 310, 9),
                        row("b", "2026-10-01T00:00:00Z", 40)]))
    ds = tmp_path / "ds"
    assert main(["import", "--org", ORG.id, str(src), "--dataset", str(ds)]) == 0
    err = capsys.readouterr().err
    assert "1 duplicate row(s) stored once; 1 conflict(s)" in err
    assert (f"conflict: month 2026-10-01T00:00:00Z a: kept {whole} (requests 319) over {cut} "
            f"(requests 155)") in err
    frame = open_dataset(ds, org=ORG).read(granularity="month")
    assert sorted(zip(frame["clientId"], frame["requests"], strict=True)) == [("a", 319),
                                                                              ("b", 40)]


def test_stored_rows_take_part_in_the_merge(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path / "ds", org=ORG)
    full = [row("a", "2026-10-05T00:00:00Z", 700, 7), row("b", "2026-10-05T00:00:00Z", 70)]
    ds.write(full, granularity="week", grouping="oauthclientid",
             interval="2026-10-05/2026-10-12")
    src = tmp_path / "src"
    # a week exported over part of it: fewer requests than the stored, whole week
    put(src, "granularity=week/part.json", ndjson([row("a", "2026-10-05T00:00:00Z", 200, 2),
                                                    row("c", "2026-10-12T00:00:00Z", 5)]))
    summary = import_usage(src, ds)
    assert [(c.kept, c.kept_requests, c.dropped_requests) for c in summary.conflicts] == [
        (ds.location, 707, 202)]
    frame = ds.read(granularity="week")
    assert sorted(zip(frame["clientId"], frame["requests"], strict=True)) == [
        ("a", 707), ("b", 70), ("c", 5)]


def test_grouping_is_derived_from_the_fields(tmp_path: Path) -> None:
    src = tmp_path / "src"
    put(src, "granularity=day/by-client.json", ndjson(days(1, 2)))
    put(src, "granularity=day/by-client-uri.json", ndjson(
        [row("a", "2026-10-01T00:00:00Z", 5, uri="/api/v2/users/{userId}"),
         row("a", "2026-10-01T00:00:00Z", 3, uri="/api/v2/analytics")]))
    ds = open_dataset(tmp_path / "ds", org=ORG)
    import_usage(src, ds)
    assert [p.grouping for p in ds.partitions()] == ["oauthclientid", "oauthclientid-templateuri"]


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_metrics_subset_keeps_missing_counts_missing(tmp_path: Path, fmt: str) -> None:
    """The blueprint's one-liner asks for Status200 and Status429 only."""
    subset = [{k: v for k, v in row(c, f"2026-10-{d:02d}T00:00:00Z", 10 * d, d).items()
               if k not in ("status300", "status400", "status500", "requests")}
              for d in (1, 2) for c in ("a", "b")]
    src = tmp_path / "src"
    put(src, "granularity=day/subset.json", ndjson(subset))
    ds = open_dataset(tmp_path / "ds", format=fmt, org=ORG)
    import_usage(src, ds)
    frame = ds.read()
    assert frame["status429"].tolist() == [1, 1, 2, 2]
    for name in ("status300", "status400", "status500", "requests"):
        assert frame[name].isna().all(), name  # missing, never 0
    part = Path(ds.location) / ORG_DIR / "granularity=day/grouping=oauthclientid/period=2026-10"
    if fmt == "ndjson":
        first = json.loads((part / "usage.json").read_text().splitlines()[0])
        assert set(first) == {"clientId", "clientName", "organizationId", "userId",
                              "templateUri", "httpMethod", "status200", "status429", "date"}
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(part / "usage.parquet")
        assert table.column("requests").null_count == 4
        assert table.column("status429").to_pylist() == [1, 1, 2, 2]
    with DuckDBEngine(ds.location) as engine:
        with pytest.raises(MissingCountsError, match=r"top_clients_429 needs requests, which "
                                                     r"stored rows lack \(requests: 4 of 4 rows;"):
            analyses.top_clients_429(engine)
        spikes = analyses.spikes(engine, metric="status429", window=2, min_value=1)
        assert list(spikes.columns)[:3] == ["date", "clientId", "clientName"]
        with pytest.raises(MissingCountsError, match="needs requests"):
            analyses.spikes(engine, metric="requests")


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.json", b"", "holds no usage rows"),
    ("running.json", b'{\n  "queryStatus": "Running"\n}\n', "queryStatus 'Running'"),
    ("failed.json", b'{"queryStatus": "Failed", "errorBody": {"message": "boom"}}',
     "queryStatus 'Failed'.*boom"),
    ("other.json", b'{"executionId": "x", "resultsUri": "/api/v2/usage/query/x/results"}\n',
     "no usage rows.*unexpected field.*clientId"),
    ("no-counts.json", b'{"clientId": "a", "date": "2026-10-01T00:00:00Z"}\n',
     "no usage rows"),
    ("week-on-tuesday.json", ndjson([row("a", "2026-10-06T00:00:00Z", 1)]), "a Monday"),
])
def test_a_file_without_usage_rows_is_refused_by_name(tmp_path: Path, name: str, data: bytes,
                                                      message: str) -> None:
    src = tmp_path / "src"
    put(src, "granularity=day/good.json", ndjson(days(1, 3)))
    folder = "week" if "week" in name else "day"
    bad = put(src, f"granularity={folder}/{name}", data)
    before = fingerprint(src)
    ds = tmp_path / "ds"
    with pytest.raises(InvalidRowsError, match=message) as info:
        import_usage(src, open_dataset(ds, org=ORG))
    assert str(info.value).startswith(str(bad)) and "nothing was imported" in str(info.value)
    assert not ds.exists()  # nothing half-written: not even the good file's rows
    assert fingerprint(src) == before


def test_files_outside_granularity_folders_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    put(src, "granularity=day/_SUCCESS", b"")  # Hive markers are skipped
    put(src, "granularity=day/.hidden.json", b"junk")
    put(src, "granularity=day/ok.json", ndjson(days(1, 1)))
    put(src, "loose.json", ndjson(days(1, 1)))
    with pytest.raises(Exception, match=r"loose.json is not under a granularity="):
        import_usage(src, open_dataset(tmp_path / "ds", org=ORG))
    (src / "loose.json").unlink()
    put(src, "granularity=hour/x.json", ndjson(days(1, 1)))
    with pytest.raises(Exception, match=r"unknown granularity 'hour'.*day, week, month"):
        import_usage(src, open_dataset(tmp_path / "ds", org=ORG))


def test_fuller_rule() -> None:
    a, b = row("a", "d", 10), row("a", "d", 12)
    assert fuller(a, b) < 0 < fuller(b, a)
    subset = {k: v for k, v in b.items() if k not in ("requests", "status300")}
    assert fuller(a, subset) > 0 > fuller(subset, a)  # every count it has, and more
    other = {k: v for k, v in b.items() if k != "status300"}
    assert fuller({k: v for k, v in a.items() if k != "status500"}, other) < 0  # requests
    assert fuller(a, dict(a)) == 0


def test_import_from_s3_into_s3(aws: str) -> None:
    """The blueprint's bucket (moto) into a kit dataset in another bucket."""
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="gc-usage-api-source")
    s3.create_bucket(Bucket="kit-data")
    body = ndjson([row("a", "2026-09-01T00:00:00Z", 90), row("b", "2026-09-01T00:00:00Z", 9)])
    s3.put_object(Bucket="gc-usage-api-source", Key="granularity=month/", Body=b"")
    s3.put_object(Bucket="gc-usage-api-source", Key="granularity=month/query-result.json",
                  Body=body)
    s3.put_object(Bucket="gc-usage-api-source", Key="granularity=month/again.json", Body=body)
    assert main(["import", "--org", ORG.id,
                 "s3://gc-usage-api-source", "--dataset", "s3://kit-data/usage/"]) == 0
    frame = open_dataset("s3://kit-data/usage/", org=ORG).read()
    assert sorted(zip(frame["clientId"], frame["requests"], strict=True)) == [("a", 90),
                                                                              ("b", 9)]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="gc-usage-api-source")["Contents"])
    assert keys == ["granularity=month/", "granularity=month/again.json",
                    "granularity=month/query-result.json"]
    got = s3.get_object(Bucket="gc-usage-api-source",
                        Key="granularity=month/query-result.json")["Body"].read()
    assert got == body
    parts = boto3.client("glue").get_partitions(DatabaseName="genesysclouddb",
                                                TableName="gc_usage_api_source")["Partitions"]
    assert [p["Values"] for p in parts] == [[ORG.id, "month", "oauthclientid", "2026-09"]]
    assert pd.Timestamp(frame["date"].iloc[0]) == pd.Timestamp("2026-09-01", tz="UTC")


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_stored_counts_are_never_replaced_by_missing_ones(tmp_path: Path, fmt: str) -> None:
    full = days(1, 2)
    ds = open_dataset(tmp_path / "ds", format=fmt, org=ORG)
    ds.write(full, granularity="day", grouping="oauthclientid", interval="2026-10-01/2026-10-03")
    subset = [{k: v for k, v in r.items() if k not in ("requests", "status300")} for r in full]
    # exporting them over the stored rows would drop requests and status300: refused
    with pytest.raises(InvalidRowsError, match=r"the rows lack status300, requests, which the "
                                               r"stored rows .* hold \(4 status300, 4 requests"):
        ds.write(subset, granularity="day", grouping="oauthclientid",
                 interval="2026-10-01/2026-10-03")
    assert ds.read()["requests"].notna().all()
    # importing them keeps the stored rows (they hold every count the export holds, and more)
    src = tmp_path / "src"
    put(src, "granularity=day/subset.json", ndjson(subset))
    summary = import_usage(src, ds)
    assert not summary.written and len(summary.conflicts) == 4
    assert {c.kept for c in summary.conflicts} == {ds.location}
    assert int(ds.read()["requests"].sum()) == sum(int(r["requests"]) for r in full)


def test_the_blueprints_one_liner_query_end_to_end(tmp_path: Path) -> None:
    """Its query (Month, OAuthClientId, metrics Status200 and Status429) fetched from the
    sandbox, saved as its jq step does, imported: the other counts stay missing."""
    from usagekit.fetch import PollPolicy, UsageClient
    from usagekit.query import UsageQuery
    from usagekit.sandbox import Sandbox

    query = UsageQuery.build("2026-09/2026-11", "Month", ["OAuthClientId"],
                             ["Status200", "Status429"])
    with Sandbox(port=0, seed=7, query_seconds=0.01) as sb, UsageClient(
            sb.url, client_id=sb.client_id, client_secret=sb.client_secret,
            poll=PollPolicy(initial=0.01), progress=False) as client:
        result = client.fetch(query)
    src = tmp_path / "gc-usage-api-source"
    with open(put(src, "granularity=month/query-result.json", b""), "wb") as fp:
        result.write_ndjson(fp)
    ds = open_dataset(tmp_path / "ds", org=ORG)
    summary = import_usage(src, ds)
    assert summary.rows_read == len(result.rows) > 0
    frame = ds.read()
    assert frame["granularity"].unique().tolist() == ["month"]
    assert sorted(frame["period"].unique()) == ["2026-09", "2026-10"]
    assert int(frame["status429"].sum()) == sum(int(r["status429"]) for r in result.rows)
    assert frame["requests"].isna().all() and frame["status500"].isna().all()
    with DuckDBEngine(ds.location) as engine:
        with pytest.raises(MissingCountsError, match="needs requests"):
            analyses.top_clients_429(engine, granularity="month")
        with pytest.raises(MissingCountsError, match=r"needs requests, status300, status400, "
                                                     r"status500, which stored rows lack"):
            analyses.requests_over_time(engine, granularity="month")


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports read in blocks of 600 bytes (a few rows each)."""
    import usagekit.dataset.spool

    monkeypatch.setattr(usagekit.dataset.spool, "BLOCK_BYTES", 600)


def test_a_large_export_is_read_a_block_at_a_time(tmp_path: Path, small_blocks: None) -> None:
    # only the last rows fill templateUri: the grouping comes from the whole file
    rows = [row(c, f"2026-{m:02d}-{d:02d}T00:00:00Z", 10 * d + m, d % 3,
                uri="/api/v2/users" if (m, d) == (9, 30) else "")
            for m in (7, 8, 9) for d in range(1, 31) for c in ("a", "b")]
    src = tmp_path / "src"
    put(src, "granularity=day/quarter.json", ndjson(rows))
    ds = open_dataset(tmp_path / "ds", format="parquet", org=ORG)
    summary = import_usage(src, ds)
    assert summary.rows_read == len(rows) and len(summary.written) == 3
    assert {p.grouping for p in summary.written} == {"oauthclientid-templateuri"}
    exported = open_dataset(tmp_path / "exported", format="parquet", org=ORG)
    exported.write(ndjson(rows), granularity="day", grouping="oauthclientid-templateuri",
                   interval="2026-07-01/2026-10-01")
    assert fingerprint(tmp_path / "ds") == fingerprint(tmp_path / "exported")


def test_a_row_twice_in_one_export_is_refused_across_blocks(tmp_path: Path,
                                                            small_blocks: None) -> None:
    early, late = days(1, 20), days(21, 30)
    src = tmp_path / "src"
    put(src, "granularity=day/a.json", ndjson(days(1, 30)))
    bad = put(src, "granularity=day/b.json", ndjson([*early, *late, early[3]]))
    ds = tmp_path / "ds"
    with pytest.raises(InvalidRowsError, match=rf"^{bad}: line {len(early) + len(late) + 1}: "
                                               r"date='2026-10-02T00:00:00Z': another row"):
        import_usage(src, open_dataset(ds, org=ORG))
    assert not ds.exists()
