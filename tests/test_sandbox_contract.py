"""Every sandbox response, on every route it serves, against the official Python SDK's models.

The SDK (``PureCloudPlatformClientV2``) is generated from Genesys Cloud's published contract:
each model's ``swagger_types`` and ``attribute_map`` name its JSON fields and their types, and
its setters hold the enums (an ``allowed_values`` list in each enum property's setter; a value
outside it becomes ``"outdated_sdk_version"`` instead of raising, so a deserialising client
would not notice). This module walks each JSON answer recursively: no field the model lacks,
each value of the declared type, each enum value one of the model's allowed values, spelt
exactly. The route's model comes from the SDK's own API classes (``resource_path`` and
``response_type`` of each method). Requests are built with the SDK's request models and
serialised with ``ApiClient.sanitize_for_serialization``, as an SDK user sends them; the kit's
own request bodies are checked against the same models. ``test_sandbox_sdk`` drives the SDK as
a client; this module checks the wire.
"""

from __future__ import annotations

import ast
import inspect
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

gc = pytest.importorskip("PureCloudPlatformClientV2")

TODAY = date(2026, 11, 27)
# Jobs stay Queued/Running long enough to be seen in those states on a busy machine.
SANDBOX = {"query_seconds": 1.2, "rate_limit": 100_000, "today": TODAY, "orgs": 2}
#: The SDK API classes whose methods name the routes the sandbox serves.
SDK_APIS = ("UsageApi", "OrganizationApi", "BillingApi")
#: Routes (method, SDK path template) the sandbox serves; simplesearch is not one of them.
SERVED = {
    ("GET", "/api/v2/organizations/me"),
    ("GET", "/api/v2/billing/reports/billableusage"),
    ("POST", "/api/v2/usage/query"),
    ("GET", "/api/v2/usage/query/{executionId}/results"),
    ("POST", "/api/v2/oauth/clients/{clientId}/usage/query"),
    ("GET", "/api/v2/oauth/clients/{clientId}/usage/query/results/{executionId}"),
    ("GET", "/api/v2/oauth/clients/{clientId}/usage/summary"),
    ("POST", "/api/v2/usage/aggregates/query/jobs"),
    ("GET", "/api/v2/usage/aggregates/query/jobs/{jobId}"),
    ("POST", "/api/v2/usage/client/{clientId}/aggregates/query/jobs"),
    ("GET", "/api/v2/usage/client/{clientId}/aggregates/query/jobs/{jobId}"),
}
#: ``POST /oauth/token`` has no SDK model: the SDK reads ``access_token`` (and
#: ``refresh_token`` for code grants) from it. Its fields are RFC 6749's (5.1 success, 5.2
#: error) and the ``description`` Genesys Cloud's login service sends with an error.
TOKEN_FIELDS = {"access_token": str, "token_type": str, "expires_in": int,
                "refresh_token": str, "scope": str}
TOKEN_ERROR_FIELDS = {"error": str, "error_description": str, "error_uri": str,
                      "description": str}


# ------------------------------------------------------------------ the SDK's contract

@dataclass(frozen=True)
class Route:
    """One SDK method's route and the model of its answer."""

    method: str
    template: str
    pattern: re.Pattern[str]
    response_type: str


@cache
def sdk_routes() -> tuple[Route, ...]:
    """Every route of :data:`SDK_APIS`, read from the generated methods' source."""
    routes = []
    for api in SDK_APIS:
        source = inspect.getsource(getattr(gc, api))
        for method in source.split("\n    def ")[1:]:
            path = re.search(r"resource_path = '([^']+)'", method)
            verb = re.search(r"call_api\(resource_path, '(\w+)'", method)
            answer = re.search(r"response_type='(\w+)'", method)
            if path and verb and answer:
                pattern = re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path[1])))
                routes.append(Route(verb[1], path[1], pattern, answer[1]))
    return tuple(routes)


def route_of(method: str, path: str) -> Route | None:
    return next((r for r in sdk_routes() if r.method == method and r.pattern.fullmatch(path)),
                None)


@cache
def allowed_values(model: type, attribute: str) -> tuple[str, ...] | None:
    """The enum of ``model.attribute``: the ``allowed_values`` its setter checks, or None."""
    setter = getattr(model, attribute).fset
    found = re.search(r"allowed_values = (\[.*?\])\n", inspect.getsource(setter))
    return tuple(ast.literal_eval(found[1])) if found else None


