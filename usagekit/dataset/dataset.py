"""The usage dataset: Hive-partitioned NDJSON or Parquet files on local disk or S3.

Layout (one file per partition)::

    <root>/_usagekit.manifest                      {"format": "ndjson", "version": 2, ...}
    <root>/org=<id>/_org.json                       {"id": ..., "name": ..., "region": ...}
    <root>/org=<id>/granularity=<day|week|month>/grouping=<key>/period=<YYYY-MM>/usage.json

(``usage.parquet`` for Parquet). ``org`` is the organisation the rows belong to
(:class:`~usagekit.row.Org`; one table holds every org, and one org's writes never touch
another's partitions); ``period`` is the month a row's ``date`` falls in. A dataset opened
for an org (``open_dataset(..., org=)``) reads and writes that org's partitions; opened
without one it reads every org's and writes nothing. The embedded sandbox's fictional rows
are refused where the dataset holds a real org's (unless ``allow_fictional``). Datasets stored
before organisations (``granularity=…`` at the root) are moved under their org by
:func:`usagekit.dataset.migrate.migrate` and refused until then.

Files hold exactly the API fields, ``date`` as the ISO string. A write replaces exactly the
rows of its interval x granularity x grouping: every touched partition is rebuilt a month at
a time (rows of the same month outside the interval kept) and staged on local disk, then each
is switched in one atomic step
(``os.replace`` locally, one ``PutObject`` of the same key on S3), so readers see the old
file or the new one, never both and never a part. A write holds one month of rows at a
time (:mod:`usagekit.dataset.spool`).
Writers take turns: the read-rebuild-switch runs under the dataset's write lock
(:mod:`usagekit.dataset.lock`), so two writes at once both end up stored, or one fails
clearly; readers take no lock.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from usagekit import config, row
from usagekit.config.settings import GENESYS_SETTINGS, LOCK_TIMEOUT, is_s3
from usagekit.dataset.damage import damage_message, problem
from usagekit.dataset.formats import (
    CODECS,
    Batch,
    decode_frame,
    lost_counts,
    records,
    stored_format,
)
from usagekit.dataset.layout import (
    Partition,
    bound,
    bucket_start,
    check_partition_files,
    covering_interval,
    cut_buckets,
    file_rel,
    is_data_file,
    legacy_files,
    month_periods,
    org_folder,
    partition_of,
    period_overlaps,
)
from usagekit.dataset.lock import check_lock_timeout
from usagekit.dataset.orgs import legacy_message, org_record, stored_orgs
from usagekit.dataset.schema import (
    FORMATS,
    LAYOUT,
    LAYOUT_VERSION,
    MANIFEST,
    ORG_FILE,
    SUFFIXES,
)
from usagekit.dataset.scratch import scratch, sweep
from usagekit.dataset.spool import Months, months_of
from usagekit.dataset.storage import Storage
from usagekit.exceptions import (
    ConfigError,
    DamagedFileError,
    DatasetError,
    FictionalDataError,
    InvalidRowsError,
)
from usagekit.frame import (
    date_text,
    empty_frame,
    granularity_value,
    grouping_value,
    normalize,
)
from usagekit.query import Interval, parse_interval

_logger = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class WriteSummary:
    """What one :meth:`Dataset.write` did.

    Attributes
    ----------
    rows : int
        Rows written.
    replaced : int
        Stored rows of the interval that the write replaced.
    kept : int
        Stored rows outside the interval kept in the rewritten partitions.
    written, deleted : tuple of Partition
        Partitions rewritten, and partitions removed because the write left them empty.
    """

    rows: int
    replaced: int
    kept: int
    written: tuple[Partition, ...] = ()
    deleted: tuple[Partition, ...] = field(default=())
    interval: Interval | None = None


@dataclass
class _Tally:
    """Stored rows one write replaced, kept, and would drop from buckets cut in part."""

    replaced: int = 0
    kept: int = 0
    cut_replaced: int = 0


class Dataset:
    """A usage dataset of one format at one location; see the module docstring.

    Use :func:`open_dataset` to get one.
    """

    def __init__(self, storage: Storage, fmt: str, *, recorded: bool,
                 lock_timeout: float = LOCK_TIMEOUT, org: row.Org | None = None,
                 allow_fictional: bool = False) -> None:
        self._storage = storage
        self._format = fmt
        self._recorded = recorded
        self._lock_timeout = lock_timeout
        self._org = org
        self._allow_fictional = allow_fictional

    @property
    def org(self) -> row.Org | None:
        """The organisation this dataset object reads and writes; None: all (read only)."""
        return self._org

    def for_org(self, org: row.Org, *, allow_fictional: bool = False) -> Dataset:
        """The same dataset, reading and writing ``org``'s partitions only.

        ``allow_fictional`` lets a fictional org's rows (the embedded sandbox's) in beside a
        real org's. Checked now, before anything is fetched for it, and again by each write.

        Raises
        ------
        FictionalDataError
            ``org`` is fictional, the dataset holds a real org's rows and
            ``allow_fictional`` is False.
        DatasetError
            The dataset is laid out as before organisations (``usagekit migrate``).
        """
        scoped = Dataset(self._storage, self._format, recorded=self._recorded,
                         lock_timeout=self._lock_timeout, org=org,
                         allow_fictional=allow_fictional)
        scoped._check_org(org, self._storage.list_files())
        return scoped

    def orgs(self) -> list[row.Org]:
        """The organisations the dataset holds rows of (from each ``org=`` folder), by name."""
        return stored_orgs(self._storage, self._storage.list_files())

    def org_named(self, text: str) -> row.Org:
        """The org of this dataset that ``text`` names (its id, short id or name).

        Raises
        ------
        ConfigError
            None or several match, naming the orgs the dataset holds.
        """
        held = self.orgs()
        found = [org for org in held if org.matches(text)]
        if len(found) == 1:
            return found[0]
        known = ", ".join(org.label for org in held) or "none"
        what = "several orgs" if found else "no org"
        raise ConfigError(f"invalid org {text!r}: {what} of the dataset at {self.location} "
                          f"match it; it holds: {known}")

    @property
    def location(self) -> str:
        """The root: a local folder or ``s3://bucket/prefix/``."""
        return self._storage.location

    @property
    def format(self) -> str:
        """``ndjson`` or ``parquet``."""
        return self._format

    @property
    def storage(self) -> Storage:
        """Where the files are (a local folder or an S3 prefix)."""
        return self._storage

    @property
    def lock_timeout(self) -> float:
        """Seconds a write waits for another writer's lock."""
        return self._lock_timeout

    def __repr__(self) -> str:
        return f"Dataset({self.location!r}, format={self._format!r})"

    # -- reading -----------------------------------------------------------------------------

    def partitions(
        self, granularity: str | None = None, grouping: str | Sequence[str] | None = None
    ) -> list[Partition]:
        """The partitions holding data, sorted, optionally only of one granularity/grouping."""
        return sorted({p for p, _ in self._data_files(granularity, grouping)})

    def files(
        self,
        granularity: str | None = None,
        grouping: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
    ) -> list[str]:
        """Paths/URLs of the data files of the matching partitions (for engines)."""
        lo, hi = bound(start), bound(end)
        return [
            self._storage.url(rel)
            for part, rel in self._data_files(granularity, grouping)
            if period_overlaps(part.period, lo, hi)
        ]

    def read(
        self,
        granularity: str | None = None,
        grouping: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Load rows into the typed frame, with ``granularity``, ``grouping`` and ``period``.

        Parameters
        ----------
        granularity : str, optional
            ``day|week|month``; all when None.
        grouping : str or sequence of str, optional
            A grouping key or groupBy names; all when None.
        start, end : str, date or datetime, optional
            Keep rows with ``start <= date < end`` (naive values are UTC).
        """
        lo, hi = bound(start), bound(end)
        frames = []
        for part, rel in self._data_files(granularity, grouping):
            if not period_overlaps(part.period, lo, hi):
                continue
            data = self._storage.read(rel)
            if data is None:  # removed since listed
                continue
            frame = self._decoded(rel, data, "nothing was read",
                                  lambda d, p=part: decode_frame(self._format, d, p))
            mask = np.ones(len(frame), dtype=bool)
            if lo is not None:
                mask &= (frame["date"] >= lo).to_numpy()
            if hi is not None:
                mask &= (frame["date"] < hi).to_numpy()
            frames.append(frame[mask])
        columns = (*row.API_FIELDS, *row.PARTITION_KEYS)
        if not frames:
            return empty_frame(columns)
        out = pd.concat(frames, ignore_index=True)
        for name in row.COUNT_FIELDS:  # a count no stored row has: missing, never 0
            if name not in out.columns:
                out[name] = pd.array([pd.NA] * len(out), dtype="Int64")
        platform = [row.PLATFORM] if row.PLATFORM in out.columns else []
        return normalize(out[[*row.API_FIELDS, *platform, *row.PARTITION_KEYS]])

    # -- writing -----------------------------------------------------------------------------

    def write(
        self,
        rows_or_frame: Iterable[Mapping[str, Any]] | pd.DataFrame | bytes | IO[bytes]
        | os.PathLike[str],
        *,
        granularity: str,
        grouping: str | Sequence[str],
        interval: Interval | str | None = None,
    ) -> WriteSummary:
        """Store rows, replacing exactly the stored rows of ``interval`` x granularity x grouping.

        A month partition is rebuilt at a time and staged on local disk; every staged
        partition is switched in only when all of them were built, so memory is set by the
        largest month and refused rows leave the dataset as it was.

        Parameters
        ----------
        rows_or_frame : iterable of dict, DataFrame, bytes, binary file or path
            API rows (dicts), a frame (typed or from any engine), NDJSON bytes, or an NDJSON
            file or stream (read in blocks and spooled by month, never held whole); NDJSON
            lines and dicts are stored byte for byte (compact, as ``jq -c`` writes them).
        granularity : str
            ``day|week|month`` (or ``Day|Week|Month``).
        grouping : str or sequence of str
            The grouping key or the groupBy names that produced the rows.
        interval : Interval or str, optional
            The interval the rows were fetched for (half-open). Stored rows dated from the
            start of the bucket holding ``interval.start`` up to ``interval.end`` are replaced.
            A week or month bucket the interval covers only in part is stored as the API
            answered it (days inside the interval only) when the dataset holds nothing
            else for it; replacing different stored rows of such a bucket is refused, since
            the days outside the interval would drop out (see :meth:`Interval.aligned`).
            The bucket holding today is never cut at its end: its data ends yesterday.
            Default: the whole buckets from the earliest row's to the latest row's
            (:func:`~usagekit.dataset.layout.covering_interval`); days of that span without rows
            end up without rows.

        Returns
        -------
        WriteSummary

        Raises
        ------
        InvalidRowsError
            Rows contradict the granularity, grouping or interval, are malformed, or lack
            counts that the stored rows they would replace hold; nothing is written.
        DatasetError
            Storage failed, or another writer held the dataset's lock longer than the lock
            timeout. Partitions already switched hold the new rows, the others the old
            ones; each is whole. Re-running the same write completes it.
        """
        gran = granularity_value(granularity)
        if not gran:
            raise InvalidRowsError(
                "granularity-less rows cannot be stored: the dataset keeps day, week or month "
                "data only (fetch them with granularity Day, Week or Month)"
            )
        key = grouping_value(grouping)
        span = parse_interval(interval) if interval is not None else None
        lo = bucket_start(pd.Timestamp(span.start), gran) if span else None
        hi = pd.Timestamp(span.end) if span else None
        with months_of(rows_or_frame, gran, key, self._format, lo, hi,
                       span.text if span else "") as months:
            if span is None:
                if months.first is None or months.last is None:
                    raise InvalidRowsError("no rows to derive the interval from: pass --interval "
                                           "(interval=) to clear an interval")
                span = covering_interval(pd.Series([months.first, months.last]), gran)
                lo, hi = bucket_start(pd.Timestamp(span.start), gran), pd.Timestamp(span.end)
            assert lo is not None and hi is not None
            written, deleted, tally = self._switch(self.require_org(), months, gran, key, span, lo,
                                                   hi)
        summary = WriteSummary(
            rows=months.rows, replaced=tally.replaced, kept=tally.kept,
            written=tuple(written), deleted=tuple(deleted), interval=span,
        )
        _logger.info("wrote %s to %s", summary, self.location)
        return summary

    def repair(self) -> list[Partition]:
        """Rewrite the stored files that break the input rules of :mod:`usagekit.row`.

        Bytes that are not UTF-8 (stored before the kit refused them) become U+FFFD, and
        dates not spelt as :data:`~usagekit.row.DATE_FORMAT` are respelt; every other byte
        stays. Each affected partition is switched as a write switches it (atomically,
        under the write lock); running it again changes nothing.

        Returns
        -------
        list of Partition
            The partitions rewritten, sorted.
        """
        repaired = []
        with self._storage.lock(self._lock_timeout):
            codec = CODECS[self._format]
            for part, rel in self._data_files(None, None):
                data = self._storage.read(rel)
                fixed = codec.repair(data) if data is not None else None
                if fixed is not None:
                    self._storage.replace(rel, fixed)
                    repaired.append(part)
        _logger.info("repaired %d partition(s) of %s", len(repaired), self.location)
        return repaired

    def remove(self) -> list[Partition]:
        """Delete every stored row of this dataset's org, and its ``org=`` folder's record.

        Each partition goes in one step (under the write lock); other orgs' partitions are
        not touched. Running it again removes nothing.

        Returns
        -------
        list of Partition
            The partitions removed, sorted.
        """
        org = self.require_org()
        with self._storage.lock(self._lock_timeout):
            parts = [part for part, _ in self._data_files(None, None)]
            for part in parts:
                self._storage.delete(file_rel(part, self._format))
            if parts:
                self._storage.forget(parts)
            record = f"{org_folder(org.id)}/{ORG_FILE}"
            if self._storage.read(record) is not None:
                self._storage.delete(record)
        _logger.info("removed %d partition(s) of %s from %s", len(parts), org.label,
                     self.location)
        return parts

    def require_org(self) -> row.Org:
        """The org a write stores rows of; refused on a dataset opened without one."""
        if self._org is None:
            raise ConfigError(
                f"writing to the dataset at {self.location} needs the organisation the rows "
                "belong to: open it with org= (the CLI asks Genesys Cloud, or takes --org)")
        return self._org

    def _check_org(self, org: row.Org, files: list[str]) -> None:
        """Under the lock: refuse a legacy layout, and sandbox rows beside a real org's."""
        legacy = legacy_files(files)
        if legacy:
            raise DatasetError(legacy_message(self.location, legacy))
        held = stored_orgs(self._storage, files)
        real = [o for o in held if not o.fictional and o.id != org.id]
        if org.fictional and real and not self._allow_fictional:
            raise FictionalDataError(
                f"the dataset at {self.location} holds {', '.join(o.label for o in real)}; "
                f"refusing to store the fictional rows of {org.label} beside them. Set "
                f"{GENESYS_SETTINGS} to fetch the real org, or "
                "store sandbox rows anyway with --allow-sandbox (allow_fictional=True); "
                "nothing was written")
        if org.fictional is False and any(o.fictional for o in held):
            _logger.warning("the dataset at %s also holds fictional rows (%s); "
                            "`usagekit remove --fictional` removes them", self.location,
                            ", ".join(o.label for o in held if o.fictional))

    def _record_org(self, org: row.Org) -> None:
        """Record ``org`` in its folder (before its first rows; again when it was renamed)."""
        record = org_record(org)
        rel = f"{org_folder(org.id)}/{ORG_FILE}"
        if self._storage.read(rel) != record:
            self._storage.replace(rel, record)

    def _switch(self, org: row.Org, months: Months, gran: str, key: str, span: Interval,
                lo: pd.Timestamp, hi: pd.Timestamp
                ) -> tuple[list[Partition], list[Partition], _Tally]:
        """Under the lock: rebuild and stage each touched partition, then switch them all."""
        cut = cut_buckets(span, gran, lo, hi)
        tally = _Tally()
        asked = time.monotonic()
        with self._storage.lock(self._lock_timeout), scratch("stage") as stage:
            locked = time.monotonic()
            files = self._storage.list_files()
            self._check_format(files)
            self._check_org(org, files)
            plan: list[tuple[Partition, Path | None]] = []
            for period in month_periods(lo, hi):
                part = Partition(org.id, gran, key, period)
                month = months.batch(int(period[:4]) * 100 + int(period[5:]))
                content = self._rebuild(part, month, lo, hi, files, cut, tally)
                if content is not None:
                    staged = stage / f"{period}{SUFFIXES[self._format]}"
                    staged.write_bytes(content)
                    plan.append((part, staged))
                elif file_rel(part, self._format) in files:
                    plan.append((part, None))
                del month, content
                pa.default_memory_pool().release_unused()  # (Arrow's pool keeps freed pages)
            if tally.cut_replaced:
                raise InvalidRowsError(
                    f"the interval {span.text} covers the {gran} bucket(s) "
                    f"{', '.join(date_text(b) for b in sorted(cut))} only in part, and the "
                    f"dataset holds other rows for them ({tally.cut_replaced} row(s)); "
                    f"replacing those would drop the days outside the interval. Export whole "
                    f"{gran}s instead: {span.aligned(gran).text} (or use day granularity); "
                    "nothing was written"
                )
            written = [p for p, staged in plan if staged is not None]
            self._storage.prepare(self._format, written)  # may refuse (a crawler's table)
            self._ensure_manifest()
            self._record_org(org)
            deleted = []
            for part, staged in plan:
                rel = file_rel(part, self._format)
                if staged is None:
                    self._storage.delete(rel)
                    deleted.append(part)
                else:
                    self._storage.replace(rel, staged.read_bytes())
            if deleted:
                self._storage.forget(deleted)
        _logger.info("waited %.2f s for the write lock of %s, held it %.2f s",
                     locked - asked, self.location, time.monotonic() - locked)
        return written, deleted, tally

    def _rebuild(self, part: Partition, month: Batch, lo: pd.Timestamp, hi: pd.Timestamp,
                 files: list[str], cut: frozenset[pd.Timestamp], tally: _Tally) -> bytes | None:
        """One partition's new content: the month's new rows and the stored rows outside
        the interval (None when that leaves it empty); counts go to ``tally``."""
        rel = file_rel(part, self._format)
        check_partition_files(files, part, rel, self.location)
        codec = month.codec
        old = self._storage.read(rel) if rel in files else None
        if old is None:
            content = month.payload
        else:
            refused = f"nothing was written (its partition {part.path} is left as it is)"
            stored, stored_dates = self._decoded(rel, old, refused, codec.decode)
            before = (stored_dates < lo).to_numpy()
            after = (stored_dates >= hi).to_numpy()
            self._keep_counts(month.frame, old, part, ~(before | after))
            tally.kept += int(before.sum() + after.sum())
            tally.replaced += int((~(before | after)).sum())
            old_cut = stored_dates.isin(list(cut)).to_numpy()
            new_cut = month.frame["date"].isin(list(cut)).to_numpy()
            if old_cut.any() and records(codec.take(stored, old_cut)) != records(
                    codec.take(month.payload, new_cut)):
                tally.cut_replaced += int(old_cut.sum())
            content = codec.concat([codec.take(stored, before), month.payload,
                                    codec.take(stored, after)])
        return codec.encode(content) if codec.count(content) else None

    def _decoded(self, rel: str, data: bytes, done: str, decode: Callable[[bytes], _T]) -> _T:
        """``decode(data)``; when that fails because the stored file is damaged, a
        :class:`DamagedFileError` naming it (``done`` says what happened)."""
        try:
            return decode(data)
        except Exception as exc:
            why = problem(self._format, data)
            if why is None:
                raise
            url = self._storage.url(rel)
            raise DamagedFileError(
                f"the dataset at {self.location} holds "
                f"{damage_message([(url, why)], done)}", files=(url,)) from exc

    def _check_format(self, files: list[str]) -> None:
        """Refuse to write when another writer created the dataset in another format."""
        stored, self._recorded = stored_format(self._storage, files)
        if stored is not None and stored != self._format:
            raise DatasetError(
                f"the dataset at {self.location} now holds {stored} files, not {self._format} "
                "(another writer stored them since it was opened); nothing was written: open "
                f"it again with format={stored!r} (or None) and run the write again"
            )

    def _keep_counts(self, new: pd.DataFrame, old: bytes, part: Partition,
                     replaced: np.ndarray) -> None:
        """Refuse to replace stored counts with rows that lack them (a metrics subset)."""
        if all(c in new.columns and not new[c].isna().any() for c in row.COUNT_FIELDS):
            return
        lost = lost_counts(new, decode_frame(self._format, old, part)[replaced])
        if lost:
            raise InvalidRowsError(
                f"the rows lack {', '.join(lost)}, which the stored rows they would replace "
                f"in {part.path} hold ({', '.join(f'{n} {c}' for c, n in lost.items())}); "
                "nothing was written. Export rows with every metric, or `usagekit import` "
                "them (it keeps the fuller row)")

    def _ensure_manifest(self) -> None:
        if not self._recorded:
            self.record_layout()

    def record_layout(self) -> None:
        """Write the manifest: the format and the layout's version."""
        body = {"format": self._format, "layout": LAYOUT, "version": LAYOUT_VERSION}
        self._storage.replace(MANIFEST, json.dumps(body).encode() + b"\n")
        self._recorded = True

    def _data_files(
        self, granularity: str | None, grouping: str | Sequence[str] | None
    ) -> list[tuple[Partition, str]]:
        gran = granularity_value(granularity) if granularity else None
        key = grouping_value(grouping) if grouping is not None else None
        suffix = SUFFIXES[self._format]
        out = []
        files = self._storage.list_files()
        legacy = legacy_files(files)
        if legacy:
            raise DatasetError(legacy_message(self.location, legacy))
        for rel in files:
            part = partition_of(rel)
            if part is None or not is_data_file(rel):
                continue
            if self._org is not None and part.org != self._org.id:
                continue
            if not rel.endswith(suffix):
                raise DatasetError(
                    f"{self._storage.url(rel)} is not a {self._format} file, but the dataset at "
                    f"{self.location} holds {self._format}; a dataset holds one format"
                )
            if (gran is None or part.granularity == gran) and (key is None or part.grouping == key):
                out.append((part, rel))
        return sorted(out)


def open_dataset(
    location: str | None = None,
    *,
    org: row.Org | None = None,
    allow_fictional: bool = False,
    format: str | None = None,
    boto3_session: Any = None,
    database: str | None = None,
    table: str | None = None,
    catalog: bool = True,
    lock_timeout: float = LOCK_TIMEOUT,
) -> Dataset:
    """Open (or prepare to create) the usage dataset at ``location``.

    Parameters
    ----------
    location : str, optional
        A local folder or ``s3://bucket/prefix/``; default :func:`usagekit.config.dataset_location`.
    org : Org, optional
        The organisation to read and write (:meth:`Dataset.for_org`); None: read every org's
        rows, write none.
    allow_fictional : bool
        Store a fictional org's rows (the embedded sandbox's) where the dataset holds a real
        org's (refused by default).
    format : {"ndjson", "parquet"}, optional
        Required to match an existing dataset's format; for a new one, default ``ndjson``.
    boto3_session : boto3.Session, optional
        S3 only; default: the standard AWS environment.
    database, table : str, optional
        S3 only: the Glue table to register partitions in (default
        :class:`usagekit.config.AthenaSettings` from the environment).
    catalog : bool
        S3 only: register the table and partitions in Glue (default True).
    lock_timeout : float
        Seconds a write waits for another writer's lock (default
        :data:`usagekit.config.settings.LOCK_TIMEOUT`) before it fails naming that writer.

    Raises
    ------
    DatasetError
        When the stored format differs from ``format`` or the location mixes formats.
    ConfigError
        When ``format`` or ``lock_timeout`` is invalid.
    """
    if format is not None and format not in FORMATS:
        raise ConfigError(
            f"invalid dataset format {format!r}: expected one of {', '.join(FORMATS)}"
        )
    lock_timeout = check_lock_timeout(lock_timeout)
    location = config.dataset_location(location)
    if is_s3(location):
        from usagekit.dataset.s3 import S3Storage

        settings = config.athena_settings()
        storage: Storage = S3Storage(
            location,
            boto3_session=boto3_session,
            database=(database or settings.database) if catalog else None,
            table=(table or settings.table) if catalog else None,
        )
    else:
        from usagekit.dataset.local import LocalStorage

        storage = LocalStorage(location)
        storage.clear_stale_lock()
    sweep()  # scratch space that killed runs left
    stored, recorded = stored_format(storage)
    if stored is not None and format is not None and stored != format:
        raise DatasetError(
            f"the dataset at {storage.location} holds {stored} files, not {format}: "
            f"open it with format={stored!r} (or None), or choose another location"
        )
    dataset = Dataset(storage, stored or format or "ndjson", recorded=recorded,
                      lock_timeout=lock_timeout)
    return dataset if org is None else dataset.for_org(org, allow_fictional=allow_fictional)


def run_crawler(
    name: str, *, timeout: float = 900.0, poll: float = 5.0, boto3_session: Any = None
) -> dict[str, Any]:
    """Start the blueprint's Glue crawler and wait for ``READY`` (:mod:`usagekit.dataset.s3`)."""
    from usagekit.dataset.s3 import run_crawler as _run

    return _run(name, timeout=timeout, poll=poll, boto3_session=boto3_session)
