"""Scale (issue 15): memory set by the month, time linear in rows, a large org end to end.

Per size S (a year of S day rows, S/365 a day; 3 months = the same rows a day over
January to March), every step a fresh ``python -m usagekit …`` process, peak RSS its own:

1. **Memory by the month:** ``usagekit import FILE`` (Parquet, NDJSON) of the day rows into
   a fresh dataset and ``usagekit import FOLDER`` of a blueprint-layout folder holding them,
   over 3 and over 12 months; ``usagekit fetch --dataset`` and ``usagekit sync`` against a
   sandbox process serving S/365 rows a day. Each variant's 12-vs-3 ratio of peak RSS.
2. **Time linear in rows:** rows per second of the fetch (gzip: bytes on the wire vs
   decoded), of storing (the 12-month import to Parquet), of each analysis on DuckDB over
   that Parquet dataset (day + week + month rows; the query case's list).
3. **End to end:** ``usagekit sync --format parquet`` of a year from the sandbox into a
   fresh dataset, then ``usagekit report --no-refresh`` over that year.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import generate
from benchmarks._common import (
    BENCH_ORG_ID,
    CaseResult,
    Context,
    Row,
    Target,
    fmt_bytes,
    label,
    per_size,
    streamed_inputs,
)
from benchmarks._measure import PYTHON, ProcessRun, Repeated, run_process
from benchmarks._queries import QUERIES
from benchmarks._scaling import (
    CLIENT_ID,
    CLIENT_SECRET,
    GROUP_BY,
    blueprint_folder,
    fresh,
    interval_text,
    kit_env,
    run_kit,
    sandbox,
)

NAME = "scale"
TITLE = "Scale: memory by the month, rows per second, a large org end to end (fresh processes)"
MONTHS = (3, 12)
FORMATS = ("parquet", "ndjson")
RATIO_TARGET = 1.10
YEAR_ROWS, YEAR_RSS_TARGET = 5_000_000, 1.5e9


@dataclass
class _Size:
    """One size's measurements, gathered into rows and targets at the end."""

    ctx: Context
    rows: int
    res: CaseResult = field(default_factory=CaseResult)
    peaks: dict[str, dict[int, Repeated]] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.ctx.work_dir / f"scale-{self.rows}"

    def row(self, variant: str, run: Repeated | ProcessRun | None, *, rows: int | None = None,
            notes: str = "", vs: str = "", equal: bool | None = None,
            **metrics: object) -> None:
        rep = run if isinstance(run, Repeated) or run is None else Repeated([run])
        self.res.rows.append(Row(
            case=NAME, rows=self.rows, variant=variant,
            seconds=rep.wall_s if rep else None, runs=len(rep.runs) if rep else 0,
            peak_rss_bytes=rep.peak_rss_bytes if rep else None, vs_baseline=vs, equal=equal,
            notes=notes, metrics={"rows_in": rows, **metrics,
                                  "wall_s_runs": [r.wall_s for r in rep.runs] if rep else []}))


