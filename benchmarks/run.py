"""The harness: generate inputs, run every case, write the results table (Markdown + JSON).

``python -m benchmarks --sizes 100k,1M,5M --repeat 3`` (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks._common import (
    BENCH_DIR,
    SCALE_PARTS,
    CaseResult,
    Context,
    Row,
    fmt_bytes,
    fmt_s,
    label,
    parse_size,
    to_json,
)

CASES = ("transform", "query", "scan", "fetch", "report", "explore", "trino", "scale")
#: What runs without --cases: scale is a long measurement of its own (see the README).
DEFAULT_CASES = tuple(c for c in CASES if c != "scale")
DEFAULT_SIZES = "100k,1M"
QUICK_SIZES = "2000"
QUICK_SPEC = {"clients": 30, "templates": 40, "users": 100, "days": 60}
PACKAGES = ("usagekit", "numpy", "pandas", "pyarrow", "duckdb", "msgspec", "sqlglot", "requests")


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:500].replace("|", "/")


def machine() -> dict[str, Any]:
    """The machine and software versions the numbers were measured on."""
    mem = 0
    try:
        with open("/proc/meminfo") as fp:
            mem = int(fp.readline().split()[1]) * 1024
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fp:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fp if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass
    jq = shutil.which("jq")
    jq_version = subprocess.run([jq, "--version"], capture_output=True, text=True).stdout.strip() \
        if jq else "absent"
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=BENCH_DIR).stdout.strip() or "unknown"
    return {
        "commit": commit, "cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem / 2**30, 1),
        "os": platform.platform(), "python": platform.python_version(), "jq": jq_version,
        "packages": versions,
    }


def markdown(results: dict[str, CaseResult], meta: dict[str, Any]) -> str:
    """The results as Markdown: machine, command, one table per case, the targets."""
    m = meta["machine"]
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    out = [
        f"Measured {meta['finished']} with `{meta['command']}` at commit {m['commit']} "
        f"({meta['elapsed_s']:.0f} s in all).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; {m['os']}; "
        f"Python {m['python']}; {m['jq']}; {pk}. Load average (1/5/15 min) at the start "
        f"{'/'.join(f'{x:.1f}' for x in meta['load_average_start'])}, at the end "
        f"{'/'.join(f'{x:.1f}' for x in meta['load_average'])} (other work shared the box).",
        "",
    ]
    for name, res in results.items():
        title = importlib.import_module(f"benchmarks.cases.{name}").TITLE
        out += [f"### {title}", "",
                "| rows | variant | median | runs | peak RSS | vs baseline | equal | notes |",
                "|---:|---|---:|---:|---:|---|---|---|"]
        for r in res.rows:
            equal = {True: "yes", False: "**NO**", None: ""}[r.equal]
            rows = label(r.rows) if r.rows else ""
            out.append(f"| {rows} | {r.variant} | {fmt_s(r.seconds)} | {r.runs or ''} | "
                       f"{fmt_bytes(r.peak_rss_bytes)} | {r.vs_baseline} | {equal} | {r.notes} |")
        out.append("")
    targets = [t for res in results.values() for t in res.targets]
    if targets:
        out += ["### Targets", "", "| target | goal | measured | met |", "|---|---|---|---|"]
        out += [f"| {t.name} | {t.goal} | {t.measured} | {'yes' if t.met else '**no**'} |"
                for t in targets]
        out.append("")
    return "\n".join(out)


def broken_rows(results: dict[str, CaseResult]) -> list[str]:
    """Variants that failed or whose output differed from the baseline's."""
    return [f"{r.case}: {r.variant}" for res in results.values() for r in res.rows
            if r.equal is False]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases; write ``results/<stamp>/results.{md,json}``; 1 if anything failed."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=None,
                   help=f"daily rows per input, comma-separated (default {DEFAULT_SIZES}; "
                        "e.g. 100k,1M,5M)")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs per measurement; the median is reported (default 3; a run "
                        "over 60 s is not repeated)")
    p.add_argument("--cases", default=",".join(DEFAULT_CASES),
                   help=f"which cases, comma-separated, of {','.join(CASES)} (default: all "
                        "but scale)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: tiny inputs ({QUICK_SIZES} rows), 1 run, short fetch")
    p.add_argument("--scale-parts", default=",".join(SCALE_PARTS),
                   help=f"the scale case's parts, of {','.join(SCALE_PARTS)} (default all)")
    p.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    p.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data",
                   help="where generated inputs are cached (default benchmarks/data)")
    p.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results",
                   help="where results go (default benchmarks/results)")
    a = p.parse_args(argv)
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; valid: {', '.join(CASES)}")
    parts = tuple(x.strip() for x in a.scale_parts.split(",") if x.strip())
    if not parts or set(parts) - set(SCALE_PARTS):
        p.error(f"invalid --scale-parts {a.scale_parts!r}; valid: {', '.join(SCALE_PARTS)}")
    if a.repeat < 1:
        p.error(f"--repeat must be >= 1, got {a.repeat}")
    sizes_text = a.sizes or (QUICK_SIZES if a.quick else DEFAULT_SIZES)
    try:
        sizes = tuple(sorted({parse_size(s) for s in sizes_text.split(",") if s.strip()}))
    except ValueError as exc:
        p.error(str(exc))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = a.results_dir / stamp
    ctx = Context(sizes=sizes, repeat=1 if a.quick else a.repeat, data_dir=a.data_dir,
                  work_dir=out_dir / "work", seed=a.seed, quick=a.quick,
                  spec_overrides=QUICK_SPEC if a.quick else {}, scale_parts=parts)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "-m", "benchmarks", *(argv if argv is not None
                                                           else sys.argv[1:])])
    start = time.perf_counter()
    load_at_start = os.getloadavg()
    results: dict[str, CaseResult] = {}
    for name in cases:
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            results[name] = importlib.import_module(f"benchmarks.cases.{name}").run(ctx)
        except Exception as exc:  # keep the other cases' numbers; report the failure
            print(f"[benchmarks] {name} FAILED: {exc}", file=sys.stderr, flush=True)
            results[name] = CaseResult(rows=[Row(case=name, rows=None, variant="FAILED",
                                                 equal=False, notes=_one_line(exc))])
        print(f"[benchmarks] {name} done in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr, flush=True)
    meta = {"command": command, "load_average_start": load_at_start,
            "load_average": os.getloadavg(),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "elapsed_s": time.perf_counter() - start, "sizes": sizes, "repeat": ctx.repeat,
            "seed": a.seed, "machine": machine()}
    text = markdown(results, meta)
    (out_dir / "results.md").write_text(text, encoding="utf-8")
    (out_dir / "results.json").write_text(to_json(results, meta), encoding="utf-8")
    if not broken_rows(results):
        shutil.rmtree(ctx.work_dir, ignore_errors=True)  # kept for a look when something failed
    print(text)
    print(f"[benchmarks] results in {out_dir}", file=sys.stderr)
    missed = [t.name for res in results.values() for t in res.targets if not t.met]
    if missed:
        print(f"[benchmarks] targets missed: {', '.join(missed)}", file=sys.stderr)
    broken = broken_rows(results)
    if broken:
        print(f"[benchmarks] failed or unequal: {', '.join(broken)}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
