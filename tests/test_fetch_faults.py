"""Faults over real HTTP: retries, caps, deadlines, failures, pacing; nothing lost or doubled."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from usagekit.exceptions import (
    ApiError,
    AuthError,
    PollTimeoutError,
    QueryFailedError,
    RateLimitError,
)
from usagekit.fetch import PollPolicy, UsageClient
from usagekit.fetch.http import RetryPolicy
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

FAST_RETRY = RetryPolicy(backoff=0.01, backoff_max=0.05, default_retry_after=0.05,
                         read_timeout=5.0)
FAST_POLL = PollPolicy(initial=0.01, factor=1.5, maximum=0.05, deadline=20)
CANARY = "canary-S3CRET-do-not-log-7f3a"


def window(days: int) -> str:
    end = datetime.now(UTC).date()
    return f"{end - timedelta(days=days)}/{end}"


class HookedSession(requests.Session):
    """A real session that runs ``hook(method, url, n)`` before its n-th request."""

    def __init__(self, hook: Callable[[str, str, int], None]) -> None:
        super().__init__()
        self.hook = hook
        self.calls = 0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls += 1
        self.hook(method, url, self.calls)
        return super().request(method, url, *args, **kwargs)


SANDBOX = {"seed": 11, "query_seconds": 0.05, "client_secret": CANARY}
SANDBOX_PER_TEST = True


def make_client(sb: Sandbox, **options: Any) -> UsageClient:
    options = {"retry": FAST_RETRY, "poll": FAST_POLL, "progress": False, **options}
    return UsageClient(sb.url, client_id=sb.client_id, client_secret=sb.client_secret, **options)


def statuses(sb: Sandbox) -> list[int]:
    return [record.status for record in sb.requests]


PAGED = ("Day", ["OAuthClientId", "TemplateUri"])


def paged_query() -> UsageQuery:
    return UsageQuery.build(window(4), *PAGED, api="aggregates", page_size=50)


# --- one fault kind at a time ------------------------------------------------------------
@pytest.mark.parametrize(("kind", "options", "count"), [
    ("rate_limit", {"retry_after": 0}, 4),
    ("server_error", {"status": 502}, 2),
    ("server_error", {"status": 500}, 1),
    ("drop", {}, 2),
    ("truncate", {}, 2),
])
def test_transient_faults_are_retried(sandbox: Sandbox, kind: str, options: dict[str, Any],
                                      count: int) -> None:
    query = UsageQuery.build(window(3), "Day", ["OAuthClientId"])
    with make_client(sandbox) as client:
        baseline = client.fetch(query).rows
        sandbox.clear_requests()
        sandbox.inject(kind, count=count, route="/api/v2/usage/query", **options)
        assert client.fetch(query).rows == baseline
    hit = [r for r in sandbox.requests if r.fault == kind]
    assert len(hit) == count and not sandbox.pending_faults()


def test_slow_response_beyond_the_read_timeout_is_retried(sandbox: Sandbox) -> None:
    query = UsageQuery.build(window(2), "Day")
    with make_client(sandbox, retry=RetryPolicy(backoff=0.01, read_timeout=0.3)) as client:
        baseline = client.fetch(query).rows
        sandbox.inject("slow", seconds=0.8, route="/api/v2/usage/query/")
        assert client.fetch(query).rows == baseline
    assert [r.fault for r in sandbox.requests].count("slow") == 1


def test_retry_after_above_the_cap_raises_naming_the_wait(sandbox: Sandbox) -> None:
    sandbox.inject("rate_limit", retry_after=7, route="/api/v2/usage/query")
    with make_client(sandbox, retry=RetryPolicy(max_retry_after=2)) as client, \
            pytest.raises(RateLimitError) as info:
        client.fetch(UsageQuery.build(window(2), "Day"))
    message = str(info.value)
    assert "7 s" in message and "2 s cap" in message
    assert info.value.status == 429 and info.value.correlation_id
    assert info.value.body["limit"]["key"] == "token.rate.per.minute"


def test_bounded_retries_then_clear_errors(sandbox: Sandbox) -> None:
    policy = RetryPolicy(retries=2, rate_limit_retries=3, backoff=0.01,
                         default_retry_after=0.01)
    query = UsageQuery.build(window(2), "Day")
    with make_client(sandbox, retry=policy) as client:
        sandbox.inject("rate_limit", count=4, retry_after=0, route="/api/v2/usage/query")
        with pytest.raises(RateLimitError, match="still rate limited after 3 retries"):
            client.fetch(query)
        sandbox.inject("server_error", count=3, status=503, route="/api/v2/usage/query")
        with pytest.raises(ApiError, match="HTTP 503 after 2 retries") as info:
            client.fetch(query)
        assert info.value.status == 503 and info.value.correlation_id
        sandbox.inject("drop", count=3, route="/api/v2/usage/query")
        with pytest.raises(ApiError, match="ConnectionError after 2 retries"):
            client.fetch(query)
        sandbox.clear_faults()
        assert client.fetch(query).rows  # the client is still usable


def test_501_is_not_retried_and_names_the_status(sandbox: Sandbox) -> None:
    sandbox.inject("server_error", count=2, status=501, route="/api/v2/usage/query")
    with make_client(sandbox) as client, pytest.raises(ApiError) as info:
        client.fetch(UsageQuery.build(window(2), "Day"))
    error = info.value
    assert error.status == 501 and error.correlation_id
    assert "HTTP 501" in str(error) and "retries" not in str(error)
    assert error.body["code"] == "not.implemented"
    submits = [r for r in sandbox.requests if r.path == "/api/v2/usage/query"]
    assert [r.status for r in submits] == [501]  # one attempt, no retry
    assert [f.remaining for f in sandbox.pending_faults()] == [1]


# --- queries that fail, time out, and resume -----------------------------------------
def test_failed_queries_carry_ids_and_error_body(sandbox: Sandbox) -> None:
    with make_client(sandbox) as client:
        sandbox.inject("fail_query", route="/api/v2/usage/query")
        with pytest.raises(QueryFailedError) as info:
            client.fetch(UsageQuery.build(window(2), "Day"))
        failed = info.value
        polled = {r.path.split("/")[-2] for r in sandbox.requests if r.path.endswith("/results")}
        assert failed.execution_id in polled
        assert failed.execution_id in str(failed) and "Failed" in str(failed)
        assert failed.correlation_id and failed.correlation_id in str(failed)
        assert failed.body == {"queryStatus": "Failed"}

        sandbox.inject("fail_query", message="usage store unavailable")
        with pytest.raises(QueryFailedError, match="usage store unavailable") as info:
            client.fetch(UsageQuery.build(window(2), "Day", api="aggregates"))
        assert info.value.body["code"] == "usage.query.failed"
        assert info.value.body["messageParams"]["jobId"] == info.value.execution_id

        sandbox.inject("cancel_query")
        with pytest.raises(QueryFailedError, match="ended Cancelled"):
            client.fetch(UsageQuery.build(window(2), "Day", api="aggregates"))


@pytest.mark.parametrize("api", ["legacy", "aggregates"])
def test_poll_deadline_then_resume(api: str) -> None:
    query = UsageQuery.build(window(150), "Week", ["OAuthClientId"], api=api)
    with Sandbox(port=0, seed=3, query_seconds=0.6) as sb:
        with make_client(sb, poll=PollPolicy(initial=0.02, deadline=0.1)) as client, \
                pytest.raises(PollTimeoutError) as info:
            client.fetch(query)
        ids = info.value.execution_id
        assert len(ids.split(",")) == len(query.split())
        assert f"usagekit fetch --resume {ids}" in str(info.value)
        assert "client.resume(" in str(info.value)
        submissions = sum(r.method == "POST" and "usage" in r.path for r in sb.requests)
        with make_client(sb) as client:
            resumed = client.resume(ids, query)
            assert sum(r.method == "POST" and "usage" in r.path
                       for r in sb.requests) == submissions  # nothing submitted again
            assert resumed.execution_ids == tuple(ids.split(","))
            assert resumed.rows == client.fetch(query).rows


# --- tokens --------------------------------------------------------------------------
def test_expired_token_is_fetched_again_once(sandbox: Sandbox) -> None:
    query = UsageQuery.build(window(2), "Day")
    with make_client(sandbox) as client:
        client.fetch(query)
        sandbox.inject("expire_token")
        client.fetch(query)
    token_posts = [r for r in sandbox.requests if r.path == "/oauth/token"]
    assert len(token_posts) == 2
    assert statuses(sandbox).count(401) == 1


def test_a_token_rejected_twice_is_an_auth_error(sandbox: Sandbox) -> None:
    def expire_before_api_calls(method: str, url: str, n: int) -> None:
        if "/api/v2/" in url:
            sandbox.inject("expire_token")

    with make_client(sandbox, session=HookedSession(expire_before_api_calls)) as client, \
            pytest.raises(AuthError, match="rejected"):
        client.fetch(UsageQuery.build(window(2), "Day"))
    assert [r.path for r in sandbox.requests].count("/oauth/token") == 2  # one re-fetch only


# --- faults in the middle of a paged fetch -------------------------------------------
FAULT_SETS = {
    "429-burst": [("rate_limit", 3, {"retry_after": 0})],
    "5xx": [("server_error", 2, {"status": 504})],
    "drop+truncate": [("drop", 1, {}), ("truncate", 1, {})],
    "expired-token": [("expire_token", 1, {})],
    "everything": [("rate_limit", 1, {"retry_after": 0}), ("server_error", 1, {}),
                   ("drop", 1, {}), ("truncate", 1, {}), ("expire_token", 1, {})],
}


@pytest.mark.parametrize("faults", FAULT_SETS.values(), ids=FAULT_SETS.keys())
def test_faults_mid_paging_lose_and_duplicate_nothing(sandbox: Sandbox,
                                                      faults: list[tuple[str, int, dict]]
                                                      ) -> None:
    query = paged_query()
    with make_client(sandbox) as client:
        baseline = client.fetch(query)
    assert len(baseline) > 4 * query.page_size

    pages_seen = 0

    def inject_mid_paging(method: str, url: str, n: int) -> None:
        nonlocal pages_seen
        if "after=" in url:
            pages_seen += 1
            if pages_seen == 2:
                for kind, count, options in faults:
                    sandbox.inject(kind, count=count, **options)

    sandbox.clear_requests()
    with make_client(sandbox, session=HookedSession(inject_mid_paging)) as client:
        result = client.fetch(query)
    assert pages_seen >= 3 and not sandbox.pending_faults()
    assert any(r.fault or r.status == 401 for r in sandbox.requests)
    assert result.rows == baseline.rows
    keys = [json.dumps(r, sort_keys=True) for r in result.rows]
    assert len(set(keys)) == len(keys)


# --- pacing under an enforced rate limit ---------------------------------------------
@pytest.mark.parametrize("pace", [True, False])
def test_pacing_keeps_a_long_paged_fetch_under_the_limit(pace: bool) -> None:
    query = UsageQuery.build(window(3), *PAGED, api="aggregates", page_size=30)
    with Sandbox(port=0, seed=5, query_seconds=0.0, rate_limit=6, rate_window=1.0) as sb:
        policy = RetryPolicy(pace=pace, backoff=0.01)
        with make_client(sb, retry=policy) as client:
            result = client.fetch(query)
        api_calls = [r for r in sb.requests if r.path.startswith("/api/")]
        limited = [r for r in api_calls if r.status == 429]
    assert len(result) > 12 * query.page_size and len(api_calls) > 12  # > 2 windows of budget
    if pace:
        assert limited == []
    else:
        assert limited  # without pacing the same fetch bounces off the limit (then recovers)


# --- secrets -------------------------------------------------------------------------
def test_no_secret_or_token_in_logs_errors_or_reprs(sandbox: Sandbox,
                                                    caplog: pytest.LogCaptureFixture,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with make_client(sandbox) as client:
        sandbox.inject("rate_limit", retry_after=0)
        sandbox.inject("server_error")
        sandbox.inject("expire_token")
        client.fetch(paged_query())
        token = client.tokens.token()
        texts += [repr(client), str(client), repr(client.tokens), repr(client.tokens.credentials),
                  repr(client.transport), f"{client.tokens.credentials}"]
        sandbox.inject("fail_query")
        with pytest.raises(QueryFailedError) as failed:
            client.fetch(UsageQuery.build(window(2), "Day"))
        texts += [str(failed.value), repr(failed.value), repr(failed.value.body)]
    with make_client(sandbox, retry=RetryPolicy(max_retry_after=0.5)) as client:
        sandbox.inject("rate_limit", retry_after=3)
        with pytest.raises(RateLimitError) as limited:
            client.fetch(UsageQuery.build(window(2), "Day"))
        texts += [str(limited.value), repr(limited.value.body)]
    wrong = UsageClient(sandbox.url, client_id=sandbox.client_id,
                        client_secret=CANARY + "-wrong", retry=FAST_RETRY, progress=False)
    with pytest.raises(AuthError) as denied:
        wrong.fetch(UsageQuery.build(window(2), "Day"))
    texts += [str(denied.value), repr(wrong)]
    assert "invalid_client" in str(denied.value) or "401" in str(denied.value)
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    assert "429" in caplog.text and "401" in caplog.text  # the logs did record the events
    for text in texts:
        assert CANARY not in text
        assert token not in text
