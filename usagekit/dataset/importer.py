"""Bring the blueprint's exports into the dataset: ``gc`` documents and folders of NDJSON.

The blueprint stores ``gc usage query results get … | jq -c '.results[]'`` output under
``granularity=day|week|month/`` (files of any name; exports often overlap). Its rows do not
say which groupBy made them, so the grouping is derived from the fields they fill: a
non-empty ``clientId`` means grouped by OAuthClientId, a ``templateUri`` by TemplateUri,
and so on (a dimension that is empty in every row of a file counts as not grouped by).

:func:`import_usage` reads every file first (nothing is written if one is refused), filing
its rows by month on local disk, then merges a month at a time (so it holds about one month
of rows, however large the source): a row that several exports hold is stored once; two
different rows for the same bucket and dimensions (a week or month exported over different
intervals) are a :class:`Conflict`, and the fuller one is kept (more requests; see
:func:`fuller`). Rows already in the dataset take part in the same merge, so nothing stored
is lost or counted twice, and importing the same source again changes nothing. The source is
only read.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import operator
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import feather

from usagekit.config.settings import is_s3
from usagekit.dataset.dataset import Dataset
from usagekit.dataset.documents import open_rows
from usagekit.dataset.layout import Partition
from usagekit.dataset.scratch import scratch
from usagekit.dataset.spool import line_blocks, spooling
from usagekit.exceptions import DatasetError, InvalidRowsError
from usagekit.frame import (
    check_rows,
    date_text,
    line_numbers,
    ndjson_table,
    normalize,
    table_frame,
)
from usagekit.query import Interval
from usagekit.row import (
    API_FIELDS,
    CLIENT_NAME,
    COUNT_FIELDS,
    DATE,
    GRANULARITY_VALUES,
    GROUP_FIELDS,
    NO_GROUPING,
    PARTITION_KEYS,
    PLATFORM,
    REQUESTS,
    ROW_FIELDS,
)

_logger = logging.getLogger(__name__)

#: What tells two rows of one bucket apart: the date and the ids (not the client's name).
_KEY = (DATE, *(name for name in ROW_FIELDS if name not in {*COUNT_FIELDS, DATE, CLIENT_NAME}))
_GRANULARITY_FOLDERS = f"granularity={'|'.join(GRANULARITY_VALUES)}/"


# -- the grouping the rows were exported with ----------------------------------------------

def filled_parts(frame: pd.DataFrame) -> set[str]:
    """The grouping-key parts whose fields some row fills."""
    return {part for part, fields in GROUP_FIELDS.items()
            if any(name in frame.columns and (frame[name] != "").any() for name in fields)}


def derive_grouping(parts: set[str]) -> str:
    """The grouping key of the parts filled (``none`` when none is)."""
    return "-".join(part for part in GROUP_FIELDS if part in parts) or NO_GROUPING


# -- sources ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceFile:
    """One export found at the source: where it is and the granularity its folder names."""

    url: str
    granularity: str
    open: Callable[[], IO[bytes]] = field(repr=False, compare=False)


def list_source(source: str, *, exclude: str | None = None,
                boto3_session: Any = None) -> list[SourceFile]:
    """The exports under ``source`` (a folder or ``s3://bucket/prefix``), sorted by name.

    Each file must lie under a ``granularity=day|week|month`` folder (at any depth); files
    and folders whose names start with ``.`` or ``_`` are skipped (Hive's convention), and
    so is everything under ``exclude`` (the dataset itself, when it lies in the source).

    Raises
    ------
    DatasetError
        For a missing source, one without files, or a file outside a granularity folder
        or under an unknown granularity (naming it and the valid ones).
    """
    if is_s3(source):
        found = list(_s3_files(source, boto3_session))
    else:
        root = Path(source).expanduser().resolve()
        if not root.is_dir():
            raise DatasetError(f"import source {source} is not a folder (nor s3://bucket/prefix)")
        found = [(path.relative_to(root).as_posix(), str(path),
                  functools.partial(path.open, "rb"))
                 for path in sorted(root.rglob("*")) if path.is_file()]
    inside = exclude.rstrip("/") + "/" if exclude else None
    out = []
    for rel, url, opener in found:
        parts = rel.split("/")
        if any(p.startswith((".", "_")) for p in parts) or (inside and url.startswith(inside)):
            continue
        grans = [p.split("=", 1)[1] for p in parts[:-1] if p.startswith("granularity=")]
        if not grans:
            raise DatasetError(
                f"{url} is not under a {_GRANULARITY_FOLDERS} folder, so its rows' "
                "granularity is unknown: move it into the folder of the granularity it was "
                "exported with")
        gran = grans[-1].lower()
        if gran not in GRANULARITY_VALUES:
            raise DatasetError(f"{url}: unknown granularity {grans[-1]!r} in its folder; "
                               f"valid: {', '.join(GRANULARITY_VALUES)}")
        out.append(SourceFile(url, gran, opener))
    if not out:
        raise DatasetError(f"no exports under {source}: expected files in "
                           f"{_GRANULARITY_FOLDERS} folders")
    return out


def _s3_files(source: str, boto3_session: Any
              ) -> Iterator[tuple[str, str, Callable[[], IO[bytes]]]]:
    from usagekit.dataset.s3 import S3Storage

    storage = S3Storage(source, boto3_session=boto3_session)  # no Glue: only read
    for rel in storage.list_files():
        if rel.endswith("/"):  # a console-made "folder" marker
            continue
        yield rel, storage.url(rel), functools.partial(_open_s3, storage, rel)


def _open_s3(storage: Any, rel: str) -> IO[bytes]:
    data = storage.read(rel)
    if data is None:
        raise DatasetError(f"{storage.url(rel)} disappeared while importing; run it again")
    return io.BytesIO(data)


# -- merging ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Conflict:
    """Two different rows for one bucket and dimensions; the fuller one was kept."""

    granularity: str
    grouping: str
    date: str
    dimensions: tuple[str, ...]
    kept: str
    kept_requests: int | None
    dropped: str
    dropped_requests: int | None

    def describe(self) -> str:
        """One line for the summary."""
        dims = "/".join(d for d in self.dimensions if d) or "(all)"
        return (f"{self.granularity} {self.date} {dims}: kept {self.kept} "
                f"(requests {_shown(self.kept_requests)}) over {self.dropped} "
                f"(requests {_shown(self.dropped_requests)})")


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`import_usage` did.

    Attributes
    ----------
    files : tuple of str
        The exports read.
    rows_read : int
        Rows in them.
    duplicates : int
        Rows identical to one already seen (another export, or the dataset): stored once.
    conflicts : tuple of Conflict
        Different rows for one bucket and dimensions, and which one was kept.
    stored : int
        Rows the dataset holds for the partitions touched, after the import.
    written : tuple of Partition
        Partitions rewritten (those whose rows changed).
    """

    files: tuple[str, ...]
    rows_read: int
    duplicates: int
    conflicts: tuple[Conflict, ...]
    stored: int
    written: tuple[Partition, ...] = ()


def _shown(value: int | None) -> str:
    return "missing" if value is None else str(value)


def _counts(row: dict[str, Any]) -> dict[str, int]:
    return {name: int(row[name]) for name in COUNT_FIELDS if row.get(name) is not None}


def fuller(a: dict[str, Any], b: dict[str, Any]) -> int:
    """Compare two rows of one bucket: > 0 when ``a`` is fuller, < 0 when ``b`` is, else 0.

    A row holding every count the other holds and more (an export of every metric over
    one with a ``metrics`` subset) is fuller: no stored count is ever dropped. Otherwise
    more ``requests`` is fuller (the bucket covers more days); without requests in both,
    the larger total of the counts both hold.
    """
    ca, cb = _counts(a), _counts(b)
    if set(ca) != set(cb) and (set(ca) >= set(cb) or set(cb) >= set(ca)):
        return 1 if len(ca) > len(cb) else -1
    common = [name for name in COUNT_FIELDS if name in ca and name in cb]
    if REQUESTS in common and ca[REQUESTS] != cb[REQUESTS]:
        return 1 if ca[REQUESTS] > cb[REQUESTS] else -1
    total_a, total_b = (sum(c[n] for n in common) for c in (ca, cb))
    if total_a != total_b:
        return 1 if total_a > total_b else -1
    return (len(ca) > len(cb)) - (len(ca) < len(cb))


def _rows(frame: pd.DataFrame, grouping: str) -> list[dict[str, Any]]:
    """API rows (dicts) of a typed frame; a missing count is an absent key."""
    fields = list(API_FIELDS)
    if PLATFORM in grouping.split("-"):
        fields.append(PLATFORM)
    columns = []
    for name in fields:
        if name not in frame.columns:
            columns.append([None if name in COUNT_FIELDS else ""] * len(frame))
        elif name == DATE:
            dates = frame[name]
            whole = not (dates.dt.microsecond != 0).any()
            columns.append(dates.dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist() if whole
                           else [date_text(d) for d in dates])
        elif name in COUNT_FIELDS:
            column = frame[name]
            columns.append(column.astype(object).where(column.notna(), None).tolist())
        else:
            columns.append(frame[name].fillna("").astype(object).tolist())
    counts = set(COUNT_FIELDS)
    return [{k: v for k, v in zip(fields, values, strict=True) if v is not None or k not in counts}
            for values in zip(*columns, strict=True)]


def _period_interval(period: str, granularity: str) -> Interval:
    """Whole buckets dated in month ``period``: the first to the last bucket of the month."""
    first = pd.Timestamp(f"{period}-01", tz="UTC")
    after = first + pd.offsets.MonthBegin(1)
    if granularity == "week":  # the Mondays of the month
        first += pd.Timedelta(days=(7 - first.day_of_week) % 7)
        after += pd.Timedelta(days=(7 - after.day_of_week) % 7)
    return Interval(first.to_pydatetime(), after.to_pydatetime())


@dataclass
class _Merge:
    """The merge of one month of one granularity x grouping, in order of arrival.

    A row identical to one already seen is a duplicate (stored once); rows of the same
    bucket and dimensions that differ are a :class:`Conflict`, settled by :func:`fuller`
    in order (the rare case, row by row; the rest is vectorised).
    """

    granularity: str
    grouping: str
    duplicates: int = 0
    conflicts: list[Conflict] = field(default_factory=list)

    def merge(self, frame: pd.DataFrame, origins: list[str]) -> pd.DataFrame:
        """The rows of ``frame`` kept (``origin``: an index into ``origins``), in order."""
        keys = [c for c in _KEY if c in frame.columns and (
            c != PLATFORM or PLATFORM in self.grouping.split("-"))]
        fields = [c for c in ROW_FIELDS if c in frame.columns]
        seen = frame.duplicated(fields, keep="first")
        self.duplicates += int(seen.sum())
        frame = frame[~seen]
        contested = frame.duplicated(keys, keep=False).to_numpy()
        if not contested.any():
            return frame
        held: dict[tuple[Any, ...], tuple[dict[str, Any], int]] = {}
        key = operator.itemgetter(*keys)
        part = frame[contested]
        for row, position, origin in zip(_rows(part, self.grouping), part.index,
                                         part["origin"].tolist(), strict=True):
            name = key(row)
            if name not in held:
                held[name] = (row, position)
                continue
            other, other_position = held[name]
            other_origin = int(frame.at[other_position, "origin"])
            if fuller(other, row) >= 0:
                kept, dropped, kept_origin, dropped_origin = other, row, other_origin, origin
            else:
                kept, dropped, kept_origin, dropped_origin = row, other, origin, other_origin
                held[name] = (row, position)
            self.conflicts.append(Conflict(
                self.granularity, self.grouping, str(row["date"]), name[1:],
                origins[kept_origin], kept.get("requests"), origins[dropped_origin],
                dropped.get("requests")))
        winners = {position for _, position in held.values()}
        return frame[~contested | frame.index.isin(winners)]


class _Spool:
    """Rows read from the exports, filed by granularity, grouping and month on disk.

    Each block of an export's rows of a month goes to an Arrow file with the export's index, so
    the merge holds one month of rows at a time however large the source is.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files: dict[tuple[str, str, str], list[Path]] = {}

    def add(self, index: int, export: SourceFile) -> int:
        """Read and check one export; file its rows. Returns the number of rows."""
        grouping, frames = read_export(export)
        count = 0
        for frame, numbers in frames:
            count += len(frame)
            frame = frame.drop(columns=[c for c in PARTITION_KEYS if c in frame.columns])
            frame["origin"] = np.int32(index)
            frame["line"] = numbers  # (in its file)
            dates = frame["date"]
            periods = pd.Series(dates.dt.year * 100 + dates.dt.month, index=frame.index)
            for period, rows in frame.groupby(periods, sort=True):
                place = (export.granularity, grouping, f"{period // 100:04d}-{period % 100:02d}")
                path = self._folder / f"{sum(map(len, self._files.values()))}.arrow"
                naive = rows.assign(date=rows["date"].dt.tz_convert(None))  # (UTC on read)
                feather.write_feather(pa.Table.from_pandas(naive, preserve_index=False), path)
                self._files.setdefault(place, []).append(path)
        return count

    def months(self) -> list[tuple[str, str, str]]:
        """The (granularity, grouping, period) filed, sorted."""
        return sorted(self._files)

    def rows(self, place: tuple[str, str, str]) -> pd.DataFrame:
        """The rows filed there, in the order read, with their export's index (``origin``)."""
        frames = [feather.read_table(path).to_pandas() for path in self._files[place]]
        return normalize(pd.concat(frames, ignore_index=True))


def read_export(source: SourceFile) -> tuple[str, Iterator[tuple[pd.DataFrame, np.ndarray]]]:
    """The grouping of one export, and its rows in checked blocks (as the dataset checks),
    each with the rows' line numbers in the file.

    The file is read twice, a block at a time: once for the grouping its rows fill, once
    for the rows.

    Raises
    ------
    InvalidRowsError
        Naming the file: it holds no usage rows, or rows that are malformed or contradict
        its granularity folder (from the iterator too).
    """
    with _named(source):
        parts: set[str] = set()
        rows = counts = 0
        for frame, _ in _frames(source, NO_GROUPING):
            rows += len(frame)
            parts |= filled_parts(frame)
            counts += sum(name in frame.columns for name in COUNT_FIELDS)
        if not rows:
            raise InvalidRowsError("it holds no usage rows")
        if not counts:
            raise InvalidRowsError(f"it holds no usage rows (no {', '.join(COUNT_FIELDS)})")
    grouping = derive_grouping(parts)
    return grouping, _checked(source, grouping)


def _checked(source: SourceFile, grouping: str
             ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    with _named(source):
        for frame, numbers in _frames(source, grouping):
            check_rows(frame, granularity=source.granularity, grouping=grouping,
                       numbers=numbers)
            yield frame, numbers


def _frames(source: SourceFile, grouping: str) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """The file's rows a block at a time, with their line numbers in the whole file."""
    done = 0  # (lines of the blocks before)
    with source.open() as fp:
        for block in line_blocks(open_rows(fp, source.url)):
            numbers = line_numbers(block) + done
            done += block.count(b"\n") + (not block.endswith(b"\n"))
            try:
                table = ndjson_table(block, numbers)
            except InvalidRowsError as exc:
                raise InvalidRowsError(
                    f"it holds no usage rows ({exc}); usage rows are JSON objects with the "
                    f"fields {', '.join(API_FIELDS)}") from exc
            if table is not None and table.num_rows:
                yield table_frame(table, granularity=source.granularity, grouping=grouping,
                                  numbers=numbers), numbers


@contextlib.contextmanager
def _named(source: SourceFile) -> Iterator[None]:
    """Name the file in an InvalidRowsError raised inside."""
    try:
        yield
    except InvalidRowsError as exc:
        text = str(exc)
        named = text if text.startswith(source.url) else f"{source.url}: {text}"
        raise InvalidRowsError(f"{named}; nothing was imported") from exc


def _refuse_repeats(frame: pd.DataFrame, grouping: str, origins: list[str]) -> None:
    """Refuse an export holding two rows of one bucket and dimensions (as the dataset does)."""
    keys = [c for c in _KEY if c in frame.columns and (
        c != PLATFORM or PLATFORM in grouping.split("-"))]
    repeated = frame.duplicated([*keys, "origin"], keep="first").to_numpy()
    if repeated.any():
        at = frame.iloc[int(repeated.argmax())]
        raise InvalidRowsError(
            f"{origins[int(at['origin'])]}: line {int(at['line'])}: date="
            f"{date_text(at['date'])!r}: another row has the same date and "
            f"{', '.join(keys[1:])}; each row may appear once per export; nothing was imported")


def import_usage(source: str | os.PathLike[str], dataset: Dataset, *,
                 boto3_session: Any = None) -> ImportSummary:
    """Import the blueprint-style exports under ``source`` into ``dataset``.

    Parameters
    ----------
    source : str or path
        A folder or ``s3://bucket/prefix`` holding ``granularity=day|week|month/`` folders
        of NDJSON files (or ``gc`` result documents), of any name.
    dataset : Dataset
        Where the rows go.
    boto3_session : boto3.Session, optional
        For an S3 source; default: the standard AWS environment.

    Returns
    -------
    ImportSummary

    Raises
    ------
    InvalidRowsError
        A file is refused (named); nothing was written.
    DatasetError
        The source cannot be listed or read, or storage failed (partitions already
        switched are whole; importing again completes the import).
    """
    dataset.require_org()
    files = list_source(os.fspath(source), exclude=dataset.location,
                        boto3_session=boto3_session)
    written: list[Partition] = []
    stored = duplicates = 0
    conflicts: list[Conflict] = []
    origins = [f.url for f in files] + [dataset.location]
    with scratch("import") as folder:
        spool = _Spool(folder)
        with spooling(folder):
            rows_read = sum(spool.add(index, export) for index, export in enumerate(files))
        for place in spool.months():  # before any write: a row twice in one export
            _refuse_repeats(spool.rows(place), place[1], origins)
        for place in spool.months():
            gran, grouping, period = place
            merge = _Merge(gran, grouping)
            imported = merge.merge(spool.rows(place).drop(columns=["line"]), origins)
            span = _period_interval(period, gran)
            held = dataset.read(gran, grouping, span.start, span.end).drop(
                columns=list(PARTITION_KEYS))
            held["origin"] = np.int32(len(files))
            both = pd.concat([held, imported], ignore_index=True) if len(held) else imported
            final = merge.merge(normalize(both.reset_index(drop=True)), origins)
            duplicates += merge.duplicates
            conflicts.extend(merge.conflicts)
            stored += len(final)
            if len(final) == len(held) and (final["origin"] == len(files)).all():
                continue  # nothing new: leave the stored file as it is
            summary = dataset.write(final.drop(columns=["origin"]), granularity=gran,
                                    grouping=grouping, interval=span)
            written.extend(summary.written)
    summary = ImportSummary(files=tuple(f.url for f in files), rows_read=rows_read,
                            duplicates=duplicates, conflicts=tuple(conflicts), stored=stored,
                            written=tuple(written))
    _logger.info("imported %s into %s", summary, dataset.location)
    return summary


def describe(summary: ImportSummary, location: str) -> list[str]:
    """The summary as lines for the command line."""
    lines = [f"read {summary.rows_read} rows from {len(summary.files)} file(s); "
             f"{summary.duplicates} duplicate row(s) stored once; {len(summary.conflicts)} "
             f"conflict(s); {summary.stored} rows in the partitions touched at {location}; "
             f"partitions written: {', '.join(p.path for p in summary.written) or 'none'}"]
    lines += [f"conflict: {c.describe()}" for c in summary.conflicts]
    return lines

