"""Half-open UTC intervals in ISO-8601 forms (start/end, durations, a month, a day)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from usagekit import row
from usagekit.exceptions import QueryError

_DATE = r"(?P<y>\d{4})-(?P<m>\d{2})(?:-(?P<d>\d{2}))?"
_TIME = r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,6})\d*)?)?)?"
_ZONE = r"(?P<z>Z|[+-]\d{2}:?\d{2})?"
_POINT = re.compile(_DATE + _TIME + _ZONE)
_DURATION = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<Mo>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<H>\d+)H)?(?:(?P<Mi>\d+)M)?(?:(?P<S>\d+)S)?)?"
)
_FORMS = (
    "'2021-01/2021-02', '2021-01-25/2021-03-10', "
    "'2021-01-25T00:00:00Z/2021-01-26T12:00:00+02:00', or a start with a duration "
    "('2021-01-01/P1M')"
)


@dataclass(frozen=True)
class Interval:
    """A half-open UTC interval ``[start, end)``.

    Attributes
    ----------
    start, end : datetime
        Timezone-aware, in UTC; ``start < end``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise QueryError(f"interval {name} {value!r} must be a timezone-aware datetime")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.start >= self.end:
            raise QueryError(
                f"interval start {_iso(self.start)} must be before its end {_iso(self.end)}"
            )

    @property
    def text(self) -> str:
        """ISO-8601 ``start/end`` with UTC times, as the legacy API takes it."""
        return f"{_iso(self.start)}/{_iso(self.end)}"

    @property
    def whole_days(self) -> bool:
        """True when both ends fall on midnight UTC."""
        return all(_is_midnight(t) for t in (self.start, self.end))

    @property
    def days(self) -> int:
        """Number of (possibly partial) UTC days the interval touches."""
        first = self.start.date()
        last = (self.end - timedelta(microseconds=1)).date()
        return (last - first).days + 1

    def aligned(self, granularity: str | None, today: date | None = None) -> Interval:
        """The smallest interval of whole ``granularity`` buckets that covers this one.

        The start moves back to its bucket's first day (Monday for Week, the 1st for
        Month); the end moves forward to the next bucket boundary, but never past
        ``today`` (UTC midnight, default the current UTC date), since usage data ends
        yesterday. Fetching and storing aligned intervals keeps week and month buckets
        whole. ``Day`` (or no granularity) aligns to whole days.

        Examples
        --------
        >>> parse_interval("2026-11-04/2026-11-12").aligned("Week", date(2026, 11, 27)).text
        '2026-11-02T00:00:00Z/2026-11-16T00:00:00Z'
        """
        unit = canonical(granularity, row.GRANULARITIES, "granularity") if granularity else "Day"
        first = self.start.date()
        last = (self.end - timedelta(microseconds=1)).date()
        if unit == "Week":
            first -= timedelta(days=first.weekday())
            after = last + timedelta(days=7 - last.weekday())
        elif unit == "Month":
            first = first.replace(day=1)
            after = (last.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            after = last + timedelta(days=1)
        ceiling = midnight(today or datetime.now(UTC).date())
        end = min(midnight(after), max(ceiling, self.end))
        return Interval(midnight(first), end)

    def __str__(self) -> str:
        return self.text


def parse_interval(text: str | Interval) -> Interval:
    """Parse an ISO-8601 interval in any form the usage API accepts.

    Parameters
    ----------
    text : str or Interval
        ``start/end`` where each end is a month (``2021-01``), a date (``2021-01-25``)
        or a datetime (``2021-01-25T10:00:00Z``, ``...+02:00``; no offset means UTC);
        one end may be an ISO duration (``P1M``, ``P7D``, ``PT12H``). Forms may be mixed.

    Returns
    -------
    Interval

    Raises
    ------
    QueryError
        On any other text, or when start is not before end.

    Examples
    --------
    >>> parse_interval("2021-01/2021-02").text
    '2021-01-01T00:00:00Z/2021-02-01T00:00:00Z'
    """
    if isinstance(text, Interval):
        return text
    if not isinstance(text, str) or text.count("/") != 1:
        raise QueryError(f"invalid interval {text!r}: expected start/end, e.g. {_FORMS}")
    left, right = (part.strip() for part in text.split("/"))
    if left.startswith("P") and right.startswith("P"):
        raise QueryError(f"invalid interval {text!r}: only one end may be a duration")
    if left.startswith("P"):
        end = _parse_point(right, text)
        return Interval(_shift(end, _parse_duration(left, text), -1), end)
    start = _parse_point(left, text)
    if right.startswith("P"):
        return Interval(start, _shift(start, _parse_duration(right, text), +1))
    return Interval(start, _parse_point(right, text))


# --- helpers -------------------------------------------------------------------------
def _iso(value: datetime) -> str:
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _is_midnight(value: datetime) -> bool:
    return value.hour == value.minute == value.second == value.microsecond == 0


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _parse_point(text: str, whole: str) -> datetime:
    match = _POINT.fullmatch(text)
    if not match:
        raise QueryError(f"invalid interval {whole!r}: cannot read {text!r}; use e.g. {_FORMS}")
    g = match.groupdict()
    if g["d"] is None and (g["H"] is not None or g["z"] is not None):
        raise QueryError(f"invalid interval {whole!r}: {text!r} has a time but no day")
    try:
        naive = datetime(int(g["y"]), int(g["m"]), int(g["d"] or 1), int(g["H"] or 0),
                         int(g["M"] or 0), int(g["S"] or 0), int((g["f"] or "0").ljust(6, "0")))
    except ValueError as exc:
        raise QueryError(f"invalid interval {whole!r}: {text!r} is not a date ({exc})") from exc
    zone = g["z"]
    if zone in (None, "Z"):
        return naive.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (naive - sign * offset).replace(tzinfo=UTC)


def _parse_duration(text: str, whole: str) -> dict[str, int]:
    match = _DURATION.fullmatch(text)
    parts = {k: int(v) for k, v in (match.groupdict() if match else {}).items() if v}
    if not parts:
        raise QueryError(f"invalid interval {whole!r}: cannot read duration {text!r} "
                         "(e.g. P1M, P7D, P1W, PT12H)")
    return parts


def _shift(point: datetime, parts: dict[str, int], sign: int) -> datetime:
    months = sign * (12 * parts.get("Y", 0) + parts.get("Mo", 0))
    if months:
        index = point.year * 12 + point.month - 1 + months
        year, month = divmod(index, 12)
        point = point.replace(year=year, month=month + 1, day=min(point.day, _month_days(
            year, month + 1)))
    return point + sign * timedelta(weeks=parts.get("W", 0), days=parts.get("D", 0),
                                    hours=parts.get("H", 0), minutes=parts.get("Mi", 0),
                                    seconds=parts.get("S", 0))


def _month_days(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def canonical(value: Any, valid: Sequence[str], what: str) -> str:
    if isinstance(value, str):
        wanted = value.strip().lower()
        for name in valid:
            if name.lower() == wanted:
                return name
    raise QueryError(f"invalid {what} {value!r}: valid values are {', '.join(valid)}")
