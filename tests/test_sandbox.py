"""The sandbox over real HTTP on 127.0.0.1, driven with plain ``requests``."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from usagekit.sandbox import Sandbox
from usagekit.sandbox.faults import FAULT_KINDS
from usagekit.sandbox.org import GROWING_429_CLIENT

TODAY = date(2026, 11, 27)
LEGACY_FIELDS = ["clientId", "clientName", "organizationId", "userId", "templateUri",
                 "httpMethod", "status200", "status300", "status400", "status500", "status429",
                 "requests", "date"]
COUNTS = ["status200", "status300", "status400", "status500", "status429"]
ERROR_BODY_KEYS = {"message", "code", "status", "messageParams", "contextId", "details",
                   "errors"}
RATE_HEADERS = ("inin-ratelimit-count", "inin-ratelimit-allowed", "inin-ratelimit-reset",
                "inin-correlation-id")
LEGACY = "/api/v2/usage/query"
JOBS = "/api/v2/usage/aggregates/query/jobs"


# ------------------------------------------------------------------ helpers

def token(sandbox: Sandbox) -> str:
    response = requests.post(f"{sandbox.url}/oauth/token",
                             auth=(sandbox.client_id, sandbox.client_secret),
                             data={"grant_type": "client_credentials"}, timeout=10)
    response.raise_for_status()
    return response.json()["access_token"]


def session_for(sandbox: Sandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token(sandbox)}"
    return session


def poll(session: requests.Session, url: str, done: tuple[str, ...]) -> dict[str, Any]:
    for _ in range(200):
        payload = session.get(url, timeout=10).json()
        if payload["queryStatus"] in done:
            return payload
        time.sleep(0.02)
    raise AssertionError(f"{url} never reached {done}")


def legacy(sandbox: Sandbox, session: requests.Session, body: dict[str, Any],
           path: str = LEGACY) -> list[dict[str, Any]]:
    response = session.post(sandbox.url + path, json=body, timeout=30)
    assert response.status_code == 202, response.text
    result = poll(session, sandbox.url + response.json()["resultsUri"], ("Complete", "Failed"))
    assert result["queryStatus"] == "Complete"
    return result["results"]


def aggregates(sandbox: Sandbox, session: requests.Session, body: dict[str, Any],
               page_size: int = 1000, path: str = JOBS) -> list[dict[str, Any]]:
    response = session.post(sandbox.url + path, json=body, timeout=30)
    assert response.status_code == 202, response.text
    job = response.json()
    assert set(job) == {"id", "name", "resultsUri", "selfUri"}
    first = f"{sandbox.url}{job['resultsUri']}?pageSize={page_size}"
    page = poll(session, first, ("Succeeded", "Failed", "Cancelled"))
    assert page["queryStatus"] == "Succeeded", page
    entities = list(page["entities"])
    while "nextUri" in page:
        assert len(page["entities"]) == page_size
        page = session.get(sandbox.url + page["nextUri"], timeout=10).json()
        entities += page["entities"]
    return entities


def totals(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], Counter[str]]:
    result: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for row in rows:
        result[tuple(row[key] for key in keys)].update({name: row[name] for name in COUNTS})
    return dict(result)


def assert_error_body(response: requests.Response, status: int, *mentions: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= ERROR_BODY_KEYS
    assert body["status"] == status
    assert body["contextId"] == response.headers["inin-correlation-id"]
    for text in mentions:
        assert text in body["message"], body["message"]


# ------------------------------------------------------------------ fixtures

SANDBOX = {"query_seconds": 0.05, "rate_limit": 100_000, "today": TODAY}


@pytest.fixture(scope="module")
def session(sandbox: Sandbox) -> requests.Session:
    return session_for(sandbox)


@pytest.fixture(scope="module")
def day_rows(sandbox: Sandbox, session: requests.Session) -> list[dict[str, Any]]:
    """Day rows of 2026-08-01..2026-10-31, fully grouped: the reference for the others."""
    return legacy(sandbox, session, {
        "interval": "2026-08-01/2026-11-01", "granularity": "Day",
        "groupBy": ["OAuthClientId", "OrganizationId", "UserId", "TemplateUri", "HttpMethod"]})


# ------------------------------------------------------------------ OAuth

def test_token_with_good_credentials(sandbox: Sandbox) -> None:
    response = requests.post(f"{sandbox.url}/oauth/token",
                             auth=(sandbox.client_id, sandbox.client_secret),
                             data={"grant_type": "client_credentials"}, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert all(name in response.headers for name in RATE_HEADERS)


@pytest.mark.parametrize(("auth", "data", "status", "error"), [
    (("sandbox-client", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
    (("someone-else", "sandbox-secret"), {"grant_type": "client_credentials"}, 401,
     "invalid_client"),
    (None, {"grant_type": "client_credentials"}, 401, "invalid_client"),
    (("sandbox-client", "sandbox-secret"), {"grant_type": "password"}, 400,
     "unsupported_grant_type"),
])
def test_token_errors(sandbox: Sandbox, auth: tuple[str, str] | None, data: dict[str, str],
                      status: int, error: str) -> None:
    response = requests.post(f"{sandbox.url}/oauth/token", auth=auth, data=data, timeout=10)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["description"]


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic abc"])
def test_api_requires_a_valid_bearer_token(sandbox: Sandbox, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.post(sandbox.url + LEGACY, json={"interval": "2026-01/2026-02"},
                             headers=headers, timeout=10)
    assert_error_body(response, 401)


def test_secrets_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="usagekit.sandbox")
    with Sandbox(client_secret="s3cr3t-value", query_seconds=0, today=TODAY) as running:
        access = token(running)
        requests.get(f"{running.url}/api/v2/usage/query/x/results",
                     headers={"Authorization": f"Bearer {access}"}, timeout=10)
        text = repr(running) + caplog.text + repr(running.requests)
    assert caplog.records, "the sandbox logs requests at DEBUG"
    assert "s3cr3t-value" not in text
    assert access not in text


# ------------------------------------------------------------------ legacy API

def test_legacy_submit_poll_complete() -> None:
    with Sandbox(seed=7, query_seconds=0.5, today=TODAY) as running:
        session = session_for(running)
        response = session.post(running.url + LEGACY, json={"interval": "2026-11-01/2026-11-02"},
                                timeout=10)
        assert response.status_code == 202
        submitted = response.json()
        assert set(submitted) == {"executionId", "resultsUri"}
        url = running.url + submitted["resultsUri"]
        assert submitted["resultsUri"] == f"{LEGACY}/{submitted['executionId']}/results"
        assert session.get(url, timeout=10).json() == {"queryStatus": "Running"}
        result = poll(session, url, ("Complete",))
    assert list(result) == ["results", "queryStatus"]
    (row,) = result["results"]
    assert list(row) == LEGACY_FIELDS
    assert row["date"] == "2026-11-01T00:00:00Z"
    assert row["clientId"] == row["clientName"] == row["organizationId"] == ""


@pytest.mark.parametrize(("body", "mentions"), [
    ({}, ["interval"]),
    ({"interval": "2026-01-01"}, ["2026-01-01", "start/end"]),
    ({"interval": "2026-13-01/2026-14-01"}, ["2026-13-01", "2021-01-25/2021-02-01"]),
    ({"interval": "2026-02-01/2026-01-01"}, ["start must be before the end"]),
    ({"interval": "2026-01/2026-02", "granularity": "Hour"}, ["'Hour'", "Day, Week, Month"]),
    ({"interval": "2026-01/2026-02", "granularity": "day"}, ["'day'", "Day"]),
    ({"interval": "2026-01/2026-02", "groupBy": ["OauthClientId"]},
     ["OauthClientId", "OAuthClientId"]),
    ({"interval": "2026-01/2026-02", "groupBy": "TemplateUri"}, ["list of strings"]),
    ({"interval": "2026-01/2026-02", "metrics": ["Status429", "Status401"]},
     ["Status401", "Status429, Requests"]),
    ({"interval": "2026-01/2026-02", "oauthClientIds": ["x"]}, ["oauthClientIds", "interval"]),
])
def test_legacy_validation_errors(sandbox: Sandbox, session: requests.Session,
                                  body: dict[str, Any], mentions: list[str]) -> None:
    response = session.post(sandbox.url + LEGACY, json=body, timeout=10)
    assert_error_body(response, 400, *mentions)
    assert response.json()["code"] == "bad.request"


def test_legacy_rejects_non_json(sandbox: Sandbox, session: requests.Session) -> None:
    response = session.post(sandbox.url + LEGACY, data=b"{not json",
                            headers={"Content-Type": "application/json"}, timeout=10)
    assert_error_body(response, 400, "not valid JSON")


def test_unknown_execution_route_and_method(sandbox: Sandbox, session: requests.Session) -> None:
    assert_error_body(session.get(f"{sandbox.url}{LEGACY}/nope/results", timeout=10), 404, "nope")
    assert_error_body(session.get(f"{sandbox.url}/api/v2/nothing/here", timeout=10), 404)
    response = session.get(sandbox.url + LEGACY, timeout=10)
    assert_error_body(response, 405, "POST")
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_head_and_options_answer_405_with_rate_limit_headers(sandbox: Sandbox,
                                                             session: requests.Session,
                                                             method: str) -> None:
    response = session.request(method, sandbox.url + LEGACY, timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST" and response.headers["inin-correlation-id"]
    assert all(name in response.headers for name in RATE_HEADERS)
    if method == "HEAD":
        assert response.content == b"" and int(response.headers["Content-Length"]) > 0
    else:
        assert_error_body(response, 405, method, "POST")
    after = session.get(f"{sandbox.url}{LEGACY}/nope/results", timeout=10)  # connection reusable
    assert after.status_code == 404


def test_rows_obey_the_schema_and_identities(day_rows: list[dict[str, Any]],
                                             sandbox: Sandbox) -> None:
    assert day_rows
    clients = {c.id: c.name for c in sandbox.org.clients}
    for row in day_rows:
        assert list(row) == LEGACY_FIELDS
        assert row["requests"] == sum(row[name] for name in COUNTS if name != "status429")
        assert 0 <= row["status429"] <= row["status400"]
        assert min(row[name] for name in COUNTS) >= 0 and row["requests"] > 0
        assert row["organizationId"] == sandbox.organization_id
        assert row["clientName"] == clients[row["clientId"]]
        assert row["date"].endswith("T00:00:00Z")
    dates = sorted({row["date"] for row in day_rows})
    assert dates[0] == "2026-08-01T00:00:00Z" and dates[-1] == "2026-10-31T00:00:00Z"
    assert len(dates) == 92


@pytest.mark.parametrize("group_by", [[], ["OAuthClientId"], ["TemplateUri", "HttpMethod"],
                                      ["UserId", "OAuthClientId"], ["OrganizationId"]])
@pytest.mark.parametrize("granularity", [None, "Day", "Week", "Month"])
def test_aggregations_sum_the_day_rows(sandbox: Sandbox, session: requests.Session,
                                       day_rows: list[dict[str, Any]], group_by: list[str],
                                       granularity: str | None) -> None:
    interval = "2026-08-01/2026-11-01"
    body: dict[str, Any] = {"interval": interval, "groupBy": group_by}
    if granularity:
        body["granularity"] = granularity
    rows = legacy(sandbox, session, body)
    grouped = {"OAuthClientId": "clientId", "OrganizationId": "organizationId",
               "UserId": "userId", "TemplateUri": "templateUri", "HttpMethod": "httpMethod"}
    keys = [grouped[name] for name in group_by]

    def bucket(text: str) -> str:
        day = date.fromisoformat(text[:10])
        label = {None: date(2026, 8, 1), "Day": day, "Week": day - timedelta(day.weekday()),
                 "Month": day.replace(day=1)}[granularity]
        return f"{label}T00:00:00Z"

    expected: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for row in day_rows:
        key = (bucket(row["date"]), *(row[k] for k in keys))
        expected[key].update({name: row[name] for name in COUNTS})
    assert totals(rows, "date", *keys) == expected
    for row in rows:
        for field in set(grouped.values()) - set(keys):
            assert row[field] == "", field
        if "clientId" not in keys:
            assert row["clientName"] == ""
    assert len(rows) == len(expected)


def test_week_buckets_are_labelled_with_their_monday(sandbox: Sandbox,
                                                     session: requests.Session) -> None:
    # 2026-10-01 is a Thursday: its week started on Monday 2026-09-28, outside the interval.
    weeks = legacy(sandbox, session, {"interval": "2026-10-01/2026-10-15", "granularity": "Week"})
    days = legacy(sandbox, session, {"interval": "2026-10-01/2026-10-05", "granularity": "Day"})
    assert [row["date"] for row in weeks] == ["2026-09-28T00:00:00Z", "2026-10-05T00:00:00Z",
                                              "2026-10-12T00:00:00Z"]
    assert weeks[0]["requests"] == sum(row["requests"] for row in days)  # clipped to Oct 1-4


def test_interval_forms_and_offsets(sandbox: Sandbox, session: requests.Session) -> None:
    forms = ["2026-09/2026-10", "2026-09-01/2026-10-01",
             "2026-09-01T00:00:00Z/2026-10-01T00:00:00Z",
             "2026-09-01T02:00:00+02:00/2026-10-01T02:00:00+02:00",
             "2026-09-01T00:00:00.000Z/2026-10-01T00:00:00.000Z"]
    results = [legacy(sandbox, session, {"interval": form, "granularity": "Day"})
               for form in forms]
    assert all(result == results[0] for result in results)
    assert len(results[0]) == 30
    # 00:00+02:00 is 22:00Z the day before: that day's 00:00 is outside, so same days...
    shifted = legacy(sandbox, session, {"interval": "2026-09-01T00:00:00+02:00/2026-10-01"})
    (row,) = shifted
    assert row["date"] == "2026-08-31T22:00:00Z"  # ...but labelled with the interval start
    assert row["requests"] == sum(r["requests"] for r in results[0])


def test_today_and_future_have_no_data(sandbox: Sandbox, session: requests.Session) -> None:
    rows = legacy(sandbox, session, {"interval": "2026-11-20/2026-12-31", "granularity": "Day"})
    assert [row["date"][:10] for row in rows] == [
        str(date(2026, 11, 20) + timedelta(i)) for i in range(7)]
    assert legacy(sandbox, session, {"interval": "2026-11-27/2026-11-28"}) == []


def test_metrics_select_the_count_fields(sandbox: Sandbox, session: requests.Session) -> None:
    rows = legacy(sandbox, session, {"interval": "2026-10/2026-11", "granularity": "Month",
                                     "groupBy": ["OAuthClientId"],
                                     "metrics": ["Requests", "Status429"]})
    full = legacy(sandbox, session, {"interval": "2026-10/2026-11", "granularity": "Month",
                                     "groupBy": ["OAuthClientId"]})
    assert all(list(row) == ["clientId", "clientName", "organizationId", "userId",
                             "templateUri", "httpMethod", "status429", "requests", "date"]
               for row in rows)
    assert [(r["clientId"], r["requests"], r["status429"]) for r in rows] == [
        (r["clientId"], r["requests"], r["status429"]) for r in full]


# ------------------------------------------------------------------ data characteristics

def test_same_seed_same_data_other_seed_other_data(day_rows: list[dict[str, Any]]) -> None:
    body = {"interval": "2026-08-01/2026-11-01", "granularity": "Day",
            "groupBy": ["OAuthClientId", "OrganizationId", "UserId", "TemplateUri",
                        "HttpMethod"]}
    with Sandbox(seed=7, query_seconds=0, today=TODAY) as twin:
        assert legacy(twin, session_for(twin), body) == day_rows
    with Sandbox(seed=8, query_seconds=0, today=TODAY) as other:
        other_rows = legacy(other, session_for(other), body)
    assert other_rows != day_rows
    assert {r["clientId"] for r in other_rows}.isdisjoint({r["clientId"] for r in day_rows})


def test_realistic_organisation(sandbox: Sandbox, day_rows: list[dict[str, Any]]) -> None:
    per_client = totals(day_rows, "clientName")
    assert 35 <= len(per_client) <= 50
    volumes = sorted((c["status200"] + c["status400"] for c in per_client.values()),
                     reverse=True)
    assert volumes[0] > 20 * volumes[len(volumes) // 2]  # skewed, Zipf-like
    assert len({r["templateUri"] for r in day_rows}) >= 30
    assert {r["httpMethod"] for r in day_rows} >= {"GET", "POST", "PUT", "PATCH", "DELETE"}
    users = {r["userId"] for r in day_rows}
    assert "" in users and 3 <= len(users - {""}) <= 12
    # occasional 5xx days: some client-days with > 2 % server errors, most without
    client_days = totals(day_rows, "clientId", "date")
    bad = [c for c in client_days.values()
           if c["status500"] > 0.02 * sum(c[n] for n in COUNTS if n != "status429")]
    assert 0 < len(bad) < 0.1 * len(client_days)


def test_weekends_are_quieter(day_rows: list[dict[str, Any]]) -> None:
    per_day = totals(day_rows, "date")
    weekday, weekend = [], []
    for (text,), counts in per_day.items():
        requests_ = sum(counts[n] for n in COUNTS if n != "status429")
        is_weekend = date.fromisoformat(text[:10]).weekday() >= 5
        (weekend if is_weekend else weekday).append(requests_)
    assert max(weekend) < min(weekday)


def test_one_client_has_growing_429s(sandbox: Sandbox, session: requests.Session) -> None:
    rows = legacy(sandbox, session, {"interval": "2026-05/2026-11", "granularity": "Month",
                                     "groupBy": ["OAuthClientId"]})
    growing = [r for r in rows if r["clientName"] == GROWING_429_CLIENT]
    shares = [r["status429"] / r["requests"] for r in growing]
    assert len(shares) == 6
    assert shares == sorted(shares) and shares[-1] > shares[0] + 0.05
    last = [r for r in rows if r["date"] == "2026-10-01T00:00:00Z"]
    assert max(last, key=lambda r: r["status429"])["clientName"] == GROWING_429_CLIENT


def test_row_counts_stay_sane(day_rows: list[dict[str, Any]], sandbox: Sandbox,
                              session: requests.Session) -> None:
    rows = legacy(sandbox, session, {"interval": "2026-08-01/2026-11-01", "granularity": "Day",
                                     "groupBy": ["OAuthClientId", "TemplateUri", "HttpMethod"]})
    assert 5_000 < len(rows) < 30_000
    assert len(day_rows) < 40_000


# ------------------------------------------------------------------ aggregates API

def test_aggregates_match_legacy_plus_builtin_clients(sandbox: Sandbox,
                                                      session: requests.Session,
                                                      day_rows: list[dict[str, Any]]) -> None:
    entities = aggregates(sandbox, session, {
        "interval": "2026-09-01/2026-09-30", "granularity": "Day",
        "groupBy": ["OauthClientId", "OauthClientName", "TemplateUri", "HttpMethod"]})
    sept = [r for r in day_rows if r["date"].startswith("2026-09")]
    legacy_totals = totals(sept, "date", "clientId", "templateUri", "httpMethod")
    agg_totals: dict[tuple[Any, ...], Counter[str]] = {}
    builtin_names = set()
    for entity in entities:
        assert set(entity) == {"date", "httpMethod", "templateUri", "requestCount", "status200",
                               "status300", "status400", "status429", "status500",
                               "oauthClient"}
        assert entity["requestCount"] == sum(entity[n] for n in COUNTS if n != "status429")
        client = entity["oauthClient"]
        assert client["selfUri"] == f"/api/v2/oauth/clients/{client['id']}"
        if "purecloud" in client["name"]:
            builtin_names.add(client["name"])
            continue
        key = (f"{entity['date']}T00:00:00Z", client["id"], entity["templateUri"],
               entity["httpMethod"])
        agg_totals[key] = Counter({n: entity[n] for n in COUNTS})
    assert agg_totals == legacy_totals
    assert 1 <= len(builtin_names) <= 2
    assert not any("purecloud" in r["clientName"] for r in day_rows)


def test_aggregates_paging_returns_every_row_once(sandbox: Sandbox,
                                                  session: requests.Session) -> None:
    body = {"interval": "2026-10-01/2026-10-03", "granularity": "Day",
            "groupBy": ["OauthClientId", "UserId", "TemplateUri", "HttpMethod", "Platform"]}
    whole = aggregates(sandbox, session, body, page_size=1000)
    paged = aggregates(sandbox, session, body, page_size=37)
    assert len(whole) > 37 * 3
    assert paged == whole
    keys = [(e["date"], e["oauthClient"]["id"], e.get("user", {}).get("id"), e["templateUri"],
             e["httpMethod"], e["platform"]) for e in paged]
    assert len(set(keys)) == len(keys)
    assert {e["platform"] for e in whole} >= {"PureCloud", "AppFoundry", "PureCloudBuiltIn"}


def test_aggregates_default_page_size_and_limits(sandbox: Sandbox,
                                                 session: requests.Session) -> None:
    job = session.post(sandbox.url + JOBS, json={"interval": "2026-10-01/2026-10-02",
                                                 "groupBy": ["OauthClientId", "TemplateUri"]},
                       timeout=10).json()
    url = sandbox.url + job["resultsUri"]
    page = poll(session, url, ("Succeeded",))
    assert len(page["entities"]) == 100 and "pageSize=100" in page["nextUri"]
    assert page["selfUri"] == job["selfUri"]
    for size in ("0", "1001", "ten"):
        assert_error_body(session.get(url, params={"pageSize": size}, timeout=10), 400, size,
                          "1000")
    assert_error_body(session.get(url, params={"after": "bogus"}, timeout=10), 400, "bogus")
    last = session.get(url, params={"pageSize": 1000}, timeout=10).json()
    assert "nextUri" not in last and len(last["entities"]) > 100


def test_aggregates_states_queued_running_succeeded() -> None:
    with Sandbox(query_seconds=0.9, today=TODAY) as running:
        session = session_for(running)
        job = session.post(running.url + JOBS, json={"interval": "2026-10-01/2026-10-01"},
                           timeout=10).json()
        url = running.url + job["resultsUri"]
        seen = []
        while not seen or seen[-1] != "Succeeded":
            status = session.get(url, timeout=10).json()["queryStatus"]
            if not seen or seen[-1] != status:
                seen.append(status)
            time.sleep(0.02)
    assert seen == ["Queued", "Running", "Succeeded"]


@pytest.mark.parametrize(("interval", "mentions"), [
    ("2025-11-26/2025-12-01", ["more than a year ago", "2025-11-27"]),
    ("2026-01-01/2026-04-02", ["more than 90 days after the start", "2026-04-01"]),
    ("2026-10-05/2026-10-01", ["start is after the end"]),
    ("2026-10-01T00:00/2026-10-02T00:00", ["YYYY-MM-DD/YYYY-MM-DD",
                                           "YYYY-MM-DDThh:mm:ss/YYYY-MM-DDThh:mm:ss"]),
    ("2026-10-01T00:00:00+02:00/2026-10-02T00:00:00Z", ["(UTC, both ends inclusive)"]),
    ("2026-10/2026-11", ["YYYY-MM-DD/YYYY-MM-DD"]),
    ("2026-02-30/2026-03-01", ["not a valid calendar date"]),
    ("2026-10-01T24:00:00/2026-10-02T00:00:00", ["not a valid calendar date or time"]),
    ("2026-01-01T00:00:00/2026-04-02T00:00:00", ["more than 90 days after the start"]),
])
def test_aggregates_window_rules(sandbox: Sandbox, session: requests.Session, interval: str,
                                 mentions: list[str]) -> None:
    response = session.post(sandbox.url + JOBS, json={"interval": interval}, timeout=10)
    assert_error_body(response, 400, interval, *mentions)


def test_aggregates_window_edges_are_allowed(sandbox: Sandbox,
                                             session: requests.Session) -> None:
    for interval in ("2025-11-27/2026-02-25", "2026-11-20/2027-02-18"):
        response = session.post(sandbox.url + JOBS, json={"interval": interval}, timeout=10)
        assert response.status_code == 202, response.text


@pytest.mark.parametrize("interval", [
    "2026-10-01T00:00:00/2026-10-07T00:00:00", "2026-10-01T00:00:00Z/2026-10-07T23:59:59Z",
    "2026-10-01T12:30:00.250/2026-10-07T23:59:59", "2026-10-01/2026-10-07T00:00:00",
])
def test_aggregates_take_the_sdks_date_time_interval(sandbox: Sandbox, session: requests.Session,
                                                     interval: str) -> None:
    """The SDK documents ``YYYY-MM-DDThh:mm:ss/YYYY-MM-DDThh:mm:ss``: each end stands for its
    day, both inclusive, so it answers as the dates do."""
    body = {"granularity": "Day", "groupBy": ["OauthClientId", "HttpMethod"]}
    dates = aggregates(sandbox, session, {**body, "interval": "2026-10-01/2026-10-07"})
    assert {e["date"] for e in dates} == {f"2026-10-0{d}" for d in range(1, 8)}
    assert aggregates(sandbox, session, {**body, "interval": interval}) == dates


@pytest.mark.parametrize(("body", "mentions"), [
    ({"groupBy": ["OAuthClientId"]}, ["OAuthClientId", "OauthClientId"]),
    ({"httpMethods": ["GET", "FETCH"]}, ["FETCH", "PATCH"]),
    ({"organizationIds": ["x"]}, ["organizationIds", "oauthClientIds"]),
    ({"sortBy": [{"fieldName": "popularity"}]}, ["popularity", "requestCount"]),
    ({"sortBy": [{"fieldName": "date", "order": "Up"}]}, ["Up", "Asc, Desc"]),
    ({"metrics": ["Status401"]}, ["Status401", "Status429"]),
])
def test_aggregates_validation(sandbox: Sandbox, session: requests.Session,
                               body: dict[str, Any], mentions: list[str]) -> None:
    response = session.post(sandbox.url + JOBS,
                            json={"interval": "2026-10-01/2026-10-02", **body}, timeout=10)
    assert_error_body(response, 400, *mentions)


def test_aggregates_filters_sort_and_fields(sandbox: Sandbox, session: requests.Session) -> None:
    target = next(c for c in sandbox.org.clients if c.name == GROWING_429_CLIENT)
    base = {"interval": "2026-10-01/2026-10-31", "granularity": "Week"}
    everything = aggregates(sandbox, session, {**base, "groupBy": ["OauthClientId",
                                                                   "HttpMethod"]})
    only = aggregates(sandbox, session, {
        **base, "groupBy": ["OauthClientName", "HttpMethod"], "oauthClientIds": [target.id],
        "httpMethods": ["GET"], "metrics": ["Requests", "Status429"],
        "sortBy": [{"fieldName": "requestCount", "order": "Desc"}]})
    assert only and all(set(e) == {"date", "httpMethod", "requestCount", "status429",
                                   "oauthClient"} for e in only)
    assert all(e["oauthClient"] == {"name": GROWING_429_CLIENT} and e["httpMethod"] == "GET"
               for e in only)
    counts = [e["requestCount"] for e in only]
    assert counts == sorted(counts, reverse=True)
    expected = {(e["date"], e["requestCount"]) for e in everything
                if e["oauthClient"]["id"] == target.id and e["httpMethod"] == "GET"}
    assert {(e["date"], e["requestCount"]) for e in only} == expected
    assert {e["date"] for e in only} <= {"2026-09-28", "2026-10-05", "2026-10-12",
                                         "2026-10-19", "2026-10-26"}


def test_client_names_come_only_when_asked_for(sandbox: Sandbox,
                                                session: requests.Session) -> None:
    """As strict as Genesys Cloud may be: ``oauthClient.name`` needs ``OauthClientName``."""
    base = {"interval": "2026-10-01/2026-10-03", "granularity": "Day"}
    ids = aggregates(sandbox, session, {**base, "groupBy": ["OauthClientId"]})
    both = aggregates(sandbox, session, {**base, "groupBy": ["OauthClientName",
                                                             "OauthClientId"]})
    assert all(set(e["oauthClient"]) == {"id", "selfUri"} for e in ids)
    names = {c.id: c.name for c in sandbox.org.clients}
    assert all(e["oauthClient"]["name"] == names[e["oauthClient"]["id"]] for e in both)
    assert [{**e, "oauthClient": {**e["oauthClient"], "name": ""}} for e in both] == [
        {**e, "oauthClient": {**e["oauthClient"], "name": ""}} for e in ids]


# ------------------------------------------------------------------ per-client routes

def test_per_client_legacy_route(sandbox: Sandbox, session: requests.Session,
                                 day_rows: list[dict[str, Any]]) -> None:
    client = next(c for c in sandbox.org.clients if c.name == "Salesforce CTI Connector")
    path = f"/api/v2/oauth/clients/{client.id}/usage/query"
    response = session.post(sandbox.url + path, json={"interval": "2026-09-01/2026-10-01"},
                            timeout=10)
    execution = response.json()
    assert execution["resultsUri"] == f"{path}/results/{execution['executionId']}"
    rows = legacy(sandbox, session, {"interval": "2026-09-01/2026-10-01",
                                     "groupBy": ["OAuthClientId", "TemplateUri"]}, path=path)
    expected = totals([r for r in day_rows if r["clientId"] == client.id
                       and r["date"].startswith("2026-09")], "clientId", "templateUri")
    assert totals(rows, "clientId", "templateUri") == expected
    # the organisation route does not serve a per-client execution
    org_url = f"{sandbox.url}{LEGACY}/{execution['executionId']}/results"
    assert_error_body(session.get(org_url, timeout=10), 404)
    assert_error_body(session.post(sandbox.url + path, json={
        "interval": "2026-09/2026-10", "groupBy": ["UserId"]}, timeout=10), 400, "UserId")
    assert_error_body(session.post(f"{sandbox.url}/api/v2/oauth/clients/unknown/usage/query",
                                   json={"interval": "2026-09/2026-10"}, timeout=10),
                      404, "unknown")


def test_per_client_usage_summary(sandbox: Sandbox, session: requests.Session) -> None:
    client = next(c for c in sandbox.org.clients if c.name == "Power BI Export")
    path = f"/api/v2/oauth/clients/{client.id}/usage/summary"
    submitted = session.get(sandbox.url + path, params={"days": "3"}, timeout=10)
    assert submitted.status_code == 202
    result = poll(session, sandbox.url + submitted.json()["resultsUri"], ("Complete",))
    assert [(r["date"], r["clientName"]) for r in result["results"]] == [
        (f"2026-11-{d}T00:00:00Z", "Power BI Export") for d in (24, 25, 26)]
    daily = legacy(sandbox, session, {"interval": "2026-11-24/2026-11-27", "granularity": "Day",
                                      "groupBy": ["OAuthClientId"]})
    assert result["results"] == [r for r in daily if r["clientId"] == client.id]
    assert_error_body(session.get(sandbox.url + path, params={"days": "0"}, timeout=10),
                      400, "'0'")


def test_per_client_aggregates_route(sandbox: Sandbox, session: requests.Session) -> None:
    builtin = next(c for c in sandbox.org.clients if c.builtin)
    path = f"/api/v2/usage/client/{builtin.id}/aggregates/query/jobs"
    entities = aggregates(sandbox, session, {
        "interval": "2026-10-01/2026-10-07", "granularity": "Day",
        "groupBy": ["OrganizationId", "TemplateUri", "Platform"],
        "organizationIds": [sandbox.organization_id]}, path=path)
    assert entities
    assert all(e["organizationId"] == sandbox.organization_id and "oauthClient" not in e
               and e["platform"] == "PureCloudBuiltIn" for e in entities)
    none = aggregates(sandbox, session, {"interval": "2026-10-01/2026-10-07",
                                         "organizationIds": ["another-org"]}, path=path)
    assert none == []
    assert_error_body(session.post(sandbox.url + path, json={
        "interval": "2026-10-01/2026-10-07", "groupBy": ["OauthClientId"]}, timeout=10),
        400, "OrganizationId")
    assert_error_body(session.post(f"{sandbox.url}/api/v2/usage/client/nobody/aggregates/query"
                                   "/jobs", json={"interval": "2026-10-01/2026-10-07"},
                                   timeout=10), 404, "nobody")
    # builtin clients are hidden from the legacy per-client route
    assert_error_body(session.post(f"{sandbox.url}/api/v2/oauth/clients/{builtin.id}/usage/query",
                                   json={"interval": "2026-10/2026-11"}, timeout=10), 404)


# ------------------------------------------------------------------ rate limit

def test_rate_limit_counts_per_token_and_answers_429() -> None:
    with Sandbox(rate_limit=3, rate_window=30, today=TODAY) as running:
        session = session_for(running)
        url = f"{running.url}{LEGACY}/none/results"
        responses = [session.get(url, timeout=10) for _ in range(4)]
        assert [r.status_code for r in responses] == [404, 404, 404, 429]
        assert [r.headers["inin-ratelimit-count"] for r in responses] == ["1", "2", "3", "4"]
        assert {r.headers["inin-ratelimit-allowed"] for r in responses} == {"3"}
        limited = responses[-1]
        retry_after = int(limited.headers["Retry-After"])
        assert 0 < retry_after <= 30
        assert int(limited.headers["inin-ratelimit-reset"]) == retry_after
        assert_error_body(limited, 429, f"[{retry_after}] seconds")
        body = limited.json()
        assert body["code"] == "too.many.requests.retry.after"
        assert body["limit"] == {"key": "token.rate.per.minute", "namespace": "platform.api",
                                 "value": 3}
        other = session_for(running)  # a new token has its own budget
        assert other.get(url, timeout=10).status_code == 404
        statuses = Counter(record.status for record in running.requests)
    assert statuses[429] == 1


def test_rate_limit_window_resets() -> None:
    with Sandbox(rate_limit=2, rate_window=0.3, today=TODAY) as running:
        session = session_for(running)
        url = f"{running.url}{LEGACY}/none/results"
        assert [session.get(url, timeout=10).status_code for _ in range(3)] == [404, 404, 429]
        time.sleep(0.35)
        response = session.get(url, timeout=10)
    assert response.status_code == 404
    assert response.headers["inin-ratelimit-count"] == "1"


# ------------------------------------------------------------------ faults

@pytest.fixture
def faulty() -> Iterator[tuple[Sandbox, requests.Session]]:
    with Sandbox(query_seconds=0.05, rate_limit=10_000, today=TODAY) as running:
        yield running, session_for(running)


def test_fault_rate_limit_burst(faulty: tuple[Sandbox, requests.Session]) -> None:
    sandbox, session = faulty
    sandbox.inject("rate_limit", count=2, retry_after=7)
    url = f"{sandbox.url}{LEGACY}/none/results"
    responses = [session.get(url, timeout=10) for _ in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 404]
    assert responses[0].headers["Retry-After"] == "7"
    assert responses[0].json()["code"] == "too.many.requests.retry.after"
    assert all(name in responses[0].headers for name in RATE_HEADERS)
    assert [r.fault for r in sandbox.requests[-3:]] == ["rate_limit", "rate_limit", None]


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504])
def test_fault_server_error(faulty: tuple[Sandbox, requests.Session], status: int) -> None:
    sandbox, session = faulty
    sandbox.inject("server_error", status=status, route=LEGACY)
    token_response = requests.post(f"{sandbox.url}/oauth/token",
                                   auth=(sandbox.client_id, sandbox.client_secret),
                                   data={"grant_type": "client_credentials"}, timeout=10)
    assert token_response.status_code == 200  # outside the route: untouched
    assert_error_body(session.get(f"{sandbox.url}{LEGACY}/x/results", timeout=10), status)
    assert session.get(f"{sandbox.url}{LEGACY}/x/results", timeout=10).status_code == 404


def test_fault_drop(faulty: tuple[Sandbox, requests.Session]) -> None:
    sandbox, _session = faulty
    sandbox.inject("drop", route="/oauth/token")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.url}/oauth/token", auth=(sandbox.client_id,
                                                          sandbox.client_secret),
                      data={"grant_type": "client_credentials"}, timeout=10)
    assert sandbox.requests[-1].status == 0 and sandbox.requests[-1].fault == "drop"
    assert token(sandbox)


def test_fault_slow(faulty: tuple[Sandbox, requests.Session]) -> None:
    sandbox, session = faulty
    sandbox.inject("slow", seconds=1.5)
    with pytest.raises(requests.Timeout):
        session.get(f"{sandbox.url}{LEGACY}/x/results", timeout=0.3)
    assert session.get(f"{sandbox.url}{LEGACY}/x/results", timeout=1).status_code == 404


def test_fault_truncate(faulty: tuple[Sandbox, requests.Session]) -> None:
    sandbox, session = faulty
    submitted = session.post(sandbox.url + LEGACY, json={"interval": "2026-10/2026-11",
                                                         "granularity": "Day"}, timeout=10)
    url = sandbox.url + submitted.json()["resultsUri"]
    poll(session, url, ("Complete",))
    sandbox.inject("truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(url, timeout=10)
    assert len(session.get(url, timeout=10).json()["results"]) == 31


def test_fault_fail_query_legacy(faulty: tuple[Sandbox, requests.Session]) -> None:
    sandbox, session = faulty
    sandbox.inject("fail_query")
    failed = session.post(sandbox.url + LEGACY, json={"interval": "2026-10/2026-11"}, timeout=10)
    url = sandbox.url + failed.json()["resultsUri"]
    assert poll(session, url, ("Complete", "Failed")) == {"queryStatus": "Failed"}
    assert legacy(sandbox, session, {"interval": "2026-10/2026-11"})  # only the next one


def test_fault_fail_and_cancel_aggregates(faulty: tuple[Sandbox, requests.Session]) -> None:
    sandbox, session = faulty
    sandbox.inject("fail_query", route=JOBS, message="disk on fire")
    sandbox.inject("cancel_query")
    outcomes = []
    for _ in range(3):
        job = session.post(sandbox.url + JOBS, json={"interval": "2026-10-01/2026-10-02"},
                           timeout=10).json()
        outcomes.append(poll(session, sandbox.url + job["resultsUri"],
                             ("Succeeded", "Failed", "Cancelled")))
    assert [o["queryStatus"] for o in outcomes] == ["Failed", "Cancelled", "Succeeded"]
    error = outcomes[0]["errorBody"]
    assert set(error) >= ERROR_BODY_KEYS and error["message"] == "disk on fire"
    assert "entities" not in outcomes[0] and "entities" not in outcomes[1]


def test_fault_expire_token(faulty: tuple[Sandbox, requests.Session]) -> None:
    sandbox, session = faulty
    url = f"{sandbox.url}{LEGACY}/x/results"
    assert session.get(url, timeout=10).status_code == 404
    sandbox.inject("expire_token")
    for _ in range(2):
        assert_error_body(session.get(url, timeout=10), 401)
    session.headers["Authorization"] = f"Bearer {token(sandbox)}"
    assert session.get(url, timeout=10).status_code == 404


def test_token_lifetime_is_enforced() -> None:
    with Sandbox(token_seconds=1, today=TODAY) as running:
        session = session_for(running)
        url = f"{running.url}{LEGACY}/x/results"
        assert session.get(url, timeout=10).status_code == 404
        time.sleep(1.05)
        assert session.get(url, timeout=10).status_code == 401


def test_inject_rejects_bad_arguments(faulty: tuple[Sandbox, requests.Session]) -> None:
    sandbox, _ = faulty
    assert set(FAULT_KINDS) >= {"rate_limit", "server_error", "drop", "slow", "fail_query",
                                "expire_token", "truncate"}
    with pytest.raises(ValueError, match=r"'explode'.*rate_limit"):
        sandbox.inject("explode")
    with pytest.raises(ValueError, match=r"500, 501, 502, 503, 504.*418"):
        sandbox.inject("server_error", status=418)
    with pytest.raises(ValueError, match=r"'seconds'.*retry_after"):
        sandbox.inject("rate_limit", seconds=3)
    with pytest.raises(ValueError, match="count"):
        sandbox.inject("drop", count=0)
    with pytest.raises(ValueError, match="route"):
        sandbox.inject("drop", route="api/v2")
    assert sandbox.pending_faults() == []
    sandbox.inject("drop", count=3)
    assert [f.remaining for f in sandbox.pending_faults()] == [3]
    sandbox.clear_faults()
    assert sandbox.pending_faults() == []


def test_default_today_is_the_utc_date() -> None:
    assert Sandbox().today() == datetime.now(UTC).date()


# ------------------------------------------------------------------ CLI

@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN],
                         ids=["terminal", "background-job"])
def test_cli_serves_in_the_foreground_and_stops_cleanly(inherited: signal.Handlers) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "usagekit", "sandbox", "--port", "0", "--seed", "3",
         "--client-secret", "cli-secret-value", "--today", "2026-11-27"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, inherited))
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        lines = [first] + [process.stdout.readline() for _ in range(3)]
        url = first.split(" serving at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert f"  GENESYSCLOUD_REGION={url}\n" in lines
        assert "  GENESYSCLOUD_OAUTHCLIENT_ID=sandbox-client\n" in lines
        response = requests.post(f"{url}/oauth/token", auth=("sandbox-client",
                                                             "cli-secret-value"),
                                 data={"grant_type": "client_credentials"}, timeout=10)
        assert response.status_code == 200 and response.json()["token_type"] == "bearer"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "sandbox stopped" in out
    assert "cli-secret-value" not in out + err + first


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "usagekit", "sandbox", *args],
                          capture_output=True, text=True, timeout=30, check=False)


def test_cli_help_and_bad_port() -> None:
    shown = _cli("--help")
    assert shown.returncode == 0 and "--rate-limit" in shown.stdout
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _cli("--port", str(port))
    assert busy.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in busy.stderr
