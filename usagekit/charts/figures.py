"""The report's matplotlib figures: UTC time axes, top clients plus ``other``, 429 panels."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from usagekit.analyses.post import STATUS400_NON429
from usagekit.charts.palette import CLIENT_COLORS, MAX_NAMED, OTHER, OTHER_COLOR, Palette
from usagekit.charts.tables import TITLE_WIDTH, client_labels, shorten
from usagekit.exceptions import ConfigError
from usagekit.row import (
    CLIENT_ID,
    CLIENT_NAME,
    DATE,
    GRANULARITIES,
    GRANULARITY_VALUES,
    HTTP_METHOD,
    REQUESTS,
    STATUS200,
    STATUS300,
    STATUS400,
    STATUS429,
    STATUS500,
    TEMPLATE_URI,
)

_logger = logging.getLogger(__name__)


#: Status classes in display order, with their colours (429 is a part of 4xx).
STATUS_CLASSES: dict[str, str] = {
    "2xx": "#2ca02c",
    "3xx": "#1f77b4",
    "4xx (not 429)": "#ff7f0e",
    "429 rate-limited": "#d62728",
    "5xx": "#7f0000",
}
#: The status_mix analysis' ``status`` values → display classes.
_STATUS_COLUMNS = {
    STATUS200: "2xx",
    STATUS300: "3xx",
    STATUS400_NON429: "4xx (not 429)",
    STATUS429: "429 rate-limited",
    STATUS500: "5xx",
}


def _figure(width: float = 10.0, height: float = 4.2) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    return fig, fig.add_subplot()


def _granularity(granularity: str) -> str:
    key = granularity.lower()
    if key not in GRANULARITY_VALUES:
        raise ConfigError(
            f"invalid granularity {granularity!r}: use one of {', '.join(GRANULARITIES)}"
        )
    return key


def _axis_label(granularity: str) -> str:
    """The time axis' label for a (valid, dataset-spelt) granularity."""
    return ("Week starting Monday (UTC)" if granularity == "week"
            else f"{granularity.title()} (UTC)")


