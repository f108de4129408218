"""The official Genesys Cloud Python SDK as an independent client of the sandbox.

If the SDK's models deserialise the sandbox's answers with the right values, the sandbox
speaks the wire contract the SDK was generated from.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests

from usagekit.sandbox import Sandbox
from usagekit.sandbox.org import GROWING_429_CLIENT

gc = pytest.importorskip("PureCloudPlatformClientV2")
from PureCloudPlatformClientV2.rest import ApiException  # noqa: E402

TODAY = date(2026, 11, 27)


SANDBOX = {"query_seconds": 0.05, "rate_limit": 100_000, "today": TODAY}


@pytest.fixture
def api_client(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An SDK ApiClient pointed at the sandbox through ``configuration.host``."""
    monkeypatch.setattr(gc.Configuration(), "host", sandbox.url)
    client = gc.ApiClient()
    assert client.host == sandbox.url
    # The SDK derives the login host by replacing "//api." with "//login.": unchanged here.
    assert client.get_conf_url("login", client.host) == sandbox.url
    return client.get_client_credentials_token(sandbox.client_id, sandbox.client_secret)


def wait(call: Any, done: tuple[str, ...]) -> Any:
    for _ in range(200):
        result = call()
        if result.query_status in done:
            return result
        time.sleep(0.02)
    raise AssertionError(f"never reached {done}")


