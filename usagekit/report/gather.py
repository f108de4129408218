"""Gather the report's data: refresh the dataset, run the analyses, sum up the key numbers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from usagekit import analyses, charts, watch
from usagekit.analyses.library import COUNT_ORDER, check_grouping
from usagekit.analyses.licences import LicenceBook, billed_licences, load_licences
from usagekit.charts.figures import status_counts
from usagekit.charts.palette import OTHER
from usagekit.charts.tables import client_labels
from usagekit.config.settings import REPORT_GROUP_BY, REPORT_TITLE, is_s3
from usagekit.dataset import open_dataset
from usagekit.embedded import connect
from usagekit.engine import open_engine
from usagekit.exceptions import (
    ApiError,
    ConfigError,
    DamagedFileError,
    EngineError,
    MissingCountsError,
)
from usagekit.fetch.billing import billable_usage
from usagekit.query import Interval
from usagekit.report.artefacts import ISO, iso
from usagekit.report.params import NotebookParams
from usagekit.row import (
    CLIENT_ID,
    CLIENT_NAME,
    DATE,
    HTTP_METHOD,
    ORG,
    REQUESTS,
    STATUS429,
    TEMPLATE_URI,
    Org,
)
from usagekit.watch.check import org_dict

_logger = logging.getLogger(__name__)


_ALL_CLIENTS = 1_000_000
_MIN_ENDPOINT_REQUESTS = 50


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, gathered once by :func:`collect`.

    Attributes
    ----------
    params : NotebookParams
        The validated parameters.
    made_at : datetime
        When the data was gathered (UTC).
    source : dict
        ``api`` (``sandbox``, ``genesys:<region>`` or ``not refreshed``), ``dataset``
        (``local <folder>`` / ``S3 <url>``), ``engine`` (``DuckDB`` / ``Athena ...``).
    frames : dict of DataFrame
        Analysis results by name (see :func:`collect`).
    missing : dict of str
        Analyses that could not run on this dataset, with the reason.
    palette : charts.Palette
        Client colours shared by every chart (ranked by 429s).
    alerts : watch.CheckResult or None
        The alert rules evaluated as ``usagekit check`` does (the report's licences for
        fair use); None when they could not run (see ``missing``).
    org : Org or None
        The organisation the report covers (:func:`report_org`); None: a dataset that
        names no organisation (every row).
    overview : DataFrame or None
        When the dataset holds several orgs, one row per org (:func:`overview`).
    licences : str
        Where the fair-use licences came from: ``file <path>``, ``billing`` (Genesys's
        billable-usage report) or ``unknown`` (with the reason after a colon).
    """

    params: NotebookParams
    made_at: datetime
    source: dict[str, str]
    frames: dict[str, pd.DataFrame]
    missing: dict[str, str]
    palette: charts.Palette
    alerts: watch.CheckResult | None = None
    org: Org | None = None
    overview: pd.DataFrame | None = None
    licences: str = "unknown"

    def frame(self, name: str) -> pd.DataFrame:
        """The analysis frame ``name`` (empty when it could not run)."""
        return self.frames.get(name, pd.DataFrame())

    def summary(self) -> dict[str, Any]:
        """The report's key numbers, JSON-ready (``summary.json``)."""
        return _summary(self)


def refresh(params: NotebookParams, env: Mapping[str, str] | None = None
            ) -> tuple[str, Org]:
    """Sync what the report needs into the dataset; return the API source and the org
    (see :func:`_refresh`)."""
    source, _, org, _, _ = _refresh(params, env, billing=False)
    return source, org


