"""``usagekit import FILE|-``: NDJSON (or a gc result document) from a file or stdin into the
dataset, the granularity and groupBy given as flags."""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.orgs import ORG, ORG_DIR
from usagekit.cli import main
from usagekit.dataset import open_dataset
from usagekit.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def make_rows(start: str, end: str, *, version: int = 0, uri: str = "") -> list[dict[str, object]]:
    """Deterministic daily API rows grouped by OAuthClientId; a day depends on (day, version)."""
    rows = []
    day, stop = date.fromisoformat(start), date.fromisoformat(end)
    while day < stop:
        rng = random.Random(f"{day}-{version}")
        for n in range(2):
            s200, s400 = rng.randrange(500), rng.randrange(40)
            rows.append({
                "clientId": f"c-{n}", "clientName": f"Client {n}", "organizationId": "",
                "userId": "", "templateUri": uri, "httpMethod": "",
                "status200": s200, "status300": 0, "status400": s400, "status500": 0,
                "status429": rng.randrange(s400 + 1), "requests": s200 + s400,
                "date": f"{day.isoformat()}T00:00:00Z",
            })
        day += timedelta(days=1)
    return rows


def ndjson(rows: list[dict[str, object]]) -> bytes:
    return b"".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in rows
    )


def stored(root: Path) -> list[tuple[str, str, int]]:
    frame = open_dataset(root).read()
    return sorted(zip(frame["date"].dt.strftime("%Y-%m-%d"), frame["clientId"],
                      frame["requests"].tolist(), strict=True))


def expect(rows: list[dict[str, object]]) -> list[tuple[str, str, int]]:
    return sorted((str(r["date"])[:10], str(r["clientId"]), int(r["requests"]))  # type: ignore[call-overload]
                  for r in rows)


def test_import_file_stores_the_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = make_rows("2026-11-01", "2026-11-05")
    src = tmp_path / "query-result.json"
    src.write_bytes(ndjson(rows))
    code = main(["import", "--org", ORG.id,
                 str(src), "--dataset", str(tmp_path / "ds"), "--granularity", "Day",
                 "--group-by", "OAuthClientId", "--interval", "2026-11-01/2026-11-05"])
    assert code == 0
    assert "stored 8 rows" in capsys.readouterr().err
    part = (tmp_path / "ds" / ORG_DIR
            / "granularity=day/grouping=oauthclientid/period=2026-11/usage.json")
    assert part.read_bytes() == src.read_bytes()


def test_import_stdin_with_derived_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "ds"
    old = make_rows("2026-11-01", "2026-11-10", version=1)
    open_dataset(ds, org=ORG).write(old, granularity="day", grouping="oauthclientid",
                                    interval="2026-11-01/2026-11-10")
    new = make_rows("2026-11-03", "2026-11-06", version=2)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(ndjson(new))))
    code = main(["import", "--org", ORG.id, "-", "--dataset", str(ds), "--granularity", "day",
                 "--group-by", "oauthclientid"])
    assert code == 0
    err = capsys.readouterr().err
    assert "interval derived from the rows: 2026-11-03T00:00:00Z/2026-11-06T00:00:00Z" in err
    assert "replaced 6, kept 12" in err
    want = [r for r in old if not "2026-11-03" <= str(r["date"]) < "2026-11-06"] + new
    assert stored(ds) == expect(want)


