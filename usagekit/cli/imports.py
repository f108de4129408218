"""``usagekit import``: bring the blueprint's exports (a folder or an S3 prefix) into the dataset.

SOURCE is laid out as the blueprint's bucket: ``granularity=day|week|month/`` folders holding
NDJSON files of any name (``gc usage query results get … | jq -c '.results[]'``), or the
document ``gc`` prints itself. The grouping of each file is derived from the fields its rows
fill. Overlapping exports are merged: a row several of them hold is stored once; two
different rows for one bucket (a week or month exported over different intervals) are
reported and the fuller one (more requests) is kept. Counts an export lacks (a ``metrics``
subset) stay missing, never zero. The source is only read; a refused file (named) stops the
import before anything is written. Importing the same source again changes nothing.

Example::

    usagekit import s3://gc-usage-api-source/ --dataset s3://my-bucket/usage/
    usagekit import ./exports --dataset data/usage
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from usagekit.config import DATASET_FORMATS
from usagekit.row import GRANULARITY_VALUES


def register(sub: Any) -> None:
    """Add ``usagekit import`` to the sub-command parser ``sub``."""
    parser = sub.add_parser(
        "import", help="import blueprint-style exports (folder or s3://) into the dataset",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="a folder or s3://bucket/prefix with granularity="
                             f"{'|'.join(GRANULARITY_VALUES)}/ folders of NDJSON files")
    parser.add_argument("--dataset", metavar="LOCATION",
                        help="local folder or s3://bucket/prefix/ (default: USAGEKIT_DATASET "
                             "or the project's data/usage)")
    parser.add_argument("--format", choices=DATASET_FORMATS,
                        help="file format of a new dataset (default ndjson); must match an "
                             "existing one")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``usagekit import``."""
    from usagekit.dataset import open_dataset
    from usagekit.dataset.importer import describe, import_usage

    dataset = open_dataset(args.dataset, format=args.format)
    summary = import_usage(args.source, dataset)
    for line in describe(summary, dataset.location):
        print(f"usagekit: {line}", file=sys.stderr)
    return 0
