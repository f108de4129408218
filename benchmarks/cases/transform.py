"""Response -> NDJSON / DataFrame: the blueprint's ``jq -c '.results[]'`` against the kit."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks._common import CaseResult, Context, Row, Target, inputs, label, per_size, same_bytes
from benchmarks._measure import PYTHON, Repeated, run_process

NAME = "transform"
TITLE = "Response JSON → NDJSON / DataFrame (fresh process per run; time includes start-up)"
JQ = shutil.which("jq") or "/usr/bin/jq"
TARGET_ROWS = 1_000_000
SPEEDUP_TARGET = 10.0
RSS_TARGET = 2.5


def _task(name: str, *args: object) -> list[object]:
    return [PYTHON, "-m", "benchmarks.tasks", name, *args]


def _row(variant: str, rep: Repeated, jq: Repeated, rows: int, size: int, *,
         baseline: bool = False, equal: bool | None = None, notes: str = "") -> Row:
    ratio = jq.wall_s / rep.wall_s
    rss = rep.peak_rss_bytes / size
    return Row(
        case=NAME, rows=rows, variant=variant, baseline=baseline, seconds=rep.wall_s,
        runs=len(rep.runs), peak_rss_bytes=rep.peak_rss_bytes,
        vs_baseline="baseline" if baseline else f"{ratio:.1f}x faster than jq",
        equal=equal,
        notes=f"{size / 1e6 / rep.wall_s:,.0f} MB/s; RSS {rss:.2f}x response"
              + (f"; {notes}" if notes else ""),
        metrics={"speedup_vs_jq": ratio, "rss_over_response": rss, "response_bytes": size,
                 "wall_s_runs": [r.wall_s for r in rep.runs]},
    )


def _one_size(ctx: Context, rows: int) -> CaseResult:
    response = inputs(ctx, rows)["response"]
    size = response.stat().st_size
    out = ctx.work_dir / f"transform-{rows}"
    out.mkdir(parents=True, exist_ok=True)
    jq_out, kit_out, floor_out = out / "jq.ndjson", out / "kit.ndjson", out / "floor.ndjson"

    jq = ctx.measure(lambda: run_process([JQ, "-c", ".results[]", response],
                                         stdout_path=jq_out))
    kit = ctx.measure(lambda: run_process(_task("kit-ndjson", response, "--out", kit_out)))
    floor = ctx.measure(lambda: run_process(_task("floor-ndjson", response, "--out",
                                                  floor_out)))
    frame = ctx.measure(lambda: run_process(_task("kit-frame", response)))
    pandas = ctx.measure(lambda: run_process(_task("pandas-frame", response)))
    ndjson_equal = same_bytes(jq_out, kit_out)
    floor_equal = same_bytes(jq_out, floor_out)
    checked = run_process(_task("kit-frame", response, "--check", jq_out)).payload()
    frame_equal = bool(checked["equal"])
    res = CaseResult(rows=[
        _row("jq -c '.results[]' (blueprint)", jq, jq, rows, size, baseline=True,
             notes=f"response {size / 1e6:,.1f} MB"),
        _row("kit: UsageResult.write_ndjson", kit, jq, rows, size, equal=ndjson_equal,
             notes="byte-equal to jq" if ndjson_equal else "DIFFERS from jq"),
        _row("floor: read + msgspec split + one write (no kit)", floor, jq, rows, size,
             equal=floor_equal, notes="what the machine allows, see query-engine.md §8"),
        _row("kit: response → typed DataFrame", frame, jq, rows, size, equal=frame_equal,
             notes="= rows parsed from jq's output" if frame_equal else "DIFFERS"),
        _row("pandas: json.load + DataFrame + dtypes", pandas, jq, rows, size),
    ])
    if rows == TARGET_ROWS:
        speedup = jq.wall_s / kit.wall_s
        rss = kit.peak_rss_bytes / size
        res.targets = [
            Target(f"response→NDJSON speed, {label(rows)} rows",
                   f">= {SPEEDUP_TARGET:g}x faster than jq, byte-equal",
                   f"{speedup:.1f}x ({kit.wall_s:.2f} s vs {jq.wall_s:.2f} s), "
                   f"{'byte-equal' if ndjson_equal else 'NOT equal'}",
                   speedup >= SPEEDUP_TARGET and ndjson_equal),
            Target(f"response→NDJSON peak memory, {label(rows)} rows",
                   f"<= {RSS_TARGET:g}x the response size",
                   f"{rss:.2f}x ({kit.peak_rss_bytes / 1e6:,.0f} MB for {size / 1e6:,.0f} MB;"
                   f" jq {jq.peak_rss_bytes / size:.2f}x)",
                   rss <= RSS_TARGET),
        ]
    for path in (jq_out, kit_out, floor_out):
        Path(path).unlink(missing_ok=True)
    return res


def run(ctx: Context) -> CaseResult:
    """Measure jq, the kit's NDJSON and DataFrame paths, and plain pandas, per size."""
    return per_size(ctx, _one_size)
