"""``usagekit fetch``: run a usage query and write NDJSON (or store it in the dataset).

One step for what the blueprint does with ``gc usage query create``, ``gc usage query
results get`` and ``jq -c '.results[]'``. Credentials resolve as gc resolves them
(GENESYSCLOUD_* variables, --profile, gc's DEFAULT profile, else the embedded sandbox); the
first line on stderr says which source was used. A long interval is fetched as queries of
at most a month (seams on the dataset's month partitions), each written or stored as it
arrives, so no answer held in memory is larger than a month's.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from usagekit.config import dataset_location
from usagekit.config.settings import DATASET_FORMATS
from usagekit.exceptions import PollTimeoutError, QueryError
from usagekit.query import UsageQuery
from usagekit.query.usage_query import split_names
from usagekit.row import GRANULARITIES, GRANULARITY_VALUES, GROUP_BY, HTTP_METHODS, METRICS

if TYPE_CHECKING:
    from usagekit.dataset import Dataset
    from usagekit.fetch import UsageClient, UsageResult


def register(sub: Any) -> None:
    """Add ``usagekit fetch`` to the sub-command parser ``sub``."""
    parser = sub.add_parser(
        "fetch", help="fetch API usage from Genesys Cloud (or the sandbox) as NDJSON",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--interval", required=True,
                        help="ISO-8601 start/end, e.g. 2026-10/2026-11 or 2026-10-01/2026-10-08")
    parser.add_argument("--granularity", default="Day",
                        help=f"{', '.join(GRANULARITIES)} or none (default Day)")
    parser.add_argument("--group-by", action="append", default=[], metavar="NAME",
                        help=f"repeatable or comma-separated: {', '.join(GROUP_BY)}")
    parser.add_argument("--metric", action="append", default=[], metavar="NAME",
                        help=f"repeatable or comma-separated (default all): {', '.join(METRICS)}")
    parser.add_argument("--api", default="legacy", help="legacy (default) or aggregates")
    filters = parser.add_argument_group("aggregates filters (repeatable or comma-separated)")
    for flag in ("oauth-client-id", "template-uri", "user-id", "platform", "organization-id"):
        filters.add_argument(f"--{flag}", action="append", default=[], metavar="VALUE")
    filters.add_argument("--http-method", action="append", default=[], metavar="METHOD",
                         help=", ".join(HTTP_METHODS))
    filters.add_argument("--sort-by", action="append", default=[], metavar="FIELD[:asc|desc]")
    filters.add_argument("--page-size", type=int, default=1000, help="1 to 1000 (default 1000)")
    parser.add_argument("--client-id", help="use the per-client routes (usage:client:view)")
    parser.add_argument("--resume", metavar="EXECUTION_ID",
                        help="collect an earlier query's results (ids comma-separated)")
    parser.add_argument("--output", "-o", metavar="FILE",
                        help="NDJSON file, or - for stdout (default, unless --dataset)")
    parser.add_argument("--dataset", metavar="LOCATION", nargs="?", const="",
                        help="store the rows in the dataset (default location: "
                             "USAGEKIT_DATASET or the project's data/usage)")
    parser.add_argument("--format", choices=DATASET_FORMATS,
                        help="with --dataset: file format of a new dataset (default ndjson); "
                             "must match an existing one")
    parser.add_argument("--allow-sandbox", action="store_true",
                        help="store the embedded sandbox's fictional rows even where the dataset "
                             "holds a real organisation's (refused otherwise)")
    parser.add_argument("--profile", metavar="NAME",
                        help="a Genesys Cloud CLI profile in ~/.gc/config.toml for the "
                             "credentials and region (GENESYSCLOUD_* variables override it)")
    parser.add_argument("--poll-deadline", type=float, default=600.0, metavar="SECONDS",
                        help="give up polling after this long (default 600)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def build_query(args: argparse.Namespace) -> UsageQuery:
    """The validated query the flags describe (raises QueryError on bad values)."""
    granularity = None if args.granularity.strip().lower() in ("", "none") else args.granularity
    return UsageQuery.build(
        args.interval, granularity, split_names(args.group_by), split_names(args.metric), args.api,
        client_id=args.client_id, oauth_client_ids=split_names(args.oauth_client_id),
        template_uris=split_names(args.template_uri), http_methods=split_names(args.http_method),
        user_ids=split_names(args.user_id), platforms=split_names(args.platform),
        organization_ids=split_names(args.organization_id), sort_by=split_names(args.sort_by),
        page_size=args.page_size,
    )


def run(args: argparse.Namespace) -> int:
    """Handle ``usagekit fetch``: a month-sized query at a time, each stored as it arrives."""
    from usagekit.embedded import connect  # requests, tqdm: not needed to build the parser
    from usagekit.fetch import PollPolicy

    query = build_query(args)  # before any request
    dataset = (_open_for(query, args.dataset, args.format) if args.dataset is not None
               else None)
    progress = False if args.no_progress else None
    output = args.output if args.output is not None else "-" if dataset is None else None
    rows, ids = 0, []
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(connect(
            profile=args.profile, poll=PollPolicy(deadline=args.poll_deadline),
            progress=progress))
        say_source(client)
        if dataset is not None:  # before any usage is fetched
            dataset = dataset.for_org(client.organization(), allow_fictional=args.allow_sandbox)
        out = stack.enter_context(_output(output)) if output is not None else None
        pieces = (query,) if args.resume else query.months()
        for piece in pieces:
            try:
                result = (client.resume(args.resume, piece) if args.resume
                          else client.fetch(piece))
            except PollTimeoutError as exc:
                if len(pieces) == 1:
                    raise
                raise PollTimeoutError(
                    f"{exc} (the query of {piece.interval.text}, one month of "
                    f"{query.interval.text}: resume with --interval {piece.interval.text}, "
                    f"then fetch from {piece.interval.end:%Y-%m-%d} on"
                    + ("; earlier months are stored)" if dataset is not None else ")"),
                    execution_id=exc.execution_id) from exc
            rows += len(result)
            ids += result.execution_ids
            if dataset is not None:
                _store(result, dataset)
            if out is not None:
                result.write_ndjson(out)
            del result  # one month's answer held at a time
    print(f"usagekit: {rows} rows from {client.source} (ids {','.join(ids)})", file=sys.stderr)
    return 0


def say_source(client: UsageClient) -> None:
    """Print where the client's data comes from (``client.source_line``) on stderr."""
    print(f"usagekit: {client.source_line}", file=sys.stderr)


