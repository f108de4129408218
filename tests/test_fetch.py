"""UsageClient against the sandbox over real HTTP: both APIs, paging, splitting, NDJSON."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from usagekit.exceptions import ApiError
from usagekit.fetch import PollPolicy, UsageClient, UsageResult
from usagekit.fetch.http import RetryPolicy, Transport
from usagekit.fetch.result import _is_compact
from usagekit.query import UsageQuery
from usagekit.row import API_FIELDS
from usagekit.sandbox import Sandbox

FAST_RETRY = RetryPolicy(backoff=0.01, backoff_max=0.05, default_retry_after=0.05)
FAST_POLL = PollPolicy(initial=0.01, factor=1.5, maximum=0.05, deadline=20)
JQ = "/usr/bin/jq"


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def window(days: int) -> str:
    end = yesterday() + timedelta(days=1)
    return f"{end - timedelta(days=days)}/{end}"


SANDBOX = {"query_seconds": 0.05}


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[UsageClient]:
    with UsageClient(sandbox.url, client_id=sandbox.client_id,
                     client_secret=sandbox.client_secret, retry=FAST_RETRY, poll=FAST_POLL,
                     progress=False) as c:
        yield c


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def test_legacy_rows_have_the_legacy_schema(client: UsageClient) -> None:
    query = UsageQuery.build(window(10), "Day", ["OAuthClientId", "TemplateUri"])
    result = client.fetch(query)
    assert result.query is query
    assert len(result.execution_ids) == 1
    assert len(result) == len(result.rows) > 50
    days = {row["date"] for row in result.rows}
    assert len(days) == 10
    for row in result.rows:
        assert tuple(row) == API_FIELDS
        assert row["requests"] == sum(row[f"status{n}"] for n in (200, 300, 400, 500))
        assert row["status429"] <= row["status400"]
        assert row["clientId"] and row["templateUri"] and row["userId"] == ""


def test_metrics_subset_gives_only_those_counts(client: UsageClient) -> None:
    result = client.fetch(UsageQuery.build(window(3), "Day", ["OAuthClientId"],
                                           ["status429", "REQUESTS"]))
    assert result.rows
    assert all(set(row) - set(API_FIELDS[:6]) == {"status429", "requests", "date"}
               for row in result.rows)


def _raw_legacy_response(sandbox: Sandbox, body: dict[str, Any]) -> tuple[str, bytes]:
    """Submit and poll with plain requests, as `gc usage query create/results get` would."""
    token = requests.post(f"{sandbox.url}/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(sandbox.client_id, sandbox.client_secret), timeout=10
                          ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    execution = requests.post(f"{sandbox.url}/api/v2/usage/query", json=body, headers=headers,
                              timeout=10).json()["executionId"]
    for _ in range(200):
        response = requests.get(f"{sandbox.url}/api/v2/usage/query/{execution}/results",
                                headers=headers, timeout=10)
        if response.json()["queryStatus"] == "Complete":
            return execution, response.content
        time.sleep(0.02)
    raise AssertionError("query never completed")


def _jq(raw: bytes, tmp_path: Path) -> bytes:
    source = tmp_path / "response.json"
    source.write_bytes(raw)
    return subprocess.run([JQ, "-c", ".results[]", str(source)], check=True,
                          capture_output=True).stdout


def test_ndjson_is_byte_identical_to_jq(client: UsageClient, sandbox: Sandbox,
                                        tmp_path: Path) -> None:
    query = UsageQuery.build(window(7), "Week", ["OAuthClientId", "TemplateUri", "HttpMethod"])
    execution, raw = _raw_legacy_response(sandbox, query.legacy_body())
    expected = _jq(raw, tmp_path)
    assert expected.count(b"\n") > 100
    result = client.resume(execution, query)
    out = io.BytesIO()
    assert result.write_ndjson(out) == expected.count(b"\n")
    assert out.getvalue() == expected
    assert UsageResult.from_legacy_response(query, raw).rows == result.rows


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_ndjson_matches_jq_on_tricky_strings(tmp_path: Path, indent: int | None,
                                             ensure_ascii: bool) -> None:
    names = ["Café Ünïcode", "emoji 🚀 app", 'quote " and \\ backslash', "tab\tnew\nline",
             "ctl \x01\x1f del \x7f", "slash api/v2/x", "<html> & 'single'"]
    rows = [{"clientId": f"c{i}", "clientName": name, "organizationId": "", "userId": "",
             "templateUri": "api/v2/users/{userId}", "httpMethod": "GET", "status200": i,
             "status300": 0, "status400": 0, "status500": 0, "status429": 0, "requests": i,
             "date": "2021-01-12T00:00:00Z"} for i, name in enumerate(names)]
    raw = json.dumps({"results": rows, "queryStatus": "Complete"}, indent=indent,
                     ensure_ascii=ensure_ascii).encode()
    raw = raw.replace(b"api/v2/x", b"api\\/v2\\/x")  # an escaped slash, as some servers write
    result = UsageResult.from_legacy_response(UsageQuery.build("2021-01/2021-02"), raw)
    out = io.BytesIO()
    result.write_ndjson(out)
    assert out.getvalue() == _jq(raw, tmp_path)
    assert [r["clientName"] for r in result.rows][:5] == names[:5]


@pytest.mark.parametrize(("indent", "separators"), [(None, (",", ":")), (None, None),
                                                    (1, None)])
def test_ndjson_blocks_match_jq_lines_and_rows(tmp_path: Path, indent: int | None,
                                               separators: tuple[str, str] | None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("usagekit.fetch.result._BLOCK_ROWS", 3)  # blocks with and without escapes
    monkeypatch.setattr("usagekit.fetch.result._CHECK_MIN", 0)  # the compactness check, in blocks
    monkeypatch.setattr("usagekit.fetch.result._CHECK_BLOCK", 7)
    names = ["plain", "a, b: c", "Caf\u00e9", "x", "y z", "del \x7f", "q", "r", "s", "t"]
    rows = [{"clientId": f"c{i}", "clientName": name, "organizationId": "o", "userId": "",
             "templateUri": "api/v2/x", "httpMethod": "GET", "status200": i, "status300": 0,
             "status400": 0, "status500": 0, "status429": 0, "requests": i,
             "date": "2021-01-12T00:00:00Z"} for i, name in enumerate(names)]
    raw = json.dumps({"results": rows, "queryStatus": "Complete"}, indent=indent,
                     separators=separators, ensure_ascii=True).encode()
    assert separators is not None or not _is_compact(raw)
    expected = _jq(raw, tmp_path)
    result = UsageResult.from_legacy_response(UsageQuery.build("2021-01/2021-02"), raw)
    out = io.BytesIO()
    assert result.write_ndjson(out) == len(rows) == expected.count(b"\n")
    assert out.getvalue() == expected
    assert result.ndjson() == expected
    assert b"".join(line + b"\n" for line in result.lines()) == expected
    assert result.rows == rows
    out = io.BytesIO()  # rows decoded: the same text, encoded from the dicts in blocks
    assert result.write_ndjson(out) == len(rows)
    assert out.getvalue() == expected == result.ndjson()


def test_is_compact_only_without_spaces_outside_strings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("usagekit.fetch.result._CHECK_MIN", 0)
    monkeypatch.setattr("usagekit.fetch.result._CHECK_BLOCK", 5)
    assert _is_compact(b'{"a":"x y","b":[1,2],"c":"z  w"}')
    for spaced in (b'{"a": "x"}', b'{"a":"x" ,"b":1}', b'{"a":[1,2 ]}', b'{ "a":1}',
                   b'{"a":1}\n', b'{"a":\t1}', b'{"a":"x y",\t"b":1}', b'{"a":"x y"}\r\n'):
        assert not _is_compact(spaced), spaced
    assert not _is_compact(b'{"a":"x, y"}')  # may say no: compacting it then changes nothing


def test_aggregates_paging_matches_legacy(client: UsageClient) -> None:
    interval = window(12)
    legacy = client.fetch(UsageQuery.build(interval, "Day", ["OAuthClientId", "TemplateUri"]))
    aggregates = client.fetch(UsageQuery.build(interval, "Day", ["OauthClientId", "templateuri"],
                                               api="aggregates", page_size=97))
    assert len(aggregates.execution_ids) == 1
    assert len(aggregates) > 5 * 97  # several pages
    for row in aggregates.rows:
        assert tuple(row) == API_FIELDS and row["date"].endswith("T00:00:00Z")
    # The aggregates API also reports Genesys' built-in clients, which legacy filters out.
    known = {row["clientId"] for row in legacy.rows}
    assert {row["clientId"] for row in aggregates.rows} > known
    comparable = [row for row in aggregates.rows if row["clientId"] in known]
    assert sorted(map(_key, comparable)) == sorted(map(_key, legacy.rows))


@pytest.mark.parametrize("granularity", ["Day", "Week", "Month", None])
def test_split_aggregates_equal_one_legacy_query(client: UsageClient,
                                                 granularity: str | None) -> None:
    interval = window(200)
    query = UsageQuery.build(interval, granularity, ["OAuthClientId"], api="aggregates")
    assert len(query.split()) >= 3
    aggregates = client.fetch(query)
    assert len(aggregates.execution_ids) == len(query.split())
    legacy = client.fetch(UsageQuery.build(interval, granularity, ["OAuthClientId"]))
    known = {row["clientId"] for row in legacy.rows}
    comparable = [row for row in aggregates.rows if row["clientId"] in known]
    keys = [(_key({**r, **dict.fromkeys(("status200", "requests"), 0)})) for r in comparable]
    assert len(keys) == len(set(keys)), "a bucket was reported twice"
    assert sorted(map(_key, comparable)) == sorted(map(_key, legacy.rows))


@pytest.mark.parametrize(("sort_by", "column", "descending"), [
    (["requests:desc"], "requests", True),
    ([("oauthClientName", "Asc")], "clientName", False),
])
def test_sort_by_orders_the_whole_split_result(client: UsageClient, sort_by: list[Any],
                                               column: str, descending: bool) -> None:
    interval = window(200)
    sorted_query = UsageQuery.build(interval, "Week", ["OAuthClientId"], api="aggregates",
                                    sort_by=sort_by)
    assert len(sorted_query.split()) >= 3
    result = client.fetch(sorted_query)
    values = [row[column] for row in result.rows]
    assert values == sorted(values, reverse=descending), "sortBy must hold across jobs"
    plain = client.fetch(UsageQuery.build(interval, "Week", ["OAuthClientId"],
                                          api="aggregates"))
    assert sorted(map(_key, result.rows)) == sorted(map(_key, plain.rows))  # same rows


def test_filters_and_per_client_routes(client: UsageClient) -> None:
    interval = window(5)
    org = client.fetch(UsageQuery.build(interval, "Day", ["OAuthClientId", "TemplateUri"]))
    client_id = org.rows[0]["clientId"]
    mine = sorted(map(_key, (r for r in org.rows if r["clientId"] == client_id)))
    per_client = client.fetch(UsageQuery.build(interval, "Day", ["OAuthClientId", "TemplateUri"],
                                               client_id=client_id))
    assert sorted(map(_key, per_client.rows)) == mine

    filtered = client.fetch(UsageQuery.build(interval, "Day", ["TemplateUri"], api="aggregates",
                                             oauth_client_ids=[client_id]))
    per_client_agg = client.fetch(UsageQuery.build(interval, "Day", ["TemplateUri"],
                                                   api="aggregates", client_id=client_id))
    assert filtered.rows and sorted(map(_key, per_client_agg.rows)) == sorted(
        map(_key, filtered.rows))
    expected = {(r["templateUri"], r["date"], r["requests"]) for r in org.rows
                if r["clientId"] == client_id}
    assert {(r["templateUri"], r["date"], r["requests"]) for r in filtered.rows} == expected

    gets = client.fetch(UsageQuery.build(interval, "Day", ["HttpMethod", "Platform"],
                                         api="aggregates", http_methods=["get"]))
    assert gets.rows and {r["httpMethod"] for r in gets.rows} == {"GET"}
    assert all(tuple(r)[-1] == "platform" and r["platform"] for r in gets.rows)


def test_progress_and_info_logs(sandbox: Sandbox, caplog: pytest.LogCaptureFixture,
                                capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO, logger="usagekit")
    with UsageClient(sandbox.url, client_id=sandbox.client_id,
                     client_secret=sandbox.client_secret, poll=FAST_POLL, progress=True) as c:
        c.fetch(UsageQuery.build(window(2), "Day", api="aggregates"))
    assert "submitted aggregates job" in caplog.text and "complete" in caplog.text
    assert "usage" in capsys.readouterr().err  # the tqdm bar


def test_transport_never_sends_the_token_to_another_host() -> None:
    class Tokens:
        def token(self) -> str:
            raise AssertionError("no token may be fetched")

        def refresh(self, rejected: str) -> bool:
            return False

    transport = Transport("http://127.0.0.1:9", Tokens())
    with pytest.raises(ApiError, match="another host"):
        transport.call("GET", "http://evil.example/api/v2/usage/query/x/results")
