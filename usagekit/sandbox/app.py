"""The sandbox's behaviour, independent of sockets: request in, ``Response`` out.

Routes, OAuth tokens, query executions and aggregates jobs, the rate limit and the
injected faults all live here; ``server`` only moves bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from .billing import billable_usage, report_period
from .errors import HttpFailure, api_error, bad_request, error_body, not_found, oauth_error
from .faults import QUERY_FAULTS, FaultPlan
from .large_org import AnyOrganization, LargeOrganization
from .legacy_stream import legacy_body
from .query import (
    MAX_LEGACY_DAYS,
    LegacyQuery,
    aggregate_entities,
    legacy_rows,
    parse_aggregates,
    parse_legacy,
)
from .ratelimit import RateLimiter, Verdict
from .tenants import SandboxOrg

_logger = logging.getLogger(__name__)

TRANSPORT_FAULTS = ("rate_limit", "server_error", "drop", "slow", "truncate")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_MAX_JOBS = 500
_ID = r"([A-Za-z0-9._~-]+)"
_SERVER_ERROR_CODES = {500: "internal.server.error", 501: "not.implemented",
                       502: "bad.gateway", 503: "service.unavailable", 504: "gateway.timeout"}


class RequestRecord(NamedTuple):
    """One request the sandbox answered (``status`` 0: connection dropped, no response)."""

    method: str
    path: str
    status: int
    fault: str | None


@dataclass
class Response:
    """What to send back; ``action`` ``drop`` / ``truncate`` breaks the transport on purpose.

    A ``stream`` (blocks of the body, generated as they are sent) replaces ``body``.
    """

    status: int
    body: bytes
    headers: dict[str, str]
    action: str | None = None
    delay: float = 0.0
    stream: Iterator[bytes] | None = None


@dataclass
class _Job:
    id: str
    api: str  # "legacy" or "aggregates"
    org_id: str  # the organisation whose token submitted it (no other may read it)
    scope: str | None  # client id of a per-client query, None for the organisation
    created: float
    rows: list[dict[str, Any]]
    outcome: str = "ok"  # "ok", "failed" or "cancelled"
    options: dict[str, Any] = field(default_factory=dict)
    body: Callable[[], Iterator[bytes]] | None = None  # a large org's results, made when read


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str]
    org: AnyOrganization | None = None  # the token's organisation (routes needing auth)

    @property
    def tenant(self) -> AnyOrganization:
        """The organisation the request's token belongs to."""
        assert self.org is not None, "only routes that need a token have an organisation"
        return self.org