def _iso_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return "T" in text


def _iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


PRIMITIVES = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "datetime": lambda v: isinstance(v, str) and _iso_datetime(v),
    "date": lambda v: isinstance(v, str) and _iso_date(v),
    "object": lambda v: True,
}


def violations(value: Any, swagger_type: str, where: str) -> list[str]:
    """How ``value`` (parsed JSON) breaks ``swagger_type``; empty when it fits."""
    if value is None:
        return [f"{where}: null where the SDK declares {swagger_type}"]
    if swagger_type.startswith("list["):
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a {swagger_type}"]
        return [found for i, item in enumerate(value)
                for found in violations(item, swagger_type[5:-1], f"{where}[{i}]")]
    if swagger_type.startswith("dict("):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not a {swagger_type}"]
        inner = swagger_type[swagger_type.index(",") + 1:-1].strip()
        return [found for key, item in value.items()
                for found in violations(item, inner, f"{where}.{key}")]
    if swagger_type in PRIMITIVES:
        ok = PRIMITIVES[swagger_type](value)
        return [] if ok else [f"{where}: {value!r} is not a {swagger_type}"]
    model = getattr(gc, swagger_type)
    if not isinstance(value, dict):
        return [f"{where}: {value!r} is not a {swagger_type} object"]
    instance = model()
    attribute = {json_name: name for name, json_name in instance.attribute_map.items()}
    found = []
    for key, item in value.items():
        if key not in attribute:
            found.append(f"{where}.{key}: not a field of {swagger_type}")
            continue
        name = attribute[key]
        found += violations(item, instance.swagger_types[name], f"{where}.{key}")
        enum = allowed_values(model, name)
        if enum is not None and item not in enum:
            found.append(f"{where}.{key}: {item!r} is not one of {swagger_type}'s {list(enum)}")
    return found


def token_violations(status: int, body: Any) -> list[str]:
    fields = TOKEN_FIELDS if status == 200 else TOKEN_ERROR_FIELDS
    if not isinstance(body, dict):
        return [f"/oauth/token {status}: {body!r} is not an object"]
    return [f"/oauth/token {status}.{key}: not a field ({sorted(fields)})"
            if key not in fields else f"/oauth/token {status}.{key}: {value!r} is not "
            f"{fields[key].__name__}" for key, value in body.items()
            if key not in fields or not isinstance(value, fields[key])]


# ------------------------------------------------------------------ recording the wire

@dataclass(frozen=True)
class Exchange:
    """One request the test sent and the JSON the sandbox answered."""

    method: str
    path: str
    status: int
    body: Any


class Wire:
    """A ``requests`` session per organisation, every answer recorded."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.seen: list[Exchange] = []
        self.named: dict[str, str] = {}  # a job's name in the scenario -> its resultsUri
        self.sessions = [self._session(org.client_id, org.client_secret)
                         for org in sandbox.orgs]

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = response.json() if response.content else None
        self.seen.append(Exchange(response.request.method or "",
                                  urlsplit(response.request.url or "").path,
                                  response.status_code, body))

    def _session(self, client_id: str, secret: str) -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(self._record)
        token = session.post(f"{self.sandbox.url}/oauth/token", auth=(client_id, secret),
                             data={"grant_type": "client_credentials"}, timeout=10)
        session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        return session

    def call(self, method: str, path: str, *, org: int = 0, **options: Any) -> requests.Response:
        session = self.sessions[org]
        return session.request(method, self.sandbox.url + path, timeout=30, **options)

    def entities(self, name: str) -> list[dict[str, Any]]:
        """The entities of every page of the job called ``name``, in order."""
        uri = self.named[name]
        return [e for x in self.seen if x.method == "GET" and x.path == uri and x.status == 200
                for e in x.body.get("entities", ())]

    def bare(self, method: str, path: str, **options: Any) -> requests.Response:
        """A request without the organisation's token (recorded too)."""
        session = requests.Session()
        session.hooks["response"].append(self._record)
        return session.request(method, self.sandbox.url + path, timeout=30, **options)

    def until_done(self, path: str, *, org: int = 0, done: tuple[str, ...],
                   params: dict[str, Any] | None = None) -> dict[str, Any]:
        for _ in range(300):
            payload = self.call("GET", path, org=org, params=params).json()
            if payload["queryStatus"] in done:
                return payload
            time.sleep(0.02)
        raise AssertionError(f"{path} never reached {done}")

    def pages(self, path: str, *, org: int = 0, page_size: int = 25) -> list[dict[str, Any]]:
        """Every page of a finished aggregates job, through ``nextUri``."""
        page = self.until_done(path, org=org, done=("Succeeded",), params={"pageSize": page_size})
        pages = [page]
        while "nextUri" in page:
            page = self.call("GET", page["nextUri"], org=org).json()
            pages.append(page)
        return pages


