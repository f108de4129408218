"""Evaluate the alert rules over the stored data, through an engine and the analyses.

The rules look at one organisation's rows (or, for a dataset without organisations' names,
every row) up to the *last complete day*: the newest stored day, or yesterday when newer
data would be today's (incomplete). :func:`evaluate` returns every alert that fires, each
with a stable ``key`` (so :mod:`usagekit.watch.state` can tell a new alert from one that
keeps firing) and one ``message`` line, the wording ``usagekit check`` prints and the
report's first screen shows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from usagekit import analyses
from usagekit.analyses.library import available_groupings, licence_book
from usagekit.engine import Engine
from usagekit.exceptions import ConfigError, EngineError
from usagekit.row import (
    CLIENT_ID,
    CLIENT_NAME,
    GRANULARITY,
    HTTP_METHOD,
    ORG,
    REQUESTS,
    STATUS429,
    TEMPLATE_URI,
    Org,
)
from usagekit.watch.rules import RULES, Rules

_logger = logging.getLogger(__name__)
_ALL = 1_000_000
#: Days looked back to tell since when a client is rate-limited.
SINCE_LOOKBACK_DAYS = 90


@dataclass(frozen=True)
class Alert:
    """One alert that fires.

    Attributes
    ----------
    rule : str
        The rule's name (a table of the rules file).
    key : str
        Stable while the same condition holds (``rule:subject``).
    message : str
        One line, as ``usagekit check`` prints it.
    details : dict
        The numbers behind the message (JSON-ready).
    """

    rule: str
    key: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rule, key, message, details."""
        return {"rule": self.rule, "key": self.key, "message": self.message,
                "details": self.details}


