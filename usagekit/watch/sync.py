"""Bring a dataset up to date: fetch only the buckets missing after the last stored one.

For each granularity, :func:`plan_sync` finds the newest stored bucket of the grouping. The
fetch starts after the last *complete* stored bucket, or earlier to fetch the trailing days
again (recent days can still change), or at ``since`` when the dataset holds nothing from
that far back; a first run starts :data:`~usagekit.config.settings.SYNC_LOOKBACK_DAYS` back. Whole
weeks and months only (Monday to Monday, 1st to 1st; the bucket holding today up to today),
never past today (usage data ends yesterday). Each query covers at most a month
(:meth:`UsageQuery.months`) and is stored as it arrives, so a sync holds one month at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from usagekit import row
from usagekit.config.settings import (
    REPORT_GROUP_BY,
    SYNC_GRANULARITIES,
    SYNC_LOOKBACK_DAYS,
    SYNC_TRAILING_DAYS,
)
from usagekit.dataset import Dataset
from usagekit.exceptions import DamagedFileError, QueryError
from usagekit.fetch import UsageClient
from usagekit.query import Interval, UsageQuery
from usagekit.query.interval import canonical, midnight
from usagekit.query.usage_query import grouping_key

_logger = logging.getLogger(__name__)

#: Most trailing days a sync fetches again (a month: older usage no longer changes).
MAX_TRAILING_DAYS = 31


@dataclass(frozen=True)
class SyncStep:
    """What one granularity's sync fetches.

    Attributes
    ----------
    granularity : str
        ``Day``, ``Week`` or ``Month``.
    interval : Interval or None
        Whole buckets to fetch; None when the dataset is up to date.
    queries : tuple of UsageQuery
        The queries covering ``interval``, in order (each stored as it arrives).
    reason : str
        Why this interval: ``first run ...`` or ``after the stored ... bucket ...``.
    """

    granularity: str
    interval: Interval | None
    queries: tuple[UsageQuery, ...]
    reason: str


@dataclass(frozen=True)
class SyncSummary:
    """What a sync of one granularity did.

    ``damaged`` holds one message per query whose rows were not stored because a partition
    they would replace is damaged (naming the file); the other queries were stored.
    """

    step: SyncStep
    rows: int
    requests: int
    damaged: tuple[str, ...] = ()

    def line(self) -> str:
        """One line: granularity, what was fetched and why, rows, queries and requests."""
        step = self.step
        name = step.granularity.lower()
        if step.interval is None:
            return f"{name}: up to date ({step.reason}); 0 requests"
        last = (step.interval.end - timedelta(days=1)).date()
        queries = len(step.queries)
        return (f"{name}: fetched {step.interval.start:%Y-%m-%d} to {last} ({step.reason}): "
                f"{self.rows} rows in {queries} quer{'y' if queries == 1 else 'ies'}, "
                f"{self.requests} HTTP requests")


def plan_sync(dataset: Dataset, *, granularities: Sequence[str] = SYNC_GRANULARITIES,
              group_by: Sequence[str] = REPORT_GROUP_BY, since: date | None = None,
              trailing_days: int = SYNC_TRAILING_DAYS, api: str = "legacy",
              until: date | None = None, today: date | None = None) -> list[SyncStep]:
    """Plan the queries that bring ``dataset`` up to date; sends no request.

    Parameters
    ----------
    dataset : Dataset
    granularities : sequence of str
        Any of ``Day``, ``Week``, ``Month`` (any case).
    group_by : sequence of str
        The groupBy set (its grouping key names the partitions read and written).
    since : date, optional
        The first day wanted: a first run starts there (default: the last
        :data:`~usagekit.config.settings.SYNC_LOOKBACK_DAYS` days), a later run fetches from there
        again when the dataset holds nothing that old.
    trailing_days : int
        Recent days fetched again on every run, 0 to :data:`MAX_TRAILING_DAYS`.
    api : {"legacy", "aggregates"}
    until : date, optional
        Fetch nothing from this day on (default: today); rounded up to a whole bucket.
    today : date, optional
        The current UTC day (default: now); data ends the day before.

    Raises
    ------
    QueryError
        A bad granularity, groupBy, ``since`` or ``trailing_days`` (before any request).
    """
    today = today or datetime.now(UTC).date()
    if isinstance(trailing_days, bool) or not isinstance(trailing_days, int) or not (
            0 <= trailing_days <= MAX_TRAILING_DAYS):
        raise QueryError(f"invalid trailing days {trailing_days!r}: expected 0 to "
                         f"{MAX_TRAILING_DAYS}")
    if since is not None and since >= today:
        raise QueryError(f"invalid since {since}: must be before today ({today}); usage data "
                         "ends yesterday")
    if since is not None and until is not None and until <= since:
        raise QueryError(f"invalid until {until}: must be after since ({since})")
    names = []
    for value in granularities:
        name = canonical(value, row.GRANULARITIES, "granularity")
        if name not in names:
            names.append(name)
    if not names:
        raise QueryError(f"no granularity to sync: give any of {', '.join(row.GRANULARITIES)}")
    stop = min(until, today) if until is not None else today
    return [_plan_one(dataset, name, tuple(group_by), since, trailing_days, api, stop, today)
            for name in names]


def run_sync(dataset: Dataset, client: UsageClient, steps: Sequence[SyncStep], *,
             progress: bool | None = None) -> list[SyncSummary]:
    """Fetch and store each step's queries; count the HTTP requests each granularity made.

    Each query's rows are stored as they arrive (whole buckets, so a failure part-way keeps
    what was stored; a re-run fetches the rest). A query whose partition is damaged
    (:class:`~usagekit.exceptions.DamagedFileError`) is not stored, and the sync goes on
    with the others: its summary's ``damaged`` names the file.

    Returns
    -------
    list of SyncSummary
        One per step, in order.
    """
    sent = [0]

    def count(response: Any, *args: Any, **kwargs: Any) -> None:
        sent[0] += 1

    hooks = client.session.hooks.setdefault("response", [])
    hooks.append(count)
    summaries = []
    try:
        for step in steps:
            before, rows, damaged = sent[0], 0, []
            bar = tqdm(step.queries, desc=f"sync {step.granularity.lower()}", unit="query",
                       disable=None if progress is None else not progress, leave=False)
            for query in bar:
                result = client.fetch(query)
                data = result.ndjson()
                del result  # one month's answer held at a time
                try:
                    written = dataset.write(data, granularity=step.granularity,
                                            grouping=query.grouping, interval=query.interval)
                except DamagedFileError as exc:
                    damaged.append(str(exc))
                    continue
                finally:
                    del data
                rows += written.rows
            summaries.append(SyncSummary(step, rows=rows, requests=sent[0] - before,
                                         damaged=tuple(damaged)))
            _logger.info("sync %s", summaries[-1].line())
    finally:
        hooks.remove(count)
    return summaries


def _plan_one(dataset: Dataset, granularity: str, group_by: tuple[str, ...],
              since: date | None, trailing: int, api: str, stop: date,
              today: date) -> SyncStep:
    key = grouping_key(group_by)  # raises on an unknown groupBy name
    first, last = _stored_span(dataset, granularity.lower(), key, today)
    recent = today - timedelta(days=trailing)
    if last is None:
        start = since or today - timedelta(days=SYNC_LOOKBACK_DAYS)
        reason = f"first run, from {start}"
    else:
        bucket = _bucket_start(last, granularity)
        after = _bucket_end(bucket, granularity)
        resume = after if after <= today else bucket  # the stored last bucket is not complete
        start = min(resume, recent)
        reason = (f"after the last complete stored {granularity.lower()}, "
                  f"{trailing} trailing day{'' if trailing == 1 else 's'} again")
        if since is not None and first is not None and since < first:
            start = since
            reason = f"from {since}: the dataset holds nothing before {first}"
    start = _bucket_start(start, granularity)
    if start >= stop:
        return SyncStep(granularity, None, (), f"newest stored {last}")
    interval = Interval(midnight(start), midnight(stop)).aligned(granularity, today)
    queries = UsageQuery.build(interval, granularity, group_by, api=api, today=today).months()
    return SyncStep(granularity, interval, queries, reason)


def _stored_span(dataset: Dataset, gran: str, key: str,
                 today: date) -> tuple[date | None, date | None]:
    """The first and last stored bucket dates of one granularity and grouping.

    Only dates the Usage API can have produced count (:func:`usagekit.row.date_bounds`):
    a stored row dated 2100-01-01 or 1970-01-01 (stored before the kit refused such dates)
    would make the sync skip a gap for good or backfill for decades. They are ignored, with
    a warning naming them (``usagekit repair`` does not change dates; rewrite those buckets).
    It reads from each end only until it finds a date; a damaged partition is passed over
    (logged) for the next sound one, so the sync fetches its month again and reports it when
    storing.
    """
    floor, after = (pd.Timestamp(bound) for bound in row.date_bounds(today))
    parts = dataset.partitions(gran, key)
    trusted = [p for p in parts if f"{floor:%Y-%m}" <= p.period <= f"{after:%Y-%m}"]
    ignored = [p.period for p in parts if p not in trusted]
    found: list[date | None] = []
    for ordered, pick in ((trusted, min), (trusted[::-1], max)):
        found.append(None)
        for period, dates in _dates(dataset, ordered):
            inside = dates[(dates >= floor) & (dates < after)]
            if len(inside) < len(dates):
                ignored.append(f"{len(dates) - len(inside)} row(s) of {period}")
            if len(inside):
                found[-1] = pick(inside).date()
                break
    if ignored:
        _logger.warning(
            "sync %s/%s: ignoring stored dates the Usage API cannot have produced (before %s "
            "or after %s): %s; planning from the others", gran, key, row.FIRST_DAY,
            (after - pd.Timedelta(days=1)).date(), ", ".join(dict.fromkeys(ignored)))
    return found[0], found[1]


def _dates(dataset: Dataset, parts: Sequence[Any]) -> Iterator[tuple[str, Any]]:
    """Each partition's period and stored dates in turn, skipping damaged ones."""
    for part in parts:
        start = date.fromisoformat(f"{part.period}-01")
        end = _bucket_end(start, "Month")
        try:
            frame = dataset.read(part.granularity, part.grouping, start=start, end=end)
        except DamagedFileError as exc:
            _logger.warning("%s", exc)
            continue
        yield part.period, frame.loc[frame["period"] == part.period, "date"]


def _bucket_start(day: date, granularity: str) -> date:
    if granularity == "Week":
        return day - timedelta(days=day.weekday())
    if granularity == "Month":
        return day.replace(day=1)
    return day


def _bucket_end(start: date, granularity: str) -> date:
    if granularity == "Week":
        return start + timedelta(days=7)
    if granularity == "Month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)
