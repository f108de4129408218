"""Fair use over the month: the allowance used day by day, the projection, who causes it.

The steps after the SQL (one row per day and OAuth client) of ``fair_use``,
``fair_use_daily`` and ``overage_by_client``:

- **What counts.** Genesys's own clients (:func:`usagekit.analyses.licences.is_genesys_client`)
  count toward the fair-use figure only when the licences file says
  ``genesys_clients = "include"``; by default they are shown apart and left out (Genesys
  calls the aggregates API's data "all requests, not billing data", and the legacy API,
  aligned with billing, left them out).
- **The projection.** Days up to ``as_of`` are actual (a day without rows counts 0). Each
  remaining day of the month is projected from the month's own elapsed days with the same
  day of the week (else the same kind, weekday or weekend; else all elapsed days): their
  mean is the central projection, their minimum and maximum its range.
- **The day the allowance runs out.** The first day whose cumulative requests exceed the
  allowance, actual when it has happened, else on the central projection.
- **Who causes it.** The month's overage is attributed *pro rata to requests*: a client's
  share of the overage is its share of the month's counted requests. Genesys bills the
  month's total over the allowance, not the order in which requests came; attributing only
  the requests made after the allowance ran out would blame whoever happens to run late
  in the month (a month-end batch) and change with the calendar, while pro rata is stable,
  adds up per team, and answers "how much smaller would the bill be without this client".
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from usagekit.analyses.licences import LicenceBook, is_genesys_client
from usagekit.analyses.post import parse_timestamp
from usagekit.row import CLIENT_ID, CLIENT_NAME, DATE, REQUESTS

if TYPE_CHECKING:  # pandas loads on first use: `usagekit --help` stays fast
    import pandas as pd

#: ``overage_by_client``'s group of Genesys's own clients, and of every other client.
GENESYS_GROUP = "genesys"
CLIENT_GROUP = "client"
#: The team of a client the teams mapping does not name.
NO_TEAM = "(no team)"

MONTH_COLUMNS = ("month", REQUESTS, "genesys_requests", "days_elapsed", "days_in_month",
                 "complete", "projected_requests", "projected_low", "projected_high",
                 "allowance", "licences", "used_share", "projected_share", "overage",
                 "projected_overage", "runs_out", "runs_out_projected")
DAY_COLUMNS = (DATE, "kind", "day_requests", "low", "high", "cumulative", "cumulative_low",
               "cumulative_high", "allowance", "used_share")
CLIENT_COLUMNS = ("month", "group", "team", CLIENT_ID, CLIENT_NAME, REQUESTS, "counted",
                  "share", "overage", "overage_basis", "estimated_cost", "currency")


def _book(values: Mapping[str, Any]) -> LicenceBook | None:
    return values.get("licences") or None


def counted(frame: pd.DataFrame, book: LicenceBook | None) -> pd.Series:
    """Whether each row's client counts toward the fair-use figure."""
    genesys = frame[CLIENT_NAME].map(is_genesys_client).astype(bool)
    if book is not None and book.counts_genesys:
        return genesys | ~genesys
    return ~genesys


def _as_of(daily: pd.Series, values: Mapping[str, Any]) -> pd.Timestamp | None:
    if values.get("as_of"):
        return parse_timestamp(values["as_of"], "as_of").floor("D")
    return daily.index.max() if len(daily) else None


def _allowance(book: LicenceBook | None, month: pd.Timestamp,
               values: Mapping[str, Any]) -> tuple[int | None, str]:
    if book is None:
        return None, ""
    licences = book.for_org(values.get("org") or None)
    key = f"{month:%Y-%m}"
    return licences.allowance(key), licences.describe(key)


