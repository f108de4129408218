"""``usagekit repair``: rewrite stored files that break the input rules.

Older versions of usagekit stored rows that are now refused: text that is not UTF-8 (one
bad byte in a client's name made every ``sql``, ``analyze``, ``check`` and ``report`` fail on
the whole dataset) and dates spelt otherwise than the API spells them (``2026-10-01``,
``2026-10-01T02:00:00+02:00``), which split one day in two in a ``GROUP BY date``. This
command replaces each bad byte with U+FFFD and respells those dates as
``2026-10-01T00:00:00Z``; every other byte stays. Each affected partition is switched in
atomically, as a write does; running it again changes nothing.

Example::

    usagekit repair --dataset s3://my-bucket/usage/
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add ``usagekit repair`` to the sub-command parser ``sub``."""
    parser = sub.add_parser(
        "repair", help="rewrite stored files holding bytes that are not UTF-8 or odd dates",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", metavar="LOCATION",
                        help="local folder or s3://bucket/prefix/ (default: USAGEKIT_DATASET "
                             "or the project's data/usage)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``usagekit repair``."""
    from usagekit.dataset import open_dataset

    dataset = open_dataset(args.dataset)
    repaired = dataset.repair()
    print(f"usagekit: repaired {len(repaired)} partition(s) of {dataset.location}"
          + (f": {', '.join(p.path for p in repaired)}" if repaired else ": nothing to repair"),
          file=sys.stderr)
    return 0
