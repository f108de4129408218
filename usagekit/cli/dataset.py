"""``usagekit export``: store NDJSON usage rows (a file or stdin) in the dataset.

The input is NDJSON, or the document ``gc usage query results get`` prints (pretty JSON
with ``results`` and ``queryStatus``, recognised without a flag; a ``Running`` or
``Failed`` one is refused). The rows do not say which granularity and groupBy produced
them, so both are flags; rows that contradict them (e.g. a non-empty templateUri when not
grouped by TemplateUri, a week row not dated on a Monday) are refused, naming the row and
value, and nothing is written.

Without --interval the interval is derived from the rows: from the earliest row's date
(a bucket start) to the end of the latest row's bucket (its date + 1 day, + 7 days, or the
1st of the next month). Stored rows of that span are replaced; days of the span without
rows end up without rows. Pass --interval (the one given to fetch) when rows may be
missing at the ends of the span.

Example::

    usagekit fetch --interval 2026-10/2026-11 --granularity Day --group-by OAuthClientId \\
      | usagekit export - --dataset s3://bucket/usage/ --granularity day \\
          --group-by OAuthClientId --interval 2026-10/2026-11
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import IO, Any

from usagekit.config import DATASET_FORMATS
from usagekit.exceptions import InvalidRowsError
from usagekit.row import GROUP_BY


def register(sub: Any) -> None:
    """Add ``usagekit export`` to the sub-command parser ``sub``."""
    parser = sub.add_parser(
        "export", help="store NDJSON usage rows (file or stdin) in the dataset",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", nargs="?", default="-", metavar="FILE|-",
                        help="NDJSON rows as `usagekit fetch` or `jq -c '.results[]'` write "
                             "them, or the document `gc usage query results get` prints "
                             "(default -: stdin)")
    parser.add_argument("--dataset", metavar="LOCATION",
                        help="local folder or s3://bucket/prefix/ (default: USAGEKIT_DATASET "
                             "or the project's data/usage)")
    parser.add_argument("--granularity", required=True,
                        help="the granularity the rows were fetched with: day, week or month")
    parser.add_argument("--group-by", action="append", required=True, metavar="NAME",
                        help=f"the groupBy the rows were fetched with, repeatable or "
                             f"comma-separated: {', '.join(GROUP_BY)}; or none")
    parser.add_argument("--interval",
                        help="the interval the rows were fetched for (ISO-8601 start/end); "
                             "default: derived from the rows' dates (see above)")
    parser.add_argument("--format", choices=DATASET_FORMATS,
                        help="file format of a new dataset (default ndjson); must match an "
                             "existing one")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``usagekit export``."""
    from usagekit.dataset import open_dataset
    from usagekit.frame import granularity_value, grouping_value

    names = [p.strip() for item in args.group_by for p in item.split(",") if p.strip()]
    grouping = "none" if [n.lower() for n in names] in ([], ["none"]) else grouping_value(names)
    granularity = args.granularity.strip()
    if granularity.lower() in ("", "none"):
        raise InvalidRowsError(
            "granularity-less rows cannot be stored: the dataset keeps day, week or month "
            "data only (fetch with --granularity Day, Week or Month)"
        )
    granularity = granularity_value(granularity)
    dataset = open_dataset(args.dataset, format=args.format)
    with _open_input(args.input) as data:
        summary = dataset.write(data, granularity=granularity, grouping=grouping,
                                interval=args.interval)
    if args.interval is None:
        print(f"usagekit: interval derived from the rows: {summary.interval}", file=sys.stderr)
    parts = ", ".join(p.path for p in summary.written) or "none"
    print(f"usagekit: stored {summary.rows} rows in {dataset.location} ({dataset.format}): "
          f"replaced {summary.replaced}, kept {summary.kept}; partitions written: {parts}"
          + (f"; emptied: {', '.join(p.path for p in summary.deleted)}"
             if summary.deleted else ""),
          file=sys.stderr)
    return 0


@contextlib.contextmanager
def _open_input(name: str) -> Iterator[IO[bytes]]:
    """The NDJSON rows of ``name`` (``-``: stdin) as a stream, read in blocks by the write.

    A ``gc usage query results get`` document is read whole and unwrapped into NDJSON rows.
    """
    from usagekit.dataset.documents import open_rows

    if name == "-":
        yield open_rows(sys.stdin.buffer, "stdin")
        return
    try:
        fp = open(name, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InvalidRowsError(f"cannot read {name}: {exc.strerror}") from exc
    with fp:
        yield open_rows(fp, name)
