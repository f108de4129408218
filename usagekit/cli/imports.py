"""``usagekit import``: bring usage rows into the dataset, from a file, stdin, a folder or S3.

SOURCE is one of:

- a file or ``-`` (stdin): NDJSON rows as ``usagekit fetch`` or ``jq -c '.results[]'`` write
  them, or the document ``gc usage query results get`` prints (pretty JSON with ``results``
  and ``queryStatus``, recognised without a flag; a ``Running`` or ``Failed`` one is
  refused). The rows do not say which granularity and groupBy produced them, so
  ``--granularity`` and ``--group-by`` say it; rows that contradict them (a non-empty
  templateUri when not grouped by TemplateUri, a week row not dated on a Monday) are
  refused, naming the row and value, and nothing is written. The stored rows of the
  interval (``--interval``, the one given to fetch; default: from the earliest row's bucket
  to the end of the latest row's) are replaced by the file's: days of the interval without
  rows end up without rows.
- a folder or ``s3://bucket/prefix``, laid out as the blueprint's bucket:
  ``granularity=day|week|month/`` folders of NDJSON files of any name (or ``gc``
  documents). The folders say the granularity, and each file's grouping is derived from the
  fields its rows fill. Overlapping exports are merged with the stored rows: a row several
  of them hold is stored once; two different rows for one bucket (a week or month exported
  over different intervals) are reported and the fuller one (more requests) is kept; counts
  an export lacks (a ``metrics`` subset) stay missing, never zero. The source is only read;
  a refused file (named) stops the import before anything is written; importing the same
  source again changes nothing.

Example::

    usagekit fetch --interval 2026-10/2026-11 --granularity Day --group-by OAuthClientId \\
      | usagekit import - --dataset s3://bucket/usage/ --granularity day \\
          --group-by OAuthClientId --interval 2026-10/2026-11
    usagekit import result.json --granularity month --group-by OAuthClientId
    usagekit import s3://gc-usage-api-source/ --dataset s3://my-bucket/usage/
    usagekit import ./exports --dataset data/usage
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from usagekit.config.settings import DATASET_FORMATS, is_s3
from usagekit.exceptions import ConfigError, InvalidRowsError
from usagekit.query.usage_query import split_names
from usagekit.row import GRANULARITY_VALUES, GROUP_BY

if TYPE_CHECKING:
    from usagekit.dataset import Dataset

#: The flags that say what the rows of a file or stdin do not (a folder's layout says it).
_FILE_FLAGS = {"granularity": "--granularity", "group_by": "--group-by", "interval": "--interval"}


def register(sub: Any) -> None:
    """Add ``usagekit import`` to the sub-command parser ``sub``."""
    parser = sub.add_parser(
        "import", help="store usage rows (file, stdin, folder or s3://) in the dataset",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="a file of NDJSON rows or a gc result document, - (stdin), or a "
                             "folder or s3://bucket/prefix with granularity="
                             f"{'|'.join(GRANULARITY_VALUES)}/ folders of them")
    parser.add_argument("--dataset", metavar="LOCATION",
                        help="local folder or s3://bucket/prefix/ (default: USAGEKIT_DATASET "
                             "or the project's data/usage)")
    parser.add_argument("--format", choices=DATASET_FORMATS,
                        help="file format of a new dataset (default ndjson); must match an "
                             "existing one")
    whose = parser.add_argument_group(
        "whose rows", "the organisation the rows were fetched from (default: the dataset's "
        "only one)")
    whose.add_argument("--org", metavar="NAME|ID",
                       help="an org the dataset holds, or a new one by its id")
    whose.add_argument("--org-name", metavar="NAME", help="a new org's name")
    whose.add_argument("--region", metavar="HOST",
                       help="a new org's region (e.g. mypurecloud.ie)")
    rows = parser.add_argument_group(
        "a file or stdin", "what its rows do not say (a folder's layout says it)")
    rows.add_argument("--granularity",
                      help="the granularity the rows were fetched with: day, week or month")
    rows.add_argument("--group-by", action="append", metavar="NAME",
                      help=f"the groupBy the rows were fetched with, repeatable or "
                           f"comma-separated: {', '.join(GROUP_BY)}; or none")
    rows.add_argument("--interval",
                      help="the interval the rows were fetched for (ISO-8601 start/end); "
                           "default: derived from the rows' dates (see above)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``usagekit import``."""
    from usagekit.cli.orgs import target_org
    from usagekit.dataset import open_dataset

    folder = is_s3(args.source) or (args.source != "-" and Path(args.source).is_dir())
    if folder:
        given = [flag for name, flag in _FILE_FLAGS.items() if getattr(args, name) is not None]
        if given:
            raise ConfigError(
                f"{', '.join(given)} apply to a file or stdin, not to the folder "
                f"{args.source}: its granularity={'|'.join(GRANULARITY_VALUES)}/ folders say "
                "the granularity "
                "and each file's rows their grouping (drop the flags)")
    else:
        _check_file_flags(args)
    dataset = open_dataset(args.dataset, format=args.format)
    dataset = dataset.for_org(target_org(dataset, args.org, args.org_name, args.region))
    if folder:
        _import_folder(args.source, dataset)
    else:
        _import_file(args, dataset)
    return 0


def _check_file_flags(args: argparse.Namespace) -> None:
    missing = [flag for name, flag in _FILE_FLAGS.items()
               if name != "interval" and getattr(args, name) is None]
    if missing:
        what = "stdin" if args.source == "-" else f"the file {args.source}"
        raise ConfigError(
            f"{what}: its rows do not say the granularity and groupBy they were fetched with; "
            f"pass {' and '.join(missing)} (granularity day, week or month; groupBy "
            f"{', '.join(GROUP_BY)} or none)")


def _import_folder(source: str, dataset: Dataset) -> None:
    from usagekit.dataset.importer import describe, import_usage

    summary = import_usage(source, dataset)
    for line in describe(summary, dataset.location):
        print(f"usagekit: {line}", file=sys.stderr)


def _import_file(args: argparse.Namespace, dataset: Dataset) -> None:
    from usagekit.frame import granularity_value, grouping_value

    names = split_names(args.group_by)
    grouping = "none" if [n.lower() for n in names] in ([], ["none"]) else grouping_value(names)
    granularity = args.granularity.strip()
    if granularity.lower() in ("", "none"):
        raise InvalidRowsError(
            "granularity-less rows cannot be stored: the dataset keeps day, week or month "
            "data only (fetch with --granularity Day, Week or Month)"
        )
    granularity = granularity_value(granularity)
    with _open_input(args.source) as data:
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
