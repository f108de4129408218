"""The large organisation (``Sandbox(rows_per_day=N)``) over real HTTP, with ``requests``.

Row counts near N, the invariants the kit checks, groupings and buckets that sum the full
day rows, determinism per seed, the streamed (chunked, gzip) body, the kit's own client,
the aggregates API, and the bad values of ``rows_per_day`` refused.
"""

from __future__ import annotations

import gzip
import http.client
import json
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from usagekit.cli import build_parser, main
from usagekit.fetch import PollPolicy, UsageClient
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox
from usagekit.sandbox.large_org import MAX_ROWS_PER_DAY, LargeOrganization
from usagekit.sandbox.legacy_stream import BLOCK_ROWS, legacy_body
from usagekit.sandbox.query import legacy_rows, parse_legacy

TODAY = date(2026, 11, 27)
N = 2000
LEGACY = "/api/v2/usage/query"
FULL = ["OAuthClientId", "UserId", "TemplateUri", "HttpMethod"]
FIELDS = ["clientId", "clientName", "organizationId", "userId", "templateUri", "httpMethod",
          "status200", "status300", "status400", "status500", "status429", "requests", "date"]
COUNTS = ["status200", "status300", "status400", "status500", "status429", "requests"]
OCTOBER = "2026-10-01/2026-11-01"


SANDBOX = {"rows_per_day": N, "query_seconds": 0.01, "rate_limit": 100_000, "today": TODAY}


@pytest.fixture(scope="module")
def session(sandbox: Sandbox) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{sandbox.url}/oauth/token",
                          auth=(sandbox.client_id, sandbox.client_secret),
                          data={"grant_type": "client_credentials"}, timeout=10)
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def results_uri(sandbox: Sandbox, session: requests.Session, body: dict[str, Any],
                path: str = LEGACY) -> str:
    answer = session.post(f"{sandbox.url}{path}", json=body, timeout=10)
    assert answer.status_code == 202, answer.text
    time.sleep(0.02)  # longer than query_seconds: the results are ready
    return f"{sandbox.url}{answer.json()['resultsUri']}"


def rows(sandbox: Sandbox, session: requests.Session, body: dict[str, Any],
         path: str = LEGACY) -> list[dict[str, Any]]:
    payload = session.get(results_uri(sandbox, session, body, path), timeout=60).json()
    assert payload["queryStatus"] == "Complete"
    return payload["results"]


@pytest.fixture(scope="module")
def october(sandbox: Sandbox, session: requests.Session) -> list[dict[str, Any]]:
    """October's day rows at full grouping."""
    return rows(sandbox, session, {"interval": OCTOBER, "granularity": "Day", "groupBy": FULL})


def summed(day_rows: list[dict[str, Any]], fields: list[str], bucket: Any = None
           ) -> dict[tuple[Any, ...], Counter[str]]:
    totals: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for row in day_rows:
        day = date.fromisoformat(row["date"][:10])
        key = (bucket(day) if bucket else day, *(row[name] for name in fields))
        totals[key].update({name: row[name] for name in COUNTS})
    return totals


def keyed(got: list[dict[str, Any]], fields: list[str]) -> dict[tuple[Any, ...], Counter[str]]:
    return {(date.fromisoformat(row["date"][:10]), *(row[name] for name in fields)):
            Counter({name: row[name] for name in COUNTS}) for row in got}


# ------------------------------------------------------------------ shape and invariants

def test_day_rows_average_n_over_whole_weeks(october: list[dict[str, Any]]) -> None:
    per_day = Counter(row["date"] for row in october)
    weeks = [f"{date(2026, 10, 5) + timedelta(i)}T00:00:00Z" for i in range(21)]
    assert abs(sum(per_day[day] for day in weeks) / len(weeks) - N) <= 1
    weekday, saturday = per_day["2026-10-07T00:00:00Z"], per_day["2026-10-10T00:00:00Z"]
    assert weekday > N > saturday > N / 2
    assert abs(len(october) / 31 - N) < 0.05 * N


