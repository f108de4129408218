"""Load the stored dataset and answer the blueprint's top-10 query and the analyses.

The kit (``DuckDBEngine`` over the kit's own Parquet and NDJSON datasets) against plain pandas
(``read_parquet`` of the same Parquet dataset, then pandas code). Each engine runs in one fresh
process: open/load once, then every query once cold and ``repeat`` times warm (median).
"""

from __future__ import annotations

import json

import pandas as pd

from benchmarks._common import CaseResult, Context, Row, Target, dataset, label, per_size
from benchmarks._measure import PYTHON, ProcessRun, run_process
from benchmarks._queries import QUERIES, same_answer

NAME = "query"
TITLE = "Dataset load + queries: kit (DuckDB) vs plain pandas (warm median; cold in notes)"
TARGET_ROWS = 5_000_000
TARGET_S = 0.100
TARGET_QUERY = "blueprint top-10 over day rows"


def _versus(base_s: float, s: float) -> str:
    ratio = base_s / s
    return (f"{ratio:.1f}x faster than pandas" if ratio >= 1
            else f"{1 / ratio:.1f}x slower than pandas")


def _engine(ctx: Context, task: str, root: object, out: object) -> ProcessRun:
    return run_process([PYTHON, "-m", "benchmarks.tasks", task, root, "--out", out,
                        "--config", json.dumps({"repeat": ctx.repeat})])


def _one_size(ctx: Context, rows: int) -> CaseResult:
    res = CaseResult()
    roots, exports = {}, {}
    for fmt in ("parquet", "ndjson"):
        roots[fmt], exports[fmt] = dataset(ctx, rows, fmt)
    for fmt, run in exports.items():
        if run is not None:
            n = run.payload()["rows"]
            res.rows.append(Row(
                case=NAME, rows=rows, variant=f"kit: export NDJSON → {fmt} dataset",
                seconds=run.wall_s, runs=1, peak_rss_bytes=run.peak_rss_bytes,
                notes=f"{n:,} rows (day+week+month) in one process, Dataset.write per "
                      "granularity", metrics={"rows_written": n}))
    answers = ctx.work_dir / f"answers-{rows}"
    variants = {
        "kit DuckDB / Parquet": ("query-kit", roots["parquet"]),
        "kit DuckDB / NDJSON": ("query-kit", roots["ndjson"]),
        "pandas / Parquet (baseline)": ("query-pandas", roots["parquet"]),
    }
    runs = {name: _engine(ctx, task, root, answers / name.split(" (")[0].replace(" / ", "-"))
            for name, (task, root) in variants.items()}
    payload = {name: r.payload() for name, r in runs.items()}
    base = payload["pandas / Parquet (baseline)"]
    for name, r in runs.items():
        p = payload[name]
        is_base = name.startswith("pandas")
        res.rows.append(Row(
            case=NAME, rows=rows, variant=f"{name}: open / load", baseline=is_base,
            seconds=p["open_s"], runs=1, peak_rss_bytes=r.peak_rss_bytes,
            vs_baseline="baseline" if is_base else _versus(base["open_s"], p["open_s"]),
            notes=f"process wall {r.wall_s:.1f} s for load + all queries; RSS of that process"))
    for i, q in enumerate(QUERIES):
        base_q = base["queries"].get(q.name)
        for name in variants:
            t = payload[name]["queries"].get(q.name)
            if t is None:
                continue
            is_base = name.startswith("pandas")
            equal = None
            if base_q is not None and not is_base:
                kit_ans = pd.read_pickle(answers / name.replace(" / ", "-") / f"{i}.pkl")
                pd_ans = pd.read_pickle(answers / "pandas-Parquet" / f"{i}.pkl")
                equal = same_answer(kit_ans, pd_ans, q.top_by)
            vs = "baseline" if is_base else (
                _versus(base_q["median_s"], t["median_s"]) if base_q else "no pandas version")
            res.rows.append(Row(
                case=NAME, rows=rows, variant=f"{q.name} — {name}", baseline=is_base,
                seconds=t["median_s"], runs=ctx.repeat, vs_baseline=vs, equal=equal,
                notes=f"cold {t['first_s'] * 1000:,.0f} ms",
                metrics={"first_s": t["first_s"], "granularity": q.granularity}))
    if rows == TARGET_ROWS:
        t = payload["kit DuckDB / Parquet"]["queries"][TARGET_QUERY]
        month = payload["kit DuckDB / Parquet"]["queries"][QUERIES[0].name]
        res.targets.append(Target(
            f"top-10 query over {label(rows)} local rows (Parquet)",
            f"< {TARGET_S * 1000:.0f} ms",
            f"{t['median_s'] * 1000:.0f} ms warm over the {label(rows)} day rows "
            f"(cold {t['first_s'] * 1000:.0f} ms); verbatim month query "
            f"{month['median_s'] * 1000:.0f} ms",
            t["median_s"] < TARGET_S))
    return res


def run(ctx: Context) -> CaseResult:
    """Export the datasets, then time every query on each engine, per size."""
    return per_size(ctx, _one_size)
