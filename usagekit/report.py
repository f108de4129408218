"""The usage report: gather it in the notebook, run it in batch, render it as HTML.

In the notebook, :func:`collect` refreshes the interval into the dataset (Genesys Cloud
or the embedded sandbox, see :func:`usagekit.embedded.connect`), runs the analyses on
the chosen engine and returns a :class:`ReportData`; :func:`headline` is the first
screen; :meth:`ReportData.figure` / :meth:`ReportData.table` show and save charts and
tables; :meth:`ReportData.write_summary` writes ``summary.json``.

In batch, :func:`run_report` executes ``notebooks/03-usage-report.ipynb`` with papermill
into a run folder ``<reports>/<YYYY-MM-DDTHHMMSSZ>/`` (UTC; one folder per run, so a
failed or repeated run never overwrites an earlier report) and renders
``usage-report.html`` there with nbconvert: code hidden, charts embedded as base64 PNGs,
no external script. The latest successful report is also copied to
``<reports>/usage-report.html``.

A failing run raises :class:`~usagekit.exceptions.ReportError` and keeps the executed
notebook (papermill marks the failing cell) in the run folder for inspection.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from usagekit import analyses, charts, config
from usagekit.dataset import open_dataset
from usagekit.embedded import connect
from usagekit.engine import open_engine
from usagekit.exceptions import ConfigError, EngineError, ReportError
from usagekit.params import NotebookParams, validate
from usagekit.query import Interval, UsageQuery

_logger = logging.getLogger(__name__)

REPORT_NOTEBOOK = config.NOTEBOOKS_DIR / "03-usage-report.ipynb"
HTML_NAME = "usage-report.html"
EXECUTED_NAME = "usage-report.ipynb"
REPORT_TITLE = "Genesys Cloud API usage report"
#: Cells with this tag are dropped from the HTML (e.g. set-up cells).
REMOVE_TAG = "remove-cell"
_RUN_FOLDER = "%Y-%m-%dT%H%M%SZ"
# The lab template without its CDN scripts (require.js, MathJax, mermaid): the report
# needs none of them and must render offline. Charts get their titles as alt text.
_TEMPLATE = "usagekit-report.html.j2"
_TEMPLATE_SOURCE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
alt="{{ (output | get_metadata('alt', 'image/png') or 'Chart') | escape_html }}">
</div>
{%- endblock data_png -%}
"""


#: The groupBy set the report fetches: every analysis finds its dimensions in it.
REPORT_GROUP_BY: tuple[str, ...] = ("OAuthClientId", "TemplateUri", "HttpMethod")
_ALL_CLIENTS = 1_000_000
_MIN_ENDPOINT_REQUESTS = 50
_ISO = "%Y-%m-%dT%H:%M:%SZ"
_FILE_MODE = 0o644  # mkstemp makes 0600; reports are meant to be shared


@dataclass
class Artefacts:
    """Small machine-readable files a notebook writes to its ``output_dir``.

    Each method returns what the notebook should show, so a cell is one call.

    Attributes
    ----------
    output_dir : Path
        Where the files go (created on first write).
    files : list of str
        Names written so far.
    """

    output_dir: Path
    files: list[str] = field(default_factory=list)

    def figure(self, name: str, fig: Figure) -> Chart:
        """Save ``fig`` as ``<name>.png``; return it as a :class:`Chart` Jupyter shows."""
        path = charts.save_png(fig, self.output_dir / f"{name}.png")
        self._add(f"{name}.png")
        return Chart(fig, path.read_bytes())

    def table(self, name: str, df: pd.DataFrame, *,
              hide: tuple[str, ...] = ("clientId", "rank")) -> Any:
        """Save ``df`` as ``<name>.csv``; return it formatted for readers.

        Counts get thousands separators, rates become percentages, columns get readable
        headers (:func:`usagekit.charts.format_table`); ``hide`` columns stay in the CSV
        only. An empty frame reads "None in this interval."
        """
        target = self.output_dir / f"{name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(target, index=False)
        self._add(f"{name}.csv")
        if df.empty:
            return Markdown("_None in this interval._")
        kept = df.drop(columns=[c for c in hide if c in df.columns])
        shown = charts.format_table(kept)
        text = [charts.HEADERS.get(c, c) for c in kept.columns
                if pd.api.types.is_string_dtype(kept[c]) or kept[c].dtype == object]
        return (shown.style.hide(axis="index")
                .set_properties(subset=text, **{"text-align": "left"})
                .set_table_styles([{"selector": "th", "props": "text-align: left"}]))

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        """Write ``data`` as ``<name>`` (JSON, atomically); return its path."""
        self._add(name)
        payload = {**data, "files": sorted(self.files)}
        target = self.output_dir / name
        _atomic_write(target, json.dumps(payload, indent=2, ensure_ascii=False,
                                         default=_json_default).encode("utf-8") + b"\n")
        return target

    def _add(self, name: str) -> None:
        if name not in self.files:
            self.files.append(name)