def test_rows_obey_the_invariants_the_kit_checks(sandbox: Sandbox,
                                                 october: list[dict[str, Any]]) -> None:
    users: set[str] = set()
    for row in october:
        assert list(row) == FIELDS
        assert all(isinstance(row[name], int) and row[name] >= 0 for name in COUNTS)
        assert row["status429"] <= row["status400"]
        assert row["requests"] == sum(row[name] for name in COUNTS[:4])
        client = sandbox.org.client(row["clientId"])
        assert client is not None and not client.builtin and client.name == row["clientName"]
        assert (row["userId"] != "") == (client.grant == "code")
        assert row["organizationId"] == ""
        users.add(row["userId"])
    assert len(users) > 100
    assert len({row["templateUri"] for row in october}) > 50
    assert len({row["clientId"] for row in october}) > 20
    assert sum(row["status429"] for row in october) > 0
    assert sum(row["status500"] for row in october) > 0


def test_rows_are_sorted_as_the_legacy_api_sorts_them(october: list[dict[str, Any]]) -> None:
    keys = [(r["date"], r["clientName"], r["userId"], r["templateUri"], r["httpMethod"])
            for r in october]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


# ------------------------------------------------------------------ sums

def test_a_group_by_subset_sums_the_full_grouping(sandbox: Sandbox, session: requests.Session,
                                                  october: list[dict[str, Any]]) -> None:
    fields = ["clientId", "templateUri", "httpMethod"]
    got = rows(sandbox, session, {"interval": OCTOBER, "granularity": "Day",
                                  "groupBy": ["OAuthClientId", "TemplateUri", "HttpMethod"]})
    assert all(row["userId"] == "" for row in got)
    assert keyed(got, fields) == summed(october, fields)
    assert len(got) < len(october)


def test_week_and_month_rows_sum_the_day_rows(sandbox: Sandbox, session: requests.Session,
                                              october: list[dict[str, Any]]) -> None:
    fields = ["clientId", "userId", "templateUri", "httpMethod"]
    weeks = rows(sandbox, session, {"interval": "2026-10-05/2026-10-26", "granularity": "Week",
                                    "groupBy": FULL})
    inside = [row for row in october if "2026-10-05" <= row["date"][:10] < "2026-10-26"]
    assert {row["date"] for row in weeks} == {"2026-10-05T00:00:00Z", "2026-10-12T00:00:00Z",
                                              "2026-10-19T00:00:00Z"}
    assert keyed(weeks, fields) == summed(inside, fields, lambda d: d - timedelta(d.weekday()))
    month = rows(sandbox, session, {"interval": OCTOBER, "granularity": "Month",
                                    "groupBy": FULL})
    assert keyed(month, fields) == summed(october, fields, lambda d: d.replace(day=1))


def test_the_streamed_body_is_the_generic_paths_json(sandbox: Sandbox) -> None:
    org = sandbox.org
    assert isinstance(org, LargeOrganization)
    client = next(c for c in org.clients if c.grant == "code" and not c.builtin)
    for body, scope in (
            ({"interval": "2026-10-01/2026-10-06", "granularity": "Day",
              "groupBy": ["OrganizationId", *FULL], "metrics": ["Status429", "Requests"]}, None),
            ({"interval": "2026-10-03T06:00:00Z/2026-10-09"}, None),
            ({"interval": "2026-11-20/2026-12-01", "granularity": "Week",
              "groupBy": ["TemplateUri", "HttpMethod"]}, client.id)):
        query = parse_legacy(body, per_client=scope is not None)
        generic = json.dumps({"results": legacy_rows(org, query, TODAY, scope),
                              "queryStatus": "Complete"}, separators=(",", ":")).encode()
        assert b"".join(legacy_body(org, query, TODAY, scope)) == generic


# ------------------------------------------------------------------ determinism

def test_same_seed_same_bytes_other_seed_other_org() -> None:
    query = parse_legacy({"interval": "2026-10-01/2026-10-04", "granularity": "Day",
                          "groupBy": FULL}, per_client=False)
    first, again, other = (LargeOrganization(seed, N) for seed in (7, 7, 8))
    body = b"".join(legacy_body(first, query, TODAY))
    assert b"".join(legacy_body(again, query, TODAY)) == body
    assert first.id == again.id != other.id
    assert {c.id for c in first.clients}.isdisjoint(c.id for c in other.clients)
    assert b"".join(legacy_body(other, query, TODAY)) != body
    later = b"".join(legacy_body(first, query, TODAY))  # after other days were generated
    assert later == body


