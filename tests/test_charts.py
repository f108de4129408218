"""Chart functions, tested on the figures they return (titles, series, labels, colours)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from usagekit import charts
from usagekit.charts.figures import STATUS_CLASSES, save_png, status_counts
from usagekit.charts.palette import OTHER_COLOR
from usagekit.charts.tables import client_labels, format_table
from usagekit.exceptions import ConfigError


def _client_days(n_clients: int, days: int = 21, seed: int = 7) -> pd.DataFrame:
    """Rows per (day, client) with random counts, 429 a subset of 400."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2026-10-01", periods=days, freq="D", tz="UTC")
    rows = []
    for i in range(n_clients):
        for d in dates:
            s200 = int(rng.integers(0, 1000)) * (n_clients - i)
            s400 = int(rng.integers(0, 50))
            s429 = int(rng.integers(0, s400 + 1)) * (i % 3 != 2)
            s500 = int(rng.integers(0, 5))
            rows.append({
                "date": d, "clientId": f"id-{i:04d}", "clientName": f"client {i:03d}",
                "status200": s200, "status300": 3, "status400": s400, "status429": s429,
                "status500": s500, "requests": s200 + 3 + s400 + s500,
            })
    return pd.DataFrame(rows)


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]


def _legend(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def _no_overlap(fig: Figure) -> None:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for axis in itertools.chain.from_iterable((ax.xaxis, ax.yaxis) for ax in fig.axes):
        boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels()
                 if t.get_visible() and t.get_text()]
        for a, b in itertools.pairwise(boxes):
            assert not a.overlaps(b), f"tick labels overlap: {a} {b}"


def test_requests_over_time_sums_per_period_with_utc_axis() -> None:
    df = _client_days(5)
    fig = charts.plot_requests_over_time(df, granularity="Day")
    ax = fig.axes[0]
    assert ax.get_title() == "Requests per day"
    assert ax.get_ylabel() == "Requests per day"
    assert "UTC" in ax.get_xlabel()
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["All requests", "429 rate-limited", "5xx server errors"]
    expected = df.groupby("date")["requests"].sum().to_numpy()
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), expected)
    assert len(ax.get_lines()[0].get_xdata()) == 21
    _no_overlap(fig)


def test_requests_over_time_marks_spikes_and_labels_weeks() -> None:
    df = _client_days(2)
    spike_day = df["date"].iloc[5]
    fig = charts.plot_requests_over_time(df, granularity="week",
                                         spikes=pd.DataFrame({"date": [spike_day]}))
    ax = fig.axes[0]
    assert ax.get_title() == "Requests per week"
    assert ax.get_xlabel() == "Week starting Monday (UTC)"
    assert "Spike" in _legend(fig)
    assert len(ax.collections[0].get_offsets()) == 1


@pytest.mark.parametrize("n_clients", [1, 500])
def test_rate_limited_over_time_names_top_clients_plus_other(n_clients: int) -> None:
    df = _client_days(n_clients, days=10)
    fig = charts.plot_rate_limited_over_time(df, granularity="day", top_n=5)
    assert fig.get_suptitle().startswith("429 (rate-limited) responses per day, by client")
    assert fig.get_supylabel() == "429 responses per day"
    assert fig.get_supxlabel() == "Day (UTC)"
    lines = [ax.get_lines()[0] for ax in fig.axes]  # small multiples: one line per panel
    assert all(len(ax.get_lines()) == 1 for ax in fig.axes)
    labels = [line.get_label() for line in lines]
    ranked = df.groupby("clientName")["status429"].sum().sort_values(
        ascending=False, kind="stable")
    ranked = ranked[ranked > 0]
    assert labels[: min(5, len(ranked))] == list(ranked.index[:5])
    for ax, client in zip(fig.axes, labels, strict=True):
        total = ranked.get(client, ranked.iloc[5:].sum())
        assert ax.get_title(loc="left") == f"{client} · {total:,} in total"
    if n_clients == 1:
        assert labels == ["client 000"]
    else:
        assert len(labels) == 6 and labels[-1] == "other"
        other = lines[-1].get_ydata()
        named = df[df["clientName"].isin(ranked.index[:5])]
        rest = df.groupby("date")["status429"].sum() - named.groupby("date")["status429"].sum()
        np.testing.assert_array_equal(other, rest.to_numpy())
        assert lines[-1].get_color() == OTHER_COLOR
    # the whole column is accounted for
    assert sum(line.get_ydata().sum() for line in lines) == df["status429"].sum()
    _no_overlap(fig)


def test_rate_limited_small_clients_keep_their_own_scale() -> None:
    """One client's 429s dwarf another's: each panel still spans its own client's range."""
    df = _client_days(2, days=14)
    df["status429"] = np.where(df["clientName"] == "client 000", 50_000, 30)
    df.loc[df.index[-1], "status429"] = 60  # the small client's own spike
    fig = charts.plot_rate_limited_over_time(df)
    big, small = fig.axes
    assert big.get_ylim()[1] >= 50_000
    assert 60 <= small.get_ylim()[1] < 200  # not squashed under the big client's scale
    assert fig.get_supxlabel() == "Day (UTC)"


