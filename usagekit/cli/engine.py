"""``usagekit sql``, ``analyze`` and ``trino-table``: run SQL or an analysis; the Trino table."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from usagekit.config.settings import (
    DATASET_FORMATS,
    DEFAULT_DATASET,
    ENGINES,
    ENV_DATASET,
    ENV_STACK,
    ENV_TRINO_PASSWORD,
    ENV_TRINO_TOKEN,
    ENV_TRINO_URL,
)
from usagekit.exceptions import ConfigError
from usagekit.row import GRANULARITY_VALUES

_OUTPUT_SUFFIXES = (".csv", ".json")


def register(sub: Any) -> None:
    """Register ``sql`` and ``analyze`` on the sub-command parser ``sub``."""
    from usagekit.analyses import ANALYSES

    sql = sub.add_parser(
        "sql", help="run SQL (Athena dialect) on the usage dataset",
        description="Run one SQL statement in the Athena (Trino) dialect against "
                    '"genesysclouddb"."gc_usage_api_source". Values go in --param, bound '
                    "to ? placeholders in order. The table holds every organisation's rows "
                    "(the org column); --org NAME|ID binds that org's id to the first ?, "
                    'e.g. usagekit sql "SELECT sum(requests) FROM '
                    '\"genesysclouddb\".\"gc_usage_api_source\" WHERE org = ?" --org Acme')
    sql.add_argument("query", help="the SQL statement")
    sql.add_argument("--param", action="append", default=[], metavar="VALUE",
                     help="a value for the next ? placeholder (repeatable; digits bind as "
                          "numbers, use --string-params to keep them text)")
    sql.add_argument("--string-params", action="store_true",
                     help="bind every --param as text")
    sql.add_argument("--dialect", choices=("athena", "duckdb"), default="athena",
                     help="dialect of the SQL (duckdb: native SQL, local engine only)")
    sql.add_argument("--org", metavar="NAME|ID",
                     help="an organisation of the dataset (name, id or short id): its id is "
                          "bound to the first ? (before the --param values)")
    _common(sql)
    sql.set_defaults(handler=_run_sql)

    analyze = sub.add_parser(
        "analyze", help="run a named analysis",
        description="Run a named analysis; --list shows them with their options.")
    analyze.add_argument("name", nargs="?", choices=list(ANALYSES), metavar="NAME",
                         help="the analysis (see --list)")
    analyze.add_argument("--list", action="store_true", help="list the analyses and exit")
    analyze.add_argument("--granularity", choices=GRANULARITY_VALUES,
                         help="which stored granularity to read (default: the analysis')")
    analyze.add_argument("--grouping", help="which stored grouping key to read (default: the "
                         "finest one holding the analysis' dimensions)")
    analyze.add_argument("--start", help="first bucket start, ISO date/datetime (UTC)")
    analyze.add_argument("--end", help="end (exclusive), ISO date/datetime (UTC)")
    analyze.add_argument("--org", metavar="NAME|ID",
                         help="only this organisation's rows (its name, id or short id, among "
                              "the dataset's orgs; default: every org's)")
    options: dict[str, Any] = {}
    for analysis in ANALYSES.values():
        for option in analysis.options:
            options.setdefault(option.name, option)
    for name, option in sorted(options.items()):
        flag = "--" + name.replace("_", "-")
        if option.type is dict:
            analyze.add_argument(flag, action="append", metavar="TIER=N", dest=name,
                                 default=argparse.SUPPRESS, help=option.help)
        else:
            analyze.add_argument(flag, dest=name, default=argparse.SUPPRESS, help=option.help)
    _common(analyze)
    analyze.set_defaults(handler=_run_analysis, option_names=sorted(options))

    table = sub.add_parser(
        "trino-table", help="print (or create) the kit's table on a Trino Hive catalog",
        description="Print the CREATE SCHEMA / CREATE TABLE statements for the usage dataset "
                    "on a Trino (or Starburst) Hive catalog, from the same schema as the Glue "
                    f"table. With --create, run them on ${ENV_TRINO_URL} "
                    "(http[s]://user@host:port/catalog/schema; credentials in "
                    f"${ENV_TRINO_PASSWORD} or ${ENV_TRINO_TOKEN}) and register the partitions.")
    table.add_argument("--location", required=True,
                       help="the dataset as Trino sees it: s3://bucket/prefix/ or local:///path")
    table.add_argument("--format", choices=DATASET_FORMATS, default="ndjson",
                       help="the dataset's format (default ndjson)")
    table.add_argument("--create", action="store_true",
                       help=f"create it on ${ENV_TRINO_URL} and sync its partitions")
    table.set_defaults(handler=_run_trino_table)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help=f"local: DuckDB over --dataset; athena: Athena with the "
                             f"${ENV_STACK} stack's or the USAGEKIT_ATHENA_* settings; trino: "
                             f"the cluster ${ENV_TRINO_URL} names (default: local)")
    # the help never resolves the location: that may read a CloudFormation stack
    parser.add_argument("--dataset", default=None,
                        help=f"dataset folder or s3://bucket/prefix/ (default: "
                             f"${ENV_DATASET}, the ${ENV_STACK} stack's data location, "
                             f"or {DEFAULT_DATASET})")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="write FILE.csv or FILE.json instead of printing a table")
    parser.add_argument("--plain-csv", action="store_true",
                        help="write CSV cells as they are, for machines (default: cells a "
                             "spreadsheet would run as a formula get a leading ')")
    parser.add_argument("--max-rows", type=int, default=100,
                        help="rows to print (default 100; the output file gets all)")


def _param(text: str, as_string: bool) -> str | int | float:
    if as_string:
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _open(args: argparse.Namespace) -> Any:
    from usagekit.engine import open_engine

    if args.output is not None and args.output.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise ConfigError(f"invalid --output {str(args.output)!r}: use a file name ending in "
                          f"{' or '.join(_OUTPUT_SUFFIXES)}")
    if args.max_rows < 0:
        raise ConfigError(f"invalid --max-rows {args.max_rows}: expected 0 (all rows) or more")
    return open_engine(args.engine, args.dataset)


def held(args: argparse.Namespace) -> Any:
    """The dataset's org that ``--org`` names, or None without ``--org``.

    Raises
    ------
    ConfigError
        ``--org`` names no org of the dataset (or several), naming those it holds.
    """
    if args.org is None:
        return None
    from usagekit.config import dataset_location
    from usagekit.dataset import open_dataset

    return open_dataset(dataset_location(args.dataset)).org_named(args.org)


def _run_sql(args: argparse.Namespace) -> int:
    params = [_param(p, args.string_params) for p in args.param]
    org = held(args)
    if org is not None:
        params.insert(0, org.id)
    with _open(args) as engine:
        if args.dialect == "duckdb":
            if args.engine != "local":
                raise ConfigError("--dialect duckdb needs --engine local")
            frame = engine.sql(args.query, params, dialect="duckdb")
        else:
            frame = engine.sql(args.query, params)
    return _emit(frame, args)


def _run_trino_table(args: argparse.Namespace) -> int:
    from usagekit.config import trino_settings
    from usagekit.engine import TrinoEngine
    from usagekit.engine.trino import sync_partitions_sql, table_ddl

    if not args.create:
        settings = trino_settings() if ENV_TRINO_URL in os.environ else None
        names = ({"catalog": settings.catalog, "schema": settings.schema,
                  "table": settings.table} if settings else {})
        for statement in [*table_ddl(args.location, args.format, **names),
                          sync_partitions_sql(**names)]:
            print(f"{statement};")
        return 0
    with TrinoEngine() as engine:
        for statement in engine.create_table(args.location, args.format):
            print(f"{statement};")
        counts = engine.sql(f"SELECT granularity, count(*) AS files FROM "
                            f'"{engine.database}"."{engine.table}$partitions" GROUP BY 1 '
                            "ORDER BY 1")
    found = ", ".join(f"{row.granularity}: {row.files}" for row in counts.itertuples()) or "none"
    print(f"created {engine.settings.catalog}.{engine.database}.{engine.table} at "
          f"{args.location}; partitions by granularity: {found}")
    return 0


def _mapping(name: str, items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise ConfigError(f"invalid --{name.replace('_', '-')} {item!r}: expected TIER=N, "
                              "e.g. CX2=250")
        out[key.strip().upper()] = int(value)
    return out


def _run_analysis(args: argparse.Namespace) -> int:
    from usagekit.analyses import ANALYSES

    if args.list or args.name is None:
        for analysis in ANALYSES.values():
            print(f"{analysis.name}: {analysis.description}")
            print(f"    granularity: {analysis.default_granularity} "
                  f"({'|'.join(analysis.granularities)}); columns: "
                  f"{', '.join(analysis.columns)}")
            for option in analysis.options:
                default = ("" if option.default in ("", {}, None)
                           else f" (default {option.default})")
                print(f"    --{option.name.replace('_', '-')}: {option.help}{default}")
        return 0 if args.list else 2
    analysis = ANALYSES[args.name]
    options: dict[str, Any] = {}
    for name in args.option_names:
        if hasattr(args, name):
            value = getattr(args, name)
            options[name] = _mapping(name, value) if isinstance(value, list) else value
    org = held(args)
    with _open(args) as engine:
        frame = analysis(engine, org=org, granularity=args.granularity,
                         grouping=args.grouping, start=args.start, end=args.end, **options)
    return _emit(frame, args)


def _emit(frame: Any, args: argparse.Namespace) -> int:
    import pandas as pd

    from usagekit.display import csv_frame, terminal_frame

    if args.output is None:
        if frame.empty:
            print(f"(no rows; columns: {', '.join(map(str, frame.columns))})")
        else:
            print(terminal_frame(frame).to_string(index=False, max_rows=args.max_rows))
            print(f"({len(frame)} row{'s' if len(frame) != 1 else ''})")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.DatetimeTZDtype):
            out[name] = out[name].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if args.output.suffix.lower() == ".csv":
        csv_frame(out, "plain" if args.plain_csv else "people").to_csv(args.output, index=False)
    else:
        records = out.astype(object).where(out.notna(), None).to_dict("records")
        args.output.write_text(json.dumps(records, indent=1, default=_json_default) + "\n",
                               encoding="utf-8")
    print(f"wrote {len(frame)} rows to {args.output}")
    return 0


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