# ------------------------------------------------------------------ the wire

def test_gzip_stream_decompresses_to_exactly_the_identity_body(
        sandbox: Sandbox, session: requests.Session) -> None:
    uri = results_uri(sandbox, session, {"interval": "2026-10-01/2026-10-15",
                                         "granularity": "Day", "groupBy": FULL})
    zipped = session.get(uri, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=60)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in zipped.headers
    compressed = zipped.raw.read(decode_content=False)
    plain = session.get(uri, headers={"Accept-Encoding": "identity"}, timeout=60)
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(compressed) == plain.content
    assert len(compressed) < len(plain.content) / 4
    assert len(plain.json()["results"]) > 2 * BLOCK_ROWS  # several blocks


def test_requests_decodes_the_gzip_stream_on_a_kept_alive_connection(
        sandbox: Sandbox, session: requests.Session) -> None:
    uri = results_uri(sandbox, session, {"interval": "2026-10-01/2026-10-08",
                                         "granularity": "Day", "groupBy": FULL})
    path = uri.removeprefix(sandbox.url)
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
    try:
        ports, bodies = set(), []
        for _ in range(2):
            conn.request("GET", path, headers={"Authorization": session.headers["Authorization"],
                                               "Accept-Encoding": "gzip"})
            answer = conn.getresponse()
            bodies.append(gzip.decompress(answer.read()))
            assert conn.sock is not None
            ports.add(conn.sock.getsockname()[1])
        assert len(ports) == 1 and bodies[0] == bodies[1]
    finally:
        conn.close()
    assert json.loads(bodies[0]) == session.get(uri, timeout=60).json()


def test_truncate_cuts_the_stream_and_the_next_request_is_whole(
        sandbox: Sandbox, session: requests.Session) -> None:
    uri = results_uri(sandbox, session, {"interval": "2026-10-01/2026-10-08",
                                         "granularity": "Day", "groupBy": FULL})
    sandbox.inject("truncate", route=LEGACY)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(uri, timeout=30).json()
    assert session.get(uri, timeout=30).json()["queryStatus"] == "Complete"


def test_the_kit_client_fetches_the_large_org(sandbox: Sandbox,
                                              october: list[dict[str, Any]]) -> None:
    with UsageClient(sandbox.url, client_id=sandbox.client_id,
                     client_secret=sandbox.client_secret, poll=PollPolicy(initial=0.01),
                     progress=False) as client:
        got = client.fetch(UsageQuery.build(OCTOBER, "Day", FULL)).rows
        aggregates = client.fetch(UsageQuery.build("2026-10-05/2026-10-11", "Day",
                                                   ["OAuthClientId"], api="aggregates",
                                                   page_size=1000)).rows
    assert got == october
    legacy: Counter[tuple[str, str]] = Counter()
    for row in october:
        if "2026-10-05" <= row["date"][:10] < "2026-10-11":  # the kit's end is exclusive
            legacy[row["date"], row["clientId"]] += row["requests"]
    builtin = {c.id for c in sandbox.org.clients if c.builtin}
    assert {row["clientId"] for row in aggregates} & builtin  # aggregates shows built-ins
    assert Counter({(row["date"], row["clientId"]): row["requests"] for row in aggregates
                    if row["clientId"] not in builtin}) == legacy


# ------------------------------------------------------------------ bad values

@pytest.mark.parametrize("value", [0, -5, 1.5, "2000", True, MAX_ROWS_PER_DAY + 1])
def test_bad_rows_per_day_is_refused_naming_the_range(value: Any) -> None:
    with pytest.raises(ValueError, match=rf"rows_per_day {value!r}.*1 to 200,000"):
        Sandbox(rows_per_day=value)


@pytest.mark.parametrize("text", ["0", "-5", "1.5", "lots", str(MAX_ROWS_PER_DAY + 1)])
def test_the_cli_refuses_a_bad_rows_per_day(text: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["sandbox", "--rows-per-day", text])
    assert done.value.code == 2
    assert f"--rows-per-day {text!r}" in capsys.readouterr().err
    assert build_parser().parse_args(["sandbox", "--rows-per-day", "55000"]).rows_per_day == 55000