def sdk_body(model: Any) -> Any:
    """The JSON an SDK user's request model becomes."""
    return gc.ApiClient().sanitize_for_serialization(model)


def sdk_model(name: str, **values: Any) -> Any:
    model = getattr(gc, name)()
    for attribute, value in values.items():
        setattr(model, attribute, value)
    return model


def sort_by(field_name: str, order: str) -> Any:
    return sdk_model("UsageQuerySortBy", field_name=field_name, order=order)


# ------------------------------------------------------------------ the scenario

@pytest.fixture(scope="module")
def wire(sandbox: Sandbox) -> Wire:
    """Every usage route exercised with SDK-built requests, in every state and error."""
    wire = Wire(sandbox)
    client = next(c for c in sandbox.org.clients if not c.builtin)
    builtin = next(c for c in sandbox.org.clients if c.builtin)
    jobs = "/api/v2/usage/aggregates/query/jobs"
    client_jobs = f"/api/v2/usage/client/{client.id}/aggregates/query/jobs"
    legacy_client = f"/api/v2/oauth/clients/{client.id}/usage/query"

    # One query of each API is followed from its submission through every state it passes.
    wire.until_done(wire.call("POST", "/api/v2/usage/query", json=sdk_body(sdk_model(
        "ApiUsageOrganizationQuery", interval="2026-10-01/2026-10-02"))).json()["resultsUri"],
        done=("Complete",))
    wire.pages(wire.call("POST", jobs, json=sdk_body(sdk_model(
        "OrganizationPublicApiUsageQueryRequest", interval="2026-10-01/2026-10-07",
        granularity="Week", group_by=["OauthClientId", "UserId"]))).json()["resultsUri"])
    wire.pages(wire.call("POST", client_jobs, json=sdk_body(sdk_model(
        "ClientPublicApiUsageQueryRequest", interval="2026-10-01/2026-10-10",
        granularity="Day", group_by=["OrganizationId", "HttpMethod", "TemplateUri", "Platform"],
        organization_ids=[sandbox.organization_id],
        sort_by=[sort_by("status429", "Desc")]))).json()["resultsUri"])
    # The rest submitted together, so the waits overlap: legacy (org-wide, per client,
    # summary) ...
    legacy = [wire.call("POST", "/api/v2/usage/query", json=sdk_body(sdk_model(
        "ApiUsageOrganizationQuery", interval="2026-10-01/2026-10-15", granularity="Week",
        group_by=["OAuthClientId", "OrganizationId", "UserId", "TemplateUri", "HttpMethod"],
        metrics=["Status200", "Status300", "Status400", "Status500", "Status429",
                 "Requests"]))).json()]
    legacy.append(wire.call("POST", "/api/v2/usage/query", org=1, json=sdk_body(sdk_model(
        "ApiUsageOrganizationQuery", interval="2026-10-01T00:00:00Z/2026-10-03T00:00:00Z",
        granularity="Day", group_by=["OAuthClientId"]))).json())
    legacy.append(wire.call("POST", legacy_client, json=sdk_body(sdk_model(
        "ApiUsageClientQuery", interval="2026-10-01/2026-10-08", granularity="Day",
        group_by=["OAuthClientId", "OrganizationId", "TemplateUri", "HttpMethod"],
        metrics=["Requests", "Status429"]))).json())
    legacy.append(wire.call("GET", f"/api/v2/oauth/clients/{client.id}/usage/summary",
                            params={"days": "3"}).json())
    sandbox.inject("fail_query", route="/api/v2/usage/query", message="synthetic failure")
    failed_legacy = wire.call("POST", "/api/v2/usage/query", json=sdk_body(sdk_model(
        "ApiUsageOrganizationQuery", interval="2026-10-01/2026-10-02"))).json()
    # ... aggregates, org-wide in both interval forms, per client, failed and cancelled.
    org_jobs = [wire.call("POST", jobs, json=sdk_body(sdk_model(
        "OrganizationPublicApiUsageQueryRequest", interval=interval, granularity="Day",
        group_by=["OauthClientId", "OauthClientName", "UserId", "HttpMethod", "TemplateUri",
                  "Platform"],
        metrics=["Requests", "Status200", "Status300", "Status400", "Status429", "Status500"],
        sort_by=[sort_by("requestCount", "Desc"), sort_by("date", "Asc")]))).json()
        for interval in ("2026-10-01/2026-10-02", "2026-10-01T00:00:00/2026-10-02T23:59:59")]
    org_jobs.append(wire.call("POST", jobs, org=1, json=sdk_body(sdk_model(
        "OrganizationPublicApiUsageQueryRequest", interval="2026-10-01/2026-10-31",
        granularity="Month", group_by=["OauthClientId"],
        oauth_client_ids=[c.id for c in sandbox.orgs[1].org.clients],
        http_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
        platforms=["PureCloud", "AppFoundry", "PureCloudBuiltIn"]))).json())
    org_jobs.append(wire.call("POST", jobs, json=sdk_body(sdk_model(
        "OrganizationPublicApiUsageQueryRequest", interval="2026-10-01/2026-10-07",
        oauth_client_ids=[builtin.id], template_uris=[builtin.endpoints[0][0]],
        user_ids=[""]))).json())
    ended = []
    for route in (jobs, client_jobs):
        for fault, outcome in (("fail_query", "Failed"), ("cancel_query", "Cancelled")):
            sandbox.inject(fault, route=route, **(
                {"message": "synthetic failure"} if fault == "fail_query" else {}))
            job = wire.call("POST", route, json={"interval": "2026-10-01/2026-10-02"}).json()
            ended.append((job["resultsUri"], outcome))

    for org in (0, 1):
        wire.call("GET", "/api/v2/organizations/me", org=org)
    for execution, org in zip(legacy, (0, 1, 0, 0), strict=True):
        wire.until_done(execution["resultsUri"], org=org, done=("Complete",))
    wire.until_done(failed_legacy["resultsUri"], done=("Failed",))
    wire.named.update(zip(("dates", "date-times", "second org", "filtered"),
                          (job["resultsUri"] for job in org_jobs), strict=True))
    for job, org in zip(org_jobs, (0, 0, 1, 0), strict=True):
        wire.pages(job["resultsUri"], org=org)
    for uri, outcome in ended:
        wire.until_done(uri, done=(outcome,))

    # The billable-usage report: InProgress while generated, then Complete.
    billing = "/api/v2/billing/reports/billableusage"
    period = {"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z"}
    for org in (0, 1):
        for _ in range(300):
            if wire.call("GET", billing, org=org, params=period).json()["status"] == "Complete":
                break
            time.sleep(0.02)
    wire.call("GET", billing, params={"endDate": period["endDate"]})
    wire.call("GET", billing, params={**period, "startDate": "October"})

    # Errors: the token endpoint's, then ErrorBody answers of the API.
    token = f"{sandbox.url}/oauth/token"
    for auth, data in (((client.id, "wrong"), {"grant_type": "client_credentials"}),
                       ((sandbox.client_id, sandbox.client_secret), {"grant_type": "password"}),
                       ((sandbox.client_id, sandbox.client_secret), {}),
                       (None, {"grant_type": "client_credentials"})):
        wire.bare("POST", urlsplit(token).path, auth=auth, data=data)
    wire.bare("GET", "/api/v2/organizations/me")
    wire.bare("GET", "/api/v2/usage/query/x/results", headers={"Authorization": "Bearer nope"})
    wire.call("POST", "/api/v2/usage/query", json={"interval": "2026-10-01"})
    wire.call("POST", jobs, json={"interval": "2024-01-01/2024-01-02"})
    wire.call("POST", jobs, json={"interval": "2026-10-01/2026-10-02", "groupBy": ["Nope"]})
    wire.call("POST", jobs, data=b"not json", headers={"Content-Type": "application/json"})
    wire.call("GET", f"{jobs}/no-such-job")
    wire.call("GET", f"{org_jobs[0]['resultsUri']}", params={"after": "bad-cursor"})
    wire.call("GET", f"{org_jobs[0]['resultsUri']}", org=1)  # another org's job
    wire.call("GET", "/api/v2/usage/query/no-such-execution/results")
    wire.call("POST", f"/api/v2/oauth/clients/{builtin.id}/usage/query",
              json={"interval": "2026-10-01/2026-10-02"})
    wire.call("GET", "/api/v2/no/such/route")
    wire.call("DELETE", "/api/v2/usage/query")
    wire.call("POST", jobs, data=b"x" * 1_000_001)
    sandbox.inject("rate_limit", route="/api/v2/organizations/me", retry_after=1)
    wire.call("GET", "/api/v2/organizations/me")
    for status in (500, 503):
        sandbox.inject("server_error", route="/api/v2/organizations/me", status=status)
        wire.call("GET", "/api/v2/organizations/me")
    return wire