def test_rate_limited_dates_only_under_the_lowest_panel_of_each_column() -> None:
    fig = charts.plot_rate_limited_over_time(_client_days(9, days=14), top_n=4)  # 4 + other
    FigureCanvasAgg(fig).draw()
    dated = [any(t.get_text() for t in ax.get_xticklabels() if t.get_visible())
             for ax in fig.axes]
    # 2 columns: panels 0 2 4 | 1 3; the lowest of each column carries the dates
    assert dated == [False, False, False, True, True]


def test_client_colours_are_consistent_across_charts() -> None:
    df = _client_days(30, days=7)
    palette = charts.Palette.from_frame(df, weight="requests", top_n=8)
    lines = [ax.get_lines()[0] for ax in charts.plot_rate_limited_over_time(
        df, palette=palette).axes]
    line_colour = {line.get_label(): line.get_color() for line in lines}
    bars = charts.plot_top_clients(df, value="requests", palette=palette, top_n=8).axes[0]
    bar_colour = {t.get_text(): p.get_facecolor() for t, p in
                  zip(bars.get_yticklabels(), bars.patches, strict=True)}
    shared = set(line_colour) & set(bar_colour) - {"other"}
    assert len(shared) >= 3
    from matplotlib.colors import to_rgba
    for client in shared:
        assert to_rgba(line_colour[client]) == pytest.approx(bar_colour[client])
        assert to_rgba(line_colour[client]) == to_rgba(palette.color(client))
    # the order of ranking fixes the colours, whatever chart is drawn first
    again = charts.Palette.from_frame(df.sample(frac=1, random_state=1), top_n=8)
    assert again.colors == palette.colors


def test_palette_buckets_and_limits() -> None:
    palette = charts.Palette.from_ranking(["a", "b", "c"], top_n=2)
    assert palette.clients == ("a", "b")
    assert palette.bucket("c") == "other" and palette.color("c") == OTHER_COLOR
    assert palette.color("a") != palette.color("b")
    with pytest.raises(ConfigError, match=r"top_n 0.*1\.\.20"):
        charts.Palette.from_ranking(["a"], top_n=0)


def test_client_labels_fall_back_to_id_and_disambiguate() -> None:
    df = pd.DataFrame({"clientId": ["aaaaaaaa-1", "bbbbbbbb-2", "cccccccc-3"],
                       "clientName": ["", "Same", "Same"]})
    assert list(client_labels(df)) == [
        "aaaaaaaa-1", "Same (bbbbbbbb)", "Same (cccccccc)"]


def test_top_clients_groups_the_tail_as_other() -> None:
    df = _client_days(40, days=3)
    fig = charts.plot_top_clients(df, value="status429", top_n=10)
    ax = fig.axes[0]
    assert ax.get_title() == "Top 10 clients by 429 responses"
    assert ax.get_xlabel() == "429 responses"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ax.patches) == 11
    positive = (df.groupby("clientName")["status429"].sum() > 0).sum()
    assert labels[0] == f"other ({positive - 10} clients)"
    widths = [p.get_width() for p in ax.patches]
    assert sum(widths) == df["status429"].sum()
    assert widths[1:] == sorted(widths[1:])  # biggest at the top


def test_status_mix_separates_429_from_4xx() -> None:
    df = _client_days(3)
    fig = charts.plot_status_mix(df)
    ax = fig.axes[0]
    total = int(df["requests"].sum())
    assert ax.get_title() == f"Status mix of {total:,} requests"
    labels = [t.get_text() for t in ax.get_yticklabels()][::-1]
    assert labels == list(STATUS_CLASSES)
    widths = [p.get_width() for p in ax.patches][::-1]
    assert widths[2] == df["status400"].sum() - df["status429"].sum()
    assert widths[3] == df["status429"].sum()
    assert sum(widths) == total
    share = df["status429"].sum() / total
    assert any(f"({share:.1%})" in t for t in _texts(fig))


def test_status_mix_accepts_tidy_shape_and_rejects_unknown_classes() -> None:
    tidy = pd.DataFrame({"status": ["status200", "status429", "status200"],
                         "count": [90, 10, 5]})
    counts = status_counts(tidy)
    assert counts["2xx"] == 95 and counts["429 rate-limited"] == 10 and counts["5xx"] == 0
    with pytest.raises(ConfigError, match=r"unknown status values.*'1xx'.*status200"):
        status_counts(pd.DataFrame({"status": ["1xx"], "count": [1]}))