def _per_second(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"


def _measure_fresh(s: _Size, folder: Path, args: list[object],
                   env: dict[str, str] | None = None, *, keep: bool = False) -> Repeated:
    """``ctx.measure`` of ``usagekit ARGS --dataset FOLDER``, the folder emptied before each run.

    The folder is deleted afterwards unless ``keep`` (disk: a 20M-row dataset is GBs).
    """
    rep = s.ctx.measure(lambda: run_kit([*args, "--dataset", fresh(folder)], env))
    if not keep:
        fresh(folder)
    return rep


def _memory(s: _Size, files: dict[int, dict[str, Path]], specs: dict[int, generate.GeneratorSpec]
            ) -> None:
    """Import of a file and of a folder over 3 and 12 months (peak RSS per variant)."""
    for months in MONTHS:
        day = files[months]["day"]
        n = specs[months].rows
        for fmt in FORMATS:
            rep = _measure_fresh(s, s.work / f"import-file-{fmt}-{months}", [
                "import", "--org", BENCH_ORG_ID, day, "--format", fmt, "--granularity", "day",
                "--group-by", GROUP_BY], keep=(fmt, months) == ("parquet", 12))
            s.peaks.setdefault(f"usagekit import FILE --format {fmt}", {})[months] = rep
            s.row(f"usagekit import FILE --format {fmt}, {months} months", rep, rows=n,
                  notes=f"{n:,} day rows; {_per_second(n, rep.wall_s)}")
        source = blueprint_folder(day, s.work / f"blueprint-{months}")
        for fmt in FORMATS:
            rep = _measure_fresh(s, s.work / f"import-folder-{fmt}-{months}", [
                "import", "--org", BENCH_ORG_ID, source, "--format", fmt])
            s.peaks.setdefault(f"usagekit import FOLDER --format {fmt}", {})[months] = rep
            s.row(f"usagekit import FOLDER --format {fmt} (blueprint folder), {months} months", rep,
                  rows=n, notes=f"{n:,} day rows in granularity=day/usage.json")


def _from_sandbox(s: _Size, specs: dict[int, generate.GeneratorSpec]) -> None:
    """Fetch (memory, and rows per second with gzip) and sync against a large sandbox."""
    per_day = s.rows // 365
    for months in MONTHS:
        spec = specs[months]
        first, end = spec.start, spec.start + dt.timedelta(days=spec.days)
        with sandbox(end, per_day) as url:
            env = kit_env(url)
            rep = _measure_fresh(s, s.work / f"fetch-{months}", [
                "fetch", "--interval", interval_text(first, end), "--granularity", "Day",
                "--group-by", GROUP_BY, "--no-progress"], env)
            s.peaks.setdefault("usagekit fetch --dataset", {})[months] = rep
            s.row(f"usagekit fetch --dataset, {months} months", rep,
                  notes=f"sandbox: {per_day:,} rows a day")
            rep = _measure_fresh(s, s.work / f"sync-{months}", [
                "sync", "--group-by", GROUP_BY, "--since", first.isoformat(), "--until",
                end.isoformat(), "--no-progress"], env)
            s.peaks.setdefault("usagekit sync", {})[months] = rep
            s.row(f"usagekit sync (day, week, month), {months} months", rep,
                  notes=f"sandbox: {per_day:,} rows a day")


def _gzip_fetch(s: _Size, spec: generate.GeneratorSpec) -> None:
    """Rows per second of a year's fetch from the sandbox with gzip (wire vs decoded bytes)."""
    first, end = spec.start, spec.start + dt.timedelta(days=spec.days)
    with sandbox(end, s.rows // 365) as url:
        run = run_process([PYTHON, "-m", "benchmarks.tasks", "scale-fetch", url,
                           "--config", json.dumps({
                               "interval": interval_text(first, end),
                               "group_by": GROUP_BY, "client_id": CLIENT_ID,
                               "client_secret": CLIENT_SECRET})])
    p = run.payload()
    s.row("fetch from the sandbox with gzip (UsageClient.fetch, a year by month)", run,
          rows=p["rows"],
          notes=f"{p['rows']:,} rows; {_per_second(p['rows'], p['inner_s'])}; "
                f"{fmt_bytes(p['wire'])} on the wire, {fmt_bytes(p['decoded'])} "
                f"decoded ({p['decoded'] / max(p['wire'], 1):.1f}x), "
                f"{p['responses']} responses",
          **{k: v for k, v in p.items() if k != "rows"})


def _ratios(s: _Size) -> None:
    """The 12-vs-3 months peak-RSS rows; targets at the run's largest size."""
    largest = s.rows == max(s.ctx.sizes) and not s.ctx.quick
    for variant, by_months in s.peaks.items():
        if set(by_months) != set(MONTHS):
            continue
        short, year = by_months[3].peak_rss_bytes, by_months[12].peak_rss_bytes
        ratio = year / short
        s.row(f"peak RSS 12 vs 3 months — {variant}", None, vs=f"{ratio:.2f}x",
              notes=f"{fmt_bytes(year)} vs {fmt_bytes(short)}", ratio=ratio)
        if largest:
            s.res.targets.append(Target(
                f"memory set by the month: {variant}, {label(s.rows)} a year",
                f"12-month peak RSS within {RATIO_TARGET - 1:.0%} of 3 months'",
                f"{ratio:.2f}x ({fmt_bytes(year)} vs {fmt_bytes(short)})",
                ratio <= RATIO_TARGET))
    if s.rows == YEAR_ROWS:
        for fmt in FORMATS:
            rep = s.peaks[f"usagekit import FILE --format {fmt}"][12]
            s.res.targets.append(Target(
                f"a year of {label(s.rows)} rows: usagekit import FILE --format {fmt}",
                f"peak RSS <= {YEAR_RSS_TARGET / 1e9:g} GB", fmt_bytes(rep.peak_rss_bytes),
                rep.peak_rss_bytes <= YEAR_RSS_TARGET))


def _analyses(s: _Size, year: dict[str, Path], n: int) -> None:
    """Each analysis on DuckDB over the year's Parquet dataset (day + week + month rows)."""
    root = s.work / "import-file-parquet-12"
    if not root.exists():  # (kept by the memory part when it ran)
        rep = _measure_fresh(s, root, ["import", "--org", BENCH_ORG_ID, year["day"],
                                       "--format", "parquet",
                                       "--granularity", "day", "--group-by", GROUP_BY],
                             keep=True)
        s.row("usagekit import FILE --format parquet, 12 months", rep, rows=n,
              notes=f"{n:,} day rows; {_per_second(n, rep.wall_s)}")
    for gran in ("week", "month"):
        run = run_kit(["import", "--org", BENCH_ORG_ID, year[gran], "--format", "parquet",
                       "--granularity", gran, "--group-by", GROUP_BY, "--dataset", root])
        s.row(f"usagekit import FILE --format parquet, {gran} rows (for the analyses)", run)
    run = run_process([PYTHON, "-m", "benchmarks.tasks", "query-kit", root, "--out",
                       s.work / "answers", "--config", json.dumps({"repeat": s.ctx.repeat})])
    timings = run.payload()["queries"]
    s.row("DuckDB over Parquet: open + every analysis (one process)", run,
          notes="RSS of that process")
    for q in QUERIES:
        t = timings.get(q.name)
        if t is not None:
            s.res.rows.append(Row(
                case=NAME, rows=s.rows, variant=f"analysis: {q.name} — DuckDB / Parquet",
                seconds=t["median_s"], runs=s.ctx.repeat,
                notes=f"{_per_second(n, t['median_s'])} of day rows in the dataset; "
                      f"cold {t['first_s'] * 1000:,.0f} ms",
                metrics={"first_s": t["first_s"], "granularity": q.granularity}))


def _end_to_end(s: _Size) -> None:
    """A year synced from a sandbox of S/365 rows a day into Parquet, then the report."""
    first, end = dt.date(2021, 1, 1), dt.date(2022, 1, 1)
    data, reports = fresh(s.work / "e2e-data"), fresh(s.work / "e2e-reports")
    per_day = s.rows // 365
    with sandbox(end, per_day) as url:
        run = run_kit(["sync", "--format", "parquet", "--granularity", "day,week,month",
                       "--group-by", GROUP_BY, "--since", first.isoformat(), "--until",
                       end.isoformat(), "--dataset", data, "--no-progress"], kit_env(url))
    stored = run_process([PYTHON, "-m", "benchmarks.tasks", "count-rows", data]).payload()
    counts = stored["rows"]
    s.row("end to end: usagekit sync --format parquet (a year, day+week+month)", run,
          rows=sum(counts.values()),
          notes=f"sandbox {per_day:,} rows a day; stored " + ", ".join(
              f"{k} {v:,}" for k, v in sorted(counts.items())), stored=counts)
    run = run_kit(["report", "--dataset", data, "--no-refresh", "--interval",
                   interval_text(first, end), "--output-dir", reports])
    html = (reports / "usage-report.html").is_file()
    s.row("end to end: usagekit report --no-refresh (that year)", run, equal=html,
          notes="equal = usage-report.html written")


def _one_size(ctx: Context, rows: int) -> CaseResult:
    s = _Size(ctx, rows)
    base = ctx.spec(rows)
    specs = {m: generate.months_spec(base, m) for m in MONTHS}
    files = {m: streamed_inputs(ctx, spec) for m, spec in specs.items()
             if m == 12 or "memory" in ctx.scale_parts}
    if "memory" in ctx.scale_parts:
        _memory(s, files, specs)
        _from_sandbox(s, specs)
        _ratios(s)
    if "rates" in ctx.scale_parts:
        _gzip_fetch(s, specs[12])
        _analyses(s, files[12], specs[12].rows)
    if "e2e" in ctx.scale_parts:
        _end_to_end(s)
    return s.res


def run(ctx: Context) -> CaseResult:
    """Measure every step at every size of the run."""
    return per_size(ctx, _one_size)
