"""Usage-query validation, interval parsing, grouping keys and aggregates window splitting."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from usagekit.exceptions import QueryError
from usagekit.query import Interval, UsageQuery, parse_interval
from usagekit.query.usage_query import MAX_JOB_DAYS, grouping_key
from usagekit.row import GRANULARITIES, GROUP_BY, METRICS

TODAY = date(2026, 11, 27)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2021-01/2021-02", utc(2021, 1, 1), utc(2021, 2, 1)),
    ("2021-01-25/2021-03-10", utc(2021, 1, 25), utc(2021, 3, 10)),
    ("2021-01-25T00:00:00Z/2021-01-26T12:30:00Z", utc(2021, 1, 25), utc(2021, 1, 26, 12, 30)),
    ("2021-01-25T00:00:00+02:00/2021-01-26T00:00:00-0130",
     utc(2021, 1, 24, 22), utc(2021, 1, 26, 1, 30)),
    ("2021-01/2021-01-10T06:00Z", utc(2021, 1, 1), utc(2021, 1, 10, 6)),
    ("2021-01-25T10:00:00.250Z/2021-01-26", utc(2021, 1, 25, 10, 0, 0, 250000),
     utc(2021, 1, 26)),
    ("2021-01-25T10:00:00/2021-01-26", utc(2021, 1, 25, 10), utc(2021, 1, 26)),
    ("2021-01-31/P1M", utc(2021, 1, 31), utc(2021, 2, 28)),
    ("P7D/2021-03-01", utc(2021, 2, 22), utc(2021, 3, 1)),
    ("2021-01-01/P1WT12H", utc(2021, 1, 1), utc(2021, 1, 8, 12)),
    (" 2020-12 / 2021-01 ", utc(2020, 12, 1), utc(2021, 1, 1)),
])
def test_parse_interval_accepts_every_form(text: str, start: datetime, end: datetime) -> None:
    interval = parse_interval(text)
    assert (interval.start, interval.end) == (start, end)
    assert interval.start.tzinfo is UTC
    assert parse_interval(interval.text) == interval  # .text round-trips


@pytest.mark.parametrize(("text", "needle"), [
    ("2021-02/2021-01", "must be before"),
    ("2021-01-01/2021-01-01", "must be before"),
    ("2021-01-01", "expected start/end"),
    ("2021-13/2022-01", "not a date"),
    ("2021-02-30/2021-03-01", "not a date"),
    ("yesterday/today", "cannot read 'yesterday'"),
    ("P1D/P2D", "only one end"),
    ("2021-01-01/P", "cannot read duration"),
    ("2021-01T10:00/2021-02", "no day"),
])
def test_parse_interval_rejects_bad_text_naming_forms(text: str, needle: str) -> None:
    with pytest.raises(QueryError, match=needle) as info:
        parse_interval(text)
    message = str(info.value)
    assert repr(text) in message or "2021" in message


def test_interval_requires_aware_datetimes() -> None:
    with pytest.raises(QueryError, match="timezone-aware"):
        Interval(datetime(2021, 1, 1), utc(2021, 1, 2))


def test_grouping_key_orders_and_lowercases() -> None:
    assert grouping_key(["TemplateUri", "OAuthClientId"]) == "oauthclientid-templateuri"
    assert grouping_key(["httpmethod", "OauthClientId", "platform"]) == (
        "oauthclientid-httpmethod-platform")
    assert grouping_key([]) == "none"
    assert grouping_key(list(reversed(GROUP_BY))) == "-".join(g.lower() for g in GROUP_BY)
    with pytest.raises(QueryError, match=r"'Client'.*OAuthClientId, OrganizationId"):
        grouping_key(["Client"])


def test_build_canonicalises_names_case_insensitively() -> None:
    query = UsageQuery.build("2021-01/2021-02", "month", ["templateuri", "OAUTHCLIENTID"],
                             ["requests", "STATUS429"])
    assert query.granularity == "Month"
    assert query.partition_granularity == "month"
    assert query.group_by == ("OAuthClientId", "TemplateUri")
    assert query.metrics == ("Status429", "Requests")
    assert query.grouping == "oauthclientid-templateuri"
    assert query.legacy_body() == {
        "interval": "2021-01-01T00:00:00Z/2021-02-01T00:00:00Z", "granularity": "Month",
        "groupBy": ["OAuthClientId", "TemplateUri"], "metrics": ["Status429", "Requests"],
    }
    none = UsageQuery.build("2021-01/2021-02", None)
    assert none.granularity is None and none.partition_granularity is None
    assert none.legacy_body() == {"interval": "2021-01-01T00:00:00Z/2021-02-01T00:00:00Z"}


def test_query_is_frozen() -> None:
    query = UsageQuery.build("2021-01/2021-02")
    with pytest.raises(AttributeError):
        query.granularity = "Week"  # type: ignore[misc]


@pytest.mark.parametrize(("kwargs", "bad", "valid"), [
    ({"granularity": "Hour"}, "'Hour'", GRANULARITIES),
    ({"group_by": ["Client"]}, "'Client'", GROUP_BY),
    ({"metrics": ["Status404"]}, "'Status404'", METRICS),
    ({"api": "v3"}, "'v3'", ("legacy", "aggregates")),
    ({"group_by": ["Platform"]}, "'Platform'", ("OAuthClientId", "UserId", "HttpMethod")),
    ({"group_by": ["UserId"], "client_id": "c1"}, "'UserId'",
     ("OAuthClientId", "OrganizationId", "TemplateUri", "HttpMethod")),
    ({"group_by": ["OrganizationId"], "api": "aggregates"}, "'OrganizationId'",
     ("OAuthClientId", "UserId", "TemplateUri", "HttpMethod", "Platform")),
    ({"api": "aggregates", "http_methods": ["FETCH"]}, "'FETCH'",
     ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")),
    ({"api": "aggregates", "sort_by": ["requestCount:down"]}, "'down'", ("Asc", "Desc")),
    ({"api": "aggregates", "sort_by": ["hits"]}, "'hits'", ("requestCount", "status429")),
    ({"api": "aggregates", "page_size": 1001}, "1001", ("1 to 1000",)),
    ({"template_uris": ["api/v2/users"]}, "template_uris", ("api='aggregates'",)),
    ({"api": "aggregates", "client_id": "c1", "user_ids": ["u"]}, "user_ids",
     ("template_uris", "http_methods", "platforms", "organization_ids")),
])
def test_build_errors_name_bad_and_valid_values(kwargs: dict, bad: str,
                                                valid: tuple[str, ...]) -> None:
    interval = kwargs.pop("interval", "2026-10-01/2026-10-08")
    with pytest.raises(QueryError) as info:
        UsageQuery.build(interval, today=TODAY, **kwargs)
    message = str(info.value)
    assert bad in message
    for name in valid:
        assert name in message


def test_aggregates_window_rules() -> None:
    earliest = date(2025, 11, 27)
    ok = UsageQuery.build(f"{earliest}/2025-12-01", api="aggregates", today=TODAY)
    # The SDK's documented form, both ends inclusive: the first day's first second to the
    # last day's last.
    assert ok.aggregates_body()["interval"] == "2025-11-27T00:00:00/2025-11-30T23:59:59"
    with pytest.raises(QueryError, match=r"2025-11-26 is more than a year ago.*2025-11-27"):
        UsageQuery.build("2025-11-26/2025-12-01", api="aggregates", today=TODAY)
    with pytest.raises(QueryError, match="not whole UTC days"):
        UsageQuery.build("2026-10-01T12:00Z/2026-10-03", api="aggregates", today=TODAY)
    long = UsageQuery.build("2026-01-01/2026-06-01", api="aggregates", today=TODAY)
    with pytest.raises(QueryError, match=r"151 days.*at most 90.*split"):
        long.aggregates_body()


def test_aggregates_body_spells_groupby_and_filters() -> None:
    query = UsageQuery.build(
        "2026-10-01/2026-10-08", "Day", ["oauthclientid", "Platform"], ["Requests"],
        api="aggregates", oauth_client_ids=["c1"], template_uris=["api/v2/users"],
        http_methods=["get"], user_ids=["u1"], platforms=["PureCloud"],
        sort_by=["Requests:desc", ("DATE", "asc")], page_size=50, today=TODAY,
    )
    assert query.aggregates_body() == {
        "interval": "2026-10-01T00:00:00/2026-10-07T23:59:59", "granularity": "Day",
        "groupBy": ["OauthClientId", "OauthClientName", "Platform"], "metrics": ["Requests"],
        "oauthClientIds": ["c1"], "templateUris": ["api/v2/users"], "httpMethods": ["GET"],
        "userIds": ["u1"], "platforms": ["PureCloud"],
        "sortBy": [{"fieldName": "requestCount", "order": "Desc"},
                   {"fieldName": "date", "order": "Asc"}],
    }
    client = UsageQuery.build("2026-10-01/2026-10-08", group_by=["OrganizationId"],
                              api="aggregates", client_id="abc", organization_ids=["o1"],
                              today=TODAY)
    assert client.aggregates_body()["organizationIds"] == ["o1"]
    assert client.aggregates_body()["groupBy"] == ["OrganizationId"]


def _check_split(query: UsageQuery) -> list[UsageQuery]:
    jobs = list(query.split())
    assert jobs[0].interval.start == query.interval.start
    assert jobs[-1].interval.end == query.interval.end
    for left, right in itertools.pairwise(jobs):
        assert left.interval.end == right.interval.start  # no gap, no overlap
    for job in jobs:
        assert (job.last_day - job.first_day).days + 1 <= MAX_JOB_DAYS
        job.aggregates_body()  # each job is valid on its own
        assert job.group_by == query.group_by and job.api == "aggregates"
    return jobs


@pytest.mark.parametrize("granularity", ["Day", "Week", "Month", None])
def test_split_covers_the_window_once_on_bucket_boundaries(granularity: str | None) -> None:
    query = UsageQuery.build("2025-12-03/2026-11-27", granularity, api="aggregates", today=TODAY)
    jobs = _check_split(query)
    assert len(jobs) >= 4  # 359 days need at least 4 jobs of 90
    seams = [job.interval.start.date() for job in jobs[1:]]
    if granularity == "Week":
        assert all(day.weekday() == 0 for day in seams)
    if granularity == "Month":
        assert all(day.day == 1 for day in seams)
    covered = sum((j.interval.end - j.interval.start for j in jobs), timedelta())
    assert covered == query.interval.end - query.interval.start


def test_split_keeps_short_and_legacy_queries_whole() -> None:
    short = UsageQuery.build("2026-10-01/2026-12-30", api="aggregates", today=TODAY)
    assert short.split() == (short,)  # 90 days exactly
    legacy = UsageQuery.build("2020-01/2026-01")
    assert legacy.split() == (legacy,)
    ninety_one = UsageQuery.build("2026-08-01/2026-10-31", api="aggregates", today=TODAY)
    assert len(_check_split(ninety_one)) == 2


@pytest.mark.parametrize(("text", "granularity", "expected"), [
    ("2026-11-04/2026-11-12", "Week", "2026-11-02T00:00:00Z/2026-11-16T00:00:00Z"),
    ("2026-11-02/2026-11-16", "week", "2026-11-02T00:00:00Z/2026-11-16T00:00:00Z"),
    ("2026-09-01/2026-10-01", "Week", "2026-08-31T00:00:00Z/2026-10-05T00:00:00Z"),
    ("2026-09-15/2026-10-02", "Month", "2026-09-01T00:00:00Z/2026-11-01T00:00:00Z"),
    ("2026-11-04/2026-11-12", "Month", "2026-11-01T00:00:00Z/2026-11-27T00:00:00Z"),
    ("2026-10-15T06:00:00Z/2026-11-27", "Week", "2026-10-12T00:00:00Z/2026-11-27T00:00:00Z"),
    ("2026-10-15T06:00:00Z/2026-10-16T01:00:00Z", "Day",
     "2026-10-15T00:00:00Z/2026-10-17T00:00:00Z"),
    ("2026-10-15/2026-10-16", None, "2026-10-15T00:00:00Z/2026-10-16T00:00:00Z"),
])
def test_aligned_covers_whole_buckets_up_to_today(text: str, granularity: str | None,
                                                  expected: str) -> None:
    today = date(2026, 11, 27)
    aligned = parse_interval(text).aligned(granularity, today)
    assert aligned.text == expected
    original = parse_interval(text)
    assert aligned.start <= original.start and aligned.end >= min(original.end,
                                                                    aligned.end)


def test_aligned_names_a_bad_granularity() -> None:
    with pytest.raises(QueryError, match=r"'Fortnight'.*Day.*Week.*Month"):
        parse_interval("2026-10/2026-11").aligned("Fortnight")


@pytest.mark.parametrize(("granularity", "starts"), [
    ("Day", ["2026-01-20", "2026-02-01", "2026-03-01"]),
    ("Month", ["2026-01-20", "2026-02-01", "2026-03-01"]),
    # a week is stored in the month of its Monday: seams on each month's first Monday
    ("Week", ["2026-01-20", "2026-02-02", "2026-03-02"]),
])
def test_months_split_at_the_partitions_seams(granularity: str, starts: list[str]) -> None:
    query = UsageQuery.build("2026-01-20/2026-03-10", granularity, ["OAuthClientId"])
    pieces = query.months()
    assert [p.interval.start.date().isoformat() for p in pieces] == starts
    assert pieces[-1].interval.end == query.interval.end
    assert all(a.interval.end == b.interval.start for a, b in itertools.pairwise(pieces))
    assert {(p.granularity, p.group_by) for p in pieces} == {(granularity, ("OAuthClientId",))}


def test_months_keep_one_query_when_a_split_would_change_the_answer() -> None:
    interval = "2026-01-20/2026-03-10"
    whole = UsageQuery.build(interval, None)  # one row per key over the whole interval
    ordered = UsageQuery.build(interval, "Day", api="aggregates", sort_by=["requests:desc"],
                               today=date(2026, 6, 1))
    short = UsageQuery.build("2026-02-03/2026-02-20", "Day")
    assert [q.months() for q in (whole, ordered, short)] == [(whole,), (ordered,), (short,)]