def test_error_rate_by_endpoint_shows_worst_first_as_percent() -> None:
    df = pd.DataFrame({
        "templateUri": [f"/api/v2/things/{i}/" + "x" * 60 for i in range(15)],
        "httpMethod": ["GET", "POST", "PUT"] * 5,
        "requests": [1000] * 15,
        "error_rate": [i / 100 for i in range(15)],
    })
    fig = charts.plot_error_rate_by_endpoint(df, top_n=5)
    ax = fig.axes[0]
    assert len(ax.patches) == 5
    widths = [p.get_width() for p in ax.patches]
    assert widths[::-1] == [0.14, 0.13, 0.12, 0.11, 0.10]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert all(len(label) <= 48 for label in labels) and "…" in labels[0]
    assert labels[-1].startswith("PUT /api/v2/things/14/")
    assert ax.get_xlabel().startswith("Error rate")
    _no_overlap(fig)


def test_traffic_by_method_and_fair_use() -> None:
    df = _client_days(2).assign(httpMethod=lambda d: np.where(d.index % 3, "GET", "POST"))
    ax = charts.plot_traffic_by_method(df).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["GET", "POST"]
    assert sum(p.get_height() for p in ax.patches) == df["requests"].sum()

    months = pd.DataFrame({
        "month": pd.to_datetime(["2026-10-01", "2026-11-01"], utc=True),
        "requests": [900_000, 400_000], "projected_requests": [900_000, 1_300_000],
        "allowance": [1_100_000, 1_100_000],
    })
    fig = charts.plot_fair_use(months)
    ax = fig.axes[0]
    assert ax.get_title() == "Requests per month against the fair-use allowance"
    assert _legend(fig) == ["Allowance 1,100,000", "Requests so far", "Projected to month end"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Oct 2026", "Nov 2026"]
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert [p.get_height() for p in hatched] == [0, 900_000]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    legend = ax.get_legend().get_window_extent(canvas.get_renderer())
    assert not any(legend.overlaps(p.get_window_extent()) for p in ax.patches
                   if p.get_height() > 0), "the legend hides bars"


def test_fair_use_daily() -> None:
    days = pd.date_range("2026-10-01", periods=31, tz="UTC")
    kind = ["actual"] * 14 + ["projected"] * 17
    cumulative = np.arange(1, 32) * 1_000.0
    frame = pd.DataFrame({"date": days, "kind": kind, "cumulative": cumulative,
                          "cumulative_low": cumulative - np.r_[np.zeros(14), np.arange(17)],
                          "cumulative_high": cumulative + np.r_[np.zeros(14), np.arange(17)],
                          "allowance": pd.array([20_000] * 31, dtype="Int64")})
    fig = charts.plot_fair_use_daily(frame)
    ax = fig.axes[0]
    assert ax.get_title() == "Fair-use allowance used day by day"
    assert _legend(fig) == ["Requests so far", "Projected", "Projected range",
                            "Allowance 20,000"]
    solid, dashed = ax.lines[0], ax.lines[1]
    assert list(solid.get_ydata()) == list(cumulative[:14])
    assert list(dashed.get_ydata()) == list(cumulative[13:])  # joined at the last actual day
    unknown = charts.plot_fair_use_daily(frame.assign(
        allowance=pd.array([None] * 31, dtype="Int64")))
    assert "Allowance unknown" in unknown.axes[0].texts[0].get_text()
    assert len(unknown.axes[0].lines) == 2  # no allowance line


@pytest.mark.parametrize("fn", [charts.plot_requests_over_time,
                                charts.plot_rate_limited_over_time,
                                charts.plot_status_mix])
def test_empty_frames_say_so(fn: Callable[[pd.DataFrame], Figure]) -> None:
    fig = fn(_client_days(1).iloc[0:0])
    assert any(t.startswith("No ") for t in _texts(fig))


def test_bad_input_names_the_valid_values() -> None:
    with pytest.raises(ConfigError, match=r"'Fortnight'.*Day, Week, Month"):
        charts.plot_requests_over_time(_client_days(1), granularity="Fortnight")
    with pytest.raises(ConfigError, match=r"missing \['requests'\]"):
        charts.plot_requests_over_time(pd.DataFrame({"date": []}))


def test_format_table_thousands_percent_dates() -> None:
    df = pd.DataFrame({
        "clientName": ["a", "b"], "requests": pd.array([1234567, 12], dtype="int64"),
        "rate429": [0.0345, float("nan")],
        "since": pd.to_datetime(["2026-10-03", None], utc=True),
    })
    out = format_table(df, percent_columns=["rate429"], rename={"rate429": "429 rate"})
    assert list(out.columns) == ["clientName", "requests", "429 rate", "since"]
    readable = format_table(df.assign(projected_requests=[1234.6, 2.5]))
    assert list(readable.columns) == ["Client", "Requests", "429 rate", "since",
                                      "Projected at month end"]
    assert readable["429 rate"].tolist() == ["3.5 %", "-"]
    assert readable["Projected at month end"].tolist() == ["1,235", "2.50"]
    assert out.iloc[0].tolist() == ["a", "1,234,567", "3.5 %", "2026-10-03"]
    assert out.iloc[1].tolist() == ["b", "12", "-", "-"]


def test_save_png_writes_a_png(tmp_path: Path) -> None:
    path = save_png(charts.plot_status_mix(_client_days(1)), tmp_path / "a" / "mix.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
