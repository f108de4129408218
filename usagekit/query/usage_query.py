"""The usage query: API, interval, granularity, groupBy, metrics, filters, sort, paging."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from usagekit import row
from usagekit.exceptions import QueryError
from usagekit.query.interval import Interval, canonical, midnight, parse_interval

SORT_ORDERS: tuple[str, ...] = ("Asc", "Desc")
#: Most days (inclusive) one aggregates job may cover (the API: end <= start + 90 days).
MAX_JOB_DAYS = 90
MAX_PAGE_SIZE = 1000

#: groupBy values each route (API, per-client) accepts (canonical spelling).
GROUP_BY_BY_ROUTE: dict[tuple[str, bool], tuple[str, ...]] = {
    ("legacy", False): (row.BY_OAUTH_CLIENT, row.BY_ORGANIZATION, row.BY_USER,
                        row.BY_TEMPLATE_URI, row.BY_HTTP_METHOD),
    ("legacy", True): (row.BY_OAUTH_CLIENT, row.BY_ORGANIZATION, row.BY_TEMPLATE_URI,
                       row.BY_HTTP_METHOD),
    ("aggregates", False): (row.BY_OAUTH_CLIENT, row.BY_USER, row.BY_TEMPLATE_URI,
                            row.BY_HTTP_METHOD, row.BY_PLATFORM),
    ("aggregates", True): (row.BY_ORGANIZATION, row.BY_TEMPLATE_URI, row.BY_HTTP_METHOD,
                           row.BY_PLATFORM),
}
#: groupBy name -> the aggregates API's names asked for it (``OauthClientId``, then
#: ``OauthClientName`` so client names arrive however Genesys fills them).
_AGGREGATES_SPELLING = {d.group_by: (d.aggregates, *d.aggregates_also) for d in row.DIMENSIONS}
#: Query attribute (``oauth_client_ids``) -> the aggregates filter it fills (``oauthClientIds``).
_FILTERS = {re.sub(r"(?<=[a-z])([A-Z])", r"_\1", d.filter).lower(): d.filter
            for d in row.DIMENSIONS}
#: A count's row field, lower-cased, as ``sortBy`` names it (``requests`` -> ``requestCount``).
_SORT_NAME = {c.field.lower(): c.aggregates for c in row.COUNTS}


def split_names(values: str | Iterable[str]) -> list[str]:
    """Names given comma-separated, repeated, or both, in order, without blanks.

    Examples
    --------
    >>> split_names(["OAuthClientId,TemplateUri", " HttpMethod "])
    ['OAuthClientId', 'TemplateUri', 'HttpMethod']
    >>> split_names("a, ,b")
    ['a', 'b']
    """
    items = [values] if isinstance(values, str) else values
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def grouping_key(group_by: Iterable[str]) -> str:
    """The dataset's grouping key for a ``groupBy`` set.

    Canonical names lower-cased, in the order of :data:`usagekit.row.GROUP_BY`, joined by ``-``;
    ``none`` when empty.

    Examples
    --------
    >>> grouping_key(["TemplateUri", "OAuthClientId"])
    'oauthclientid-templateuri'
    """
    names = {canonical(value, row.GROUP_BY, "groupBy") for value in group_by}
    return "-".join(d.key for d in row.DIMENSIONS if d.group_by in names) or row.NO_GROUPING


@dataclass(frozen=True)
class UsageQuery:
    """A validated usage query; build it with :meth:`UsageQuery.build`."""

    interval: Interval
    granularity: str | None = "Day"
    group_by: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    api: row.Api = "legacy"
    client_id: str | None = None
    oauth_client_ids: tuple[str, ...] = ()
    template_uris: tuple[str, ...] = ()
    http_methods: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    organization_ids: tuple[str, ...] = ()
    sort_by: tuple[tuple[str, str], ...] = ()
    page_size: int = MAX_PAGE_SIZE

    @classmethod
    def build(
        cls,
        interval: str | Interval,
        granularity: str | None = "Day",
        group_by: Iterable[str] = (),
        metrics: Iterable[str] = (),
        api: str = "legacy",
        *,
        client_id: str | None = None,
        oauth_client_ids: Iterable[str] = (),
        template_uris: Iterable[str] = (),
        http_methods: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        platforms: Iterable[str] = (),
        organization_ids: Iterable[str] = (),
        sort_by: Iterable[str | tuple[str, str]] = (),
        page_size: int = MAX_PAGE_SIZE,
        today: date | None = None,
    ) -> UsageQuery:
        """Validate and canonicalise every part of a query.

        Parameters
        ----------
        interval : str or Interval
            See :func:`parse_interval`.
        granularity : str or None
            ``Day``, ``Week``, ``Month`` (any case) or None/"" for one bucket.
        group_by, metrics : iterable of str
            Values of :data:`usagekit.row.GROUP_BY` / :data:`usagekit.row.METRICS`, any case; either
            ``OAuthClientId`` or ``OauthClientId``.
        api : {"legacy", "aggregates"}
            Which usage API to call.
        client_id : str, optional
            Use the per-client routes (permission ``usage:client:view``).
        oauth_client_ids, template_uris, http_methods, user_ids, platforms, organization_ids
            Aggregates-API filters (``organization_ids`` only with ``client_id``,
            ``oauth_client_ids``/``user_ids`` only without).
        sort_by : iterable
            Aggregates ``sortBy``: ``"field"``, ``"field:desc"`` or ``(field, order)``.
        page_size : int
            Aggregates page size, 1 to 1000.
        today : date, optional
            The current UTC day (for the one-year rule); defaults to now.

        Raises
        ------
        QueryError
            Naming the bad value and the valid ones.
        """
        api_name = canonical(api, row.APIS, "api")
        iv = parse_interval(interval)
        gran = None if granularity in (None, "") else canonical(granularity,
                                                                 row.GRANULARITIES, "granularity")
        if client_id is not None and not (isinstance(client_id, str) and client_id.strip()):
            raise QueryError(f"invalid client_id {client_id!r}: expected an OAuth client id")
        per_client = client_id is not None
        allowed = GROUP_BY_BY_ROUTE[(api_name, per_client)]
        groups = _canonical_list(group_by, row.GROUP_BY, "groupBy")
        route = f"the {api_name} {'per-client ' if per_client else ''}API"
        for name in groups:
            if name not in allowed:
                raise QueryError(
                    f"invalid groupBy {name!r} for {route}: valid values are {', '.join(allowed)}"
                )
        ordered = tuple(n for n in row.GROUP_BY if n in groups)
        filters = {
            "oauth_client_ids": _strings(oauth_client_ids, "oauth_client_ids"),
            "template_uris": _strings(template_uris, "template_uris"),
            "http_methods": _canonical_list(http_methods, row.HTTP_METHODS, "httpMethods"),
            "user_ids": _strings(user_ids, "user_ids"),
            "platforms": _strings(platforms, "platforms"),
            "organization_ids": _strings(organization_ids, "organization_ids"),
        }
        sorts = tuple(_sort_item(item) for item in sort_by)
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise QueryError(f"invalid page_size {page_size!r}: expected 1 to {MAX_PAGE_SIZE}")
        used = tuple(name for name, values in filters.items() if values)
        if api_name == "legacy" and (used or sorts):
            bad = used + (("sort_by",) if sorts else ())
            raise QueryError(
                f"filters {', '.join(bad)} need api='aggregates'; the legacy API takes only "
                "interval, granularity, groupBy and metrics"
            )
        not_here = ("oauth_client_ids", "user_ids") if per_client else ("organization_ids",)
        for name in not_here:
            if filters[name]:
                raise QueryError(
                    f"filter {name} is not accepted by {route}; valid filters are "
                    + ", ".join(n for n in filters if n not in not_here)
                )
        query = cls(
            interval=iv, granularity=gran, group_by=ordered,
            metrics=tuple(m for m in row.METRICS
                          if m in _canonical_list(metrics, row.METRICS, "metrics")),
            api=api_name,  # type: ignore[arg-type]
            client_id=client_id.strip() if client_id else None,
            sort_by=sorts, page_size=page_size,
            **filters,
        )
        if api_name == "aggregates":
            query._check_aggregates_window(today)
        return query

    # --- derived names ---------------------------------------------------------------
    @property
    def partition_granularity(self) -> str | None:
        """``day``, ``week`` or ``month`` (the dataset's spelling), None without one."""
        return self.granularity.lower() if self.granularity else None

    @property
    def grouping(self) -> str:
        """The dataset grouping key of :attr:`group_by`."""
        return grouping_key(self.group_by)

    @property
    def first_day(self) -> date:
        """First UTC day of the interval."""
        return self.interval.start.date()

    @property
    def last_day(self) -> date:
        """Last UTC day of the interval (inclusive)."""
        return (self.interval.end - timedelta(microseconds=1)).date()

    # --- request bodies --------------------------------------------------------------
    def legacy_body(self) -> dict[str, Any]:
        """The ``ApiUsageOrganizationQuery`` / ``ApiUsageClientQuery`` JSON body."""
        body: dict[str, Any] = {"interval": self.interval.text}
        if self.granularity:
            body["granularity"] = self.granularity
        if self.group_by:
            body["groupBy"] = list(self.group_by)
        if self.metrics:
            body["metrics"] = list(self.metrics)
        return body

    def aggregates_body(self) -> dict[str, Any]:
        """The aggregates job request body (one job: call :meth:`split` first).

        The interval takes the form the SDK documents, ``YYYY-MM-DDThh:mm:ss/...``, both
        ends inclusive: the first day's first second to the last day's last, so the same
        days are asked for whether Genesys reads each end as its day or as an instant.

        Raises
        ------
        QueryError
            When the window is longer than one job may cover.
        """
        days = (self.last_day - self.first_day).days + 1
        if days > MAX_JOB_DAYS:
            raise QueryError(
                f"interval {self.interval.text} covers {days} days; one aggregates job covers "
                f"at most {MAX_JOB_DAYS}: use UsageQuery.split()"
            )
        body: dict[str, Any] = {
            "interval": f"{self.first_day}T00:00:00/{self.last_day}T23:59:59"}
        if self.granularity:
            body["granularity"] = self.granularity
        if self.group_by:
            body["groupBy"] = [name for n in self.group_by for name in _AGGREGATES_SPELLING[n]]
        if self.metrics:
            body["metrics"] = list(self.metrics)
        for name, key in _FILTERS.items():
            values = getattr(self, name)
            if values:
                body[key] = list(values)
        if self.sort_by:
            body["sortBy"] = [{"fieldName": f, "order": o} for f, o in self.sort_by]
        return body

    def split(self) -> tuple[UsageQuery, ...]:
        """Compliant aggregates jobs covering the interval exactly once.

        Legacy queries and short windows come back as ``(self,)``. Seams fall on
        bucket boundaries (Monday for ``Week``, the 1st for ``Month``), so each
        bucket is answered by exactly one job.
        """
        if self.api != "aggregates":
            return (self,)
        starts = _boundaries(self.first_day, self.last_day, self.granularity)
        jobs: list[UsageQuery] = []
        cursor = self.first_day
        end = self.last_day + timedelta(days=1)
        while cursor < end:
            limit = cursor + timedelta(days=MAX_JOB_DAYS)
            if limit >= end:
                stop = end
            else:
                fits = [b for b in starts if cursor < b <= limit]
                stop = fits[-1] if fits else limit
            jobs.append(dataclasses.replace(self, interval=Interval(midnight(cursor),
                                                                    midnight(stop))))
            cursor = stop
        return tuple(jobs)

    def months(self) -> tuple[UsageQuery, ...]:
        """Queries of at most a month each covering the interval exactly once, in order.

        Seams fall on the partitions' month boundaries: the 1st for ``Day`` and ``Month``,
        the first Monday on or after the 1st for ``Week`` (a week is stored in the month of
        its Monday), so each bucket is answered by exactly one query and no answer is
        larger than a month's. A granularity-less query (one row per key over the whole
        interval) and a query with ``sort_by`` (one order over all rows) come back as
        ``(self,)``.
        """
        if self.granularity is None or self.sort_by:
            return (self,)
        seams = []
        month = date(self.first_day.year, self.first_day.month, 1)
        while month <= self.last_day:
            seam = month + timedelta(days=(7 - month.weekday()) % 7) if (
                self.granularity == "Week") else month
            if self.interval.start < midnight(seam) < self.interval.end:
                seams.append(midnight(seam))
            month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        points = [self.interval.start, *seams, self.interval.end]
        return tuple(dataclasses.replace(self, interval=Interval(a, b))
                     for a, b in itertools.pairwise(points))

    def _check_aggregates_window(self, today: date | None) -> None:
        if not self.interval.whole_days:
            raise QueryError(
                f"interval {self.interval.text} is not whole UTC days: the aggregates API "
                "answers whole UTC days only (e.g. 2021-01-25/2021-03-10)"
            )
        today = today or datetime.now(UTC).date()
        earliest = _year_before(today)
        if self.first_day < earliest:
            raise QueryError(
                f"interval start {self.first_day} is more than a year ago: the aggregates API "
                f"accepts starts from {earliest} (today {today}); use api='legacy' for older data"
            )


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _canonical_list(values: Iterable[str], valid: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        name = canonical(value, valid, what)
        if name not in out:
            out.append(name)
    return tuple(out)


def _strings(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise QueryError(f"invalid {what} value {value!r}: expected a non-empty string")
        if value.strip() not in out:
            out.append(value.strip())
    return tuple(out)


def _sort_item(item: str | tuple[str, str]) -> tuple[str, str]:
    if isinstance(item, str):
        name, _, order = item.partition(":")
    elif isinstance(item, tuple) and len(item) == 2:
        name, order = item
    else:
        raise QueryError(f"invalid sort_by {item!r}: expected 'field', 'field:asc|desc' "
                         "or (field, order)")
    if isinstance(name, str):
        name = _SORT_NAME.get(name.strip().lower(), name)
    return (canonical(name, tuple(row.SORT_FIELDS), "sort_by field"),
            canonical(order or "Asc", SORT_ORDERS, "sort order"))


def _boundaries(first: date, last: date, granularity: str | None) -> list[date]:
    """Days (after ``first``, up to ``last + 1``) where a job may start."""
    end = last + timedelta(days=1)
    days = [first + timedelta(days=n) for n in range(1, (end - first).days + 1)]
    if granularity == "Week":
        return [d for d in days if d.weekday() == 0 or d == end]
    if granularity == "Month":
        return [d for d in days if d.day == 1 or d == end]
    return days