def _open_for(query: UsageQuery, location: str, fmt: str | None) -> Dataset:
    """The dataset ``--dataset`` names, after checking it can store the query's rows.

    Runs before any request, so a query whose rows the dataset would refuse costs nothing.
    """
    from usagekit.dataset import open_dataset

    if query.granularity is None:
        raise QueryError(
            "--dataset needs --granularity Day, Week or Month: the dataset keeps day, week or "
            "month rows only (fetch granularity-less rows to a file with --output)"
        )
    if query.metrics and len(query.metrics) < len(METRICS):
        raise QueryError(
            "fetch --dataset stores every count, but --metric keeps only "
            f"{', '.join(query.metrics)}: drop --metric (the dataset stores "
            f"{', '.join(METRICS)}), or write --output DIR/granularity="
            f"<{'|'.join(GRANULARITY_VALUES)}>/"
            "FILE and `usagekit import DIR` (the counts it lacks stay missing)"
        )
    return open_dataset(dataset_location(location or None), format=fmt)


def _store(result: UsageResult, dataset: Dataset) -> None:
    query = result.query
    summary = dataset.write(result.ndjson(),
                            granularity=query.partition_granularity or "",
                            grouping=query.grouping, interval=query.interval)
    print(f"usagekit: stored {summary.rows} rows in {dataset.location} "
          f"(replaced {summary.replaced})", file=sys.stderr)


@contextlib.contextmanager
def _output(output: str) -> Iterator[BinaryIO]:
    """The NDJSON output: stdout, or a file that appears whole once every query is written."""
    if output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    from usagekit.dataset.local import replacing

    with replacing(Path(output)) as fp:  # never a half-written file
        yield fp