@dataclass(frozen=True)
class Chart:
    """A saved chart: Jupyter shows its PNG (the same bytes as the file).

    Attributes
    ----------
    figure : Figure
        The matplotlib figure (for tests and further tweaks).
    png : bytes
        The PNG written to the notebook's ``output_dir``.
    """

    figure: Figure
    png: bytes = field(repr=False)

    def _repr_png_(self) -> tuple[bytes, dict[str, str]]:
        suptitle = self.figure.get_suptitle()
        titles = [suptitle] if suptitle else [ax.get_title() for ax in self.figure.axes
                                              if ax.get_title()]
        return self.png, {"alt": "; ".join(titles) or "Chart"}


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, pd.Timestamp)):
        return _iso(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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
    """

    params: NotebookParams
    made_at: datetime
    source: dict[str, str]
    frames: dict[str, pd.DataFrame]
    missing: dict[str, str]
    palette: charts.Palette

    def frame(self, name: str) -> pd.DataFrame:
        """The analysis frame ``name`` (empty when it could not run)."""
        return self.frames.get(name, pd.DataFrame())

    def summary(self) -> dict[str, Any]:
        """The report's key numbers, JSON-ready (``summary.json``)."""
        return _summary(self)


def refresh(params: NotebookParams, env: Mapping[str, str] | None = None) -> str:
    """Fetch what the report needs into the dataset; return the API source.

    Fetches ``Day`` rows grouped by :data:`REPORT_GROUP_BY` for the interval (extended
    back to the first of the interval's last month, for the fair-use projection), and
    ``Week`` rows (week-over-week changes, the trend), plus ``Month`` when the report's
    granularity is Month, both over whole buckets (:meth:`Interval.aligned`). Writes are
    idempotent: a re-run replaces the same rows.

    Parameters
    ----------
    params : NotebookParams
        Validated report parameters.
    env : Mapping, optional
        Environment for :func:`usagekit.embedded.connect` (default ``os.environ``).

    Returns
    -------
    str
        ``sandbox`` or ``genesys:<region>``.
    """
    dataset = open_dataset(params.dataset)
    iv = params.interval
    day_start = min(iv.start, _month_start(iv.end - timedelta(microseconds=1)))
    # Whole weeks and months: a stored bucket is never replaced by a part of it.
    wanted = [("Day", Interval(day_start, iv.end)), ("Week", iv.aligned("Week"))]
    if params.granularity == "Month":
        wanted.append(("Month", iv.aligned("Month")))
    with connect(env) as client:
        for granularity, interval in wanted:
            query = UsageQuery.build(interval, granularity=granularity,
                                     group_by=REPORT_GROUP_BY)
            result = client.fetch(query)
            dataset.write(result.rows, granularity=granularity, grouping=query.grouping,
                          interval=interval)
            _logger.info("refreshed %s rows for %s, %s", len(result.rows), interval.text,
                         granularity)
        return str(client.source)


def collect(params: NotebookParams, *, env: Mapping[str, str] | None = None,
            now: datetime | None = None) -> ReportData:
    """Refresh (when ``params.refresh``) and run every analysis the report shows.

    Frames (by name): ``series`` (requests over time at the report's granularity),
    ``daily`` (per day, for the totals), ``weekly`` (requests per complete week),
    ``status_mix``, ``top_429`` (top clients by 429s), ``rate_429`` (429s per client
    and period, every client with 429s),
    ``endpoints`` (error rate by endpoint), ``methods``, ``changes`` (week over week),
    ``spikes`` (429 spikes against each client's baseline), ``fair_use``.

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
    api = refresh(params, env) if params.refresh else "not refreshed"
    kind = "S3" if config.is_s3(params.dataset) else "local"
    engine = open_engine(params.engine, params.dataset)
    source = {
        "api": api,
        "dataset": f"{kind} {params.dataset}",
        "engine": "DuckDB" if params.engine == "local"
        else f"Athena ({engine.database}.{engine.table})",
    }
    grouping = analyses.check_grouping("-".join(
        g.lower() for g in REPORT_GROUP_BY)) if params.refresh else None
    frames: dict[str, pd.DataFrame] = {}
    missing: dict[str, str] = {}
    for name, run in _plan(params, grouping).items():
        try:
            frames[name] = run(engine)
        except (ConfigError, EngineError) as exc:
            missing[name] = str(exc)
            _logger.warning("analysis %s unavailable: %s", name, exc)
    ranked = frames.get("top_429", pd.DataFrame(columns=["clientId", "clientName"]))
    palette = charts.Palette.from_ranking(charts.client_labels(ranked), top_n=params.top_n)
    return ReportData(params=params, made_at=made_at, source=source, frames=frames,
                      missing=missing, palette=palette)


def _plan(p: NotebookParams, grouping: str | None) -> dict[str, Callable[[Any], pd.DataFrame]]:
    iv = p.interval
    gran = p.partition_granularity
    span = {"start": iv.start, "end": iv.end, "grouping": grouping}
    week_start, week_end = _complete_weeks(iv)
    weeks = {"start": week_start, "end": week_end, "grouping": grouping}
    last_day = (iv.end - timedelta(microseconds=1)).strftime("%Y-%m-%d")
    fair = {"start": _fair_use_start(iv), "end": iv.end, "grouping": grouping}
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
        "fair_use": lambda e: analyses.fair_use(
            e, granularity="day", users={p.licence_tier: p.licensed_users},
            as_of=last_day, **fair),
    }


def load_usage(params: NotebookParams, env: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The stored rows of the interval (refreshed first when asked), filtered.

    Reads the dataset (local or S3) at the parameters' granularity and the report's
    grouping (:data:`REPORT_GROUP_BY`), then keeps rows whose client name or id contains
    ``params.client``, whose template URI contains ``params.template_uri`` (both
    case-insensitive) and whose method is ``params.http_method`` ("" = all).

    Returns
    -------
    DataFrame
        The typed usage frame (:mod:`usagekit.frame` columns).
    """
    if params.refresh:
        refresh(params, env)
    rows = open_dataset(params.dataset).read(
        granularity=params.partition_granularity, grouping=REPORT_GROUP_BY,
        start=params.interval.start, end=params.interval.end)
    keep = pd.Series(True, index=rows.index)
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
    counts = ["requests", "status200", "status300", "status400", "status429", "status500"]
    sums = (rows.groupby(keys, sort=False, observed=True)[counts].sum()
            .sort_values("requests", ascending=False, kind="stable").reset_index())
    if len(sums) > top_n:
        rest = sums.iloc[top_n:][counts].sum()
        other = {**{k: f"{charts.OTHER} ({len(sums) - top_n})" for k in keys},
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


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).strftime(_ISO)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    out = []
    for row in df.reindex(columns=columns).itertuples(index=False):
        record: dict[str, Any] = {}
        for name, value in zip(columns, row, strict=True):
            if isinstance(value, pd.Timestamp):
                record[name] = _iso(value)
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
        return pd.DataFrame(columns=["clientId", "clientName", "status429", "requests",
                                     "rate429", "first429", "last429", "periods429"])
    hit = per[per["status429"] > 0] if not per.empty else per
    when = (hit.groupby("clientId")["date"].agg(["min", "max", "count"])
            .rename(columns={"min": "first429", "max": "last429", "count": "periods429"})
            if not hit.empty else pd.DataFrame(columns=["first429", "last429", "periods429"]))
    out = top.merge(when, how="left", left_on="clientId", right_index=True)
    out["periods429"] = out["periods429"].fillna(0).astype("int64")
    return out[["clientId", "clientName", "status429", "requests", "rate429", "first429",
                "last429", "periods429"]]


def _summary(data: ReportData) -> dict[str, Any]:
    p = data.params
    series = data.frame("series")
    daily = data.frame("daily")  # whole days: week/month buckets may start before the interval
    counts = ("requests", "status200", "status300", "status400", "status429", "status500")
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
        trend = {"week": _iso(last["date"]), "requests": int(last["requests"]),
                 "previous_week": _iso(prev["date"]),
                 "previous_requests": int(prev["requests"]),
                 "change": (int(last["requests"]) / int(prev["requests"]) - 1
                            if int(prev["requests"]) else None)}
    fair = data.frame("fair_use")
    fair_use: dict[str, Any] = {"licence_tier": p.licence_tier,
                                "licensed_users": p.licensed_users,
                                "allowance": p.monthly_allowance, "month": None}
    if not fair.empty:
        row = fair.iloc[-1]
        fair_use |= {"month": _iso(row["month"]), "requests": int(row["requests"]),
                     "complete": bool(row["complete"]),
                     "projected_requests": _number(row["projected_requests"]),
                     "used_share": _number(row["used_share"]),
                     "projected_share": _number(row["projected_share"]),
                     "projected_overage": _number(row["projected_overage"])}
    changes = data.frame("changes")
    if not changes.empty:
        changes = changes[changes["date"] == changes["date"].max()]
    endpoints = data.frame("endpoints")
    if not endpoints.empty:
        endpoints = endpoints[endpoints["error_rate"] > 0]
    mix = charts.status_counts(data.frame("status_mix")) if not data.frame(
        "status_mix").empty else None
    return {
        "title": REPORT_TITLE,
        "made_at": data.made_at.strftime(_ISO),
        "interval": p.interval.text,
        "granularity": p.granularity,
        "parameters": p.describe(),
        "source": dict(data.source),
        "totals": totals,
        "trend": trend,
        "status_mix": None if mix is None else {k: int(v) for k, v in mix.items()},
        "rate_limited": _records(rate_limited(data), [
            "clientId", "clientName", "status429", "requests", "rate429", "first429",
            "last429", "periods429"]),
        "failing_endpoints": _records(endpoints, [
            "httpMethod", "templateUri", "requests", "errors", "error_rate", "rate429"]),
        "methods": _records(data.frame("methods"), ["httpMethod", "requests", "share"]),
        "fair_use": fair_use,
        "changes": _records(changes, ["date", "clientId", "clientName", "change",
                                      "requests", "previous_requests"]),
        "spikes": _records(data.frame("spikes"), ["date", "clientId", "clientName",
                                                  "metric", "value", "baseline_mean"]),
        "unavailable": dict(data.missing),
    }


class Markdown(str):
    """Markdown text that Jupyter renders (and nbconvert keeps) as formatted output."""

    def _repr_markdown_(self) -> str:
        return str(self)


def headline(data: ReportData) -> Markdown:
    """The report's first screen: what was analysed and the answers in a few lines.

    Totals and trend, who is rate-limited and since when, failing endpoints, fair-use
    position and month-end projection, notable changes since the previous week; plus
    the interval, granularity, data source and when the report was made (UTC).
    """
    s = data.summary()
    p = data.params
    iv = p.interval
    last_day = (iv.end - timedelta(microseconds=1)).strftime("%Y-%m-%d")
    lines = [
        f"**{iv.start:%Y-%m-%d} to {last_day}** ({iv.days} UTC days, by "
        f"{p.granularity.lower()}) · made {data.made_at:%Y-%m-%d %H:%M} UTC  ",
        f"Data: API {_source_text(s['source']['api'])} · dataset {s['source']['dataset']} · "
        f"engine {s['source']['engine']}",
        "",
        f"- **Traffic:** {_traffic_text(s)}",
        f"- **Rate-limited (429):** {_rate_limited_text(s)}",
        f"- **Failing endpoints:** {_endpoints_text(s)}",
        f"- **Fair use:** {_fair_use_text(s)}",
        f"- **Changes:** {_changes_text(s)}",
    ]
    if s["unavailable"]:
        lines.append("- **Not available on this dataset:** " + "; ".join(
            f"{k} ({v})" for k, v in s["unavailable"].items()))
    return Markdown("\n".join(lines))


def _source_text(api: str) -> str:
    if api == "sandbox":
        return "embedded sandbox (synthetic data, no credentials set)"
    if api.startswith("genesys:"):
        return f"Genesys Cloud, region {api.split(':', 1)[1]}"
    return "not called (dataset used as stored)"


def _traffic_text(s: dict[str, Any]) -> str:
    t = s["totals"]
    text = (f"{charts.thousands(t['requests'])} requests, "
            f"{charts.percent(t['error_rate'])} errors (4xx + 5xx)")
    trend = s["trend"]
    if trend and trend["change"] is not None:
        word = "up" if trend["change"] >= 0 else "down"
        text += (f"; last complete week (from {trend['week'][:10]}) "
                 f"{charts.thousands(trend['requests'])}, {word} "
                 f"{charts.percent(abs(trend['change']))} on the week before")
    return text + "."


def _rate_limited_text(s: dict[str, Any]) -> str:
    limited = s["rate_limited"]
    t = s["totals"]
    if not limited:
        return "no client was rate-limited."
    parts = []
    start = s["interval"][:10]
    word = s["granularity"].lower()
    total = s["totals"]["periods"]
    for row in limited[:3]:
        name = row["clientName"] or row["clientId"]
        first = (row["first429"] or "")[:10]
        if first == start and row["periods429"] == total:
            when = f"every {word} of the interval"
        elif first == start:
            when = f"{row['periods429']} of {total} {word}s, from the interval start"
        else:
            when = f"since {first}, {row['periods429']} of {total} {word}s"
        parts.append(f"**{name}** {charts.thousands(row['status429'])} "
                     f"({charts.percent(row['rate429'])} of its requests; {when})")
    more = f" and {len(limited) - 3} more" if len(limited) > 3 else ""
    return (f"{charts.thousands(t['status429'])} responses "
            f"({charts.percent(t['rate429'], 2)} of all); " + "; ".join(parts) + more + ".")


def _endpoints_text(s: dict[str, Any]) -> str:
    failing = s["failing_endpoints"]
    if not failing:
        return "no endpoint with errors."
    parts = [f"`{r['httpMethod']} {r['templateUri']}` {charts.percent(r['error_rate'])} of "
             f"{charts.thousands(r['requests'])}" for r in failing[:3]]
    return "highest error rates: " + "; ".join(parts) + "."


def _fair_use_text(s: dict[str, Any]) -> str:
    f = s["fair_use"]
    head = (f"{f['licence_tier']} x {charts.thousands(f['licensed_users'])} users = "
            f"{charts.thousands(f['allowance'])} requests per month")
    if f["month"] is None:
        return head + "; no daily data for the last month."
    month = pd.Timestamp(f["month"]).strftime("%B %Y")
    if f["complete"]:
        verdict = "over" if f["requests"] > f["allowance"] else "within"
        return (f"{head}; {month}: {charts.thousands(f['requests'])} "
                f"({charts.percent(f['used_share'])}), {verdict} the allowance.")
    projected = f["projected_requests"] or 0
    verdict = ("**projected over the allowance** by "
               f"{charts.thousands(f['projected_overage'])}" if projected > f["allowance"]
               else "projected within the allowance")
    return (f"{head}; {month} so far {charts.thousands(f['requests'])} "
            f"({charts.percent(f['used_share'])}), month-end projection "
            f"{charts.thousands(projected)} ({charts.percent(f['projected_share'])}): "
            f"{verdict}.")


def _changes_text(s: dict[str, Any]) -> str:
    changes = s["changes"]
    trend = s["trend"]
    if not trend:
        return "fewer than two complete weeks in the interval."
    if not changes:
        return f"no client appeared, vanished, doubled or halved in the week from " \
               f"{trend['week'][:10]}."
    by_kind: dict[str, list[str]] = {}
    for row in changes:
        by_kind.setdefault(row["change"], []).append(row["clientName"] or row["clientId"])
    parts = [f"{kind}: {', '.join(names[:5])}" + (f" (+{len(names) - 5})"
                                                 if len(names) > 5 else "")
             for kind, names in sorted(by_kind.items())]
    return f"week from {trend['week'][:10]} vs the week before: " + "; ".join(parts) + "."


@dataclass(frozen=True)
class ReportResult:
    """Where a report run wrote its files.

    Attributes
    ----------
    run_dir : Path
        The run folder (``<reports>/<YYYY-MM-DDTHHMMSSZ>/``): executed notebook, HTML,
        and the artefacts the notebook wrote (``summary.json``, PNG charts).
    notebook : Path
        The executed notebook.
    html : Path
        The rendered report in the run folder.
    latest : Path
        The copy at ``<reports>/usage-report.html``.
    parameters : dict
        The parameters passed to papermill.
    seconds : float
        Wall time of execution plus rendering.
    """

    run_dir: Path
    notebook: Path
    html: Path
    latest: Path
    parameters: dict[str, Any]
    seconds: float


def run_folder(reports_dir: str | os.PathLike[str] | None = None,
               now: datetime | None = None) -> Path:
    """The folder of a run started at ``now`` (UTC) under ``reports_dir``."""
    root = Path(reports_dir) if reports_dir is not None else config.REPORTS_DIR
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(_RUN_FOLDER)
    return root / stamp


def run_report(
    parameters: Mapping[str, Any] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    *,
    notebook: str | os.PathLike[str] = REPORT_NOTEBOOK,
    kernel: str = "python3",
    now: datetime | None = None,
) -> ReportResult:
    """Execute the report notebook with papermill and render it to HTML.

    Parameters
    ----------
    parameters : Mapping, optional
        Report parameters (see :data:`usagekit.params.NOTEBOOK_PARAMETERS` ``["report"]``),
        validated before the kernel starts. ``output_dir`` is not one of them here: the
        run folder is passed to the notebook as its ``output_dir``.
    output_dir : path, optional
        The reports folder holding the run folders (default ``reports/`` of the project).
    notebook : path
        The notebook to run (default ``notebooks/03-usage-report.ipynb``).
    kernel : str
        Jupyter kernel name.
    now : datetime, optional
        Start time naming the run folder (default: now, UTC).

    Returns
    -------
    ReportResult

    Raises
    ------
    ConfigError
        For a bad parameter (before anything runs).
    ReportError
        When the notebook fails (the executed notebook is kept) or rendering fails.
    """
    values = dict(parameters or {})
    if "output_dir" in values:
        raise ReportError(
            "pass the reports folder as run_report(output_dir=...), not as a notebook "
            "parameter: each run writes into its own dated folder"
        )
    run_dir = run_folder(output_dir, now)
    values["output_dir"] = str(run_dir)
    validate("report", **values)
    source = Path(notebook)
    if not source.is_file():
        raise ReportError(f"report notebook {str(source)!r} not found")
    run_dir.mkdir(parents=True, exist_ok=True)
    executed = run_dir / EXECUTED_NAME
    started = time.monotonic()
    _logger.info("running %s into %s", source.name, run_dir)
    _execute(source, executed, values, kernel, run_dir)
    html = render_html(executed, run_dir / HTML_NAME)
    latest = run_dir.parent / HTML_NAME
    _replace_copy(html, latest)
    seconds = time.monotonic() - started
    _logger.info("report written to %s (%.1f s)", html, seconds)
    return ReportResult(run_dir=run_dir, notebook=executed, html=html, latest=latest,
                        parameters=values, seconds=seconds)


def _execute(source: Path, executed: Path, values: dict[str, Any], kernel: str,
             cwd: Path) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(source), str(executed), parameters=values, kernel_name=kernel,
            progress_bar=False, log_output=False, cwd=str(cwd),
        )
    except PapermillExecutionError as exc:
        raise ReportError(
            f"the report notebook failed in cell {exc.exec_count}: {exc.ename}: "
            f"{exc.evalue}; the executed notebook is kept at {executed}"
        ) from None
    except Exception as exc:  # kernel missing or dead, unreadable notebook, ...
        raise ReportError(
            f"could not run {source.name} with kernel {kernel!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def render_html(executed: str | os.PathLike[str], html: str | os.PathLike[str]) -> Path:
    """Render an executed notebook as one self-contained HTML file without code.

    Cells tagged ``remove-cell`` are dropped; charts stay embedded as base64 PNGs; no
    external script (require.js, MathJax) is referenced.

    Parameters
    ----------
    executed : path
        An executed notebook.
    html : path
        Where to write the HTML (atomically).

    Returns
    -------
    Path
        ``html``.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    target = Path(html)
    try:
        nb = nbformat.read(os.fspath(executed), as_version=4)
        exporter = HTMLExporter(
            extra_loaders=[DictLoader({_TEMPLATE: _TEMPLATE_SOURCE})],
            template_file=_TEMPLATE,
            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
            embed_images=True,
        )
        exporter.register_preprocessor(
            TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}), enabled=True)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {
            "name": REPORT_TITLE}})
    except Exception as exc:
        raise ReportError(
            f"could not render {os.fspath(executed)!r} as HTML: {type(exc).__name__}: {exc}"
        ) from exc
    _atomic_write(target, body.encode("utf-8"))
    return target


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _replace_copy(source: Path, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