def project_month(daily: pd.Series, first: pd.Timestamp, as_of: pd.Timestamp,
                  allowance: int | None) -> pd.DataFrame:
    """One month day by day: actual to ``as_of``, projected after (see the module docs).

    Parameters
    ----------
    daily : Series
        Counted requests per UTC day (index: midnight timestamps) of this month.
    first : Timestamp
        The month's first day (UTC midnight).
    as_of : Timestamp
        The last actual day.
    allowance : int or None
        The month's allowance (None: unknown).

    Returns
    -------
    DataFrame
        :data:`DAY_COLUMNS`, one row per day of the month.
    """
    import pandas as pd

    days = pd.date_range(first, periods=calendar.monthrange(first.year, first.month)[1],
                         freq="D")
    elapsed = days[days <= as_of]
    seen = daily.reindex(elapsed, fill_value=0).astype("float64")
    rows = []
    for day in days:
        if day <= as_of:
            value = float(seen[day])
            rows.append((day, "actual", value, value, value))
            continue
        sample = seen[seen.index.day_of_week == day.day_of_week]
        if not len(sample):
            sample = seen[(seen.index.day_of_week >= 5) == (day.day_of_week >= 5)]
        if not len(sample):
            sample = seen
        rows.append((day, "projected", *(float(sample.agg(f)) if len(sample) else float("nan")
                                         for f in ("mean", "min", "max"))))
    out = pd.DataFrame(rows, columns=[DATE, "kind", "day_requests", "low", "high"])
    out["cumulative"] = out["day_requests"].cumsum()
    out["cumulative_low"] = out["low"].cumsum()
    out["cumulative_high"] = out["high"].cumsum()
    out["allowance"] = pd.array([allowance] * len(out), dtype="Int64")
    limit = out["allowance"].astype("float64")
    out["used_share"] = (out["cumulative"] / limit.where(limit > 0)).astype("float64")
    return out


def _daily(frame: pd.DataFrame, book: LicenceBook | None) -> tuple[pd.Series, pd.Series]:
    """Counted requests per day, and Genesys's own clients' requests per day."""
    day = frame[DATE].dt.tz_convert("UTC").dt.floor("D")
    ours = counted(frame, book)
    genesys = frame[CLIENT_NAME].map(is_genesys_client).astype(bool)
    total = frame[REQUESTS].where(ours, 0).groupby(day).sum()
    apart = frame[REQUESTS].where(genesys, 0).groupby(day).sum()
    return total, apart