def _refresh(params: NotebookParams, env: Mapping[str, str] | None, *, billing: bool
             ) -> tuple[str, str, Org, LicenceBook | None, str]:
    """Sync what the report needs into the dataset; return the API source and the org.

    Syncs (:func:`usagekit.watch.plan_sync`) ``Day``, ``Week`` and ``Month`` rows grouped
    by :data:`REPORT_GROUP_BY` up to the interval's end: days from the interval start (or
    the first of its last month, for the fair-use projection), weeks and months from the
    interval start, whole buckets only. Only what is missing after the last stored
    complete bucket is fetched, plus the trailing days again; a first run fetches it all.

    Parameters
    ----------
    params : NotebookParams
        Validated report parameters.
    env : Mapping, optional
        Environment for :func:`usagekit.embedded.connect` (default ``os.environ``).

    With ``billing``, also asks Genesys's billable-usage report for the licences of the
    interval's last month (:func:`_billed`).

    Returns
    -------
    tuple
        ``sandbox`` or ``genesys:<region>``; the connection in one line (its source and
        org, ``client.source_line``); the organisation connected to; the billed
        licences or None; where the licences came from (``billing`` or ``unknown: <why>``).

    Raises
    ------
    ConfigError
        The ``org`` parameter names another org than the one the settings connect to
        (before anything is fetched).
    """
    iv = params.interval
    day_start = min(iv.start, _month_start(iv.end - timedelta(microseconds=1)))
    until = (iv.end - timedelta(microseconds=1)).date() + timedelta(days=1)
    with connect(env, profile=params.profile or None) as client:
        org = client.organization()
        chosen = params.values.get(ORG)
        if chosen is not None and chosen.id != org.id:
            raise ConfigError(
                f"org {chosen.label} was asked for, but the Genesys Cloud settings connect to "
                f"{org.label}: set that org's credentials (GENESYSCLOUD_* or --profile), or "
                "report on the stored rows without refreshing (--no-refresh)")
        # before any usage is fetched: a real org's dataset refuses the sandbox's rows
        dataset = open_dataset(params.dataset, org=org)
        steps = [step for granularity, since in (("Day", day_start), ("Week", iv.start),
                                                 ("Month", iv.start))
                 for step in watch.plan_sync(dataset, granularities=[granularity],
                                             group_by=REPORT_GROUP_BY, since=since.date(),
                                             until=until)]
        summaries = watch.run_sync(dataset, client, steps)
        for summary in summaries:
            _logger.info("refreshed %s", summary.line())
        damaged = [problem for summary in summaries for problem in summary.damaged]
        if damaged:  # the sound partitions were stored; the report cannot read the others
            raise DamagedFileError(" | ".join(damaged))
        book, origin = _billed(client, iv) if billing else (None, "unknown")
        return str(client.source), client.source_line, org, book, origin


def report_org(params: NotebookParams, connected: Org | None = None,
               held: list[Org] | None = None) -> Org | None:
    """The one organisation a report (or explorer) covers.

    The ``org`` parameter's, else the org the refresh connected to, else the dataset's
    only org; None when the dataset names none.

    Parameters
    ----------
    params : NotebookParams
        Validated parameters (``org`` resolved among the dataset's orgs).
    connected : Org, optional
        The org the refresh connected to.
    held : list of Org, optional
        The dataset's orgs (default: read from ``params.dataset``).

    Raises
    ------
    ConfigError
        The dataset holds several orgs and nothing chose one, naming them.
    """
    chosen = params.values.get(ORG)
    if chosen is not None:
        return chosen
    if connected is not None:
        return connected
    held = open_dataset(params.dataset).orgs() if held is None else held
    if len(held) <= 1:
        return held[0] if held else None
    raise ConfigError(
        f"the dataset at {params.dataset} holds {len(held)} organisations: "
        f"{', '.join(org.label for org in held)}; say which one to cover: --org NAME|ID "
        "(usagekit report) or the org parameter (a name, id or short id)")


