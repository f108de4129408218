"""``usagekit sync`` and ``usagekit check``: keep the dataset up to date, alert on it."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from usagekit.config import dataset_location
from usagekit.config.settings import (
    DATASET_FORMATS,
    DEFAULT_DATASET,
    ENGINES,
    ENV_DATASET,
    ENV_STACK,
    NOTIFY_FORMATS,
    REPORT_GROUP_BY,
    SYNC_GRANULARITIES,
    SYNC_LOOKBACK_DAYS,
    SYNC_TRAILING_DAYS,
)
from usagekit.display import visible
from usagekit.exceptions import ConfigError, QueryError, UsagekitError
from usagekit.query.usage_query import split_names
from usagekit.row import GRANULARITY_VALUES

if TYPE_CHECKING:
    from usagekit.row import Org

_DATASET_HELP = (f"dataset folder or s3://bucket/prefix/ (default: ${ENV_DATASET}, the "
                 f"${ENV_STACK} stack's data location, or {DEFAULT_DATASET})")
CHECK_EPILOG = """exit status: 0 nothing fires, 1 something fires, 2 an error (bad rules,
option or webhook URL; could not evaluate: unreadable data, e.g. a damaged file, named; or a
webhook that failed: its notices are kept and sent on the next run), 70 a bug in usagekit
(its traceback follows)."""


def register(sub: Any) -> None:
    """Register ``sync`` and ``check`` on the sub-command parser ``sub``."""
    sync = sub.add_parser(
        "sync", help="bring the dataset up to date (fetch only what is missing)",
        description=f"Fetch the buckets missing after the last stored complete one, plus the "
                    f"trailing days again; a first run fetches the last {SYNC_LOOKBACK_DAYS} "
                    "days (or from --since). Whole weeks and months only. A month whose "
                    "stored file is damaged is not updated: the others are, then the damaged "
                    "files are named and the exit status is 1.")
    sync.add_argument("--dataset", default=None, help=_DATASET_HELP)
    sync.add_argument("--format", choices=DATASET_FORMATS,
                      help="file format of a new dataset (default ndjson); must match an "
                           "existing one")
    sync.add_argument("--allow-sandbox", action="store_true",
                      help="store the embedded sandbox's fictional rows even where the dataset "
                           "holds a real organisation's (refused otherwise)")
    sync.add_argument("--granularity", action="append", default=[], metavar="NAME",
                      help=f"repeatable or comma-separated: {', '.join(GRANULARITY_VALUES)} "
                           "(default all)")
    sync.add_argument("--group-by", action="append", default=[], metavar="NAME",
                      help=f"repeatable or comma-separated (default "
                           f"{','.join(REPORT_GROUP_BY)})")
    sync.add_argument("--since", metavar="DATE", help="first day wanted, YYYY-MM-DD")
    sync.add_argument("--until", metavar="DATE",
                      help="fetch nothing from this day on, YYYY-MM-DD (default: today; "
                           "rounded up to a whole week or month): a fixed backfill")
    sync.add_argument("--trailing-days", type=int, default=SYNC_TRAILING_DAYS, metavar="N",
                      help=f"recent days fetched again (default {SYNC_TRAILING_DAYS})")
    sync.add_argument("--api", default="legacy", help="legacy (default) or aggregates")
    sync.add_argument("--profile", metavar="NAME", action="append", default=[],
                      help="a Genesys Cloud CLI profile in ~/.gc/config.toml for the "
                           "credentials and region (GENESYSCLOUD_* variables override it); "
                           "repeat it to bring several orgs up to date, one at a time (a "
                           "failure in one is reported, the others still run; exit 1)")
    sync.add_argument("--org", metavar="NAME|ID",
                      help="the org the credentials must connect to (its name, id or short "
                           "id): any other stops the sync before it fetches")
    sync.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    sync.set_defaults(handler=run_sync)

    check = sub.add_parser(
        "check", help="evaluate the alert rules; exit 1 when an alert fires",
        description="Evaluate the alert rules over the stored data and print what fires.",
        epilog=CHECK_EPILOG)
    check.add_argument("--dataset", default=None, help=_DATASET_HELP)
    check.add_argument("--rules", metavar="FILE", help="TOML rules file (default: the "
                       "documented defaults, see usagekit.watch.rules)")
    check.add_argument("--licences", metavar="FILE",
                       help="the org's licences file (TOML, README \"Fair use\"); without it "
                            "(or licences in the rules file) the fair-use rule does not run")
    check.add_argument("--json", action="store_true", help="print JSON for machines")
    check.add_argument("--notify", action="append", default=[], metavar="URL",
                       help="post each new (and each resolved) alert to this webhook; "
                            "repeatable")
    check.add_argument("--notify-format", choices=NOTIFY_FORMATS, default="slack",
                       help="webhook payload: slack (default), teams or json")
    check.add_argument("--notify-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="deadline for each notice's whole request: connect, send, read "
                            "the full answer, retries (default 10)")
    check.add_argument("--notify-retries", type=int, default=2, metavar="N",
                       help="retries after a 5xx, 429 or no answer (default 2)")
    check.add_argument("--engine", choices=ENGINES, default="local",
                       help="local: DuckDB over --dataset; athena: the Glue table; trino: the "
                            "cluster USAGEKIT_TRINO_URL names")
    check.add_argument("--org", metavar="NAME|ID",
                       help="check this organisation of the dataset (its name, id or short "
                            "id); default: each org the dataset holds, one after the other "
                            "(--json then prints {\"firing\": N, \"orgs\": [...]} when "
                            "there are several)")
    check.set_defaults(handler=run_check, error_status=2)  # a kit error: 2, not 1 (fires)


def run_sync(args: argparse.Namespace) -> int:
    """Handle ``usagekit sync``."""
    from usagekit.cli.fetch import say_source
    from usagekit.dataset import open_dataset
    from usagekit.embedded import connect
    from usagekit.watch import plan_sync
    from usagekit.watch import run_sync as fetch_missing

    since = _date(args.since, "--since") if args.since else None
    until = _date(args.until, "--until") if args.until else None
    dataset = open_dataset(dataset_location(args.dataset), format=args.format)
    options: dict[str, Any] = {
        "granularities": split_names(args.granularity) or SYNC_GRANULARITIES,
        "group_by": split_names(args.group_by) or REPORT_GROUP_BY, "since": since,
        "trailing_days": args.trailing_days, "api": args.api, "until": until}
    plan_sync(dataset, **options)  # bad input fails here, before any request
    progress = False if args.no_progress else None
    profiles: list[str | None] = args.profile or [None]
    failed = 0
    for profile in profiles:
        try:
            with connect(profile=profile, progress=progress) as client:
                say_source(client)
                org = client.organization()  # before any usage is fetched
                if args.org and not org.matches(args.org):
                    raise ConfigError(
                        f"--org {args.org!r}, but the credentials connect to {org.label}: set "
                        "that org's GENESYSCLOUD_* variables or --profile; nothing was fetched")
                scoped = dataset.for_org(org, allow_fictional=args.allow_sandbox)
                steps = plan_sync(scoped, **options)  # from the dates of this org's rows
                print(f"usagekit: syncing {org.label} into {dataset.location}",
                      file=sys.stderr)
                summaries = fetch_missing(scoped, client, steps, progress=progress)
        except UsagekitError as exc:
            if len(profiles) == 1:
                raise
            print(f"usagekit: error: profile {profile!r}: {visible(str(exc))}",
                  file=sys.stderr)
            failed += 1
            continue
        for summary in summaries:
            print(summary.line())
        damaged = [problem for summary in summaries for problem in summary.damaged]
        for problem in damaged:
            print(f"usagekit: error: {visible(problem)}", file=sys.stderr)
        failed += bool(damaged)
    return 1 if failed else 0


def run_check(args: argparse.Namespace) -> int:
    """Handle ``usagekit check``: 0 nothing fires, 1 something fires, 2 an error."""
    from usagekit.analyses.library import licence_book
    from usagekit.engine import open_engine
    from usagekit.watch import StateStore, deliver, evaluate, load_rules, webhook

    # every input checked before any state is read
    rules = load_rules(args.rules).with_licences(licence_book(args.licences))
    hooks = [webhook(url, args.notify_format) for url in args.notify]
    if args.notify_timeout <= 0 or args.notify_retries < 0:
        raise QueryError(f"invalid --notify-timeout {args.notify_timeout} or --notify-retries "
                         f"{args.notify_retries}: expected a timeout > 0 and retries >= 0")
    location = dataset_location(args.dataset)
    orgs = checked_orgs(location, args.org)
    with open_engine(args.engine, location) as engine:
        today = datetime.now(UTC).date()
        results = [evaluate(engine, rules, today=today, org=org) for org in orgs]
    if args.json:
        body = results[0].to_dict() if len(results) == 1 else {
            "firing": sum(len(r.alerts) for r in results),
            "orgs": [r.to_dict() for r in results]}
        print(json.dumps(body, indent=1, default=str))
    for result in results:
        if not args.json:
            day = result.last_day or "no data"
            named = f"{visible(result.org.label)}: " if result.org else ""
            print(f"{named}{len(result.alerts)} alert(s) firing (last complete day {day}, "
                  f"rules {rules.source})")
            for alert in result.alerts:
                print(f"- {alert.rule}: {visible(alert.message)}")
        for rule, reason in result.skipped.items():
            print(f"usagekit: rule {rule} skipped: {visible(reason)}", file=sys.stderr)
    failed = False
    for result in results if hooks else ():
        delivery = deliver(result.alerts, hooks, StateStore(location), org=result.org,
                           timeout=args.notify_timeout, retries=args.notify_retries)
        named = f"{visible(result.org.label)}: " if result.org else ""
        print(f"usagekit: {named}sent {len(delivery.sent)} notification(s)", file=sys.stderr)
        if delivery.failed:
            failed = True
            for problem in delivery.failed:
                print(f"usagekit: error: {problem}", file=sys.stderr)
            print(f"usagekit: {named}{delivery.pending} notification(s) kept; they are sent "
                  "on the next run", file=sys.stderr)
    if failed:
        return 2
    return 1 if any(result.alerts for result in results) else 0


def checked_orgs(location: str, text: str | None) -> list[Org | None]:
    """The orgs ``check`` evaluates: the one ``text`` names, else each the dataset holds
    (``[None]``, every row, when it names none).

    Raises
    ------
    ConfigError
        ``text`` names no org of the dataset (or several), naming those it holds.
    """
    from usagekit.dataset import open_dataset

    dataset = open_dataset(location)
    if text is not None:
        return [dataset.org_named(text)]
    return list(dataset.orgs()) or [None]


def _date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise QueryError(f"invalid {flag} {text!r}: expected a date YYYY-MM-DD") from exc
