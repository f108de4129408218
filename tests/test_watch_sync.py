"""`usagekit sync` against the sandbox over real HTTP: a first run, then only the trailing
days, whole buckets, requests counted; plans checked before any request."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from usagekit.cli import main
from usagekit.dataset import open_dataset
from usagekit.exceptions import QueryError
from usagekit.sandbox import Sandbox
from usagekit.watch import plan_sync

SANDBOX = {"query_seconds": 0.05}
SANDBOX_PER_TEST = SANDBOX_IN_ENV = True


def requests_in(line: str) -> int:
    match = re.search(r"(\d+) HTTP requests$", line)
    assert match, line
    return int(match.group(1))


def test_first_run_then_only_the_trailing_days(sandbox: Sandbox, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    location = str(tmp_path / "data")
    today = datetime.now(UTC).date()
    assert main(["sync", "--dataset", location, "--granularity", "day,month",
                 "--group-by", "OAuthClientId", "--no-progress"]) == 0
    day_line, month_line = capsys.readouterr().out.splitlines()
    start = today - timedelta(days=90)
    assert day_line.startswith(f"day: fetched {start} to {today - timedelta(days=1)} "
                               f"(first run, from {start}):")
    assert month_line.startswith(f"month: fetched {start.replace(day=1)} to ")
    dataset = open_dataset(location)
    days = dataset.read("day", "oauthclientid")
    assert days["date"].min().date() == start
    assert days["date"].max().date() == today - timedelta(days=1)
    assert set(dataset.read("month", "oauthclientid")["date"].dt.day) == {1}
    first = days.sort_values(["date", "clientId"]).reset_index(drop=True)

    sandbox.clear_requests()
    assert main(["sync", "--dataset", location, "--granularity", "day",
                 "--group-by", "OAuthClientId", "--no-progress"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"day: fetched {today - timedelta(days=2)} to "
                           f"{today - timedelta(days=1)} (after the last complete stored day, "
                           "2 trailing days again): ")
    assert " in 1 query, " in line
    # connecting asks for a token and the organisation (GET /api/v2/organizations/me) first
    assert requests_in(line) == len(sandbox.requests) - 2 > 0
    again = open_dataset(location).read("day", "oauthclientid").sort_values(
        ["date", "clientId"]).reset_index(drop=True)
    assert again.equals(first)  # nothing lost, nothing counted twice


def test_weeks_are_whole_and_since_fills_the_head(sandbox: Sandbox, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    location = str(tmp_path / "data")
    today = datetime.now(UTC).date()
    since = today - timedelta(days=20)
    args = ["sync", "--dataset", location, "--granularity", "week", "--group-by",
            "OAuthClientId", "--no-progress"]
    assert main([*args, "--since", str(since)]) == 0
    weeks = open_dataset(location).read("week", "oauthclientid")
    assert set(weeks["date"].dt.day_of_week) == {0}
    assert weeks["date"].min().date() == since - timedelta(days=since.weekday())
    capsys.readouterr()
    earlier = since - timedelta(days=14)
    assert main([*args, "--since", str(earlier)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    monday = earlier - timedelta(days=earlier.weekday())
    assert line.startswith(f"week: fetched {monday} to ")
    assert "the dataset holds nothing before" in line


def test_until_makes_a_fixed_backfill(sandbox: Sandbox, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    location = str(tmp_path / "data")
    today = datetime.now(UTC).date()
    since, until = today - timedelta(days=70), today - timedelta(days=30)
    assert main(["sync", "--dataset", location, "--format", "parquet", "--granularity",
                 "day,month", "--group-by", "OAuthClientId", "--since", str(since), "--until",
                 str(until), "--no-progress"]) == 0
    day, month = capsys.readouterr().out.splitlines()
    assert day.startswith(f"day: fetched {since} to {until - timedelta(days=1)} ")
    stored = open_dataset(location)
    assert stored.format == "parquet"
    days = stored.read("day", "oauthclientid")["date"].dt.date
    assert days.min() == since and days.max() == until - timedelta(days=1)
    months = stored.read("month", "oauthclientid")["date"].dt.date
    assert months.max() == (until - timedelta(days=1)).replace(day=1)  # its whole month
    assert month.startswith(f"month: fetched {since.replace(day=1)} to ")


@pytest.mark.parametrize(("flags", "message"), [
    (["--granularity", "hour"], "invalid granularity 'hour': valid values are Day, Week, Month"),
    (["--since", "2026-13-01"], "invalid --since '2026-13-01': expected a date YYYY-MM-DD"),
    (["--since", "2999-01-01"], "invalid since 2999-01-01: must be before today"),
    (["--trailing-days", "99"], "invalid trailing days 99: expected 0 to 31"),
    (["--group-by", "Colour"], "invalid groupBy 'Colour'"),
    (["--api", "aggregates", "--since", "2020-01-01"], "more than a year ago"),
    (["--since", "2026-03-01", "--until", "2026-02-01"],
     "invalid until 2026-02-01: must be after since (2026-03-01)"),
    (["--until", "2026-02-30"], "2026-02-30"),
])
def test_bad_input_sends_no_request(sandbox: Sandbox, tmp_path: Path, flags: list[str],
                                    message: str, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.clear_requests()
    assert main(["sync", "--dataset", str(tmp_path / "data"), "--no-progress", *flags]) == 2
    assert message in capsys.readouterr().err
    assert sandbox.requests == []
    assert not (tmp_path / "data").exists()


def test_queries_are_at_most_a_month_of_whole_buckets(tmp_path: Path) -> None:
    dataset = open_dataset(str(tmp_path / "data"))
    today = date(2026, 12, 10)
    steps = plan_sync(dataset, since=date(2026, 8, 20), today=today)
    by = {s.granularity: s for s in steps}
    assert [q.interval.text for q in by["Day"].queries] == [
        "2026-08-20T00:00:00Z/2026-09-01T00:00:00Z", "2026-09-01T00:00:00Z/2026-10-01T00:00:00Z",
        "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z/2026-12-01T00:00:00Z",
        "2026-12-01T00:00:00Z/2026-12-10T00:00:00Z"]
    weeks = [q.interval for q in by["Week"].queries]
    assert weeks[0].start.date() == date(2026, 8, 17)  # the Monday before
    # seams on each month's first Monday: every query's weeks are one month partition's
    assert [w.start.date() for w in weeks[1:]] == [
        date(2026, 9, 7), date(2026, 10, 5), date(2026, 11, 2), date(2026, 12, 7)]
    for w in weeks:
        mondays = {(w.start + timedelta(days=d)).month for d in range(0, (w.end - w.start).days, 7)}
        assert len(mondays) == 1 and (w.end - w.start).days <= 35
    assert weeks[-1].end.date() == today and all(
        a.end == b.start for a, b in pairwise(weeks))
    assert [q.interval.start.date().month for q in by["Month"].queries] == [8, 9, 10, 11, 12]
    aggregates = plan_sync(dataset, since=date(2026, 1, 1), api="aggregates", today=today)
    assert all(q.api == "aggregates" and len(q.split()) == 1
               for s in aggregates for q in s.queries)  # a month each: one job each
    assert [q.interval.start.date().month for q in aggregates[0].queries] == list(range(1, 13))
    with pytest.raises(QueryError, match="no granularity to sync"):
        plan_sync(dataset, granularities=[], today=today)