def _billed(client: Any, iv: Interval) -> tuple[LicenceBook | None, str]:
    """The licences Genesys billed for the interval's last month, or None and why not."""
    start = _month_start(iv.end - timedelta(microseconds=1))
    try:
        found = billable_usage(client, start, min(iv.end, datetime.now(UTC)))
    except ApiError as exc:
        _logger.warning("licences from the billing API unavailable: %s", exc)
        why = ("the OAuth client may not read billing data" if exc.status == 403
               else f"the billing API failed ({exc})")
        return None, f"unknown: {why}"
    book, left_out = billed_licences(found.usages, "Genesys's billable-usage report")
    if left_out:
        _logger.info("billed products without an API allowance: %s", ", ".join(left_out))
    return (book, "billing") if book else (None, "unknown: no billed licence has an API "
                                                 "allowance")


def collect(params: NotebookParams, *, env: Mapping[str, str] | None = None,
            now: datetime | None = None) -> ReportData:
    """Refresh (when ``params.refresh``) and run every analysis the report shows.

    Frames (by name): ``series`` (requests over time at the report's granularity),
    ``daily`` (per day, for the totals), ``weekly`` (requests per complete week),
    ``status_mix``, ``top_429`` (top clients by 429s), ``rate_429`` (429s per client
    and period, every client with 429s),
    ``endpoints`` (error rate by endpoint), ``methods``, ``changes`` (week over week),
    ``spikes`` (429 spikes against each client's baseline), ``fair_use`` (per month,
    against the licences' allowance; unknown without them), ``fair_use_daily`` and
    ``overage_by_client``.

    Parameters
    ----------
    params : NotebookParams
        Validated report parameters.
    env : Mapping, optional
        Environment for the refresh (default ``os.environ``).
    now : datetime, optional
        The time stamped on the report (default: now, UTC).

    Returns
    -------
    ReportData
    """
    made_at = (now or datetime.now(UTC)).astimezone(UTC)
    licences: LicenceBook | None = load_licences(params.licences) if params.licences else None
    origin = f"file {params.licences}" if licences else "unknown"
    api, line, connected = "not refreshed", "not refreshed", None
    if params.refresh:
        api, line, connected, billed, found = _refresh(params, env, billing=licences is None)
        if licences is None:
            licences, origin = billed, found
    held = open_dataset(params.dataset).orgs()
    org = report_org(params, connected, held)
    kind = "S3" if is_s3(params.dataset) else "local"
    engine = open_engine(params.engine, params.dataset)
    source = {"api": api, "dataset": f"{kind} {params.dataset}", "engine": _engine_name(engine),
              "connection": line}
    grouping = check_grouping("-".join(
        g.lower() for g in REPORT_GROUP_BY)) if params.refresh else None
    frames: dict[str, pd.DataFrame] = {}
    missing: dict[str, str] = {}
    for name, run in _plan(params, grouping, org, licences).items():
        try:
            frames[name] = run(engine)
        except (ConfigError, EngineError, MissingCountsError) as exc:
            missing[name] = str(exc)
            _logger.warning("analysis %s unavailable: %s", name, exc)
    ranked = frames.get("top_429", pd.DataFrame(columns=[CLIENT_ID, CLIENT_NAME]))
    palette = charts.Palette.from_ranking(client_labels(ranked), top_n=params.top_n)
    rules = watch.Rules().with_licences(licences)
    try:
        alerts: watch.CheckResult | None = watch.evaluate(engine, rules, today=made_at.date(),
                                                          org=org)
    except EngineError as exc:
        alerts = None
        missing["alerts"] = str(exc)
        _logger.warning("alert rules unavailable: %s", exc)
    # a licences file speaks for the orgs it names; billed licences for the connected org only
    per_org = {o.id: licences if origin.startswith("file") or o == org else None for o in held}
    orgs = overview(engine, params, held, grouping, per_org) if len(held) > 1 else None
    return ReportData(params=params, made_at=made_at, source=source, frames=frames,
                      missing=missing, palette=palette, alerts=alerts, org=org,
                      overview=orgs, licences=origin)


#: The cross-org overview's columns.
OVERVIEW_COLUMNS = ("org", "org_id", REQUESTS, STATUS429, "rate429", "top_client",
                    "top_client_status429", "week", "week_requests", "previous_week_requests",
                    "week_change", "fair_use")