# ------------------------------------------------------------------ the checks

def test_every_response_fits_the_sdks_models(wire: Wire) -> None:
    found: list[str] = []
    checked: Counter[tuple[str, str]] = Counter()
    for exchange in wire.seen:
        where = f"{exchange.method} {exchange.path} {exchange.status}"
        if exchange.path == "/oauth/token":
            found += token_violations(exchange.status, exchange.body)
            continue
        if exchange.status >= 400:
            found += violations(exchange.body, "ErrorBody", where)
            continue
        route = route_of(exchange.method, exchange.path)
        if route is None:
            found.append(f"{where}: no SDK method has this route")
            continue
        found += violations(exchange.body, route.response_type, where)
        checked[(route.method, route.template)] += 1
    assert found == []
    assert set(checked) == SERVED  # every route the sandbox serves was answered and checked
    assert len(wire.seen) > 80


def test_every_enum_value_of_the_answers_occurs(wire: Wire) -> None:
    """The check saw each state the models allow, so none of them escaped it."""
    statuses: dict[str, set[str]] = {}
    for exchange in wire.seen:
        route = route_of(exchange.method, exchange.path)
        if route and exchange.status == 200 and "queryStatus" in exchange.body:
            statuses.setdefault(route.response_type, set()).add(exchange.body["queryStatus"])
    for model, seen in statuses.items():
        assert seen == set(allowed_values(getattr(gc, model), "query_status")), model
    assert set(statuses) == {"ApiUsageQueryResult", "OrganizationPublicApiUsageResultsResponse",
                             "ClientPublicApiUsageResultsResponse"}
    reports = {x.body["status"] for x in wire.seen
               if x.status == 200 and x.path.startswith("/api/v2/billing/")}
    assert reports == set(allowed_values(gc.BillingUsageReport, "status"))
    methods = {e["httpMethod"] for x in wire.seen if x.status == 200 and x.body
               for e in x.body.get("entities", ()) if "httpMethod" in e}
    assert methods == set(allowed_values(gc.OrganizationPublicApiUsage, "http_method"))