def plain(sandbox: Sandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The same query through plain HTTP, for comparison."""
    session = requests.Session()
    token = session.post(f"{sandbox.url}/oauth/token", auth=(sandbox.client_id,
                                                             sandbox.client_secret),
                         data={"grant_type": "client_credentials"}, timeout=10).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    uri = session.post(sandbox.url + path, json=body, timeout=10).json()
    uri = uri.get("resultsUri")
    for _ in range(200):
        result = session.get(sandbox.url + uri, params={"pageSize": 1000}, timeout=10).json()
        if result["queryStatus"] in ("Complete", "Succeeded"):
            return result
        time.sleep(0.02)
    raise AssertionError("never completed")


def test_token_through_the_sdk(api_client: Any, sandbox: Sandbox) -> None:
    assert api_client.access_token
    assert sandbox.requests[-1].path == "/oauth/token" and sandbox.requests[-1].status == 200


def test_bad_credentials_raise_in_the_sdk(sandbox: Sandbox,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc.Configuration(), "host", sandbox.url)
    with pytest.raises(ApiException) as caught:
        gc.ApiClient().get_client_credentials_token(sandbox.client_id, "wrong")
    assert caught.value.status == 401


def test_legacy_query_deserialises(api_client: Any, sandbox: Sandbox) -> None:
    usage = gc.UsageApi(api_client)
    body = gc.ApiUsageOrganizationQuery()
    body.interval = "2026-10-01/2026-11-01"
    body.granularity = "Month"
    body.group_by = ["OAuthClientId", "HttpMethod"]
    execution = usage.post_usage_query(body)
    assert isinstance(execution, gc.UsageExecutionResult)
    assert execution.results_uri == f"/api/v2/usage/query/{execution.execution_id}/results"
    result = wait(lambda: usage.get_usage_query_execution_id_results(execution.execution_id),
                  ("Complete", "Failed"))
    assert isinstance(result, gc.ApiUsageQueryResult)
    assert result.query_status == "Complete"
    expected = plain(sandbox, "/api/v2/usage/query", {
        "interval": body.interval, "granularity": "Month", "groupBy": body.group_by})["results"]
    assert len(result.results) == len(expected) > 40
    for row, raw in zip(result.results, expected, strict=True):
        assert isinstance(row, gc.ApiUsageRow)
        assert row.date == datetime(2026, 10, 1, tzinfo=UTC)
        assert (row.client_id, row.client_name, row.http_method, row.requests,
                row.status200, row.status400, row.status429) == (
            raw["clientId"], raw["clientName"], raw["httpMethod"], raw["requests"],
            raw["status200"], raw["status400"], raw["status429"])
        assert row.organization_id == row.user_id == row.template_uri == ""
    names = {row.client_name for row in result.results}
    assert GROWING_429_CLIENT in names


def test_per_client_legacy_query_deserialises(api_client: Any, sandbox: Sandbox) -> None:
    client = next(c for c in sandbox.org.clients if not c.builtin)
    usage = gc.UsageApi(api_client)
    body = gc.ApiUsageClientQuery()
    body.interval = "2026-10-01T00:00:00Z/2026-10-08T00:00:00Z"
    body.granularity = "Day"
    body.group_by = ["TemplateUri"]
    body.metrics = ["Requests", "Status429"]
    execution = usage.post_oauth_client_usage_query(client.id, body)
    result = wait(lambda: usage.get_oauth_client_usage_query_result(execution.execution_id,
                                                                    client.id),
                  ("Complete", "Failed"))
    assert result.query_status == "Complete" and result.results
    assert {row.date.date() for row in result.results} == {
        date(2026, 10, d) for d in range(1, 8)}
    assert all(row.status200 is None and row.requests > 0 and row.status429 is not None
               for row in result.results)
    templates = {e[0] for e in client.endpoints}
    assert {row.template_uri for row in result.results} <= templates


def test_usage_summary_through_the_sdk(api_client: Any, sandbox: Sandbox) -> None:
    client = sandbox.org.clients[1]
    usage = gc.UsageApi(api_client)
    execution = usage.get_oauth_client_usage_summary(client.id, days="2")
    result = wait(lambda: usage.get_oauth_client_usage_query_result(execution.execution_id,
                                                                    client.id), ("Complete",))
    assert [(row.date.date(), row.client_id) for row in result.results] == [
        (date(2026, 11, 25), client.id), (date(2026, 11, 26), client.id)]


def test_aggregates_job_deserialises_with_paging(api_client: Any, sandbox: Sandbox) -> None:
    usage = gc.UsageApi(api_client)
    body = gc.OrganizationPublicApiUsageQueryRequest()
    body.interval = "2026-10-01/2026-10-07"
    body.granularity = "Week"
    body.group_by = ["OauthClientId", "OauthClientName", "UserId", "HttpMethod", "Platform"]
    job = usage.post_usage_aggregates_query_jobs(body)
    assert isinstance(job, gc.OrganizationUsageQueryResponse)
    assert job.id and job.results_uri.endswith(job.id)
    first = wait(lambda: usage.get_usage_aggregates_query_job(job.id, page_size=25),
                 ("Succeeded", "Failed", "Cancelled"))
    assert isinstance(first, gc.OrganizationPublicApiUsageResultsResponse)
    assert first.query_status == "Succeeded"
    entities, page = list(first.entities), first
    while page.next_uri:
        after = page.next_uri.split("after=")[1]
        page = usage.get_usage_aggregates_query_job(job.id, page_size=25, after=after)
        entities += page.entities
    raw = plain(sandbox, "/api/v2/usage/aggregates/query/jobs",
                {"interval": body.interval, "granularity": "Week",
                 "groupBy": body.group_by})["entities"]
    assert len(entities) == len(raw) > 25
    for entity, expected in zip(entities, raw, strict=True):
        assert isinstance(entity, gc.OrganizationPublicApiUsage)
        assert entity.date in (date(2026, 9, 28), date(2026, 10, 5))
        assert entity.oauth_client.id == expected["oauthClient"]["id"]
        assert entity.oauth_client.name == expected["oauthClient"]["name"]
        assert (entity.user.id if entity.user else None) == expected.get("user", {}).get("id")
        assert (entity.request_count, entity.status429, entity.platform) == (
            expected["requestCount"], expected["status429"], expected["platform"])
    platforms = Counter(entity.platform for entity in entities)
    assert platforms["PureCloudBuiltIn"] > 0  # built-in clients: aggregates API only


def test_client_aggregates_job_and_failed_job(api_client: Any, sandbox: Sandbox) -> None:
    usage = gc.UsageApi(api_client)
    client = sandbox.org.clients[0]
    body = gc.ClientPublicApiUsageQueryRequest()
    body.interval = "2026-10-01/2026-10-03"
    body.group_by = ["OrganizationId", "TemplateUri"]
    job = usage.post_usage_client_client_id_aggregates_query_jobs(client.id, body)
    result = wait(lambda: usage.get_usage_client_client_id_aggregates_query_job(client.id,
                                                                                job.id),
                  ("Succeeded",))
    assert result.entities and all(
        isinstance(e, gc.ClientPublicApiUsage) and e.organization_id == sandbox.organization_id
        and e.date == date(2026, 10, 1) for e in result.entities)

    sandbox.inject("fail_query", message="synthetic failure")
    failed_body = gc.OrganizationPublicApiUsageQueryRequest()
    failed_body.interval = "2026-10-01/2026-10-02"
    failed_job = usage.post_usage_aggregates_query_jobs(failed_body)
    failed = wait(lambda: usage.get_usage_aggregates_query_job(failed_job.id),
                  ("Succeeded", "Failed"))
    assert failed.query_status == "Failed"
    assert isinstance(failed.error_body, gc.ErrorBody)
    assert failed.error_body.message == "synthetic failure"


def test_errors_reach_the_sdk_as_api_exceptions(api_client: Any, sandbox: Sandbox) -> None:
    usage = gc.UsageApi(api_client)
    too_old = gc.OrganizationPublicApiUsageQueryRequest()
    too_old.interval = "2024-01-01/2024-01-31"
    with pytest.raises(ApiException) as caught:
        usage.post_usage_aggregates_query_jobs(too_old)
    assert caught.value.status == 400
    assert "more than a year ago" in caught.value.body
    with pytest.raises(ApiException) as missing:
        usage.get_usage_query_execution_id_results("no-such-execution")
    assert missing.value.status == 404
    assert missing.value.headers["inin-correlation-id"]


def test_the_sdk_honours_retry_after_of_a_429(api_client: Any, sandbox: Sandbox) -> None:
    usage = gc.UsageApi(api_client)
    body = gc.ApiUsageOrganizationQuery()
    body.interval = "2026-10/2026-11"
    execution = usage.post_usage_query(body)
    time.sleep(0.06)
    sandbox.inject("rate_limit", count=2, retry_after=0, route="/api/v2/usage/query/")
    result = usage.get_usage_query_execution_id_results(execution.execution_id)
    assert result.query_status == "Complete"
    tail = [(r.status, r.fault) for r in sandbox.requests[-3:]]
    assert tail == [(429, "rate_limit"), (429, "rate_limit"), (200, None)]


def test_billable_usage_through_the_sdk(api_client: Any, sandbox: Sandbox) -> None:
    """``BillingApi.get_billing_reports_billableusage``: InProgress, then the org's licences."""
    billing = gc.BillingApi(api_client)
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    first = billing.get_billing_reports_billableusage(start, end)
    assert isinstance(first, gc.BillingUsageReport)
    assert (first.status, first.usages) == ("InProgress", None)
    report = first
    for _ in range(100):  # as the SDK's docs say: wait a few seconds, ask again
        if report.status == "Complete":
            break
        time.sleep(0.02)
        report = billing.get_billing_reports_billableusage(start, end)
    assert report.status == "Complete" and report.id == first.id
    assert (report.start_date, report.end_date) == (start, end)
    licences = sandbox.orgs[0].spec.licences
    assert [(u.name, u.total_usage) for u in report.usages] == [
        (name, str(count)) for name, count in licences]
    for usage, (_, count) in zip(report.usages, licences, strict=True):
        assert all(isinstance(r, gc.BillingUsageResource) for r in usage.resources)
        assert len({r.name for r in usage.resources}) == count
        assert all(start <= r.date < end for r in usage.resources)
    again = billing.get_billing_reports_billableusage(start, end)
    assert again.to_dict() == report.to_dict()  # same org and period, same report
    with pytest.raises(ApiException) as caught:
        billing.get_billing_reports_billableusage(end, start)
    assert caught.value.status == 400 and "startDate must be before endDate" in caught.value.body