def overview(engine: Any, params: NotebookParams, held: list[Org],
             grouping: str | None = None,
             licences: Mapping[str, LicenceBook | None] | None = None) -> pd.DataFrame:
    """One row per org of the dataset over the report's interval.

    Requests and 429s (whole days), their share, the client with the most 429s, the last
    complete week's requests against the week before and the fair-use position of the
    interval's last month (:func:`fair_use_position`, from ``licences``: org id -> its
    licences; ``unknown`` without them). An org whose numbers cannot be read gets empty cells
    (logged).
    """
    iv = params.interval
    span = {"start": iv.start, "end": iv.end, "grouping": grouping}
    week_start, week_end = _complete_weeks(iv)
    rows = []
    for org in held:
        row: dict[str, Any] = dict.fromkeys(OVERVIEW_COLUMNS)
        row |= {"org": org.label, "org_id": org.id,
                "fair_use": fair_use_position(engine, params, org, grouping,
                                              (licences or {}).get(org.id))}
        try:
            daily = analyses.requests_over_time(engine, org=org, granularity="day", **span)
            top = analyses.top_clients_429(engine, org=org, limit=1, **span)
            weekly = analyses.requests_over_time(engine, org=org, granularity="week",
                                                 start=week_start, end=week_end,
                                                 grouping=grouping)
        except (ConfigError, EngineError, MissingCountsError) as exc:
            _logger.warning("overview of %s unavailable: %s", org.label, exc)
            rows.append(row)
            continue
        requests, limited = int(daily[REQUESTS].sum()), int(daily[STATUS429].sum())
        row |= {REQUESTS: requests, STATUS429: limited,
                "rate429": limited / requests if requests else None}
        if len(top):
            first = top.iloc[0]
            name = first[CLIENT_NAME] if isinstance(first[CLIENT_NAME], str) else ""
            row |= {"top_client": name or str(first[CLIENT_ID]),
                    "top_client_status429": int(first[STATUS429])}
        if len(weekly) >= 2:
            last, previous = int(weekly[REQUESTS].iloc[-1]), int(weekly[REQUESTS].iloc[-2])
            row |= {"week": weekly[DATE].iloc[-1], "week_requests": last,
                    "previous_week_requests": previous,
                    "week_change": last / previous - 1 if previous else None}
        rows.append(row)
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


def fair_use_position(engine: Any, params: NotebookParams, org: Org, grouping: str | None,
                      licences: LicenceBook | None) -> str:
    """Where ``org`` stands against its allowance in the interval's last month, in words:
    ``87% used`` (a complete month), ``112% projected, over`` (the month in progress), or
    ``unknown`` (no licences for it, or no rows)."""
    if licences is None:
        return "unknown"
    iv = params.interval
    last_day = (iv.end - timedelta(microseconds=1)).strftime("%Y-%m-%d")
    try:
        frame = analyses.fair_use(engine, org=org, licences=licences, grouping=grouping,
                                  start=_fair_use_start(iv), end=iv.end, as_of=last_day)
    except (ConfigError, EngineError, MissingCountsError) as exc:
        _logger.info("fair use of %s unknown: %s", org.label, exc)
        return "unknown"
    if frame.empty or pd.isna(frame["allowance"].iloc[-1]):
        return "unknown"
    month = frame.iloc[-1]
    if month["complete"]:
        return f"{month['used_share']:.0%} used" + (", over" if month["overage"] else "")
    over = ", over" if month["projected_overage"] else ""
    return f"{month['projected_share']:.0%} projected{over}"


def _engine_name(engine: Any) -> str:
    """``DuckDB``, ``Athena (database.table)`` or ``Trino (catalog.schema.table)``."""
    if engine.kind == "trino":
        return f"Trino ({engine.settings.catalog}.{engine.database}.{engine.table})"
    if engine.kind == "athena":
        return f"Athena ({engine.database}.{engine.table})"
    return "DuckDB"


