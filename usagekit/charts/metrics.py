"""Charts of one picked metric (requests, 429s, errors or error rate): over time and ranked."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FuncFormatter, PercentFormatter

from usagekit.charts.figures import (
    _axis_label,
    _dates,
    _empty,
    _granularity,
    _require,
    _utc_time_axis,
)
from usagekit.charts.palette import OTHER, OTHER_COLOR, Palette
from usagekit.charts.tables import TITLE_WIDTH, percent, shorten
from usagekit.exceptions import ConfigError
from usagekit.row import REQUESTS, STATUS429

#: The metrics these charts draw, with their axis words.
METRIC_WORDS: dict[str, str] = {REQUESTS: "Requests", STATUS429: "429 responses",
                                "errors": "Errors (4xx + 5xx)",
                                "error_rate": "Error rate (4xx + 5xx share)"}
#: Colour of a line or bar that is no particular client.
TOTAL_COLOR = "#333333"
_BAR_COLOR = "#4c72b0"
#: Characters of a series' name shown in the legend (longer names are cut in the middle).
LEGEND_WIDTH = 60
_DPI = 100
_WIDTH_IN = 10.0
#: Margins in inches. These charts are redrawn on every click, so they get fixed margins
#: instead of constrained layout, which draws each figure twice (it halves the time).
_MARGINS = {"left": 0.95, "right": 0.45, "top": 0.42, "bottom": 0.62}
_LABEL_FONT = FontProperties(size=10)


def _figure(height: float, left: float = _MARGINS["left"]) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(_WIDTH_IN, height), dpi=_DPI)
    fig.subplots_adjust(left=left / _WIDTH_IN, right=1 - _MARGINS["right"] / _WIDTH_IN,
                        top=1 - _MARGINS["top"] / height, bottom=_MARGINS["bottom"] / height)
    return fig, fig.add_subplot()


def _text_width(labels: Sequence[str]) -> float:
    """Width in inches of the widest of ``labels`` in the tick label font."""
    measure = TextToPath()
    points = max((measure.get_text_width_height_descent(text, _LABEL_FONT, ismath=False)[0]
                  for text in labels), default=0.0)
    return points / 72


def _metric(metric: str) -> str:
    if metric not in METRIC_WORDS:
        raise ConfigError(f"invalid metric {metric!r}: use one of {', '.join(METRIC_WORDS)}")
    return METRIC_WORDS[metric]


def _value_axis(ax: Axes, metric: str, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    if metric == "error_rate":
        target.set_major_formatter(PercentFormatter(xmax=1.0))
    else:
        target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(METRIC_WORDS[metric])
    ax.grid(axis=axis, alpha=0.3)


def plot_metric_over_time(
    df: pd.DataFrame,
    *,
    metric: str = "requests",
    granularity: str = "day",
    palette: Palette | None = None,
    title: str | None = None,
) -> Figure:
    """One line per series: ``metric`` per period; periods without rows count 0.

    Parameters
    ----------
    df : DataFrame
        Rows of ``date``, ``series`` (a label per line) and the ``metric`` column.
    metric : str
        ``requests``, ``status429``, ``errors`` or ``error_rate``.
    granularity : str
        ``day``, ``week`` or ``month`` (any case).
    palette : Palette, optional
        Colours of the named series; a series it does not name is drawn dark grey
        (``other``: grey, dashed).
    title : str, optional
        Defaults to "<metric> per <period>".

    Returns
    -------
    Figure
        One ``Line2D`` per series, labelled with it, in the order of ``df``'s series.
    """
    word = _metric(metric)
    _require(df, ["date", "series", metric], "plot_metric_over_time")
    gran = _granularity(granularity)
    fig, ax = _figure(4.2)
    ax.set_title(shorten(title, TITLE_WIDTH) if title else f"{word} per {gran}")
    if df.empty:
        _empty(ax)
        return fig
    wide = df.assign(date=_dates(df["date"])).pivot_table(
        index="date", columns="series", values=metric, aggfunc="sum", sort=False)
    if metric != "error_rate":  # a period without rows had none; a rate stays unknown
        wide = wide.fillna(0)
    order = list(dict.fromkeys(df["series"]))
    order = [s for s in order if s != OTHER] + [s for s in order if s == OTHER]
    for name in order:
        color = OTHER_COLOR if name == OTHER else (
            palette.color(name) if palette and palette.bucket(name) != OTHER else TOTAL_COLOR)
        ax.plot(wide.index, wide[name], label=shorten(str(name), LEGEND_WIDTH), color=color,
                linewidth=2, linestyle="--" if name == OTHER else "-",
                marker="o" if len(wide) < 40 else None, markersize=3)
    ax.set_ylim(bottom=0)
    _value_axis(ax, metric)
    _utc_time_axis(ax, gran)
    ax.set_xlabel(_axis_label(gran))
    ax.legend(loc="upper left", frameon=False, ncols=3, fontsize="small")
    return fig


def plot_ranked_bars(
    df: pd.DataFrame,
    *,
    metric: str = "requests",
    label: str = "label",
    title: str = "",
    colors: Sequence[str | None] | None = None,
) -> Figure:
    """Horizontal bars of ``metric``, one per row of ``df`` in its order (first on top).

    Parameters
    ----------
    df : DataFrame
        Ranked rows with the ``label`` and ``metric`` columns (and ``requests``, shown
        beside a rate).
    metric : str
        ``requests``, ``status429``, ``errors`` or ``error_rate``.
    label : str
        The column naming each bar.
    title : str
        The chart's title.
    colors : sequence, optional
        One colour per row (None: the default colour); rows labelled ``other ...`` are
        grey.

    Returns
    -------
    Figure
    """
    word = _metric(metric)
    _require(df, [label, metric], "plot_ranked_bars")
    labels = [shorten(str(v), 48) for v in df[label]]
    fig, ax = _figure(max(2.5, 0.35 * (len(df) + 2)), left=_text_width(labels) + 0.3)
    ax.set_title(shorten(title, TITLE_WIDTH) if title else f"Ranked by {word.lower()}")
    values = df[metric].astype("float64").fillna(0.0).to_numpy()
    if df.empty or not values.any():
        _empty(ax, f"No {word.lower()} in this interval")
        return fig
    palette = list(colors) if colors is not None else [None] * len(df)
    shades = [OTHER_COLOR if str(name).startswith(OTHER) else (c or _BAR_COLOR)
              for name, c in zip(df[label], palette, strict=True)]
    bars = ax.barh(labels[::-1], values[::-1], color=shades[::-1])
    if metric == "error_rate":
        texts = [f" {percent(v)} of {int(n):,}" for v, n in zip(
            values, df["requests"], strict=True)]
    else:
        texts = [f" {v:,.0f}" for v in values]
    ax.bar_label(bars, labels=texts[::-1], fontsize=9)
    ax.set_xlim(0, float(values.max()) * 1.3)
    _value_axis(ax, metric, axis="x")
    return fig
