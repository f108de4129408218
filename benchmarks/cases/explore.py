"""The interactive explorer: how long each click takes until its charts are drawn.

The kit (``ExplorerApp`` on ``DuckDBEngine`` over the kit's Parquet and NDJSON datasets)
against plain pandas answering and drawing the same selections on the Parquet dataset
loaded into one frame first. Also the embedded default: the sandbox's last 90 days,
stored by ``usagekit.report.gather.refresh`` as a new user's first run would. Each variant runs
in ``repeat`` fresh processes (every click is a first, uncached answer); the table shows
the median per click.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CaseResult,
    Context,
    Row,
    Target,
    dataset,
    interval,
    label,
    per_size,
)
from benchmarks._exploring import FIRST, STEPS
from benchmarks._measure import PYTHON, run_process

NAME = "explore"
TITLE = "Interactive explorer: each click until its view is drawn (median of fresh processes)"
TARGET_ROWS = 1_000_000
TARGET_S = 1.0
_BASELINE = "pandas / Parquet (baseline)"


def _runs(ctx: Context, task: str, root: Path, out: Path, config: dict[str, Any],
          check: Path | None = None) -> list[dict[str, Any]]:
    payloads = []
    for i in range(ctx.repeat):
        argv = [PYTHON, "-m", "benchmarks.tasks", task, root, "--out", out / str(i),
                "--config", json.dumps(config)]
        if check is not None:
            argv += ["--check", check]
        payloads.append(run_process(argv).payload())
    return payloads


def _median(payloads: list[dict[str, Any]], index: int) -> float:
    return statistics.median(p["steps"][index]["seconds"] for p in payloads)


def _versus(base_s: float, s: float) -> str:
    ratio = base_s / s
    return (f"{ratio:.1f}x faster than pandas" if ratio >= 1
            else f"{1 / ratio:.1f}x slower than pandas")


def _slowest(payloads: list[dict[str, Any]]) -> tuple[str, float]:
    """The slowest click after the first view (by its median)."""
    medians = {STEPS[i - 1][0]: _median(payloads, i) for i in range(1, len(STEPS) + 1)}
    name = max(medians, key=medians.__getitem__)
    return name, medians[name]


def _one_size(ctx: Context, rows: int) -> CaseResult:
    res = CaseResult()
    roots = {fmt: dataset(ctx, rows, fmt)[0] for fmt in ("parquet", "ndjson")}
    work = ctx.work_dir / f"explore-{rows}"
    config = {"interval": interval(ctx)}
    kit = {f"kit / {fmt.replace('ndjson', 'NDJSON').replace('parquet', 'Parquet')}":
           _runs(ctx, "explore-kit", roots[fmt], work / fmt, config) for fmt in roots}
    base = _runs(ctx, "explore-pandas", roots["parquet"], work / "pandas", config,
                 check=work / "parquet" / "0" / "answers.json")
    answers = {name: json.loads((work / fmt / "0" / "answers.json").read_text())
               for name, fmt in zip(kit, roots, strict=True)}
    wanted = json.loads((work / "pandas" / "0" / "answers.json").read_text())
    variants = {**kit, _BASELINE: base}
    for name, payloads in variants.items():
        is_base = name == _BASELINE
        opened = statistics.median(p["open_s"] for p in payloads)
        res.rows.append(Row(case=NAME, rows=rows, variant=f"{name}: open / load",
                            baseline=is_base, seconds=opened, runs=len(payloads),
                            notes="engine opened" if not is_base else "whole dataset loaded"))
    for index, step in enumerate([FIRST, *(n for n, _ in STEPS)]):
        base_s = _median(base, index)
        for name, payloads in variants.items():
            is_base = name == _BASELINE
            seconds = _median(payloads, index)
            queries = payloads[0]["steps"][index]["queries"]
            equal = None if is_base else answers[name][index][1] == wanted[index]
            res.rows.append(Row(
                case=NAME, rows=rows, variant=f"{step} — {name}", baseline=is_base,
                seconds=seconds, runs=len(payloads),
                vs_baseline="baseline" if is_base else _versus(base_s, seconds), equal=equal,
                notes="" if is_base else f"{queries} engine queries",
                metrics={"runs_s": [p["steps"][index]["seconds"] for p in payloads]}))
    if rows == TARGET_ROWS:
        for name in kit:
            step, seconds = _slowest(kit[name])
            res.targets.append(Target(
                f"every explorer click at {label(rows)} stored rows ({name})",
                f"<= {TARGET_S:g} s", f"slowest: {step}, {seconds * 1000:.0f} ms",
                seconds <= TARGET_S))
    return res


def _embedded(ctx: Context) -> CaseResult:
    """The sandbox's last 90 days, stored as the notebook's refresh does, then clicked."""
    from usagekit.embedded import GENESYS_VARS
    from usagekit.report import validate
    from usagekit.report.gather import refresh

    root = ctx.work_dir / "explore-embedded" / "data"
    env = {k: v for k, v in os.environ.items() if k not in GENESYS_VARS}
    params = validate("explore-interactive", dataset=str(root), env=env)
    refresh(params, env)
    payloads = _runs(ctx, "explore-kit", root, ctx.work_dir / "explore-embedded" / "runs",
                     {"interval": params.interval.text})
    res = CaseResult()
    for index, step in enumerate([FIRST, *(n for n, _ in STEPS)]):
        res.rows.append(Row(
            case=NAME, rows=None, variant=f"{step} — kit / embedded default (90 days)",
            seconds=_median(payloads, index), runs=len(payloads),
            vs_baseline=f"target <= {TARGET_S:g} s",
            notes=f"{payloads[0]['steps'][index]['queries']} engine queries; sandbox "
                  "data stored as NDJSON",
            metrics={"runs_s": [p["steps"][index]["seconds"] for p in payloads]}))
    step, seconds = _slowest(payloads)
    res.targets.append(Target("every explorer click on the embedded default",
                              f"<= {TARGET_S:g} s",
                              f"slowest: {step}, {seconds * 1000:.0f} ms",
                              seconds <= TARGET_S))
    return res


def run(ctx: Context) -> CaseResult:
    """The embedded default, then every size's datasets."""
    res = _embedded(ctx)
    sized = per_size(ctx, _one_size)
    return CaseResult(rows=res.rows + sized.rows, targets=res.targets + sized.targets)