def _plan(p: NotebookParams, grouping: str | None, org: Org | None,
          licences: LicenceBook | None) -> dict[str, Callable[[Any], pd.DataFrame]]:
    iv = p.interval
    gran = p.partition_granularity
    span = {"start": iv.start, "end": iv.end, "grouping": grouping, ORG: org}
    week_start, week_end = _complete_weeks(iv)
    weeks = {"start": week_start, "end": week_end, "grouping": grouping, ORG: org}
    last_day = (iv.end - timedelta(microseconds=1)).strftime("%Y-%m-%d")
    fair = {"start": _fair_use_start(iv), "end": iv.end, "grouping": grouping, ORG: org,
            "as_of": last_day, "licences": licences}
    return {
        "series": lambda e: analyses.requests_over_time(e, granularity=gran, **span),
        "daily": lambda e: analyses.requests_over_time(e, granularity="day", **span),
        "weekly": lambda e: analyses.requests_over_time(e, granularity="week", **weeks),
        "status_mix": lambda e: analyses.status_mix(e, granularity=gran, **span),
        "top_429": lambda e: analyses.top_clients_429(e, limit=p.top_n, **span),
        "rate_429": lambda e: analyses.rate_429_over_time(e, granularity=gran,
                                                          top=_ALL_CLIENTS, **span),
        "endpoints": lambda e: analyses.error_rate_by_endpoint(
            e, limit=p.top_n, min_requests=_MIN_ENDPOINT_REQUESTS, **span),
        "methods": lambda e: analyses.method_mix(e, **span),
        "changes": lambda e: analyses.client_changes(e, granularity="week", **weeks),
        "spikes": lambda e: analyses.spikes(e, granularity="day", **span),
        "fair_use": lambda e: analyses.fair_use(e, granularity="day", **fair),
        "fair_use_daily": lambda e: analyses.fair_use_daily(e, granularity="day", **fair),
        "overage_by_client": lambda e: analyses.overage_by_client(e, granularity="day",
                                                                  **fair),
    }