def test_error_answers_cover_every_kind(wire: Wire) -> None:
    errors = {(x.status, x.body.get("code") or x.body.get("error")) for x in wire.seen
              if x.status >= 400}
    assert {status for status, _ in errors} == {400, 401, 404, 405, 413, 429, 500, 503}
    assert {"invalid_client", "unsupported_grant_type", "invalid_request", "bad.request",
            "authentication.required", "bad.credentials", "not.found", "method.not.allowed",
            "too.many.requests.retry.after"} <= {code for _, code in errors}


def test_sdk_built_requests_are_answered_as_asked(wire: Wire, sandbox: Sandbox) -> None:
    """The SDK-serialised queries were accepted and their options took effect."""
    submitted = [x for x in wire.seen if x.method == "POST" and x.status == 202]
    assert len(submitted) == 3 + 4 + 4 + 4  # followed, legacy, org jobs, ended jobs
    dates = wire.entities("dates")  # sortBy requestCount Desc, then date
    counts = [e["requestCount"] for e in dates]
    assert len(dates) > 25 and counts == sorted(counts, reverse=True)
    assert all(e["oauthClient"]["name"] and e["platform"] for e in dates)
    second = wire.entities("second org")
    assert {e["oauthClient"]["id"] for e in second} == {c.id for c in sandbox.orgs[1].org.clients}
    assert all(set(e["oauthClient"]) == {"id", "selfUri"} and e["date"] == "2026-10-01"
               for e in second)
    builtin = wire.entities("filtered")
    assert builtin and {e["date"] for e in builtin} == {"2026-10-01"}
    me = [x.body for x in wire.seen if x.path == "/api/v2/organizations/me" and x.status == 200]
    assert [m["id"] for m in me] == [org.id for org in sandbox.orgs]