def _months(frame: pd.DataFrame, values: Mapping[str, Any]
            ) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Per month: its summary row and its day-by-day frame."""
    import pandas as pd

    book = _book(values)
    daily, genesys = _daily(frame, book)
    as_of = _as_of(daily, values)
    out = []
    if as_of is None:
        return out
    for (year, month), part in daily.groupby([daily.index.year, daily.index.month]):
        first = pd.Timestamp(year=year, month=month, day=1, tz="UTC")
        if first > as_of:
            continue
        allowance, described = _allowance(book, first, values)
        days = project_month(part, first, as_of, allowance)
        actual = days[days["kind"] == "actual"]
        requests = int(actual["day_requests"].sum())
        over = days[days["cumulative"] > allowance] if allowance is not None else days[:0]
        runs_out = over[DATE].iloc[0] if len(over) else pd.NaT
        projected = float(days["day_requests"].sum())
        row = {
            "month": first, REQUESTS: requests,
            "genesys_requests": int(genesys[(genesys.index >= first)
                                            & (genesys.index <= min(as_of, days[DATE].max()))
                                            ].sum()),
            "days_elapsed": len(actual), "days_in_month": len(days),
            "complete": len(actual) == len(days), "projected_requests": projected,
            "projected_low": float(days["low"].sum()),
            "projected_high": float(days["high"].sum()),
            "allowance": allowance, "licences": described,
            "overage": None if allowance is None else max(0, requests - allowance),
            "projected_overage": None if allowance is None else max(0.0,
                                                                    projected - allowance),
            "runs_out": runs_out,
            "runs_out_projected": bool(len(over)) and over["kind"].iloc[0] == "projected",
        }
        out.append((row, days))
    return out


def fair_use_frame(frame: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    """Per month: counted requests, the allowance (NA when unknown), the projection with
    its range, the overage (actual and projected) and the day the allowance runs out."""
    import pandas as pd

    out = pd.DataFrame([row for row, _ in _months(frame, values)],
                       columns=list(MONTH_COLUMNS))
    limit = pd.to_numeric(out["allowance"], errors="coerce").astype("float64")
    share = limit.where(limit > 0)
    out["used_share"] = (out[REQUESTS] / share).astype("float64")
    out["projected_share"] = (out["projected_requests"] / share).astype("float64")
    out["runs_out"] = pd.to_datetime(out["runs_out"], utc=True)
    return out.astype({
        "month": "datetime64[us, UTC]", REQUESTS: "int64", "genesys_requests": "int64",
        "days_elapsed": "int64", "days_in_month": "int64", "complete": "bool",
        "projected_requests": "float64", "projected_low": "float64",
        "projected_high": "float64", "allowance": "Int64", "licences": "string",
        "overage": "Int64", "projected_overage": "float64",
        "runs_out": "datetime64[us, UTC]", "runs_out_projected": "bool"})


def fair_use_daily_frame(frame: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    """Day by day: requests (actual, then projected with a range), cumulative, allowance."""
    import pandas as pd

    parts = [days for _, days in _months(frame, values)]
    out = (pd.concat(parts, ignore_index=True) if parts
           else pd.DataFrame(columns=list(DAY_COLUMNS)))
    return out.astype({DATE: "datetime64[us, UTC]", "kind": "string", "day_requests": "float64",
                       "low": "float64", "high": "float64", "cumulative": "float64",
                       "cumulative_low": "float64", "cumulative_high": "float64",
                       "allowance": "Int64", "used_share": "float64"})


def overage_by_client_frame(frame: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    """Each client's (or team's) share of the month's counted requests and of its overage.

    The overage is the actual one for a complete month, the projected one (central) for
    the month in progress (``overage_basis``); unknown without licences. The estimated cost
    is the attributed overage times the licences file's ``price_per_request``, only when
    it gives one.
    """
    import pandas as pd

    book = _book(values)
    months = {row["month"]: row for row, _ in _months(frame, values)}
    as_of = _as_of(_daily(frame, book)[0], values)
    data = frame.assign(month=frame[DATE].dt.tz_convert(None).dt.to_period("M")
                        .dt.start_time.dt.tz_localize("UTC"))
    if as_of is not None:
        data = data[data[DATE].dt.tz_convert("UTC").dt.floor("D") <= as_of]
    data = data.assign(counted=counted(data, book).to_numpy(),
                       group=[GENESYS_GROUP if is_genesys_client(n) else CLIENT_GROUP
                              for n in data[CLIENT_NAME]])
    teams = book.teams if book is not None else {}
    data["team"] = data[CLIENT_ID].map(lambda c: teams.get(c, NO_TEAM))
    per_team = values.get("per") == "team"
    keys = ["month", "group", "team"] + ([] if per_team else [CLIENT_ID])
    sums = (data.groupby(keys, observed=True, dropna=False)
            .agg(**{REQUESTS: (REQUESTS, "sum"), "counted": ("counted", "all"),
                    CLIENT_NAME: (CLIENT_NAME, "max")})
            .reset_index())
    if per_team:
        sums[CLIENT_ID] = pd.NA
        sums[CLIENT_NAME] = pd.NA
    total = sums[REQUESTS].where(sums["counted"], 0).groupby(sums["month"]).transform("sum")
    sums["share"] = (sums[REQUESTS] / total.where(total > 0)).where(sums["counted"])

    def month_overage(month: pd.Timestamp) -> tuple[float, str]:
        row = months.get(month)
        if row is None or row["allowance"] is None:
            return float("nan"), ""
        if row["complete"]:
            return float(row["overage"]), "actual"
        return float(row["projected_overage"]), "projected"

    found = [month_overage(month) for month in sums["month"]]
    sums["overage"] = pd.Series([t[0] for t in found], index=sums.index,
                                dtype="float64") * sums["share"]
    sums["overage_basis"] = pd.Series([t[1] for t in found], index=sums.index, dtype="string")
    price = book.price_per_request if book is not None else None
    sums["estimated_cost"] = sums["overage"] * price if price is not None else float("nan")
    sums["currency"] = book.currency if book is not None and price is not None else ""
    sums = sums.sort_values(["month", "counted", REQUESTS], ascending=[True, False, False],
                            kind="stable")
    return sums.reindex(columns=list(CLIENT_COLUMNS)).astype({
        "month": "datetime64[us, UTC]", "group": "string", "team": "string",
        CLIENT_ID: "string", CLIENT_NAME: "string", REQUESTS: "int64", "counted": "bool",
        "share": "float64", "overage": "float64", "overage_basis": "string",
        "estimated_cost": "float64", "currency": "string"})