def load_usage(params: NotebookParams, env: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The stored rows of the interval (refreshed first when asked), filtered.

    Reads the dataset (local or S3) at the parameters' granularity and the report's
    grouping (:data:`REPORT_GROUP_BY`), the rows of one org (:func:`report_org`), then
    keeps rows whose client name or id contains
    ``params.client``, whose template URI contains ``params.template_uri`` (both
    case-insensitive) and whose method is ``params.http_method`` ("" = all).

    Returns
    -------
    DataFrame
        The typed usage frame (:mod:`usagekit.frame` columns).
    """
    connected = refresh(params, env)[1] if params.refresh else None
    org = report_org(params, connected)
    rows = open_dataset(params.dataset).read(
        granularity=params.partition_granularity, grouping=REPORT_GROUP_BY,
        start=params.interval.start, end=params.interval.end)
    keep = pd.Series(True, index=rows.index)
    if org is not None:
        keep &= rows[ORG] == org.id
    if params.client:
        needle = params.client.lower()
        keep &= (rows["clientName"].str.lower().str.contains(needle, regex=False)
                 | rows["clientId"].str.lower().str.contains(needle, regex=False))
    if params.template_uri:
        keep &= rows["templateUri"].str.lower().str.contains(params.template_uri.lower(),
                                                            regex=False)
    if params.http_method:
        keep &= rows["httpMethod"] == params.http_method
    _logger.info("%d of %d rows match the filters", int(keep.sum()), len(rows))
    return rows[keep].reset_index(drop=True)


def breakdown(rows: pd.DataFrame, by: str | list[str], top_n: int = 10) -> pd.DataFrame:
    """Sum ``rows`` by ``by``: the ``top_n`` groups by requests plus one ``other`` row.

    Returns
    -------
    DataFrame
        ``by`` columns, the six counts, ``rate429`` and ``error_rate`` (fractions).
    """
    keys = [by] if isinstance(by, str) else list(by)
    counts = list(COUNT_ORDER)
    sums = (rows.groupby(keys, sort=False, observed=True)[counts].sum()
            .sort_values("requests", ascending=False, kind="stable").reset_index())
    if len(sums) > top_n:
        rest = sums.iloc[top_n:][counts].sum()
        other = {**{k: f"{OTHER} ({len(sums) - top_n})" for k in keys},
                 **rest.to_dict()}
        sums = pd.concat([sums.iloc[:top_n], pd.DataFrame([other])], ignore_index=True)
    sums = sums.astype({c: "int64" for c in counts})
    requests = sums["requests"].where(sums["requests"] > 0)
    sums["rate429"] = (sums["status429"] / requests).astype("float64")
    sums["error_rate"] = ((sums["status400"] + sums["status500"]) / requests).astype(
        "float64")
    return sums


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _fair_use_start(iv: Interval) -> datetime:
    """Whole months only: the first month start in the interval, or the last month's."""
    last = _month_start(iv.end - timedelta(microseconds=1))
    first = _month_start(iv.start)
    if first < iv.start:
        first = (first + timedelta(days=32)).replace(day=1)
    return min(first, last)


def _complete_weeks(iv: Interval) -> tuple[datetime, datetime]:
    """Monday-aligned ``[start, end)`` of the complete weeks inside ``iv``."""
    day = iv.start.replace(hour=0, minute=0, second=0, microsecond=0)
    if day < iv.start:
        day += timedelta(days=1)
    start = day + timedelta(days=(7 - day.weekday()) % 7)
    end_day = iv.end.replace(hour=0, minute=0, second=0, microsecond=0)
    end = end_day - timedelta(days=end_day.weekday())
    return start, max(end, start + timedelta(microseconds=1))


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    out = []
    for row in df.reindex(columns=columns).itertuples(index=False):
        record: dict[str, Any] = {}
        for name, value in zip(columns, row, strict=True):
            if isinstance(value, pd.Timestamp):
                record[name] = iso(value)
            elif hasattr(value, "item"):  # numpy scalar
                record[name] = None if pd.isna(value) else value.item()
            else:
                record[name] = None if value is pd.NA or value is None else value
        out.append(record)
    return out


def rate_limited(data: ReportData) -> pd.DataFrame:
    """Top clients by 429s with the first and last period they got any (since when)."""
    top = data.frame("top_429")
    per = data.frame("rate_429")
    if top.empty:
        return pd.DataFrame(columns=[CLIENT_ID, CLIENT_NAME, STATUS429, REQUESTS,
                                     "rate429", "first429", "last429", "periods429"])
    hit = per[per["status429"] > 0] if not per.empty else per
    when = (hit.groupby("clientId")["date"].agg(["min", "max", "count"])
            .rename(columns={"min": "first429", "max": "last429", "count": "periods429"})
            if not hit.empty else pd.DataFrame(columns=["first429", "last429", "periods429"]))
    out = top.merge(when, how="left", left_on="clientId", right_index=True)
    out["periods429"] = out["periods429"].fillna(0).astype("int64")
    return out[[CLIENT_ID, CLIENT_NAME, STATUS429, REQUESTS, "rate429", "first429",
                "last429", "periods429"]]


def _fair_use_summary(data: ReportData) -> dict[str, Any]:
    """The last month's fair-use figures; ``allowance`` None when no licences are given."""
    fair = data.frame("fair_use")
    out: dict[str, Any] = {"licences_from": data.licences, "month": None,
                           "allowance": None, "top_contributors": []}
    if fair.empty:
        return out
    row = fair.iloc[-1]
    out |= {"month": iso(row["month"]), "requests": int(row["requests"]),
            "genesys_requests": int(row["genesys_requests"]),
            "complete": bool(row["complete"]), "licences": str(row["licences"]),
            "allowance": None if pd.isna(row["allowance"]) else int(row["allowance"])}
    for name in ("projected_requests", "projected_low", "projected_high", "used_share",
                 "projected_share", "overage", "projected_overage"):
        out[name] = _number(row[name])
    out["runs_out"] = None if pd.isna(row["runs_out"]) else iso(row["runs_out"])
    out["runs_out_projected"] = bool(row["runs_out_projected"])
    clients = data.frame("overage_by_client")
    if not clients.empty:
        month = clients[(clients["month"] == row["month"]) & clients["counted"]]
        top = _records(month.nlargest(3, "requests"), [
            CLIENT_ID, CLIENT_NAME, "team", REQUESTS, "share", "overage", "estimated_cost"])
        out["top_contributors"] = [{k: _number(v) if isinstance(v, float) else v
                                    for k, v in record.items()} for record in top]
    return out


def _summary(data: ReportData) -> dict[str, Any]:
    p = data.params
    series = data.frame("series")
    daily = data.frame("daily")  # whole days: week/month buckets may start before the interval
    counts = COUNT_ORDER
    totals: dict[str, Any] = {c: int(daily[c].sum()) if c in daily else 0 for c in counts}
    requests = totals["requests"]
    totals["rate429"] = totals["status429"] / requests if requests else None
    totals["error_rate"] = ((totals["status400"] + totals["status500"]) / requests
                            if requests else None)
    totals["periods"] = len(series)
    weekly = data.frame("weekly")
    trend: dict[str, Any] | None = None
    if len(weekly) >= 2:
        last, prev = weekly.iloc[-1], weekly.iloc[-2]
        trend = {"week": iso(last["date"]), "requests": int(last["requests"]),
                 "previous_week": iso(prev["date"]),
                 "previous_requests": int(prev["requests"]),
                 "change": (int(last["requests"]) / int(prev["requests"]) - 1
                            if int(prev["requests"]) else None)}
    fair_use = _fair_use_summary(data)
    changes = data.frame("changes")
    if not changes.empty:
        changes = changes[changes["date"] == changes["date"].max()]
    endpoints = data.frame("endpoints")
    if not endpoints.empty:
        endpoints = endpoints[endpoints["error_rate"] > 0]
    mix = status_counts(data.frame("status_mix")) if not data.frame(
        "status_mix").empty else None
    alerts = data.alerts
    return {
        "title": REPORT_TITLE,
        ORG: org_dict(data.org),
        "orgs": [] if data.overview is None else _records(data.overview,
                                                          list(OVERVIEW_COLUMNS)),
        "alerts": None if alerts is None else {
            "last_day": str(alerts.last_day) if alerts.last_day else None,
            "firing": [a.to_dict() for a in alerts.alerts], "skipped": alerts.skipped},
        "made_at": data.made_at.strftime(ISO),
        "interval": p.interval.text,
        "granularity": p.granularity,
        "parameters": p.describe(),
        "source": dict(data.source),
        "totals": totals,
        "trend": trend,
        "status_mix": None if mix is None else {k: int(v) for k, v in mix.items()},
        "rate_limited": _records(rate_limited(data), [
            CLIENT_ID, CLIENT_NAME, STATUS429, REQUESTS, "rate429", "first429",
            "last429", "periods429"]),
        "failing_endpoints": _records(endpoints, [
            HTTP_METHOD, TEMPLATE_URI, REQUESTS, "errors", "error_rate", "rate429"]),
        "methods": _records(data.frame("methods"), [HTTP_METHOD, REQUESTS, "share"]),
        "fair_use": fair_use,
        "changes": _records(changes, [DATE, CLIENT_ID, CLIENT_NAME, "change",
                                      REQUESTS, "previous_requests"]),
        "spikes": _records(data.frame("spikes"), [DATE, CLIENT_ID, CLIENT_NAME,
                                                  "metric", "value", "baseline_mean"]),
        "unavailable": dict(data.missing),
    }
