"""Query bodies of both usage APIs: validation, aggregation and result rows.

Legacy API (``ApiUsageOrganizationQuery`` / ``ApiUsageClientQuery``): ISO-8601 interval,
half-open ``[start, end)``; a day belongs to it when its 00:00 UTC does. Aggregates API
(``OrganizationPublicApiUsageQueryRequest`` / ``ClientPublicApiUsageQueryRequest``):
``YYYY-MM-DD/YYYY-MM-DD`` or, as the SDK documents it, ``YYYY-MM-DDThh:mm:ss/YYYY-MM-DDThh:mm:ss``
(UTC; a ``Z`` may follow), both ends inclusive: an end that is a date-time stands for its
day. Today (UTC) and later days have no data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any

from .errors import bad_request
from .large_org import AnyOrganization
from .org import Usage

GRANULARITIES = ("Day", "Week", "Month")
LEGACY_GROUP_BY = ("OAuthClientId", "OrganizationId", "UserId", "TemplateUri", "HttpMethod")
LEGACY_CLIENT_GROUP_BY = ("OAuthClientId", "OrganizationId", "TemplateUri", "HttpMethod")
LEGACY_METRICS = ("Status200", "Status300", "Status400", "Status500", "Status429", "Requests")
AGG_GROUP_BY = ("OauthClientName", "OauthClientId", "UserId", "HttpMethod", "TemplateUri",
                "Platform")
AGG_CLIENT_GROUP_BY = ("OrganizationId", "HttpMethod", "TemplateUri", "Platform")
AGG_METRICS = ("Requests", "Status200", "Status300", "Status400", "Status429", "Status500")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
AGG_FILTERS = ("oauthClientIds", "templateUris", "httpMethods", "userIds", "platforms")
AGG_CLIENT_FILTERS = ("organizationIds", "templateUris", "httpMethods", "platforms")
SORT_ORDERS = ("Asc", "Desc")
MAX_LEGACY_DAYS = 800
AGG_MAX_SPAN_DAYS = 90

_DIMENSION = {  # group-by name -> Usage attribute ("" = the organisation id)
    "OAuthClientId": "client_id", "OauthClientId": "client_id", "OauthClientName": "client_id",
    "UserId": "user_id", "TemplateUri": "template_uri", "HttpMethod": "http_method",
    "Platform": "platform", "OrganizationId": "",
}
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_AGG_END = r"(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z?)?"
_AGG_INTERVAL = re.compile(rf"^{_AGG_END}/{_AGG_END}$")
_AGG_FORMS = ("YYYY-MM-DD/YYYY-MM-DD or YYYY-MM-DDThh:mm:ss/YYYY-MM-DDThh:mm:ss (UTC, both "
              "ends inclusive), such as 2026-01-01/2026-01-31 or "
              "2026-01-01T00:00:00/2026-01-31T23:59:59")
_SORT_FIELDS = ("date", "platform", "httpMethod", "templateUri", "requestCount", "status200",
                "status300", "status400", "status429", "status500", "oauthClientId",
                "oauthClientName", "userId", "organizationId")


@dataclass(frozen=True)
class LegacyQuery:
    """A validated legacy query body."""

    start: datetime
    end: datetime
    granularity: str | None
    group_by: tuple[str, ...]
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class AggregatesQuery:
    """A validated aggregates-job body (``end`` inclusive)."""

    start: date
    end: date
    granularity: str | None
    group_by: tuple[str, ...]
    metrics: tuple[str, ...]
    filters: dict[str, frozenset[str]] = field(default_factory=dict)
    sort_by: tuple[tuple[str, bool], ...] = ()  # (field, descending)


# ---------------------------------------------------------------- validation helpers

def _object(body: Any, allowed: Iterable[str]) -> dict[str, Any]:
    allowed = tuple(allowed)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(f"Unknown field(s) {unknown}; valid fields: {', '.join(allowed)}.")
    return body


def _enum(body: dict[str, Any], name: str, valid: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if value not in valid:
        raise bad_request(f"Invalid {name} {value!r}; valid values: {', '.join(valid)}.",
                          **{name: value})
    return str(value)


def _strings(body: dict[str, Any], name: str, valid: tuple[str, ...] | None = None
             ) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(f"{name} must be a list of strings, got {value!r}.")
    if valid is not None:
        bad = [item for item in value if item not in valid]
        if bad:
            raise bad_request(f"Invalid {name} value(s) {bad}; valid values: {', '.join(valid)}.",
                              **{name: ",".join(bad)})
    return tuple(dict.fromkeys(value))


def _instant(text: str, whole: str) -> datetime:
    try:
        if _MONTH.match(text):
            return datetime(int(text[:4]), int(text[5:]), 1, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(
            f"Invalid interval {whole!r}: {text!r} is not an ISO-8601 date or date-time; "
            "use start/end such as 2021-01-25/2021-02-01, 2021-01/2021-02 or "
            "2021-01-25T00:00:00Z/2021-02-01T00:00:00Z.", interval=whole) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_legacy(body: Any, *, per_client: bool) -> LegacyQuery:
    """Validate an ``ApiUsageOrganizationQuery`` (or ``ApiUsageClientQuery``) body."""
    body = _object(body, ("interval", "granularity", "groupBy", "metrics"))
    interval = body.get("interval")
    if not isinstance(interval, str) or not interval:
        raise bad_request("interval is required: an ISO-8601 interval such as "
                          "2021-01-25/2021-02-01.")
    parts = interval.split("/")
    if len(parts) != 2:
        raise bad_request(f"Invalid interval {interval!r}: expected start/end, such as "
                          "2021-01-25/2021-02-01.", interval=interval)
    start, end = (_instant(part, interval) for part in parts)
    if start >= end:
        raise bad_request(f"Invalid interval {interval!r}: the start must be before the end.",
                          interval=interval)
    if (end - start).days > MAX_LEGACY_DAYS:
        raise bad_request(f"Interval {interval!r} spans {(end - start).days} days; the sandbox "
                          f"serves at most {MAX_LEGACY_DAYS} days per query.", interval=interval)
    group_valid = LEGACY_CLIENT_GROUP_BY if per_client else LEGACY_GROUP_BY
    return LegacyQuery(start, end, _enum(body, "granularity", GRANULARITIES),
                       _strings(body, "groupBy", group_valid),
                       _strings(body, "metrics", LEGACY_METRICS))


def _one_year_before(today: date) -> date:
    try:
        return today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 1, day=28)


def parse_aggregates(body: Any, *, per_client: bool, today: date) -> AggregatesQuery:
    """Validate an aggregates-job body, including the window rules relative to ``today``."""
    filters = AGG_CLIENT_FILTERS if per_client else AGG_FILTERS
    body = _object(body, ("interval", "granularity", "groupBy", "metrics", "sortBy", *filters))
    interval = body.get("interval")
    match = _AGG_INTERVAL.match(interval) if isinstance(interval, str) else None
    if match is None:
        raise bad_request(f"Invalid interval {interval!r}: expected {_AGG_FORMS}.",
                          interval=str(interval))
    try:
        start, end = (datetime.fromisoformat(part).date() for part in interval.split("/"))
    except ValueError:
        raise bad_request(f"Invalid interval {interval!r}: not a valid calendar date or "
                          "time of day.",
                          interval=interval) from None
    if start > end:
        raise bad_request(f"Invalid interval {interval!r}: the start is after the end.",
                          interval=interval)
    earliest = _one_year_before(today)
    if start < earliest:
        raise bad_request(
            f"Invalid interval {interval!r}: start date cannot be more than a year ago "
            f"(earliest allowed start: {earliest}).", interval=interval, rule="start.max.age")
    if (end - start).days > AGG_MAX_SPAN_DAYS:
        raise bad_request(
            f"Invalid interval {interval!r}: end date cannot be more than {AGG_MAX_SPAN_DAYS} "
            f"days after the start (latest allowed end: {start + timedelta(AGG_MAX_SPAN_DAYS)}).",
            interval=interval, rule="end.max.span")
    chosen = {}
    for name in filters:
        chosen_values = _strings(body, name, HTTP_METHODS if name == "httpMethods" else None)
        if chosen_values:
            chosen[name] = frozenset(chosen_values)
    return AggregatesQuery(
        start, end, _enum(body, "granularity", GRANULARITIES),
        _strings(body, "groupBy", AGG_CLIENT_GROUP_BY if per_client else AGG_GROUP_BY),
        _strings(body, "metrics", AGG_METRICS), chosen, _sort_by(body.get("sortBy")))


def _sort_by(value: Any) -> tuple[tuple[str, bool], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request(f"sortBy must be a list of {{fieldName, order}} objects, got {value!r}.")
    by_lower = {name.lower(): name for name in _SORT_FIELDS} | {"requests": "requestCount"}
    result = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"fieldName", "order"}:
            raise bad_request(f"Invalid sortBy item {item!r}: expected {{fieldName, order}}.")
        name = by_lower.get(str(item.get("fieldName", "")).lower())
        if name is None:
            raise bad_request(f"Invalid sortBy fieldName {item.get('fieldName')!r}; valid "
                              f"values: {', '.join(_SORT_FIELDS)}.")
        order = item.get("order", "Asc")
        if order not in SORT_ORDERS:
            raise bad_request(f"Invalid sortBy order {order!r}; valid values: Asc, Desc.")
        result.append((name, order == "Desc"))
    return tuple(result)


# ---------------------------------------------------------------- aggregation

def query_days(start: datetime, end: datetime, today: date) -> list[date]:
    """The UTC days whose 00:00 lies in ``[start, end)``, before ``today``."""
    first = start.date() if start.time() == datetime.min.time() else start.date() + timedelta(1)
    stop = end.date() if end.time() == datetime.min.time() else end.date() + timedelta(1)
    stop = min(stop, today)
    return [first + timedelta(i) for i in range((stop - first).days)]


def bucket_of(granularity: str | None, whole: date) -> Callable[[date], date]:
    """The start of the bucket a day falls in (``whole`` for the whole interval)."""
    if granularity == "Day":
        return lambda day: day
    if granularity == "Week":
        return lambda day: day - timedelta(day.weekday())
    if granularity == "Month":
        return lambda day: day.replace(day=1)
    return lambda day: whole


def _sum(org: AnyOrganization, days: list[date], bucket: Callable[[date], date],
         dims: tuple[str, ...], keep: Callable[[Usage], bool]
         ) -> dict[tuple[Any, ...], list[int]]:
    getter = attrgetter(*dims) if dims else None
    totals: dict[tuple[Any, ...], list[int]] = {}
    for day in days:
        label = bucket(day)
        for usage in org.usage(day):
            if not keep(usage):
                continue
            if getter is None:
                key: tuple[Any, ...] = (label,)
            elif len(dims) == 1:
                key = (label, getter(usage))
            else:
                key = (label, *getter(usage))
            acc = totals.get(key)
            if acc is None:
                totals[key] = [usage.status200, usage.status300, usage.status400,
                               usage.status500, usage.status429]
            else:
                acc[0] += usage.status200
                acc[1] += usage.status300
                acc[2] += usage.status400
                acc[3] += usage.status500
                acc[4] += usage.status429
    return totals


def dimensions(group_by: tuple[str, ...]) -> tuple[str, ...]:
    """The ``Usage`` attributes a groupBy list groups by, in order, without repeats."""
    return tuple(dict.fromkeys(_DIMENSION[name] for name in group_by if _DIMENSION[name]))


def legacy_rows(org: AnyOrganization, query: LegacyQuery, today: date,
                client_id: str | None = None) -> list[dict[str, Any]]:
    """The ``results`` of a legacy query (built-in clients excluded, as the real API does)."""
    days = query_days(query.start, query.end, today)
    dims = dimensions(query.group_by)

    def keep(usage: Usage) -> bool:
        client = org.client(usage.client_id)
        return client is not None and not client.builtin and (
            client_id is None or usage.client_id == client_id)

    totals = _sum(org, days, bucket_of(query.granularity, query.start.date()), dims, keep)
    metrics = set(query.metrics) or set(LEGACY_METRICS)
    rows = []
    for key, (s200, s300, s400, s500, s429) in totals.items():
        values = dict(zip(dims, key[1:], strict=True))
        cid = values.get("client_id", "")
        counts = {"status200": s200, "status300": s300, "status400": s400, "status500": s500,
                  "status429": s429, "requests": s200 + s300 + s400 + s500}
        row: dict[str, Any] = {
            "clientId": cid,
            "clientName": org.client(cid).name if cid else "",  # type: ignore[union-attr]
            "organizationId": org.id if "OrganizationId" in query.group_by else "",
            "userId": values.get("user_id", ""),
            "templateUri": values.get("template_uri", ""),
            "httpMethod": values.get("http_method", ""),
        }
        row.update((name, value) for name, value in counts.items()
                   if name.capitalize() in metrics)
        if query.granularity is None:
            row["date"] = query.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            row["date"] = f"{key[0].isoformat()}T00:00:00Z"
        rows.append(row)
    rows.sort(key=lambda r: (r["date"], r["clientName"], r["userId"], r["templateUri"],
                             r["httpMethod"]))
    return rows


def aggregate_entities(org: AnyOrganization, query: AggregatesQuery, today: date,
                       client_id: str | None = None) -> list[dict[str, Any]]:
    """The ``entities`` of an aggregates job, sorted, all pages together."""
    start = datetime(query.start.year, query.start.month, query.start.day, tzinfo=UTC)
    days = query_days(start, start + timedelta((query.end - query.start).days + 1), today)
    dims = dimensions(query.group_by)
    wanted = {name: query.filters.get(name) for name in AGG_FILTERS + AGG_CLIENT_FILTERS}

    def keep(usage: Usage) -> bool:
        return ((client_id is None or usage.client_id == client_id)
                and _allowed(wanted["oauthClientIds"], usage.client_id)
                and _allowed(wanted["userIds"], usage.user_id)
                and _allowed(wanted["templateUris"], usage.template_uri)
                and _allowed(wanted["httpMethods"], usage.http_method)
                and _allowed(wanted["platforms"], usage.platform)
                and _allowed(wanted["organizationIds"], org.id))

    totals = _sum(org, days, bucket_of(query.granularity, query.start), dims, keep)
    flat = []
    for key, (s200, s300, s400, s500, s429) in totals.items():
        values = dict(zip(dims, key[1:], strict=True))
        cid = values.get("client_id", "")
        flat.append({
            "date": key[0].isoformat(), "platform": values.get("platform", ""),
            "httpMethod": values.get("http_method", ""),
            "templateUri": values.get("template_uri", ""),
            "requestCount": s200 + s300 + s400 + s500, "status200": s200, "status300": s300,
            "status400": s400, "status429": s429, "status500": s500, "oauthClientId": cid,
            "oauthClientName": org.client(cid).name if cid else "",  # type: ignore[union-attr]
            "userId": values.get("user_id", ""), "organizationId": org.id,
        })
    flat.sort(key=lambda r: (r["date"], r["oauthClientName"], r["userId"], r["templateUri"],
                             r["httpMethod"], r["platform"]))
    for name, descending in reversed(query.sort_by):
        flat.sort(key=lambda r, name=name: r[name], reverse=descending)
    return [_entity(org, query, row, per_client=client_id is not None) for row in flat]


def _allowed(values: frozenset[str] | None, value: str) -> bool:
    return values is None or value in values


def _entity(org: AnyOrganization, query: AggregatesQuery, flat: dict[str, Any], *,
            per_client: bool) -> dict[str, Any]:
    group_by = set(query.group_by)
    metrics = set(query.metrics) or set(AGG_METRICS)
    entity: dict[str, Any] = {"date": flat["date"]}
    for name, group in (("platform", "Platform"), ("httpMethod", "HttpMethod"),
                        ("templateUri", "TemplateUri")):
        if group in group_by:
            entity[name] = flat[name]
    if "Requests" in metrics:
        entity["requestCount"] = flat["requestCount"]
    for name in ("status200", "status300", "status400", "status429", "status500"):
        if name.capitalize() in metrics:
            entity[name] = flat[name]
    if per_client:
        if "OrganizationId" in group_by:
            entity["organizationId"] = org.id
        return entity
    # Strict, as Genesys Cloud may be: the name only when OauthClientName is asked for.
    client: dict[str, str] = {}
    if "OauthClientId" in group_by:
        cid = flat["oauthClientId"]
        client = {"id": cid, "selfUri": f"/api/v2/oauth/clients/{cid}"}
    if "OauthClientName" in group_by:
        client["name"] = flat["oauthClientName"]
    if client:
        entity["oauthClient"] = client
    if "UserId" in group_by and flat["userId"]:
        entity["user"] = {"id": flat["userId"], "selfUri": f"/api/v2/users/{flat['userId']}"}
    return entity