@dataclass(frozen=True)
class CheckResult:
    """What :func:`evaluate` found.

    Attributes
    ----------
    today : date
        The UTC day the check ran for.
    last_day : date or None
        The last complete stored day the rules looked at (None: no day data).
    alerts : tuple of Alert
        Firing alerts, in rule order.
    skipped : dict of str
        Enabled rules that could not run on this dataset, with the reason.
    org : Org or None
        The organisation whose rows were checked (None: every row).
    """

    today: date
    last_day: date | None
    alerts: tuple[Alert, ...]
    skipped: dict[str, str]
    org: Org | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``usagekit check --json``), the org as an ``org`` object."""
        return {"org": org_dict(self.org), "today": str(self.today),
                "last_day": str(self.last_day) if self.last_day else None,
                "firing": len(self.alerts), "alerts": [a.to_dict() for a in self.alerts],
                "skipped": self.skipped}


def org_dict(org: Org | None) -> dict[str, Any] | None:
    """``org`` JSON-ready: id, name, region, fictional (None stays None)."""
    if org is None:
        return None
    return {"id": org.id, "name": org.name, "region": org.region, "fictional": org.fictional}


def evaluate(engine: Engine, rules: Rules | None = None, *, today: date | None = None,
             org: Org | None = None) -> CheckResult:
    """Run every enabled rule over the data ``engine`` reads (``org``'s rows only).

    Parameters
    ----------
    engine : Engine
        DuckDB over the dataset, or Athena.
    rules : Rules, optional
        Default: :class:`~usagekit.watch.rules.Rules` defaults.
    today : date, optional
        The current UTC day (default: now).
    org : Org, optional
        The organisation whose rows are checked (default: every row).

    Returns
    -------
    CheckResult

    Raises
    ------
    EngineError
        The engine failed (not: a rule lacks the grouping it needs; that rule is skipped).
    """
    rules = rules or Rules()
    today = today or datetime.now(UTC).date()
    org_id = org.id if org is not None else None
    newest = newest_day(engine, org_id)
    last = min(newest, today - timedelta(days=1)) if newest else None
    alerts: list[Alert] = []
    skipped: dict[str, str] = {}
    for rule in RULES:
        if not rules.enabled(rule):
            continue
        if rule == "stale":
            alerts += _stale(newest, today, rules[rule])
            continue
        if last is None:
            skipped[rule] = "no day data stored"
            continue
        try:
            alerts += _EVALUATORS[rule](engine, last, {**rules[rule], "org": org_id})
        except ConfigError as exc:  # e.g. no stored grouping holds the columns
            skipped[rule] = str(exc)
            _logger.warning("rule %s skipped: %s", rule, exc)
    return CheckResult(today=today, last_day=last, alerts=tuple(alerts), skipped=skipped,
                       org=org)


def newest_day(engine: Engine, org: str | None = None) -> date | None:
    """The newest stored day-bucket date (of ``org``'s rows, an id), or None when no day
    rows are stored."""
    where, params = "WHERE granularity = ?", ["day"]
    if org is not None:
        where, params = where + f" AND {ORG} = ?", ["day", org]
    try:
        frame = engine.sql(f'SELECT max("date") AS newest FROM {engine.source} {where}',
                           params)
    except EngineError:
        if available_groupings(engine, "day", org):
            raise
        return None
    value = frame.iloc[0, 0] if len(frame) else None
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def _name(row: Any) -> str:
    name = row[CLIENT_NAME] if isinstance(row[CLIENT_NAME], str) and row[CLIENT_NAME] else ""
    return f"{name} ({row['clientId']})" if name else str(row[CLIENT_ID])


def _day_span(day: date, days: int = 1) -> dict[str, str]:
    return {"start": str(day - timedelta(days=days - 1)), "end": str(day + timedelta(days=1))}


def _rate_limited(engine: Engine, last: date, opts: dict[str, Any]) -> list[Alert]:
    history = analyses.rate_429_over_time(engine, org=opts["org"], granularity="day", top=_ALL,
                                          **_day_span(last, SINCE_LOOKBACK_DAYS))
    if history.empty:
        return []
    history = history.assign(day=history["date"].dt.date)
    first_day = min(history["day"])
    today_rows = history[history["day"] == last]
    alerts = []
    for _, row in today_rows.sort_values([STATUS429, CLIENT_ID],
                                         ascending=[False, True]).iterrows():
        count, requests = int(row[STATUS429]), int(row[REQUESTS])
        rate = count / requests if requests else 0.0
        if count == 0 or (count < opts["count"] and rate < opts["rate"]):
            continue
        limited = set(history.loc[(history["clientId"] == row[CLIENT_ID])
                                  & (history["status429"] > 0), "day"])
        since = last
        while since - timedelta(days=1) in limited:
            since -= timedelta(days=1)
        run = (last - since).days + 1
        if run == 1:
            before = [d for d in limited if d < last]
            when = "its first day with 429s" + (f" since {max(before)}" if before
                                                else f" in {SINCE_LOOKBACK_DAYS} days")
        elif since == first_day:
            when = f"rate-limited every day since at least {since} ({run} days: all looked at)"
        else:
            when = f"rate-limited every day since {since} ({run} days)"
        alerts.append(Alert(
            "rate_limited", f"rate_limited:{row['clientId']}",
            f"{_name(row)} got {count:,} 429s on {last} ({rate:.1%} of {requests:,} "
            f"requests): {when}",
            {CLIENT_ID: row[CLIENT_ID], CLIENT_NAME: row[CLIENT_NAME], "day": str(last),
             STATUS429: count, REQUESTS: requests, "rate429": rate, "since": str(since),
             "days": run}))
    return alerts


def _spike(engine: Engine, last: date, opts: dict[str, Any]) -> list[Alert]:
    found = analyses.spikes(engine, org=opts["org"], granularity="day", metric="status429",
                            window=opts["window"], k=opts["k"], min_value=opts["min_value"],
                            **_day_span(last, opts["window"] + 1))
    alerts = []
    for _, row in found[found["date"].dt.date == last].iterrows():
        value, mean, sd = int(row["value"]), float(row["baseline_mean"]), float(
            row["baseline_sd"])
        alerts.append(Alert(
            "spike", f"spike:{row['clientId']}:{last}",
            f"{_name(row)}: new 429 spike on {last}: {value:,} against {mean:,.1f} ± "
            f"{sd:,.1f} a day over the previous {opts['window']} days",
            {CLIENT_ID: row[CLIENT_ID], CLIENT_NAME: row[CLIENT_NAME], "day": str(last),
             STATUS429: value, "baseline_mean": mean, "baseline_sd": sd}))
    return alerts


def _fair_use(engine: Engine, last: date, opts: dict[str, Any]) -> list[Alert]:
    if not opts["licences"]:
        raise ConfigError("no licences, so the fair-use allowance is unknown: give the org's "
                          "licences file with --licences FILE (or licences = \"FILE\" in "
                          "[fair_use] of the rules file)")
    licences = licence_book(opts["licences"])
    month = last.replace(day=1)
    span: dict[str, Any] = {GRANULARITY: "day", ORG: opts["org"], "licences": licences,
                            "as_of": str(last), "start": str(month),
                            "end": str(last + timedelta(days=1))}
    frame = analyses.fair_use(engine, **span)
    if frame.empty:
        return []
    row = frame.iloc[-1]
    share = float(row["projected_share"])
    if pd.isna(share) or share < opts["share"]:
        return []
    projected, allowance = float(row["projected_requests"]), int(row["allowance"])
    requests = int(row[REQUESTS])
    if bool(row["complete"]):
        text = (f"{month:%B %Y} used {requests:,} requests, {share:.0%} of the fair-use "
                f"allowance {allowance:,}")
    else:
        text = (f"{month:%B %Y} month-end projection {projected:,.0f} requests "
                f"({float(row['projected_low']):,.0f} to {float(row['projected_high']):,.0f})"
                f" is {share:.0%} of the fair-use allowance {allowance:,} ({requests:,} to "
                f"{last})")
    if not pd.isna(row["runs_out"]):
        text += (f"; runs out {row['runs_out']:%Y-%m-%d}"
                 + (" (projected)" if row["runs_out_projected"] else ""))
    clients = analyses.overage_by_client(engine, **span)
    top = clients[clients["counted"]].nlargest(opts["top"], REQUESTS)
    names = [f"{_name(r)} {float(r['share']):.0%}" for _, r in top.iterrows()]
    if names:
        text += f"; top contributors: {', '.join(names)}"
    return [Alert(
        "fair_use", f"fair_use:{month:%Y-%m}",
        f"{text}; licences {row['licences']}, alert at {opts['share']:.0%}",
        {"month": f"{month:%Y-%m}", REQUESTS: requests, "complete": bool(row["complete"]),
         "projected_requests": projected, "projected_low": float(row["projected_low"]),
         "projected_high": float(row["projected_high"]), "allowance": allowance,
         "projected_share": share,
         "runs_out": None if pd.isna(row["runs_out"]) else f"{row['runs_out']:%Y-%m-%d}",
         "top_contributors": [{CLIENT_ID: r[CLIENT_ID], CLIENT_NAME: r[CLIENT_NAME],
                               "share": float(r["share"])} for _, r in top.iterrows()]})]


def _endpoint_errors(engine: Engine, last: date, opts: dict[str, Any]) -> list[Alert]:
    frame = analyses.error_rate_by_endpoint(engine, org=opts["org"], limit=_ALL,
                                            min_requests=opts["min_requests"], **_day_span(last))
    alerts = []
    for _, row in frame[frame["error_rate"] >= opts["rate"]].iterrows():
        endpoint = f"{row['httpMethod']} {row['templateUri']}"
        alerts.append(Alert(
            "endpoint_errors", f"endpoint_errors:{endpoint}",
            f"{endpoint}: {float(row['error_rate']):.1%} errors on {last} "
            f"({int(row['errors']):,} of {int(row['requests']):,} requests, "
            f"{int(row['status429']):,} of them 429s)",
            {HTTP_METHOD: row[HTTP_METHOD], TEMPLATE_URI: row[TEMPLATE_URI],
             "day": str(last), REQUESTS: int(row[REQUESTS]), "errors": int(row["errors"]),
             "error_rate": float(row["error_rate"]), STATUS429: int(row[STATUS429])}))
    return alerts


def _client_changes(engine: Engine, last: date, opts: dict[str, Any]) -> list[Alert]:
    after = last + timedelta(days=1)
    week_end = after - timedelta(days=after.weekday())
    week = week_end - timedelta(days=7)
    frame = analyses.client_changes(engine, org=opts["org"], granularity="week",
                                    factor=opts["factor"],
                                    min_requests=opts["min_requests"],
                                    start=str(week - timedelta(days=7)), end=str(week_end))
    frame = frame[(frame["date"].dt.date == week) & frame["change"].isin(opts["kinds"])]
    alerts = []
    for _, row in frame.iterrows():
        now, before = int(row[REQUESTS]), int(row["previous_requests"])
        alerts.append(Alert(
            "client_changes", f"client_changes:{row['clientId']}:{row['change']}:{week}",
            f"{_name(row)} {row['change']} in the week from {week}: {now:,} requests "
            f"against {before:,} the week before",
            {CLIENT_ID: row[CLIENT_ID], CLIENT_NAME: row[CLIENT_NAME],
             "change": row["change"], "week": str(week), REQUESTS: now,
             "previous_requests": before}))
    return alerts


def _stale(newest: date | None, today: date, opts: dict[str, Any]) -> list[Alert]:
    if newest is None:
        return [Alert("stale", "stale", "no day rows are stored: run `usagekit sync`",
                      {"newest": None, "today": str(today)})]
    age = (today - newest).days
    if age <= opts["max_age_days"]:
        return []
    return [Alert("stale", "stale",
                  f"the newest stored day is {newest}, {age} days before today "
                  f"({today}; expected at most {opts['max_age_days']}): is the sync running?",
                  {"newest": str(newest), "today": str(today), "age_days": age})]


_EVALUATORS = {"rate_limited": _rate_limited, "spike": _spike, "fair_use": _fair_use,
               "endpoint_errors": _endpoint_errors, "client_changes": _client_changes}
