"""Partition planning: the Hive layout's paths, whole buckets, months and interval bounds."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, NamedTuple

import pandas as pd

from usagekit.dataset.schema import FILE_STEM, LEGACY_DATA_FILE, SUFFIXES
from usagekit.exceptions import DatasetError, InvalidRowsError
from usagekit.frame import (
    granularity_value,
)
from usagekit.query import Interval
from usagekit.row import LEGACY_PARTITION_KEYS, ORG, PARTITION_KEYS


class Partition(NamedTuple):
    """One partition of the dataset: its values of :data:`~usagekit.row.PARTITION_KEYS`."""

    org: str
    granularity: str
    grouping: str
    period: str

    @property
    def path(self) -> str:
        """The partition's folder, relative to the dataset root."""
        return "/".join(f"{key}={value}" for key, value in zip(PARTITION_KEYS, self, strict=True))

    @property
    def legacy_path(self) -> str:
        """Where the partition lay before organisations (without its ``org=`` folder)."""
        return self.path.split("/", 1)[1]


def covering_interval(dates: pd.Series, granularity: str) -> Interval:
    """The interval of whole buckets covering ``dates``: [earliest, end of the latest bucket).

    The end is the latest date + 1 day (day), + 7 days (week), or the 1st of the next
    month (month).
    """
    gran = granularity_value(granularity)
    if dates.empty or not gran:
        raise InvalidRowsError("no dated rows of day, week or month to derive an interval from")
    first = bucket_start(pd.Timestamp(dates.min()), gran)
    last = bucket_start(pd.Timestamp(dates.max()), gran)
    step = (pd.offsets.MonthBegin(1) if gran == "month"
            else pd.Timedelta(days=7 if gran == "week" else 1))
    return Interval(first.to_pydatetime(), (last + step).to_pydatetime())


def bucket_start(moment: pd.Timestamp, granularity: str) -> pd.Timestamp:
    """The start of the ``granularity`` bucket holding ``moment`` (UTC; weeks start Monday)."""
    day = moment.tz_convert("UTC").floor("D")
    if granularity == "week":
        return day - pd.Timedelta(days=day.day_of_week)
    if granularity == "month":
        return day.replace(day=1)
    return day


def partition_of(rel: str, org: str | None = None) -> Partition | None:
    """The partition holding the file ``rel``; None outside the layout.

    With ``org``: ``rel`` in the layout before organisations, read as that org's.
    """
    parts = rel.split("/")
    keys = list(PARTITION_KEYS) if org is None else list(LEGACY_PARTITION_KEYS)
    if len(parts) != len(keys) + 1:
        return None
    values = [] if org is None else [org]
    for text, name in zip(parts[:-1], keys, strict=True):
        prefix = f"{name}="
        if not text.startswith(prefix):
            return None
        values.append(text[len(prefix):])
    return Partition(*values)


def legacy_files(files: Iterable[str]) -> list[str]:
    """The data files among ``files`` laid out before organisations (``granularity=…`` at
    the root), sorted."""
    return sorted(rel for rel in files if LEGACY_DATA_FILE.fullmatch(rel))


def org_folder(org_id: str) -> str:
    """An organisation's folder, relative to the dataset root."""
    return f"{ORG}={org_id}"


def is_data_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return not name.startswith((".", "_")) and name.endswith(tuple(SUFFIXES.values()))


def file_rel(part: Partition, fmt: str) -> str:
    return f"{part.path}/{FILE_STEM}{SUFFIXES[fmt]}"


def check_partition_files(files: list[str], part: Partition, rel: str, location: str) -> None:
    prefix = part.path + "/"
    for other in files:
        if other.startswith(prefix) and other != rel and is_data_file(other):
            raise DatasetError(
                f"unexpected file {other} in partition {part.path} of {location}: the dataset "
                f"keeps one {FILE_STEM}{SUFFIXES['ndjson']}|{SUFFIXES['parquet']} per partition; "
                "move that file away (its rows would be counted twice), then export again"
            )


def cut_buckets(span: Interval, gran: str, lo: pd.Timestamp, hi: pd.Timestamp
                 ) -> frozenset[pd.Timestamp]:
    """Week/month buckets the interval covers only in part (at its start or its end).

    A bucket still in progress (the interval reaches today, UTC) is not cut at its end:
    the API has no later data for it yet.
    """
    if gran == "day":
        return frozenset()
    cut = set()
    if pd.Timestamp(span.start) > lo:
        cut.add(lo)
    last = bucket_start(hi - pd.Timedelta(microseconds=1), gran)
    today = pd.Timestamp.now(tz="UTC").normalize()
    if bucket_start(hi, gran) != hi and hi < today:
        cut.add(last)
    return frozenset(cut)


def month_periods(lo: pd.Timestamp, hi: pd.Timestamp) -> list[str]:
    last = hi - pd.Timedelta(microseconds=1)
    year, month = lo.year, lo.month
    out = []
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def bound(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DatasetError(
            f"invalid bound {value!r}: expected a date or ISO-8601 timestamp like '2021-01-12'"
        ) from exc
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def period_overlaps(period: str, lo: pd.Timestamp | None, hi: pd.Timestamp | None) -> bool:
    first = pd.Timestamp(f"{period}-01", tz="UTC")
    after = first + pd.offsets.MonthBegin(1)
    return (lo is None or after > lo) and (hi is None or first < hi)