def test_both_interval_forms_give_the_same_entities(wire: Wire) -> None:
    dates = wire.entities("dates")
    assert {e["date"] for e in dates} == {"2026-10-01", "2026-10-02"}
    assert wire.entities("date-times") == dates


@pytest.mark.parametrize(("query", "model"), [
    (UsageQuery.build("2026-10-01/2026-10-08", "Week", ["OAuthClientId", "UserId", "TemplateUri"],
                      ["Requests", "Status429"], today=TODAY), "ApiUsageOrganizationQuery"),
    (UsageQuery.build("2026-10-01/2026-10-08", "Day", ["TemplateUri"], client_id="c",
                      today=TODAY), "ApiUsageClientQuery"),
    (UsageQuery.build("2026-10-01/2026-10-08", "Day", ["OAuthClientId", "Platform"],
                      ["Requests"], api="aggregates", oauth_client_ids=["c1"],
                      template_uris=["api/v2/users"], http_methods=["GET"], user_ids=["u1"],
                      platforms=["PureCloud"], sort_by=["requests:desc"], today=TODAY),
     "OrganizationPublicApiUsageQueryRequest"),
    (UsageQuery.build("2026-10-01/2026-10-08", "Month", ["OrganizationId"], api="aggregates",
                      client_id="c", organization_ids=["o1"], today=TODAY),
     "ClientPublicApiUsageQueryRequest"),
])
def test_the_kits_request_bodies_fit_the_sdks_request_models(query: UsageQuery,
                                                             model: str) -> None:
    body = query.aggregates_body() if query.api == "aggregates" else query.legacy_body()
    assert violations(body, model, model) == []
    if query.api == "aggregates":  # the form the SDK documents, both ends inclusive
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00/\d{4}-\d\d-\d\dT23:59:59",
                            body["interval"])


def test_the_check_finds_planted_violations() -> None:
    planted = {"queryStatus": "Done", "nextUri": 3, "surprise": True, "entities": [
        {"date": "2026-10-01T00:00:00Z", "httpMethod": "get", "requestCount": "7",
         "oauthClient": {"id": "c", "secret": "s"}}]}
    assert violations(planted, "OrganizationPublicApiUsageResultsResponse", "r") == [
        "r.queryStatus: 'Done' is not one of OrganizationPublicApiUsageResultsResponse's "
        "['Queued', 'Running', 'Succeeded', 'Failed', 'Cancelled']",
        "r.nextUri: 3 is not a str",
        "r.surprise: not a field of OrganizationPublicApiUsageResultsResponse",
        "r.entities[0].date: '2026-10-01T00:00:00Z' is not a date",
        "r.entities[0].httpMethod: 'get' is not one of OrganizationPublicApiUsage's "
        "['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']",
        "r.entities[0].requestCount: '7' is not a int",
        "r.entities[0].oauthClient.secret: not a field of DomainEntityRef",
    ]
    assert violations({"date": "2026-10-01"}, "ApiUsageRow", "row") == [
        "row.date: '2026-10-01' is not a datetime"]
    assert violations({"messageParams": {"a": 1}, "status": None}, "ErrorBody", "e") == [
        "e.messageParams.a: 1 is not a str", "e.status: null where the SDK declares int"]
    assert token_violations(200, {"access_token": "t", "expires_in": "1", "id_token": "x"}) == [
        "/oauth/token 200.expires_in: '1' is not int",
        "/oauth/token 200.id_token: not a field (['access_token', 'expires_in', "
        "'refresh_token', 'scope', 'token_type'])"]
    assert route_of("GET", "/api/v2/usage/aggregates/query/jobs/abc").response_type == (
        "OrganizationPublicApiUsageResultsResponse")
    assert route_of("GET", "/api/v2/usage/aggregates/query/jobs/abc/extra") is None
