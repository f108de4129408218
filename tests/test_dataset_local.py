"""usagekit.dataset on local disk: layout, idempotent writes, atomic switch, formats."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

import usagekit.dataset.local
from tests.orgs import ORG, ORG_DIR
from usagekit.dataset import open_dataset
from usagekit.dataset.layout import Partition
from usagekit.dataset.schema import MANIFEST
from usagekit.exceptions import ConfigError, DatasetError, InvalidRowsError
from usagekit.frame import to_frame

CLIENTS = [
    ("0b7c5f1e-0000-4000-8000-000000000001", "Café Sync"),
    ("0b7c5f1e-0000-4000-8000-000000000002", "Ops/Reporting"),
    ("0b7c5f1e-0000-4000-8000-000000000003", "WFM export"),
]
URIS = ["/api/v2/users/{userId}", "/api/v2/analytics/conversations/details/query"]


def buckets(start: str, end: str, granularity: str) -> list[date]:
    """Bucket start days of [start, end): every day, every Monday, every 1st."""
    day, stop = date.fromisoformat(start), date.fromisoformat(end)
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    elif granularity == "month":
        day = day.replace(day=1)
    out = []
    while day < stop:
        out.append(day)
        if granularity == "month":
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            day += timedelta(days=7 if granularity == "week" else 1)
    return out


def make_rows(start: str, end: str, *, granularity: str = "day",
              grouping: str = "oauthclientid", version: int = 0) -> list[dict[str, object]]:
    """Deterministic API rows: each bucket's rows depend only on (bucket, version)."""
    rows = []
    for day in buckets(start, end, granularity):
        rng = random.Random(f"{day}-{version}")
        for client_id, name in CLIENTS:
            for uri in URIS if "templateuri" in grouping else [""]:
                s200, s300, s400, s500 = (rng.randrange(n) for n in (900, 20, 60, 5))
                rows.append({
                    "clientId": client_id, "clientName": name, "organizationId": "",
                    "userId": "", "templateUri": uri, "httpMethod": "",
                    "status200": s200, "status300": s300, "status400": s400,
                    "status500": s500, "status429": rng.randrange(s400 + 1),
                    "requests": s200 + s300 + s400 + s500,
                    "date": f"{day.isoformat()}T00:00:00Z",
                })
    return rows


def jq_lines(rows: list[dict[str, object]]) -> bytes:
    """What ``jq -c '.results[]'`` writes for these rows (compact, UTF-8, ``/`` unescaped)."""
    return b"".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in rows
    )