@pytest.mark.parametrize(
    ("args", "data", "message"),
    [
        (["--group-by", "OAuthClientId"], make_rows("2026-11-01", "2026-11-02", uri="/api/v2/x"),
         "line 1: templateUri='/api/v2/x'"),
        (["--group-by", "none"], make_rows("2026-11-01", "2026-11-02"), "line 1: clientId='c-0'"),
        (["--group-by", "OAuthClientId", "--granularity", "none"],
         make_rows("2026-11-01", "2026-11-02"), "granularity-less"),
        (["--group-by", "OAuthClientId", "--granularity", "month"],
         make_rows("2026-11-02", "2026-11-03"), "line 1: date='2026-11-02"),
        (["--group-by", "Nope"], make_rows("2026-11-01", "2026-11-02"), "Nope"),
        (["--group-by", "OAuthClientId", "--interval", "2026-11-05/2026-11-06"],
         make_rows("2026-11-01", "2026-11-02"), "outside the interval"),
        (["--group-by", "OAuthClientId"], [], "pass --interval"),
    ],
)
def test_contradicting_rows_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        args: list[str], data: list[dict[str, object]],
                                        message: str) -> None:
    src = tmp_path / "rows.json"
    src.write_bytes(ndjson(data))
    if "--granularity" not in args:
        args = [*args, "--granularity", "day"]
    code = main(["import", "--org", ORG.id, str(src), "--dataset", str(tmp_path / "ds"), *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_format_flag_and_mixed_format_refusal(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "rows.json"
    src.write_bytes(ndjson(make_rows("2026-11-01", "2026-11-03")))
    base = ["import", "--org", ORG.id,
            str(src), "--dataset", str(tmp_path / "ds"), "--granularity", "day",
            "--group-by", "OAuthClientId"]
    assert main([*base, "--format", "parquet"]) == 0
    assert open_dataset(tmp_path / "ds").format == "parquet"
    assert main([*base, "--format", "ndjson"]) == 1
    assert "holds parquet files, not ndjson" in capsys.readouterr().err
    assert main(base) == 0  # the dataset's own format


def test_fetch_pipe_import(tmp_path: Path) -> None:
    """``usagekit fetch ... | usagekit import - ...`` with the embedded sandbox, as users run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESYSCLOUD_")}
    flags = ["--granularity", "Day", "--group-by", "OAuthClientId,TemplateUri"]
    fetch = subprocess.run(
        [sys.executable, "-m", "usagekit", "fetch", "--interval", "2026-10-30/2026-11-02",
         "--no-progress", *flags], capture_output=True, check=True, env=env, cwd=ROOT,
        timeout=120)
    assert fetch.stdout
    imported = subprocess.run(
        [sys.executable, "-m", "usagekit", "import", "--org", ORG.id,
         "-", "--dataset", str(tmp_path), *flags,
         "--interval", "2026-10-30/2026-11-02"], input=fetch.stdout, capture_output=True,
        env=env, cwd=ROOT, timeout=120)
    assert imported.returncode == 0, imported.stderr
    frame = open_dataset(tmp_path).read()
    assert len(frame) == fetch.stdout.count(b"\n")
    assert frame["grouping"].unique().tolist() == ["oauthclientid-templateuri"]
    files = sorted(tmp_path.glob(f"{ORG_DIR}/granularity=day/*/*/usage.json"))
    assert [f.parent.name for f in files] == ["period=2026-10", "period=2026-11"]
    assert b"".join(f.read_bytes() for f in files) == fetch.stdout
    check = pd.read_json(io.BytesIO(fetch.stdout), lines=True, dtype=False)
    assert frame["requests"].sum() == check["requests"].sum()


@pytest.mark.aws
@pytest.mark.filterwarnings("ignore::DeprecationWarning:awswrangler")
def test_fetch_pipe_import_to_s3_and_fetch_straight_to_s3(aws: str) -> None:
    """``usagekit fetch | usagekit import - --dataset s3://...`` and ``fetch --dataset s3://...``
    against moto: rows once each after an overlapping second run, Glue partitions registered."""
    import boto3

    boto3.client("s3").create_bucket(Bucket="usage-cli")
    location = "s3://usage-cli/usage/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESYSCLOUD_")}
    flags = ["--granularity", "Day", "--group-by", "OAuthClientId"]

    def run(*args: str, data: bytes | None = None) -> bytes:
        done = subprocess.run([sys.executable, "-m", "usagekit", *args], input=data,
                              capture_output=True, env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    first = run("fetch", "--interval", "2026-10-28/2026-11-03", "--no-progress", *flags)
    embedded = Sandbox().org.id  # the org of the embedded sandbox's rows
    run("import", "--org", embedded,
        "-", "--dataset", location, *flags, "--interval", "2026-10-28/2026-11-03",
        data=first)
    run("fetch", "--interval", "2026-10-31/2026-11-05", "--no-progress", *flags,
        "--dataset", location)  # overlaps the import by three days
    whole = run("fetch", "--interval", "2026-10-28/2026-11-05", "--no-progress", *flags)
    frame = open_dataset(location).read(granularity="day", grouping="oauthclientid")
    expected = pd.read_json(io.BytesIO(whole), lines=True, dtype=False)
    assert len(frame) == len(expected) > 0
    assert not frame.duplicated(["date", "clientId"]).any()
    assert int(frame["requests"].sum()) == int(expected["requests"].sum())
    glue = boto3.client("glue")
    values = sorted(p["Values"] for p in glue.get_partitions(
        DatabaseName="genesysclouddb", TableName="gc_usage_api_source")["Partitions"])
    assert values == [[embedded, "day", "oauthclientid", "2026-10"],
                      [embedded, "day", "oauthclientid", "2026-11"]]


def gc_document(results: list[dict[str, object]] | None, status: str) -> bytes:
    """What ``gc usage query results get`` prints: 2-space pretty JSON (tidwall/pretty)."""
    body: dict[str, object] = {"queryStatus": status}
    if results is not None:
        body = {"results": results, "queryStatus": status}
    return json.dumps(body, indent=2, ensure_ascii=False).encode() + b"\n"


def test_import_takes_gc_output_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    rows = make_rows("2026-11-01", "2026-11-04", uri="")
    rows[0]["clientName"] = "Prince's client / ünïcode"
    flags = ["--granularity", "day", "--group-by", "OAuthClientId"]
    jq = tmp_path / "query-result.json"  # the blueprint's `| jq -c '.results[]'`
    jq.write_bytes(ndjson(rows))
    assert main(["import", "--org", ORG.id, str(jq), "--dataset", str(tmp_path / "a"),
                 *flags]) == 0
    pretty = tmp_path / "gc-output.json"
    pretty.write_bytes(gc_document(rows, "Complete"))
    assert main(["import", "--org", ORG.id,
                 str(pretty), "--dataset", str(tmp_path / "b"), *flags]) == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gc_document(rows,
                                                                               "Complete"))))
    assert main(["import", "--org", ORG.id, "-", "--dataset", str(tmp_path / "c"), *flags]) == 0
    part = f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-11/usage.json"
    assert ((tmp_path / "b" / part).read_bytes() == (tmp_path / "c" / part).read_bytes()
            == (tmp_path / "a" / part).read_bytes() == jq.read_bytes())
    assert "stored 6 rows" in capsys.readouterr().err


@pytest.mark.parametrize(("document", "message"), [
    (gc_document(None, "Running"), "queryStatus 'Running'.*again until"),
    (b'{\n  "queryStatus": "Failed",\n  "errorBody": {\n    "message": "Internal error"\n'
     b'  }\n}\n', "queryStatus 'Failed'.*Internal error"),
    (gc_document([], "Cancelled"), "queryStatus 'Cancelled'"),
])
def test_import_refuses_a_query_that_is_not_complete(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], document: bytes,
        message: str) -> None:
    src = tmp_path / "gc-output.json"
    src.write_bytes(document)
    code = main(["import", "--org", ORG.id,
                 str(src), "--dataset", str(tmp_path / "ds"), "--granularity",
                 "day", "--group-by", "OAuthClientId", "--interval", "2026-11-01/2026-11-02"])
    assert code == 2
    err = capsys.readouterr().err
    assert str(src) in err
    assert re.search(message, err), err
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(("source", "args", "missing"), [
    ("file", [], "pass --granularity and --group-by"),
    ("file", ["--granularity", "day"], "pass --group-by ("),
    ("-", ["--group-by", "OAuthClientId"], "pass --granularity ("),
])
def test_a_file_or_stdin_without_flags_names_what_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        source: str, args: list[str], missing: str) -> None:
    src = tmp_path / "rows.json"
    src.write_bytes(ndjson(make_rows("2026-11-01", "2026-11-03")))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(src.read_bytes())))
    name = str(src) if source == "file" else "-"
    assert main(["import", "--org", ORG.id, name, "--dataset", str(tmp_path / "ds"), *args]) == 2
    err = capsys.readouterr().err
    assert missing in err
    assert (f"the file {src}:" if source == "file" else "stdin:") in err
    assert not (tmp_path / "ds").exists()


def test_a_folder_refuses_the_flags_of_a_file(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "exports"
    (src / "granularity=day").mkdir(parents=True)
    (src / "granularity=day/rows.json").write_bytes(ndjson(make_rows("2026-11-01",
                                                                     "2026-11-03")))
    code = main(["import", "--org", ORG.id,
                 str(src), "--dataset", str(tmp_path / "ds"), "--granularity", "day",
                 "--interval", "2026-11-01/2026-11-03"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"--granularity, --interval apply to a file or stdin, not to the folder {src}" in err
    assert not (tmp_path / "ds").exists()
    assert main(["import", "--org", ORG.id,
                 str(src), "--dataset", str(tmp_path / "ds")]) == 0  # as a folder
    assert stored(tmp_path / "ds") == expect(make_rows("2026-11-01", "2026-11-03"))


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import", "--org", ORG.id,
                 str(tmp_path / "nope.json"), "--dataset", str(tmp_path / "ds"),
                 "--granularity", "day", "--group-by", "OAuthClientId"])
    assert code == 2
    assert f"cannot read {tmp_path / 'nope.json'}: No such file" in capsys.readouterr().err


def test_export_is_gone(capsys: pytest.CaptureFixture[str]) -> None:
    """One way to bring rows in: ``usagekit import`` (no ``export`` alias left)."""
    with pytest.raises(SystemExit) as done:
        main(["export", "-", "--granularity", "day", "--group-by", "OAuthClientId"])
    assert done.value.code == 2
    assert "invalid choice: 'export'" in capsys.readouterr().err
