"""The explore case's clicks: the kit's explorer, and the same views in plain pandas.

The kit's side drives an :class:`usagekit.explore.ExplorerApp` by setting widget values,
as a person's clicks do, and times each change until the new charts are drawn (PNG bytes
ready). The baseline answers the same selections with pandas on the whole Parquet dataset
loaded into one frame first, and draws what the explorer shows: the same chart (PNG) and
the breakdown table (HTML).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks._queries import GROUPING

COUNTS = ["requests", "status429", "errors"]


def _pick_busiest(app: Any) -> None:
    app.clients.value = (app.clients.options[0][1],)


def _drill_first(app: Any) -> None:
    app.drill.value = app.drill.options[0][1]


def _drill_second(app: Any) -> None:
    app.drill.value = app.drill.options[min(1, len(app.drill.options) - 1)][1]


def _metric(app: Any) -> None:
    app.metric.value = "error_rate"


def _week(app: Any) -> None:
    app.granularity.value = "Week"


def _three_clients(app: Any) -> None:
    app.clients.value = tuple(cid for _label, cid in app.clients.options[:3])


def _last_30_days(app: Any) -> None:
    app.start.value = app.end.value - timedelta(days=29)


def _back(app: Any) -> None:
    app.back.click()


#: The clicks, in order, after the first view; each is timed until its charts are drawn.
STEPS: list[tuple[str, Callable[[Any], None]]] = [
    ("pick the busiest client", _pick_busiest),
    ("drill into its busiest endpoint", _drill_first),
    ("drill into that endpoint's 2nd client", _drill_second),
    ("metric: error rate", _metric),
    ("granularity: Week", _week),
    ("pick 3 clients", _three_clients),
    ("interval: its last 30 days", _last_30_days),
    ("back", _back),
]
FIRST = "open the explorer: first view"


def _answer(series: pd.DataFrame, breakdown: pd.DataFrame) -> dict[str, Any]:
    """What both sides must agree on: requests per period and per breakdown row."""
    per_period = series.groupby("date")["requests"].sum()
    return {"periods": [str(d) for d in per_period.index],
            "per_period": [int(v) for v in per_period],
            "per_row": sorted((str(k), int(v)) for k, v in zip(
                breakdown["key"], breakdown["requests"], strict=True))}


def run_kit(root: str, interval: str, out: Path) -> dict[str, Any]:
    """Open the explorer on ``root`` (DuckDB), click through :data:`STEPS`, time each."""
    from usagekit.engine import DuckDBEngine
    from usagekit.explore import Explorer, ExplorerApp, Selection
    from usagekit.query import parse_interval

    started = time.perf_counter()
    engine = DuckDBEngine(root)
    opened = time.perf_counter() - started
    steps, answers = [], []
    t0 = time.perf_counter()
    app = ExplorerApp(Explorer(engine), Selection(parse_interval(interval)),
                      output_dir=out / "export")
    done = [(FIRST, time.perf_counter() - t0, app.explorer.queries.asked)]
    answers.append((app.view.selection.describe(), _answer(app.view.series,
                                                           app.view.breakdown)))
    for name, click in STEPS:
        asked = app.explorer.queries.asked
        t0 = time.perf_counter()
        click(app)
        done.append((name, time.perf_counter() - t0, app.explorer.queries.asked - asked))
        if "error" in app.status.value.lower():
            raise RuntimeError(f"{name}: {app.status.value}")
        answers.append((app.view.selection.describe(), _answer(app.view.series,
                                                               app.view.breakdown)))
    for name, seconds, asked in done:
        steps.append({"name": name, "seconds": seconds, "queries": asked})
    out.mkdir(parents=True, exist_ok=True)
    (out / "answers.json").write_text(json.dumps(answers))
    return {"open_s": opened, "steps": steps}


def _pandas_view(df: pd.DataFrame, sel: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from usagekit.charts.tables import client_labels

    start, end = (pd.Timestamp(t) for t in sel["span"].split("/"))
    part = df[(df["granularity"] == sel["granularity"].lower()) & (df["grouping"] == GROUPING)
              & (df["ts"] >= start) & (df["ts"] < end)]
    part = part.assign(errors=part["status400"] + part["status500"])
    keep = part["clientId"].isin(sel["clients"]) if sel["clients"] else pd.Series(
        True, index=part.index)
    for column, value in (("templateUri", sel["template_uri"]),
                          ("httpMethod", sel["http_method"])):
        if value:
            keep &= part[column] == value
    kept = part[keep]
    if sel["breakdown"] == "client":
        breakdown = kept.groupby("clientId", as_index=False).agg(
            clientName=("clientName", "max"), **{c: (c, "sum") for c in COUNTS})
        breakdown = breakdown.assign(key=breakdown["clientId"],
                                     label=client_labels(breakdown))
    else:
        breakdown = kept.groupby(["httpMethod", "templateUri"], as_index=False)[COUNTS].sum()
        breakdown = breakdown.assign(
            key=[f"('{m}', '{u}')" for m, u in zip(breakdown["httpMethod"],
                                                   breakdown["templateUri"], strict=True)],
            label=breakdown["httpMethod"] + " " + breakdown["templateUri"])
    breakdown = breakdown.assign(error_rate=breakdown["errors"] / breakdown["requests"])
    breakdown = breakdown.sort_values([sel["metric"], "requests"], ascending=False)
    by = ["ts", "clientId"] if sel["clients"] else ["ts"]
    series = kept.groupby(by, as_index=False)[COUNTS].sum().rename(columns={"ts": "date"})
    labels = (series["clientId"] if sel["clients"] else pd.Series("all", index=series.index))
    series = series.assign(series=labels.astype("string"),
                           error_rate=series["errors"] / series["requests"])
    return series, breakdown


def run_pandas(root: str, answers: Path, out: Path) -> dict[str, Any]:
    """Load the Parquet dataset into one frame; answer and draw each selection."""
    from io import BytesIO

    from benchmarks._queries import load_pandas
    from usagekit import charts
    from usagekit.charts.tables import bar_table

    started = time.perf_counter()
    df = load_pandas(root)
    opened = time.perf_counter() - started
    steps, mine = [], []
    names = [FIRST, *(name for name, _ in STEPS)]
    for name, (sel, _kit) in zip(names, json.loads(answers.read_text()), strict=True):
        t0 = time.perf_counter()
        series, breakdown = _pandas_view(df, sel)
        # what the explorer shows: the series chart (PNG) and the breakdown as HTML
        charts.plot_metric_over_time(series, metric=sel["metric"],
                                     granularity=sel["granularity"]).savefig(
            BytesIO(), format="png", dpi=100, pil_kwargs={"compress_level": 1})
        bar_table(breakdown.head(10), value=sel["metric"])
        steps.append({"name": name, "seconds": time.perf_counter() - t0, "queries": 0})
        mine.append(_answer(series, breakdown))
    out.mkdir(parents=True, exist_ok=True)
    (out / "answers.json").write_text(json.dumps(mine))
    return {"open_s": opened, "steps": steps}
