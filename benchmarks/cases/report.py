"""``python -m usagekit report`` end to end on the embedded default (sandbox + DuckDB).

Each run starts from an empty dataset and reports folder in a fresh process, with no
Genesys credentials in the environment, so it is what a new user's first run does: fetch
from the embedded sandbox, store, analyse, execute the notebook, render HTML.
"""

from __future__ import annotations

import os
import shutil

from benchmarks._common import CaseResult, Context, Row, Target
from benchmarks._measure import PYTHON, ProcessRun, run_process

NAME = "report"
TITLE = "`python -m usagekit report` end to end (embedded sandbox, fresh dataset each run)"
TARGET_S = 20.0


def run(ctx: Context) -> CaseResult:
    """Time the report command; check it produced the HTML."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_",
                                                                     "USAGEKIT_"))}
    counter = iter(range(1_000))
    html: list[bool] = []

    def once() -> ProcessRun:
        folder = ctx.work_dir / f"report-{next(counter)}"
        shutil.rmtree(folder, ignore_errors=True)
        r = run_process([PYTHON, "-m", "usagekit", "report", "--dataset", folder / "data",
                         "--output-dir", folder / "reports"], env=env)
        html.append((folder / "reports" / "usage-report.html").is_file())
        return r

    rep = ctx.measure(once)
    res = CaseResult(rows=[Row(
        case=NAME, rows=None, variant="python -m usagekit report", seconds=rep.wall_s,
        runs=len(rep.runs), peak_rss_bytes=rep.peak_rss_bytes, equal=all(html),
        vs_baseline=f"target < {TARGET_S:g} s",
        notes="equal = usage-report.html written every run; RSS of the CLI process and the "
              "kernel it waited for",
        metrics={"wall_s_runs": [r.wall_s for r in rep.runs]})])
    if not ctx.quick:
        res.targets.append(Target("report end to end", f"< {TARGET_S:g} s",
                                  f"{rep.wall_s:.1f} s (median of {len(rep.runs)})",
                                  rep.wall_s < TARGET_S and all(html)))
    return res
