"""Move a dataset stored before organisations under the org its rows were fetched from.

``granularity=…/grouping=…/period=…/usage.json`` becomes
``org=<id>/granularity=…/grouping=…/period=…/usage.json``, bytes unchanged. Under the write
lock, the org is recorded first, then each partition is copied (one atomic replace), read
back and checked, and only then is the old file deleted; the manifest says version 2 at the
end. A run killed at any point leaves each partition old, or new, or both (never neither);
readers and writers refuse the dataset until a later run finishes the move. Running it
again on a migrated dataset changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from usagekit import row
from usagekit.dataset.dataset import Dataset
from usagekit.dataset.formats import decode_frame
from usagekit.dataset.layout import Partition, file_rel, legacy_files, org_folder, partition_of
from usagekit.dataset.orgs import org_record
from usagekit.dataset.schema import ORG_FILE
from usagekit.exceptions import DatasetError

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Totals:
    """Rows and requests of a set of stored files."""

    rows: int = 0
    requests: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.rows + other.rows, self.requests + other.requests)


@dataclass(frozen=True)
class MigrationSummary:
    """What :func:`migrate` did: partitions moved, and the totals checked before and after."""

    org: row.Org
    moved: tuple[Partition, ...]
    before: Totals
    after: Totals

    def line(self) -> str:
        """One line for people."""
        if not self.moved:
            return f"nothing to migrate: every partition is under an org ({self.org.label})"
        return (f"moved {len(self.moved)} partition(s) under {self.org.label}: "
                f"{self.after.rows} rows and {self.after.requests} requests, as before "
                f"({self.before.rows} rows, {self.before.requests} requests)")


def migrate(dataset: Dataset, org: row.Org) -> MigrationSummary:
    """Move every partition laid out without ``org=`` under ``org``'s folder.

    Parameters
    ----------
    dataset : Dataset
        The dataset, opened without an org.
    org : Org
        The organisation its rows were fetched from.

    Returns
    -------
    MigrationSummary

    Raises
    ------
    DatasetError
        A partition exists in both layouts with different contents (named; nothing of it
        is changed), the totals differ after the move, or storage failed (run it again).
    """
    storage = dataset.storage
    with storage.lock(dataset.lock_timeout):
        legacy = legacy_files(storage.list_files())
        if not legacy:
            return MigrationSummary(org, (), Totals(), Totals())
        storage.drop_legacy_table()
        storage.replace(f"{org_folder(org.id)}/{ORG_FILE}", org_record(org))
        parts = [(rel, part) for rel in legacy if (part := partition_of(rel, org=org.id))]
        storage.prepare(dataset.format, [part for _, part in parts])  # one catalog update
        before = after = Totals()
        moved = []
        for rel, part in parts:
            data = storage.read(rel)
            if data is None:
                continue
            target = file_rel(part, dataset.format)
            stored = storage.read(target)
            if stored is not None and stored != data:
                raise DatasetError(
                    f"{storage.url(rel)} and {storage.url(target)} both hold rows of "
                    f"{part.legacy_path}, and they differ: keep the right one (move the other "
                    "away), then migrate again; this partition was left as it is")
            totals = _totals(dataset.format, data, part)
            if stored is None:
                storage.replace(target, data)
            copied = storage.read(target)
            check = _totals(dataset.format, copied, part) if copied is not None else Totals()
            if copied != data or check != totals:
                raise DatasetError(f"the copy of {storage.url(rel)} at {storage.url(target)} "
                                   "does not read back as written; the original is kept: "
                                   "migrate again")
            storage.delete(rel)
            before, after = before + totals, after + check
            moved.append(part)
        dataset.record_layout()
    summary = MigrationSummary(org, tuple(moved), before, after)
    _logger.info("%s", summary.line())
    return summary


def _totals(fmt: str, data: bytes, part: Partition) -> Totals:
    frame = decode_frame(fmt, data, part)
    return Totals(len(frame), int(frame[row.REQUESTS].sum()) if len(frame) else 0)
