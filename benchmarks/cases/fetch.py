"""A large paged fetch from the sandbox under an enforced rate limit: kit vs a naive client.

Each client runs in a fresh process against a fresh sandbox (``rate_limit`` requests per
``rate_window`` seconds per token, ``inin-ratelimit-*`` headers, 429 + ``Retry-After`` beyond).
Budget used = successful API requests / (limit x elapsed / window), the sustained rate; also
against limit x the fixed windows opened; time lost = elapsed minus
the time those requests need at exactly the limit.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks._common import CaseResult, Context, Row, Target
from benchmarks._measure import PYTHON, ProcessRun, run_process

NAME = "fetch"
TITLE = "Paged aggregates fetch under an enforced rate limit (sandbox on 127.0.0.1)"
FULL = {"rate_limit": 120, "rate_window": 10.0, "page_size": 25, "days": 60}
QUICK = {"rate_limit": 30, "rate_window": 1.0, "page_size": 20, "days": 5}
TARGET_USED = 0.90


def _run(client: str, config: dict[str, Any]) -> ProcessRun:
    return run_process([PYTHON, "-m", "benchmarks.tasks", "fetch", client,
                        "--config", json.dumps(config)])


def run(ctx: Context) -> CaseResult:
    """One fetch per client (a fetch is long and deterministic: not repeated)."""
    config = QUICK if ctx.quick else FULL
    res = CaseResult()
    runs = {"naive requests loop, sleeps Retry-After (baseline)": _run("naive", config),
            "kit: UsageClient (paces on inin-ratelimit-*)": _run("kit", config)}
    base = runs["naive requests loop, sleeps Retry-After (baseline)"].payload()
    for name, r in runs.items():
        p = r.payload()
        is_base = name.endswith("(baseline)")
        waited = f", slept {p['slept_s']:.1f} s on Retry-After" if p["slept_s"] else ""
        res.rows.append(Row(
            case=NAME, rows=p["rows"], variant=name, baseline=is_base, seconds=p["elapsed_s"],
            runs=1, peak_rss_bytes=r.peak_rss_bytes,
            vs_baseline="baseline" if is_base else
            f"{base['elapsed_s'] / p['elapsed_s']:.2f}x the baseline's speed",
            equal=None if is_base else p["rows"] == base["rows"],
            notes=(f"{p['requests']} requests, {p['status429']} x 429 met, "
                   f"{p['reached_caller']} reached the caller; budget used "
                   f"{p['budget_used']:.0%} (of the {p['windows']} windows opened: "
                   f"{p['window_budget_used']:.0%}), rows {p['rows_share']:.0%} of the "
                   f"budget's page capacity; {p['lost_s']:.1f} s lost to waiting{waited}"
                   + (f"; error {p['error']}" if p["error"] else "")),
            metrics=p))
    kit = runs["kit: UsageClient (paces on inin-ratelimit-*)"].payload()
    limit = f"{config['rate_limit']}/{config['rate_window']:g} s"
    if not ctx.quick:
        res.targets.append(Target(
            f"paged fetch under {limit}, pageSize {config['page_size']}",
            f">= {TARGET_USED:.0%} of the rate limit used, no 429 reaching the caller",
            f"{kit['budget_used']:.1%} used, {kit['status429']} x 429 met, "
            f"{kit['reached_caller']} reached the caller (naive: {base['budget_used']:.1%}, "
            f"{base['status429']} x 429)",
            kit["budget_used"] >= TARGET_USED and kit["reached_caller"] == 0))
    return res
