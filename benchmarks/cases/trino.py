"""The same queries on DuckDB and on a real Trino 476, in one run, over the same dataset.

Trino (the engine lineage of Athena engine 3, and what teams run themselves) reads the kit's
own Parquet and NDJSON datasets through the table the kit creates
(:meth:`usagekit.engine.TrinoEngine.create_table`, Hive connector, native local file system).
One single-node server (``tests/externals/trino.py``, full JIT) serves the whole run; each
engine runs in a fresh client process: open once, then every query once cold and ``repeat``
times warm. Trino's frames are compared with DuckDB's (columns, dtypes, values; floats to
1e-9): equality is the point, the ratio says what the bigger engine costs at this size.
Skipped by ``--quick`` (a Trino start takes 25-120 s) and when Trino cannot be had.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from benchmarks._common import CaseResult, Context, Row, dataset, per_size
from benchmarks._measure import PYTHON, ProcessRun, run_process
from benchmarks._queries import QUERIES, same_frame

NAME = "trino"
TITLE = ("Same queries on DuckDB and Trino 476 (single node, same files; warm median, "
         "cold in notes)")
#: The blueprint's query names the table: each format gets it in turn.
TABLE = "gc_usage_api_source"


def _versus(base_s: float, s: float) -> str:
    ratio = s / base_s
    return (f"{ratio:.1f}x DuckDB's time" if ratio >= 1
            else f"{1 / ratio:.1f}x faster than DuckDB")


def _client(ctx: Context, task: str, src: str, out: Path, table: str = "") -> ProcessRun:
    return run_process([PYTHON, "-m", "benchmarks.tasks", task, src, "--out", out,
                        "--config", json.dumps({"repeat": ctx.repeat, "table": table})])


def _one_size(ctx: Context, rows: int, server: object, url: str) -> CaseResult:
    from usagekit.config import TrinoSettings
    from usagekit.engine import TrinoEngine

    res = CaseResult()
    for fmt in ("parquet", "ndjson"):
        root, _ = dataset(ctx, rows, fmt)
        with TrinoEngine(TrinoSettings(url, table=TABLE)) as engine:
            engine.execute(f"DROP TABLE IF EXISTS hive.genesysclouddb.{TABLE}")
            engine.create_table(f"local:///{root.relative_to(ctx.work_dir).as_posix()}", fmt)
        answers = ctx.work_dir / f"trino-answers-{rows}-{fmt}"
        runs = {"DuckDB": _client(ctx, "query-kit", str(root), answers / "duckdb"),
                "Trino": _client(ctx, "query-trino", url, answers / "trino", TABLE)}
        payload = {name: run.payload() for name, run in runs.items()}
        for name, run in runs.items():
            p = payload[name]
            res.rows.append(Row(
                case=NAME, rows=rows, variant=f"{name} / {fmt}: open", baseline=name == "DuckDB",
                seconds=p["open_s"], runs=1, peak_rss_bytes=run.peak_rss_bytes,
                vs_baseline="baseline" if name == "DuckDB" else "",
                notes=f"client process wall {run.wall_s:.1f} s for open + all queries"
                      + ("" if name == "DuckDB" else
                         f"; server RSS {(server.rss_bytes() or 0) / 1e6:,.0f} MB")))
        for i, q in enumerate(QUERIES):
            duck = payload["DuckDB"]["queries"][q.name]
            trino = payload["Trino"]["queries"][q.name]
            equal = same_frame(pd.read_pickle(answers / "trino" / f"{i}.pkl"),
                               pd.read_pickle(answers / "duckdb" / f"{i}.pkl"), q.top_by)
            for name, t in (("DuckDB", duck), ("Trino", trino)):
                is_base = name == "DuckDB"
                res.rows.append(Row(
                    case=NAME, rows=rows, variant=f"{q.name} — {name} / {fmt}",
                    baseline=is_base, seconds=t["median_s"], runs=ctx.repeat,
                    vs_baseline="baseline" if is_base else _versus(duck["median_s"],
                                                                   t["median_s"]),
                    equal=None if is_base else equal,
                    notes=f"cold {t['first_s'] * 1000:,.0f} ms",
                    metrics={"first_s": t["first_s"], "granularity": q.granularity}))
    return res


def run(ctx: Context) -> CaseResult:
    """Start one Trino for the run, then time every query on both engines, per size."""
    if ctx.quick:
        return CaseResult(rows=[Row(case=NAME, rows=None, variant="skipped (--quick)",
                                    notes="a Trino start alone takes 25-120 s; run "
                                          "--cases trino without --quick")])
    from tests.externals.trino import TrinoServer, TrinoUnavailable

    try:
        server = TrinoServer(ctx.work_dir, heap="2G", query_memory="1GB", c1_only=False)
        server.start()
    except TrinoUnavailable as exc:
        return CaseResult(rows=[Row(case=NAME, rows=None, variant="Trino unavailable",
                                    notes=str(exc).splitlines()[0])])
    try:
        url = f"http://usagekit@{server.host}:{server.port}/hive/genesysclouddb"
        result = per_size(ctx, lambda c, rows: _one_size(c, rows, server, url))
        result.rows.insert(0, Row(case=NAME, rows=None, variant="Trino server start",
                                  seconds=server.startup_seconds, runs=1,
                                  notes="single node, 2 GB heap, full JIT; until SELECT 1 "
                                        "answers"))
        return result
    finally:
        server.stop()