def _utc_time_axis(ax: Axes, granularity: str) -> None:
    locator = mdates.AutoDateLocator(tz=UTC, minticks=3, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel(_axis_label(granularity))


def _count_axis(ax: Axes, label: str, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(label)
    ax.grid(axis=axis, alpha=0.3)


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigError(
            f"{what} needs columns {list(columns)}; missing {missing} "
            f"(got {list(df.columns)})"
        )


def _empty(ax: Axes, message: str = "No data in this interval") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            fontsize=12, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


# --------------------------------------------------------------------------- charts


def plot_requests_over_time(
    df: pd.DataFrame,
    *,
    granularity: str = "day",
    spikes: pd.DataFrame | None = None,
) -> Figure:
    """Total requests per period, with 429s and 5xx as their own lines.

    Parameters
    ----------
    df : DataFrame
        One row per period: ``date`` and ``requests`` (plus ``status429`` and
        ``status500`` when present, drawn as extra lines).
    granularity : str
        ``day``, ``week`` or ``month`` (any case): labels the axis and title.
    spikes : DataFrame, optional
        Rows with a ``date`` to mark on the requests line (e.g. the spikes analysis).

    Returns
    -------
    Figure
    """
    _require(df, [DATE, REQUESTS], "plot_requests_over_time")
    gran = _granularity(granularity)
    fig, ax = _figure()
    ax.set_title(f"Requests per {gran}")
    if df.empty:
        _empty(ax)
        return fig
    data = df.assign(date=_dates(df["date"])).groupby("date", sort=True).sum(numeric_only=True)
    ax.plot(data.index, data["requests"], color="#1f77b4", linewidth=2, label="All requests",
            marker="o" if len(data) < 40 else None, markersize=3)
    for column, label, color in (("status429", "429 rate-limited", STATUS_CLASSES[
            "429 rate-limited"]), ("status500", "5xx server errors", STATUS_CLASSES["5xx"])):
        if column in data:
            ax.plot(data.index, data[column], color=color, linewidth=1.2, label=label)
    if spikes is not None and not spikes.empty:
        when = _dates(spikes["date"]).drop_duplicates()
        marked = data.loc[data.index.isin(when), "requests"]
        ax.scatter(marked.index, marked, s=60, facecolors="none", edgecolors="black",
                   linewidths=1.5, zorder=3, label="Spike")
    ax.set_ylim(bottom=0)
    _count_axis(ax, f"Requests per {gran}")
    _utc_time_axis(ax, gran)
    ax.legend(loc="upper left", frameon=False, ncols=4)
    return fig


def _top_by_client(
    df: pd.DataFrame, value: str, palette: Palette | None, top_n: int
) -> tuple[pd.DataFrame, Palette]:
    labelled = df.assign(client=client_labels(df), date=_dates(df["date"]))
    totals = labelled.groupby("client")[value].sum().sort_values(ascending=False,
                                                                  kind="stable")
    if palette is None:
        palette = Palette.from_ranking(totals.index, top_n=top_n)
    shown = [c for c in palette.clients if totals.get(c, 0) > 0][:top_n]
    labelled["series"] = labelled["client"].where(labelled["client"].isin(shown), OTHER)
    wide = labelled.pivot_table(index="date", columns="series", values=value,
                                aggfunc="sum", fill_value=0).sort_index()
    order = [c for c in shown if c in wide.columns]
    if OTHER in wide.columns and wide[OTHER].sum() > 0:
        order.append(OTHER)
    return wide[order], palette


def plot_rate_limited_over_time(
    df: pd.DataFrame,
    *,
    granularity: str = "day",
    palette: Palette | None = None,
    top_n: int = 10,
) -> Figure:
    """429 responses per period as small multiples: one panel per top client, then ``other``.

    Each panel has its own count scale, so a client with a few hundred 429s a day stays
    readable next to one with tens of thousands; the panel title gives the client's
    total so the scales are not mistaken for each other. Panels share the UTC time axis
    and are ordered by 429s (most first).

    Parameters
    ----------
    df : DataFrame
        Rows of ``date``, ``clientId``, ``clientName``, ``status429`` (one or more per
        client and period; they are summed).
    granularity : str
        ``day``, ``week`` or ``month``.
    palette : Palette, optional
        The report's client colours; when given its named clients (that have any 429)
        are drawn by name and all others as ``other``. Else the ``top_n`` clients by
        429s are named.
    top_n : int
        How many clients to name when no palette is given (and at most when one is).

    Returns
    -------
    Figure
        The chart title is the figure's suptitle; each panel's one line is labelled with
        its client (``other`` drawn dashed in grey).
    """
    _require(df, [DATE, CLIENT_ID, CLIENT_NAME, STATUS429], "plot_rate_limited_over_time")
    gran = _granularity(granularity)
    title = f"429 (rate-limited) responses per {gran}, by client"
    if df.empty or df["status429"].sum() == 0:
        fig, ax = _figure(height=2.5)
        fig.suptitle(title)
        _empty(ax, "No 429 responses in this interval")
        return fig
    wide, palette = _top_by_client(df, "status429", palette, top_n)
    ncols = 1 if wide.shape[1] == 1 else 2
    nrows = -(-wide.shape[1] // ncols)
    fig = Figure(figsize=(10.0, 1.0 + 1.55 * nrows), layout="constrained", dpi=100)
    grid = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    for index, ax in enumerate(grid):
        if index >= wide.shape[1]:
            ax.remove()
            continue
        client = wide.columns[index]
        color = palette.color(client)
        ax.plot(wide.index, wide[client], label=shorten(client, 200), color=color,
                linewidth=1.6,
                linestyle="-" if client != OTHER else "--")
        ax.fill_between(wide.index, wide[client], color=color, alpha=0.15, linewidth=0)
        ax.set_title(f"{shorten(client, 34)} · {int(wide[client].sum()):,} in total",
                     loc="left", fontsize=10)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.grid(axis="y", alpha=0.3)
        _utc_time_axis(ax, gran)
        ax.set_xlabel("")
        # tick labels under the lowest panel of each column only
        ax.tick_params(labelbottom=index + ncols >= wide.shape[1])
    fig.suptitle(f"{title} (each panel on its own scale)")
    fig.supxlabel(_axis_label(gran), fontsize=10)
    fig.supylabel(f"429 responses per {gran}", fontsize=10)
    return fig


def plot_status_mix(df: pd.DataFrame) -> Figure:
    """Share of requests by status class (2xx, 3xx, 4xx without 429, 429, 5xx).

    Parameters
    ----------
    df : DataFrame
        Either rows with the count columns ``status200``, ``status300``, ``status400``,
        ``status429``, ``status500`` (summed), or the ``status_mix`` analysis (``status``
        in ``status200``, ``status300``, ``status400_non429``, ``status429``,
        ``status500`` and ``count``; summed over periods).

    Returns
    -------
    Figure
        Horizontal bars, one per class, labelled with count and percentage.
    """
    counts = status_counts(df)
    total = int(counts.sum())
    fig, ax = _figure(height=3.2)
    ax.set_title(f"Status mix of {total:,} requests")
    if total == 0:
        _empty(ax)
        return fig
    labels = list(counts.index)[::-1]
    values = counts.to_numpy()[::-1]
    bars = ax.barh(labels, values, color=[STATUS_CLASSES[c] for c in labels])
    ax.bar_label(bars, labels=[f" {v:,} ({v / total:.1%})" for v in values], fontsize=9)
    ax.set_xlim(0, values.max() * 1.35)
    _count_axis(ax, "Requests", axis="x")
    ax.set_ylabel("Status class")
    return fig


def status_counts(df: pd.DataFrame) -> pd.Series:
    """Requests per status class (index in :data:`STATUS_CLASSES` order, ``int64``).

    Accepts the same two shapes as :func:`plot_status_mix`.
    """
    if {"status", "count"} <= set(df.columns):
        unknown = set(df["status"]) - set(_STATUS_COLUMNS)
        if unknown:
            raise ConfigError(
                f"unknown status values {sorted(unknown)}: use {list(_STATUS_COLUMNS)}"
            )
        series = df.groupby("status")["count"].sum().rename(index=_STATUS_COLUMNS)
    else:
        _require(df, [STATUS200, STATUS300, STATUS400, STATUS429, STATUS500],
                 "plot_status_mix")
        sums = df[[STATUS200, STATUS300, STATUS400, STATUS429, STATUS500]].sum()
        series = pd.Series({
            "2xx": sums[STATUS200],
            "3xx": sums[STATUS300],
            "4xx (not 429)": sums[STATUS400] - sums[STATUS429],
            "429 rate-limited": sums[STATUS429],
            "5xx": sums[STATUS500],
        })
    return series.reindex(list(STATUS_CLASSES), fill_value=0).astype("int64")


def plot_top_clients(
    df: pd.DataFrame,
    *,
    value: str = STATUS429,
    palette: Palette | None = None,
    top_n: int = 10,
    title: str | None = None,
) -> Figure:
    """Horizontal bars: the ``top_n`` clients by ``value`` (rest summed as ``other``).

    Parameters
    ----------
    df : DataFrame
        Rows with ``clientId``, ``clientName`` and ``value`` (summed per client).
    value : str
        The count column to rank by, e.g. ``status429`` or ``requests``.
    palette : Palette, optional
        The report's client colours.
    top_n : int
        How many clients to name.
    title : str, optional
        Defaults to "Top clients by <value>".

    Returns
    -------
    Figure
    """
    _require(df, [CLIENT_ID, CLIENT_NAME, value], "plot_top_clients")
    totals = (df.assign(client=client_labels(df)).groupby("client")[value].sum()
              .sort_values(ascending=False, kind="stable"))
    totals = totals[totals > 0]
    named = totals.iloc[:top_n]
    rest = int(totals.iloc[top_n:].sum())
    what = _VALUE_WORDS.get(value, value)
    fig, ax = _figure(height=max(2.5, 0.35 * (len(named) + 2)))
    ax.set_title(shorten(title, TITLE_WIDTH) if title
                 else f"Top {min(top_n, len(named)) or top_n} clients by {what}")
    if named.empty:
        _empty(ax, f"No {what} in this interval")
        return fig
    labels = [shorten(c, 40) for c in named.index]
    values = list(named.to_numpy())
    colors = [palette.color(c) if palette else CLIENT_COLORS[i % MAX_NAMED]
              for i, c in enumerate(named.index)]
    if rest:
        labels.append(f"{OTHER} ({len(totals) - len(named)} clients)")
        values.append(rest)
        colors.append(OTHER_COLOR)
    bars = ax.barh(labels[::-1], values[::-1], color=colors[::-1])
    ax.bar_label(bars, labels=[f" {v:,}" for v in values[::-1]], fontsize=9)
    ax.set_xlim(0, max(values) * 1.2)
    _count_axis(ax, what[0].upper() + what[1:], axis="x")
    ax.set_ylabel("OAuth client")
    return fig


_VALUE_WORDS = {
    STATUS429: "429 responses",
    REQUESTS: "requests",
    STATUS500: "5xx responses",
    STATUS400: "4xx responses",
}


def plot_error_rate_by_endpoint(
    df: pd.DataFrame,
    *,
    rate: str = "error_rate",
    top_n: int = 10,
    min_requests: int = 1,
) -> Figure:
    """Horizontal bars: the endpoints (method + template URI) with the highest error rate.

    Parameters
    ----------
    df : DataFrame
        One row per endpoint: ``templateUri``, ``httpMethod``, ``requests`` and the
        ``rate`` column (a fraction 0..1).
    rate : str
        Which rate column to draw.
    top_n : int
        How many endpoints to show.
    min_requests : int
        Ignore endpoints with fewer requests (a 1-of-1 failure is not news).

    Returns
    -------
    Figure
    """
    _require(df, [TEMPLATE_URI, HTTP_METHOD, REQUESTS, rate], "plot_error_rate_by_endpoint")
    data = df[df["requests"] >= min_requests].sort_values(
        [rate, "requests"], ascending=[False, False], kind="stable").head(top_n)
    data = data[data[rate] > 0]
    fig, ax = _figure(height=max(2.5, 0.35 * (len(data) + 2)))
    ax.set_title(f"Endpoints with the highest error rate (top {top_n})")
    if data.empty:
        _empty(ax, "No failing endpoints in this interval")
        return fig
    labels = [shorten(f"{m or '(any)'} {u or '(any endpoint)'}")
              for m, u in zip(data["httpMethod"], data["templateUri"], strict=True)]
    bars = ax.barh(labels[::-1], data[rate].to_numpy()[::-1], color="#d62728")
    ax.bar_label(bars, labels=[f" {r:.1%} of {n:,}" for r, n in zip(
        data[rate].to_numpy()[::-1], data["requests"].to_numpy()[::-1], strict=True)],
        fontsize=9)
    ax.set_xlim(0, min(1.0, float(data[rate].max()) * 1.45))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_xlabel("Error rate (4xx + 5xx, share of the endpoint's requests)")
    ax.set_ylabel("Endpoint")
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_traffic_by_method(df: pd.DataFrame) -> Figure:
    """Bars: requests per HTTP method, labelled with their share.

    Parameters
    ----------
    df : DataFrame
        Rows with ``httpMethod`` and ``requests`` (summed per method).

    Returns
    -------
    Figure
    """
    _require(df, [HTTP_METHOD, REQUESTS], "plot_traffic_by_method")
    totals = (df.groupby("httpMethod")["requests"].sum()
              .sort_values(ascending=False, kind="stable"))
    total = int(totals.sum())
    fig, ax = _figure(width=7.0, height=3.5)
    ax.set_title("Requests by HTTP method")
    if total == 0:
        _empty(ax)
        return fig
    labels = [m or "(none)" for m in totals.index]
    bars = ax.bar(labels, totals.to_numpy(), color="#1f77b4")
    ax.bar_label(bars, labels=[f"{v / total:.1%}" for v in totals.to_numpy()], fontsize=9)
    ax.set_ylim(0, totals.max() * 1.15)
    _count_axis(ax, "Requests")
    ax.set_xlabel("HTTP method")
    return fig


def plot_fair_use(
    df: pd.DataFrame,
    *,
    allowance: float | None = None,
) -> Figure:
    """Requests per month against the fair-use allowance, with the month-end projection.

    Parameters
    ----------
    df : DataFrame
        The ``fair_use`` analysis: one row per ``month`` with ``requests`` (so far),
        optionally ``projected_requests`` (drawn as a hatched extension of the bar) and
        ``allowance``.
    allowance : float, optional
        The monthly allowance, when ``df`` has no ``allowance`` column.

    Returns
    -------
    Figure
    """
    _require(df, ["month", "requests"], "plot_fair_use")
    fig, ax = _figure(height=3.8)
    ax.set_title("Requests per month against the fair-use allowance")
    if df.empty:
        _empty(ax)
        return fig
    data = df.assign(_m=_dates(df["month"])).sort_values("_m")
    labels = data["_m"].dt.strftime("%b %Y").tolist()
    used = data["requests"].to_numpy(dtype="float64")
    ax.bar(labels, used, color="#1f77b4", label="Requests so far")
    if "projected_requests" in data:
        projected = data["projected_requests"].fillna(data["requests"]).to_numpy()
        extra = (projected - used).clip(min=0)
        if extra.sum() > 0:
            ax.bar(labels, extra, bottom=used, color="none", edgecolor="#1f77b4",
                   hatch="//", label="Projected to month end")
    limit = data["allowance"].iloc[-1] if "allowance" in data else allowance
    if limit is not None and not pd.isna(limit) and limit > 0:
        ax.axhline(float(limit), color="#d62728", linestyle="--", linewidth=1.5,
                   label=f"Allowance {float(limit):,.0f}")
    ax.set_ylim(bottom=0)
    _count_axis(ax, "Requests per month")
    ax.set_xlabel("Month (UTC)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    return fig


def plot_fair_use_daily(df: pd.DataFrame) -> Figure:
    """The fair-use allowance used day by day in the last month of ``df``.

    Parameters
    ----------
    df : DataFrame
        The ``fair_use_daily`` analysis: ``date``, ``kind`` (``actual``/``projected``),
        ``cumulative`` with its ``cumulative_low``/``cumulative_high`` range, ``allowance``
        (empty when unknown).

    Returns
    -------
    Figure
    """
    _require(df, ["date", "kind", "cumulative", "cumulative_low", "cumulative_high",
                  "allowance"], "plot_fair_use_daily")
    fig, ax = _figure(height=3.8)
    ax.set_title("Fair-use allowance used day by day")
    if df.empty:
        _empty(ax)
        return fig
    data = df.assign(_d=_dates(df["date"])).sort_values("_d")
    month = data["_d"].dt.strftime("%Y-%m")
    data = data[month == month.iloc[-1]]
    actual = data[data["kind"] == "actual"]
    ahead = data[data["kind"] != "actual"]
    ax.plot(actual["_d"], actual["cumulative"], color="#1f77b4", linewidth=2,
            label="Requests so far")
    if not ahead.empty:
        joined = pd.concat([actual.tail(1), ahead])
        ax.plot(joined["_d"], joined["cumulative"], color="#1f77b4", linestyle="--",
                label="Projected")
        ax.fill_between(joined["_d"], joined["cumulative_low"], joined["cumulative_high"],
                        color="#1f77b4", alpha=0.15, linewidth=0, label="Projected range")
    limit = data["allowance"].iloc[-1]
    if not pd.isna(limit) and limit > 0:
        ax.axhline(float(limit), color="#d62728", linestyle="--", linewidth=1.5,
                   label=f"Allowance {float(limit):,.0f}")
    else:
        ax.text(0.01, 0.97, "Allowance unknown: give the org's licences", ha="left",
                va="top", transform=ax.transAxes, color="#555555")
    ax.set_ylim(bottom=0)
    _count_axis(ax, "Requests this month")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b", tz=UTC))
    ax.set_xlabel("Day (UTC)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (parent folders created); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, format="png", dpi=100)
    _logger.debug("wrote %s", target)
    return target