def keys(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    cols = ["granularity", "grouping", "clientId", "templateUri", "date"]
    return sorted(map(tuple, frame[cols].astype(str).to_numpy().tolist()))


def expected(rows: list[dict[str, object]], granularity: str, grouping: str) -> pd.DataFrame:
    frame = to_frame(rows, granularity=granularity, grouping=grouping)
    frame.insert(list(frame.columns).index("granularity"), "org",
                 pd.Series(ORG.id, index=frame.index, dtype="string"))
    frame["period"] = frame["date"].dt.strftime("%Y-%m").astype("string")
    cols = ["granularity", "grouping", "date", "clientId", "templateUri"]
    return frame.sort_values(cols, ignore_index=True)


def sort(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["granularity", "grouping", "date", "clientId", "templateUri"]
    return frame.sort_values(cols, ignore_index=True)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


DAY = "oauthclientid"


def test_layout_and_manifest(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path / "usage", org=ORG)
    summary = ds.write(make_rows("2026-10-20", "2026-11-10"), granularity="day",
                       grouping=DAY, interval="2026-10-20/2026-11-10")
    assert summary.rows == 21 * 3 and summary.replaced == 0
    assert sorted(snapshot(tmp_path / "usage")) == [
        MANIFEST,
        f"{ORG_DIR}/_org.json",
        f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10/usage.json",
        f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-11/usage.json",
    ]
    assert json.loads((tmp_path / "usage" / MANIFEST).read_text())["format"] == "ndjson"
    assert ds.partitions() == [Partition(ORG.id, "day", DAY, "2026-10"),
                               Partition(ORG.id, "day", DAY, "2026-11")]
    assert ds.files(start="2026-11-01") == [
        str(tmp_path / f"usage/{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-11"
                       "/usage.json")]


def test_ndjson_bytes_are_what_jq_writes(tmp_path: Path) -> None:
    rows = make_rows("2026-11-01", "2026-11-08", grouping="oauthclientid-templateuri")
    ds = open_dataset(tmp_path, org=ORG)
    ds.write(rows, granularity="day", grouping=["OAuthClientId", "TemplateUri"],
             interval="2026-11-01/2026-11-08")
    stored = (tmp_path / ORG_DIR / "granularity=day/grouping=oauthclientid-templateuri"
              / "period=2026-11/usage.json").read_bytes()
    assert stored == jq_lines(rows)
    assert b"\\/" not in stored and "Café".encode() in stored
    if shutil.which("jq"):
        response = json.dumps({"results": rows, "queryStatus": "Complete"}, indent=2).encode()
        jq = subprocess.run(["jq", "-c", ".results[]"], input=response, capture_output=True,
                            check=True)
        assert stored == jq.stdout


def test_bytes_frame_and_dict_inputs_store_the_same_bytes(tmp_path: Path) -> None:
    rows = make_rows("2026-11-02", "2026-11-04")
    frame = to_frame(rows, granularity="day", grouping=DAY)
    stored = []
    for name, data in (("dicts", rows), ("bytes", jq_lines(rows)), ("frame", frame)):
        ds = open_dataset(tmp_path / name, org=ORG)
        ds.write(data, granularity="day", grouping=DAY, interval="2026-11-02/2026-11-04")
        stored.append(snapshot(tmp_path / name))
    assert stored[0] == stored[1] == stored[2]


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
@pytest.mark.parametrize("blank_line", [False, True])
def test_spaced_crlf_bytes_store_what_dicts_store(tmp_path: Path, fmt: str,
                                                  blank_line: bool) -> None:
    rows = make_rows("2026-10-30", "2026-11-03", grouping="oauthclientid-templateuri")
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in rows]  # ", " and ": "
    if fmt == "parquet":  # Parquet stores the canonical date spelling
        lines[1] = lines[1].replace(b'T00:00:00Z"', b'T00:00:00.000Z"')
    if blank_line:
        lines.insert(2, b"  ")
    data = b"\r\n".join([b"", *lines, b""])
    for name, source in (("dicts", rows), ("bytes", data)):
        open_dataset(tmp_path / name, format=fmt, org=ORG).write(
            source, granularity="day", grouping="oauthclientid-templateuri",
            interval="2026-10-30/2026-11-03")
    dicts, stored = snapshot(tmp_path / "dicts"), snapshot(tmp_path / "bytes")
    assert sorted(stored) == sorted(dicts) and len(stored) == 4  # manifest, org, 2 months
    for rel, content in stored.items():
        if fmt == "parquet" and rel.endswith(".parquet"):
            assert pq.read_table(tmp_path / "bytes" / rel).equals(
                pq.read_table(tmp_path / "dicts" / rel))
        else:
            assert content == dicts[rel]


def test_read_back_equals_what_was_written(tmp_path: Path) -> None:
    day = make_rows("2026-10-25", "2026-11-05")
    week = make_rows("2026-10-26", "2026-11-09", granularity="week",
                     grouping="oauthclientid-templateuri")
    ds = open_dataset(tmp_path, org=ORG)
    ds.write(day, granularity="day", grouping=DAY, interval="2026-10-25/2026-11-05")
    ds.write(week, granularity="Week", grouping="oauthclientid-templateuri",
             interval="2026-10-26/2026-11-09")
    pd.testing.assert_frame_equal(sort(ds.read(granularity="day")),
                                  expected(day, "day", DAY))
    pd.testing.assert_frame_equal(sort(ds.read(grouping=["TemplateUri", "OAuthClientId"])),
                                  expected(week, "week", "oauthclientid-templateuri"))
    assert len(ds.read()) == len(day) + len(week)
    window = ds.read(granularity="day", start="2026-11-01", end=date(2026, 11, 3))
    assert sorted(window["date"].dt.day.unique()) == [1, 2]
    assert len(ds.read(granularity="month")) == 0


def test_same_interval_twice_is_idempotent(tmp_path: Path) -> None:
    rows = make_rows("2026-10-20", "2026-11-10")
    ds = open_dataset(tmp_path, org=ORG)
    ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-20/2026-11-10")
    first = snapshot(tmp_path)
    summary = ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-20/2026-11-10")
    assert summary.replaced == len(rows) and summary.kept == 0
    assert snapshot(tmp_path) == first


def test_overlapping_intervals_keep_each_row_once(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    old = make_rows("2026-10-20", "2026-11-10", version=1)
    new = make_rows("2026-11-05", "2026-11-20", version=2)
    ds.write(old, granularity="day", grouping=DAY, interval="2026-10-20/2026-11-10")
    summary = ds.write(new, granularity="day", grouping=DAY, interval="2026-11-05/2026-11-20")
    assert summary.replaced == 5 * 3  # Nov 5..9 were stored and are replaced
    assert summary.kept == 4 * 3  # Nov 1..4 share the partition and stay
    want = [r for r in old if r["date"] < "2026-11-05"] + new
    got = ds.read()
    assert keys(got) == keys(expected(want, "day", DAY))
    pd.testing.assert_frame_equal(sort(got), expected(want, "day", DAY))


def test_partial_month_merge_keeps_rows_outside_the_interval(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    month = make_rows("2026-09-01", "2026-10-01", version=1)
    ds.write(month, granularity="day", grouping=DAY, interval="2026-09/2026-10")
    patch = make_rows("2026-09-10", "2026-09-12", version=2)[1:]  # one client-day vanished
    ds.write(patch, granularity="day", grouping=DAY, interval="2026-09-10/2026-09-12")
    want = [r for r in month if not "2026-09-10" <= str(r["date"]) < "2026-09-12"] + patch
    pd.testing.assert_frame_equal(sort(ds.read()), expected(want, "day", DAY))
    lines = tmp_path / ORG_DIR / "granularity=day/grouping=oauthclientid/period=2026-09/usage.json"
    dates = [json.loads(line)["date"] for line in lines.read_bytes().splitlines()]
    assert dates == sorted(dates)  # kept-before, new, kept-after


def test_other_partitions_are_untouched(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    ds.write(make_rows("2026-09-01", "2026-11-01"), granularity="day", grouping=DAY,
             interval="2026-09/2026-11")
    ds.write(make_rows("2026-09-01", "2026-11-01", granularity="month"), granularity="month",
             grouping=DAY, interval="2026-09/2026-11")
    before = snapshot(tmp_path)
    ds.write(make_rows("2026-10-03", "2026-10-05", version=3), granularity="day",
             grouping=DAY, interval="2026-10-03/2026-10-05")
    after = snapshot(tmp_path)
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {
        f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10/usage.json"}


def test_empty_export_removes_the_interval_and_empty_partitions(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    ds.write(make_rows("2026-09-28", "2026-10-03"), granularity="day", grouping=DAY,
             interval="2026-09-28/2026-10-03")
    summary = ds.write([], granularity="day", grouping=DAY, interval="2026-10-01/2026-10-03")
    assert summary.deleted == (Partition(ORG.id, "day", DAY, "2026-10"),)
    assert ds.partitions() == [Partition(ORG.id, "day", DAY, "2026-09")]
    assert not (tmp_path / ORG_DIR / "granularity=day/grouping=oauthclientid/period=2026-10"
                ).exists()


def test_week_rows_may_start_before_the_interval(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    rows = make_rows("2026-11-04", "2026-11-18", granularity="week")  # Wed to Wed
    assert rows[0]["date"] == "2026-11-02T00:00:00Z"  # the Monday before the start
    summary = ds.write(rows, granularity="week", grouping=DAY, interval="2026-11-04/2026-11-18")
    assert summary.rows == 3 * 3


def test_replacing_a_cut_week_bucket_is_refused_and_nothing_written(tmp_path: Path) -> None:
    """A Wed-Sun re-export of a stored whole week would drop Mon, Tue: refused."""
    ds = open_dataset(tmp_path, org=ORG)
    whole = make_rows("2026-11-02", "2026-11-16", granularity="week")  # two whole weeks
    ds.write(whole, granularity="week", grouping=DAY, interval="2026-11-02/2026-11-16")
    before = snapshot(tmp_path)
    part = make_rows("2026-11-04", "2026-11-09", granularity="week", version=1)  # Wed-Sun
    with pytest.raises(InvalidRowsError) as err:
        ds.write(part, granularity="week", grouping=DAY, interval="2026-11-04/2026-11-09")
    message = str(err.value)
    assert "2026-11-04T00:00:00Z/2026-11-09T00:00:00Z covers the week bucket(s) " \
           "2026-11-02T00:00:00Z only in part" in message
    assert "3 row(s)" in message
    assert "2026-11-02T00:00:00Z/2026-11-09T00:00:00Z" in message  # the whole-week interval
    assert snapshot(tmp_path) == before
    assert len(ds.read()) == len(whole)


def test_cut_buckets_are_stored_when_nothing_else_is_and_identical_reexports_pass(
        tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    part = make_rows("2026-11-04", "2026-11-09", granularity="week", version=1)
    ds.write(part, granularity="week", grouping=DAY, interval="2026-11-04/2026-11-09")
    ds.write(part, granularity="week", grouping=DAY, interval="2026-11-04/2026-11-09")
    assert len(ds.read()) == len(part)
    # A whole-week export later replaces the partial bucket.
    whole = make_rows("2026-11-02", "2026-11-09", granularity="week", version=2)
    ds.write(whole, granularity="week", grouping=DAY, interval="2026-11-02/2026-11-09")
    stored = ds.read()
    assert len(stored) == len(whole)
    assert stored["requests"].sum() == sum(r["requests"] for r in whole)


def test_the_bucket_in_progress_is_not_cut_at_its_end(tmp_path: Path) -> None:
    """Up to today the current month is as whole as the API can make it: re-exports pass."""
    today = pd.Timestamp.now(tz="UTC").normalize()
    first = today.replace(day=1)
    if today == first:  # a month-in-progress needs at least one complete day
        pytest.skip("the 1st of the month has no month in progress")
    ds = open_dataset(tmp_path, org=ORG)
    interval = f"{first:%Y-%m-%d}/{today:%Y-%m-%d}"
    rows = make_rows(f"{first:%Y-%m-%d}", f"{today:%Y-%m-%d}", granularity="month")
    ds.write(rows, granularity="month", grouping=DAY, interval=interval)
    fresher = make_rows(f"{first:%Y-%m-%d}", f"{today:%Y-%m-%d}", granularity="month",
                        version=5)
    ds.write(fresher, granularity="month", grouping=DAY, interval=interval)
    assert ds.read()["requests"].sum() == sum(r["requests"] for r in fresher)


def test_rows_outside_the_interval_are_refused_and_nothing_written(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    ds.write(make_rows("2026-10-01", "2026-10-05"), granularity="day", grouping=DAY,
             interval="2026-10-01/2026-10-05")
    before = snapshot(tmp_path)
    with pytest.raises(InvalidRowsError, match=r"row 1: date='2026-10-04T00:00:00Z' is outside "
                       r"the interval 2026-10-05T00:00:00Z/2026-10-06T00:00:00Z \(its day "
                       r"buckets start 2026-10-05T00:00:00Z\)"):
        ds.write(make_rows("2026-10-04", "2026-10-06"), granularity="day", grouping=DAY,
                 interval="2026-10-05/2026-10-06")
    with pytest.raises(InvalidRowsError, match="granularity-less"):
        ds.write(make_rows("2026-10-04", "2026-10-06"), granularity=None, grouping=DAY,
                 interval="2026-10-04/2026-10-06")
    with pytest.raises(InvalidRowsError, match="templateUri"):
        ds.write(make_rows("2026-10-04", "2026-10-06", grouping="oauthclientid-templateuri"),
                 granularity="day", grouping=DAY, interval="2026-10-04/2026-10-06")
    assert snapshot(tmp_path) == before


def test_interrupted_switch_leaves_every_partition_whole(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    old = make_rows("2026-09-20", "2026-10-10", version=1)
    ds.write(old, granularity="day", grouping=DAY, interval="2026-09-20/2026-10-10")
    before = snapshot(tmp_path)
    real_replace = usagekit.dataset.local.os.replace
    calls = []

    def failing_replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(usagekit.dataset.local.os, "replace", failing_replace)
    new = make_rows("2026-09-20", "2026-10-10", version=2)
    with pytest.raises(DatasetError, match=r"No space left.*previous file is unchanged"):
        ds.write(new, granularity="day", grouping=DAY, interval="2026-09-20/2026-10-10")
    after = snapshot(tmp_path)
    sep = f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-09/usage.json"
    octo = f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10/usage.json"
    assert sorted(after) == sorted(before)  # no temporary file left behind
    assert after[sep] == jq_lines([r for r in new if r["date"] < "2026-10"])
    assert after[octo] == before[octo]
    want = [r for r in new if r["date"] < "2026-10"] + [r for r in old if r["date"] >= "2026-10"]
    pd.testing.assert_frame_equal(sort(ds.read()), expected(want, "day", DAY))
    monkeypatch.setattr(usagekit.dataset.local.os, "replace", real_replace)
    ds.write(new, granularity="day", grouping=DAY, interval="2026-09-20/2026-10-10")
    pd.testing.assert_frame_equal(sort(ds.read()), expected(new, "day", DAY))


def test_crash_before_the_switch_leaves_only_an_invisible_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    old = make_rows("2026-10-01", "2026-10-03", version=1)
    ds.write(old, granularity="day", grouping=DAY, interval="2026-10-01/2026-10-03")
    part = tmp_path / f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10"
    stale = part / ".usage.json.deadbeef.tmp"
    stale.write_bytes(b'{"half": ')  # what a killed process leaves
    assert len(ds.read()) == len(old)
    con = duckdb.connect()
    total = con.sql(f"SELECT count(*) FROM read_json('{tmp_path}/*/*/*/*/*.json', "
                    "hive_partitioning=true)").fetchall()
    assert total == [(len(old),)]
    ds.write(old, granularity="day", grouping=DAY, interval="2026-10-01/2026-10-03")
    assert not stale.exists()


def test_parquet_round_trip(tmp_path: Path) -> None:
    rows = make_rows("2026-10-25", "2026-11-05", grouping="oauthclientid-templateuri")
    ds = open_dataset(tmp_path, format="parquet", org=ORG)
    ds.write(rows, granularity="day", grouping="oauthclientid-templateuri",
             interval="2026-10-25/2026-11-05")
    assert ds.format == "parquet"
    path = tmp_path / f"{ORG_DIR}/granularity=day/grouping=oauthclientid-templateuri/period=2026-11"
    meta = pq.ParquetFile(path / "usage.parquet")
    assert meta.schema_arrow.names == list(rows[0])
    assert str(meta.schema_arrow.field("date").type) == "string"
    assert meta.metadata.row_group(0).column(0).compression == "ZSTD"
    pd.testing.assert_frame_equal(sort(open_dataset(tmp_path, org=ORG).read()),
                                  expected(rows, "day", "oauthclientid-templateuri"))
    ds.write(make_rows("2026-11-01", "2026-11-03", grouping="oauthclientid-templateuri",
                       version=5),
             granularity="day", grouping="oauthclientid-templateuri",
             interval="2026-11-01/2026-11-03")
    want = [r for r in rows if not "2026-11-01" <= str(r["date"]) < "2026-11-03"]
    want += make_rows("2026-11-01", "2026-11-03", grouping="oauthclientid-templateuri",
                      version=5)
    pd.testing.assert_frame_equal(sort(ds.read()),
                                  expected(want, "day", "oauthclientid-templateuri"))


def test_one_format_per_dataset(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    ds.write(make_rows("2026-10-01", "2026-10-02"), granularity="day", grouping=DAY,
             interval="2026-10-01/2026-10-02")
    with pytest.raises(DatasetError, match="holds ndjson files, not parquet"):
        open_dataset(tmp_path, format="parquet", org=ORG)
    with pytest.raises(ConfigError, match=r"'csv'.*ndjson, parquet"):
        open_dataset(tmp_path, format="csv", org=ORG)
    stray = tmp_path / f"{ORG_DIR}/granularity=day/grouping=none/period=2026-10/usage.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match="one format"):
        open_dataset(tmp_path, org=ORG)
    (tmp_path / MANIFEST).unlink()
    with pytest.raises(DatasetError, match="mixes ndjson and parquet"):
        open_dataset(tmp_path, org=ORG)


def test_format_is_inferred_without_manifest(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, format="parquet", org=ORG)
    ds.write(make_rows("2026-10-01", "2026-10-02"), granularity="day", grouping=DAY,
             interval="2026-10-01/2026-10-02")
    (tmp_path / MANIFEST).unlink()
    assert open_dataset(tmp_path, org=ORG).format == "parquet"


def test_foreign_file_in_a_partition_blocks_the_write(tmp_path: Path) -> None:
    ds = open_dataset(tmp_path, org=ORG)
    rows = make_rows("2026-10-01", "2026-10-02")
    ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-01/2026-10-02")
    foreign = (tmp_path / ORG_DIR / "granularity=day/grouping=oauthclientid/period=2026-10"
               / "query-result.json")
    foreign.write_bytes(jq_lines(rows))
    before = snapshot(tmp_path)
    with pytest.raises(DatasetError, match=r"unexpected file .*query-result\.json"):
        ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-01/2026-10-02")
    assert snapshot(tmp_path) == before
    assert len(ds.read()) == 2 * len(rows)  # read sees what Athena would see


def test_blueprint_sql_runs_on_the_files_with_duckdb(tmp_path: Path) -> None:
    rows = make_rows("2026-09-01", "2026-11-01", granularity="month")
    open_dataset(tmp_path, org=ORG).write(rows, granularity="month", grouping=DAY,
                                 interval="2026-09/2026-11")
    con = duckdb.connect()
    con.sql(f"CREATE VIEW gc_usage_api_source AS SELECT * FROM read_json("
            f"'{tmp_path}/*/*/*/*/*.json', hive_partitioning=true, "
            "columns={clientId: 'VARCHAR', status429: 'BIGINT', date: 'VARCHAR'})")
    top = con.sql("SELECT clientid, status429 FROM gc_usage_api_source "
                  "WHERE granularity='month' ORDER BY status429 DESC, clientid LIMIT 10").fetchall()
    want = sorted(((r["clientId"], r["status429"]) for r in rows), key=lambda t: (-t[1], t[0]))
    assert top == want[:10]
