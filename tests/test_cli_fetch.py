"""`usagekit fetch` end to end (in-process CLI, real HTTP to a sandbox)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from usagekit.cli import main
from usagekit.fetch import PollPolicy, UsageClient
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

INTERVAL = "2026-10-01/2026-10-04"
#: A sandbox of its own per test, which the CLI reaches through the GENESYSCLOUD_* variables.
SANDBOX = {"query_seconds": 0.3}
SANDBOX_PER_TEST = SANDBOX_IN_ENV = True


def expected_ndjson(sb: Sandbox, query: UsageQuery) -> bytes:
    with UsageClient(sb.url, client_id=sb.client_id, client_secret=sb.client_secret,
                     poll=PollPolicy(initial=0.05), progress=False) as client:
        out = io.BytesIO()
        client.fetch(query).write_ndjson(out)
        return out.getvalue()


def test_fetch_writes_ndjson_to_a_file(sandbox: Sandbox, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "usage.json"
    code = main(["fetch", "--interval", INTERVAL, "--granularity", "day", "--group-by",
                 "oauthclientid,TemplateUri", "--no-progress", "--output", str(target)])
    assert code == 0
    query = UsageQuery.build(INTERVAL, "Day", ["OAuthClientId", "TemplateUri"])
    assert target.read_bytes() == expected_ndjson(sandbox, query)
    err = capsys.readouterr().err
    lines = target.read_bytes().count(b"\n")
    assert f"{lines} rows from genesys:127.0.0.1" in err
    assert "sandbox" not in err.split("rows from")[0]
    assert [p.name for p in tmp_path.iterdir()] == ["usage.json"]  # no temp file left


def test_fetch_to_stdout_with_aggregates_filters(sandbox: Sandbox,
                                                 capsysbinary: pytest.CaptureFixture[bytes]
                                                 ) -> None:
    code = main(["fetch", "--interval", INTERVAL, "--api", "aggregates", "--group-by",
                 "HttpMethod", "--group-by", "platform", "--http-method", "post",
                 "--metric", "Requests", "--page-size", "5", "--no-progress"])
    assert code == 0
    rows = [json.loads(line) for line in capsysbinary.readouterr().out.splitlines()]
    assert len(rows) > 5 and {r["httpMethod"] for r in rows} == {"POST"}
    assert all(set(r) >= {"requests", "platform"} and "status200" not in r for r in rows)


def test_bad_input_exits_2_before_any_request(sandbox: Sandbox,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--interval", INTERVAL, "--granularity", "hourly"]) == 2
    err = capsys.readouterr().err
    assert "'hourly'" in err and "Day, Week, Month" in err
    assert main(["fetch", "--interval", INTERVAL, "--group-by", "UserId",
                 "--client-id", "abc"]) == 2
    assert "'UserId'" in capsys.readouterr().err
    assert sandbox.requests == []


def test_timeout_then_resume(sandbox: Sandbox, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fetch", "--interval", INTERVAL, "--granularity", "Week", "--api", "aggregates",
            "--no-progress"]
    assert main([*args, "--poll-deadline", "0.05"]) == 1
    err = capsys.readouterr().err
    match = re.search(r"usagekit fetch --resume (\S+)`", err)
    assert match, err
    target = tmp_path / "resumed.json"
    assert main([*args, "--resume", match.group(1), "--output", str(target)]) == 0
    query = UsageQuery.build(INTERVAL, "Week", api="aggregates")
    assert target.read_bytes() == expected_ndjson(sandbox, query)
    assert sum(r.method == "POST" and "aggregates" in r.path for r in sandbox.requests) == 2


def test_fetch_into_the_dataset(sandbox: Sandbox, tmp_path: Path) -> None:
    dataset = pytest.importorskip("usagekit.dataset")
    location = tmp_path / "usage"
    assert main(["fetch", "--interval", INTERVAL, "--granularity", "Month", "--group-by",
                 "OAuthClientId", "--no-progress", "--dataset", str(location)]) == 0
    frame = dataset.open_dataset(str(location)).read(granularity="month",
                                                     grouping="oauthclientid")
    query = UsageQuery.build(INTERVAL, "Month", ["OAuthClientId"])
    expected = [json.loads(line) for line in expected_ndjson(sandbox, query).splitlines()]
    assert len(frame) == len(expected) > 0
    assert int(frame["requests"].sum()) == sum(r["requests"] for r in expected)


def test_a_long_interval_is_fetched_a_month_at_a_time(sandbox: Sandbox, tmp_path: Path) -> None:
    interval = "2026-07-20/2026-10-04"
    target, location = tmp_path / "usage.json", tmp_path / "usage"
    assert main(["fetch", "--interval", interval, "--granularity", "Day", "--group-by",
                 "OAuthClientId", "--no-progress", "--output", str(target),
                 "--dataset", str(location)]) == 0
    posts = [r for r in sandbox.requests if r.method == "POST" and r.path.endswith("/query")]
    assert len(posts) == 4  # July's end, August, September, October's start
    sandbox.clear_requests()
    whole = UsageQuery.build(interval, "Day", ["OAuthClientId"])
    assert target.read_bytes() == b"".join(expected_ndjson(sandbox, piece)
                                           for piece in whole.months())
    rows = [json.loads(line) for line in target.read_bytes().splitlines()]
    assert {r["date"][:7] for r in rows} == {"2026-07", "2026-08", "2026-09", "2026-10"}
    frame = pytest.importorskip("usagekit.dataset").open_dataset(str(location)).read()
    assert len(frame) == len(rows) and int(frame["requests"].sum()) == sum(
        r["requests"] for r in rows)


@pytest.mark.parametrize(("flags", "mentions"), [
    (["--granularity", "none"], ["--granularity", "Day, Week or Month"]),
    (["--metric", "Requests,Status429"], ["Status429, Requests",
                                          "Status200, Status300, Status400, Status500"]),
])
def test_rows_the_dataset_would_refuse_are_not_fetched(sandbox: Sandbox, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       flags: list[str],
                                                       mentions: list[str]) -> None:
    location = tmp_path / "usage"
    assert main(["fetch", "--interval", INTERVAL, *flags, "--no-progress",
                 "--dataset", str(location)]) == 2
    err = capsys.readouterr().err
    assert all(text in err for text in mentions), err
    assert sandbox.requests == []  # refused before any request
    assert not location.exists()


def test_without_settings_the_embedded_sandbox_answers(no_genesys: None, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    target = tmp_path / "out.json"
    assert main(["fetch", "--interval", INTERVAL, "--granularity", "none", "--no-progress",
                 "-o", str(target)]) == 0
    assert "embedded sandbox" in capsys.readouterr().err
    rows = [json.loads(line) for line in target.read_bytes().splitlines()]
    assert len(rows) == 1 and rows[0]["date"] == "2026-10-01T00:00:00Z"


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fetch", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--interval", "--api", "--oauth-client-id", "--template-uri", "--http-method",
                 "--user-id", "--platform", "--client-id", "--resume", "--output", "--dataset"):
        assert flag in out
