"""``usagekit report``: run the report notebook with papermill and render the HTML."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from usagekit.config.settings import (
    ENGINES,
    ENV_ACCESS_TOKEN,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_DATASET,
    ENV_REGION,
    ENV_STACK,
    is_s3,
)
from usagekit.display import visible
from usagekit.report.params import parse_value
from usagekit.row import GRANULARITIES, ORG

_FLAGS = ("interval", "granularity", "engine", "dataset", "top_n", "licences", "refresh",
          "profile", ORG)


def register(sub: Any) -> None:
    """Register ``usagekit report`` on the sub-parsers ``sub``."""
    parser = sub.add_parser(
        "report",
        help="run the usage report notebook and render it as HTML",
        description=(
            "Execute notebooks/03-usage-report.ipynb with papermill into "
            "<output-dir>/<YYYY-MM-DDTHHMMSSZ>/ and render usage-report.html there (code "
            "hidden, charts embedded, one self-contained file); the latest report is "
            "also copied to <output-dir>/usage-report.html. Credentials come from the "
            f"environment ({ENV_REGION}, {ENV_CLIENT_ID}, "
            f"{ENV_CLIENT_SECRET} or {ENV_ACCESS_TOKEN}); without them the "
            "report runs on the embedded sandbox. A failing run exits non-zero and keeps "
            "the executed notebook in its run folder. A parameter left out takes its "
            "default from the notebook's parameters cell."
        ),
    )
    parser.add_argument("--interval", help='ISO-8601 interval, e.g. "2026-10-01/2026-11-01" '
                        "(default: the last 90 complete UTC days)")
    parser.add_argument("--granularity", choices=GRANULARITIES, type=str.title,
                        help="period of the time series")
    parser.add_argument("--engine", choices=ENGINES, type=str.lower,
                        help="local (DuckDB), athena or trino")
    parser.add_argument("--dataset", metavar="LOC",
                        help="dataset folder or s3://bucket/prefix/ "
                        f"(default: ${ENV_DATASET}, the ${ENV_STACK} stack's "
                        "data location, or data/usage)")
    parser.add_argument("--profile", metavar="NAME",
                        help="a Genesys Cloud CLI profile in ~/.gc/config.toml for the "
                             "credentials and region (a name, passed to the notebook)")
    parser.add_argument("--org", metavar="NAME|ID",
                        help="the organisation of the dataset the report covers (its name, id "
                             "or short id); default: the one the refresh connects to, else the "
                             "dataset's only one (a dataset of several orgs also gets a "
                             "cross-org overview)")
    parser.add_argument("--top-n", type=int, help="clients named in charts")
    parser.add_argument("--licences", metavar="FILE",
                        help="the org's licences file (TOML, README \"Fair use\"); without "
                             "it the fair-use allowance is unknown")
    parser.add_argument("--no-refresh", dest="refresh", action="store_const", const=False,
                        help="analyse the dataset as it is, without syncing it first")
    parser.add_argument("--output-dir", metavar="DIR", default=None,
                        help="reports folder holding the dated run folders (default: reports/)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="any other report parameter")
    parser.add_argument("--notebook", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel (default: python3)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from usagekit.report import run_report
    from usagekit.report.run import REPORT_NOTEBOOK

    notebook = Path(args.notebook) if args.notebook else REPORT_NOTEBOOK
    values: dict[str, Any] = {}
    for name, text in args.parameter:
        values[name] = parse_value(notebook, name, text)
    for name in _FLAGS:
        value = getattr(args, name)
        if value is not None:
            values[name] = value
    if values.get("dataset") and not is_s3(values["dataset"]):
        values["dataset"] = os.path.abspath(values["dataset"])  # relative to the caller
    if values.get("licences"):
        values["licences"] = os.path.abspath(values["licences"])
    output_dir = Path(args.output_dir).resolve() if args.output_dir else None
    result = run_report(values, output_dir, notebook=notebook, kernel=args.kernel)
    connection = result.summary().get("source", {}).get("connection")
    if connection:  # where the refresh fetched from, first (as fetch and sync say it)
        print(f"usagekit: {visible(connection)}", file=sys.stderr)
    print(result.html)
    return 0