class App:
    """The synthetic Genesys Cloud: routes a request to a JSON response.

    Parameters
    ----------
    orgs
        The synthetic organisations served, each with its client credentials; the token a
        request carries decides which one it sees. A large one's legacy results are
        generated when read and streamed.
    query_seconds
        How long a query or job stays ``Running`` (aggregates: first third ``Queued``).
    rate_limit, rate_window
        Requests allowed per token (or per client at ``/oauth/token``) per window of seconds.
    token_seconds
        Lifetime of an access token (``expires_in``).
    today
        Returns the current UTC date; days from it on have no data.
    """

    def __init__(self, orgs: tuple[SandboxOrg, ...], *, query_seconds: float, rate_limit: int,
                 rate_window: float, token_seconds: int, today: Callable[[], date],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.orgs = orgs
        self.org = orgs[0].org
        self._specs = {tenant.org.id: tenant.spec for tenant in orgs}
        self._reports: OrderedDict[tuple[str, datetime, datetime], float] = OrderedDict()
        self.query_seconds = query_seconds
        self.token_seconds = token_seconds
        self.today = today
        self.faults = FaultPlan()
        self.limiter = RateLimiter(rate_limit, rate_window, clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, AnyOrganization]] = {}  # token -> expiry, org
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._log: list[RequestRecord] = []
        self._routes: list[tuple[str, re.Pattern[str], Callable[[_Request], Any], bool]] = [
            ("POST", re.compile(r"/oauth/token"), self._token, False),
            ("GET", re.compile(r"/api/v2/organizations/me"), self._organization, True),
            ("GET", re.compile(r"/api/v2/billing/reports/billableusage"), self._billable_usage,
             True),
            ("POST", re.compile(r"/api/v2/usage/query"), self._legacy_submit, True),
            ("GET", re.compile(rf"/api/v2/usage/query/{_ID}/results"), self._legacy_results,
             True),
            ("POST", re.compile(rf"/api/v2/oauth/clients/{_ID}/usage/query"),
             self._legacy_submit, True),
            ("GET", re.compile(rf"/api/v2/oauth/clients/{_ID}/usage/query/results/{_ID}"),
             self._legacy_results, True),
            ("GET", re.compile(rf"/api/v2/oauth/clients/{_ID}/usage/summary"), self._summary,
             True),
            ("POST", re.compile(r"/api/v2/usage/aggregates/query/jobs"), self._agg_submit, True),
            ("GET", re.compile(rf"/api/v2/usage/aggregates/query/jobs/{_ID}"), self._agg_results,
             True),
            ("POST", re.compile(rf"/api/v2/usage/client/{_ID}/aggregates/query/jobs"),
             self._agg_submit, True),
            ("GET", re.compile(rf"/api/v2/usage/client/{_ID}/aggregates/query/jobs/{_ID}"),
             self._agg_results, True),
        ]

    # ------------------------------------------------------------ public helpers

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (clients get 401 until they fetch a new one)."""
        with self._lock:
            self._tokens.clear()

    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._log.clear()

    # ------------------------------------------------------------ dispatch

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes
               ) -> Response:
        """Answer one HTTP request (``headers`` keys lower-case)."""
        correlation = str(uuid.uuid4())
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        verdict = self.limiter.hit(self._limit_key(path, headers))
        base = {"inin-correlation-id": correlation, **verdict.headers()}
        fault = self.faults.take(path, TRANSPORT_FAULTS)
        response = self._respond(method, path, parse_qs(split.query), headers, body, verdict,
                                 fault, correlation)
        response.headers = {**base, **response.headers}
        status = response.status
        if fault is not None and fault.kind == "drop":
            response.action, status = "drop", 0
        elif fault is not None and fault.kind == "truncate":
            response.action = "truncate"
        elif fault is not None and fault.kind == "slow":
            response.delay = float(fault.options["seconds"])
        with self._lock:
            self._log.append(RequestRecord(method, path, status, fault and fault.kind))
        _logger.debug("%s %s -> %s%s", method, path, status,
                      f" (fault {fault.kind})" if fault else "")
        return response

    def _respond(self, method: str, path: str, query: dict[str, list[str]],
                 headers: dict[str, str], body: bytes, verdict: Verdict, fault: Any,
                 correlation: str) -> Response:
        try:
            if fault is not None and fault.kind == "rate_limit":
                raise self._too_many(int(fault.options["retry_after"]), verdict.limit, path)
            if fault is not None and fault.kind == "server_error":
                status = int(fault.options["status"])
                raise api_error(status, _SERVER_ERROR_CODES[status],
                                f"The sandbox injected a {status} server error.")
            if not verdict.allowed:
                raise self._too_many(verdict.reset, verdict.limit, path)
            request, handler, needs_auth = self._route(method, path, query, headers, body)
            if needs_auth:
                request.org = self._authorize(headers)
            answer = handler(request)
            if isinstance(answer, Response):
                return answer
            status, payload = answer
            return _json(status, payload)
        except HttpFailure as failure:
            payload = dict(failure.body)
            if "contextId" in payload:
                payload["contextId"] = correlation
            return _json(failure.status, payload, failure.headers)

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], body: bytes
               ) -> tuple[_Request, Callable[[_Request], Any], bool]:
        allowed = []
        for route_method, pattern, handler, needs_auth in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return _Request(method, path, query, headers, body, match), handler, needs_auth
            allowed.append(route_method)
        if allowed:
            raise HttpFailure(405, error_body(
                405, "method.not.allowed",
                f"Method {method} is not allowed on {path}; allowed: {', '.join(allowed)}."),
                {"Allow": ", ".join(allowed)})
        raise not_found(f"No resource at {path}.")

    def _limit_key(self, path: str, headers: dict[str, str]) -> str:
        auth = headers.get("authorization", "")
        if path == "/oauth/token":
            client = _basic_credentials(auth)
            return f"client:{client[0]}" if client else "anonymous"
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token:
            return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
        return "anonymous"

    def _too_many(self, retry_after: int, limit: int, path: str) -> HttpFailure:
        key = ("client.credentials.token.rate.per.minute" if path == "/oauth/token"
               else "token.rate.per.minute")
        body = error_body(429, "too.many.requests.retry.after",
                          f"Rate limit exceeded the maximum. Retry the request in "
                          f"[{retry_after}] seconds", seconds=retry_after)
        body["limit"] = {"key": key, "namespace": "platform.api", "value": limit}
        return HttpFailure(429, body, {"Retry-After": str(retry_after)})

    # ------------------------------------------------------------ auth

    def _authorize(self, headers: dict[str, str]) -> AnyOrganization:
        """The organisation of the request's valid bearer token (else 401)."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise api_error(401, "authentication.required",
                            "No authentication bearer token specified in authorization header.")
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None or issued[0] <= self._clock():
            raise api_error(401, "bad.credentials", "Invalid login credentials.")
        return issued[1]

    def _token(self, request: _Request) -> tuple[int, dict[str, Any]]:
        form = parse_qs(request.body.decode("utf-8", "replace"))
        credentials = _basic_credentials(request.headers.get("authorization", ""))
        if credentials is None and "client_id" in form:
            credentials = (form["client_id"][0], form.get("client_secret", [""])[0])
        if credentials is None:
            raise oauth_error(401, "invalid_client",
                              "Client authentication is required: send an 'Authorization: "
                              "Basic base64(client_id:client_secret)' header.")
        client_id, secret = credentials
        # Every pair is compared, so the time taken does not tell which client id exists.
        matches = [tenant.org for tenant in self.orgs
                   if secrets.compare_digest(client_id.encode(), tenant.client_id.encode())
                   & secrets.compare_digest(secret.encode(), tenant.client_secret.encode())]
        if not matches:
            raise oauth_error(401, "invalid_client", "client not found or bad client secret")
        if not request.body.strip():
            raise oauth_error(400, "invalid_request",
                              _empty_body("grant_type=client_credentials, form-encoded"))
        grant = form.get("grant_type", [""])[0]
        if grant != "client_credentials":
            raise oauth_error(400, "unsupported_grant_type",
                              f"Unsupported grant_type {grant!r}; valid values: "
                              "client_credentials.")
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._tokens = {t: e for t, e in self._tokens.items() if e[0] > now}
            self._tokens[token] = (now + self.token_seconds, matches[0])
        return 200, {"access_token": token, "token_type": "bearer",
                     "expires_in": self.token_seconds}

    # ------------------------------------------------------------ jobs

    def _client_scope(self, request: _Request, *, allow_builtin: bool) -> str | None:
        if not request.path.startswith(("/api/v2/oauth/clients/", "/api/v2/usage/client/")):
            return None
        client_id = request.match[1]
        client = request.tenant.client(client_id)
        if client is None or (client.builtin and not allow_builtin):
            raise not_found(f"OAuth client {client_id} not found.")
        return client_id

    def _add_job(self, request: _Request, api: str, scope: str | None,
                 rows: list[dict[str, Any]],
                 body: Callable[[], Iterator[bytes]] | None = None) -> _Job:
        job = _Job(str(uuid.uuid4()), api, request.tenant.id, scope, self._clock(), rows,
                   body=body)
        kinds = QUERY_FAULTS if api == "aggregates" else ("fail_query",)
        fault = self.faults.take(request.path, kinds)
        if fault is not None:
            job.outcome = "failed" if fault.kind == "fail_query" else "cancelled"
            job.options = dict(fault.options)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > _MAX_JOBS:
                self._jobs.popitem(last=False)
        return job

    def _job(self, request: _Request, api: str, scope: str | None) -> _Job:
        job_id = request.match.groups()[-1]
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.api != api or job.scope != scope or (
                job.org_id != request.tenant.id):
            kind = "execution" if api == "legacy" else "job"
            raise not_found(f"Usage query {kind} {job_id} not found.")
        return job

    def _elapsed(self, job: _Job) -> float:
        return self._clock() - job.created

    def _organization(self, request: _Request) -> tuple[int, dict[str, Any]]:
        org = request.tenant
        return 200, {"id": org.id, "name": org.name, "defaultLanguage": "en-us",
                     "thirdPartyOrgName": org.short_name, "domain": org.short_name,
                     "version": 1, "state": "active", "productPlatform": "PureCloud",
                     "selfUri": f"/api/v2/organizations/{org.id}"}

    def _billable_usage(self, request: _Request) -> tuple[int, dict[str, Any]]:
        """The token's org's licences; ``InProgress`` for ``query_seconds`` after first asked."""
        start, end = report_period(request.query)
        org = request.tenant
        key = (org.id, start, end)
        with self._lock:
            asked = self._reports.setdefault(key, self._clock())
            while len(self._reports) > _MAX_JOBS:
                self._reports.popitem(last=False)
        complete = self._clock() - asked >= self.query_seconds
        return 200, billable_usage(org.id, self._specs[org.id].licences, start, end,
                                   complete=complete)

    def _legacy_submit(self, request: _Request) -> tuple[int, dict[str, Any]]:
        scope = self._client_scope(request, allow_builtin=False)
        query = parse_legacy(_json_body(request.body), per_client=scope is not None)
        job = self._legacy_job(request, query, scope, self.today())
        if scope is None:
            uri = f"/api/v2/usage/query/{job.id}/results"
        else:
            uri = f"/api/v2/oauth/clients/{scope}/usage/query/results/{job.id}"
        return 202, {"executionId": job.id, "resultsUri": uri}

    def _legacy_job(self, request: _Request, query: LegacyQuery, scope: str | None,
                    today: date) -> _Job:
        org = request.tenant
        if isinstance(org, LargeOrganization):
            return self._add_job(request, "legacy", scope, [],
                                 body=lambda: legacy_body(org, query, today, scope))
        return self._add_job(request, "legacy", scope, legacy_rows(org, query, today, scope))

    def _summary(self, request: _Request) -> tuple[int, dict[str, Any]]:
        """The last ``days`` (default 7) whole UTC days of one client, per day."""
        scope = self._client_scope(request, allow_builtin=False)
        text = request.query.get("days", ["7"])[-1]
        if not text.isdigit() or not 1 <= int(text) <= MAX_LEGACY_DAYS:
            raise bad_request(f"Invalid days {text!r}; valid values: 1 to {MAX_LEGACY_DAYS} "
                              "(default 7).", days=text)
        today = self.today()
        start = datetime.combine(today - timedelta(int(text)), datetime.min.time(), UTC)
        query = LegacyQuery(start, start + timedelta(int(text)), "Day", ("OAuthClientId",), ())
        job = self._legacy_job(request, query, scope, today)
        return 202, {"executionId": job.id,
                     "resultsUri": f"/api/v2/oauth/clients/{scope}/usage/query/results/{job.id}"}

    def _legacy_results(self, request: _Request) -> tuple[int, dict[str, Any]] | Response:
        scope = self._client_scope(request, allow_builtin=False)
        job = self._job(request, "legacy", scope)
        if self._elapsed(job) < self.query_seconds:
            return 200, {"queryStatus": "Running"}
        if job.outcome != "ok":
            return 200, {"queryStatus": "Failed"}
        if job.body is not None:
            return Response(200, b"", {"Content-Type": "application/json"}, stream=job.body())
        return 200, {"results": job.rows, "queryStatus": "Complete"}

    def _agg_submit(self, request: _Request) -> tuple[int, dict[str, Any]]:
        scope = self._client_scope(request, allow_builtin=True)
        today = self.today()
        query = parse_aggregates(_json_body(request.body), per_client=scope is not None,
                                 today=today)
        job = self._add_job(request, "aggregates", scope,
                            aggregate_entities(request.tenant, query, today, scope))
        uri = f"{request.path}/{job.id}"
        return 202, {"id": job.id, "name": _job_name(job), "resultsUri": uri, "selfUri": uri}

    def _agg_results(self, request: _Request) -> tuple[int, dict[str, Any]]:
        scope = self._client_scope(request, allow_builtin=True)
        job = self._job(request, "aggregates", scope)
        page_size = _page_size(request.query)
        offset = _offset(request.query, job.id)
        head = {"name": _job_name(job), "selfUri": request.path}
        elapsed = self._elapsed(job)
        if elapsed < self.query_seconds / 3:
            return 200, {"queryStatus": "Queued", **head}
        if elapsed < self.query_seconds:
            return 200, {"queryStatus": "Running", **head}
        if job.outcome == "cancelled":
            return 200, {"queryStatus": "Cancelled", **head}
        if job.outcome == "failed":
            failure = error_body(500, "usage.query.failed", str(job.options["message"]),
                                 jobId=job.id)
            return 200, {"queryStatus": "Failed", "errorBody": failure, **head}
        page = job.rows[offset:offset + page_size]
        payload: dict[str, Any] = {"queryStatus": "Succeeded", "entities": page, **head}
        if offset + page_size < len(job.rows):
            cursor = _cursor(job.id, offset + page_size)
            payload["nextUri"] = f"{request.path}?pageSize={page_size}&after={cursor}"
        return 200, payload


def _job_name(job: _Job) -> str:
    return f"usage-aggregates-{job.id[:8]}"


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def _empty_body(expected: str) -> str:
    """Why an empty POST body is refused (a retried POST may arrive without its body)."""
    return (f"The request body is empty: send {expected}. A client that retries a POST "
            "without rewinding its body sends it empty; submit it again.")


def _json_body(body: bytes) -> Any:
    if not body.strip():
        raise bad_request(_empty_body("the query as JSON"))
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _page_size(query: dict[str, list[str]]) -> int:
    text = query.get("pageSize", [str(DEFAULT_PAGE_SIZE)])[-1]
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise bad_request(f"Invalid pageSize {text!r}; valid values: 1 to {MAX_PAGE_SIZE} "
                          f"(default {DEFAULT_PAGE_SIZE}).", pageSize=text)
    return int(text)


def _cursor(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{job_id}:{offset}".encode()).decode().rstrip("=")


def _offset(query: dict[str, list[str]], job_id: str) -> int:
    if "after" not in query:
        return 0
    cursor = query["after"][-1]
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        owner, _, offset = decoded.rpartition(":")
        if owner == job_id and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_request(f"Invalid after cursor {cursor!r}: use the nextUri of the previous page.",
                      after=cursor)
