"""The usage dataset: Hive-partitioned NDJSON or Parquet files on local disk or S3.

Layout (one file per partition)::

    <root>/_usagekit.manifest                      {"format": "ndjson", ...}
    <root>/granularity=<day|week|month>/grouping=<key>/period=<YYYY-MM>/usage.json|.parquet

``period`` is the month a row's ``date`` falls in. Files hold exactly the API fields, ``date``
as the ISO string. A write replaces exactly the rows of its interval x granularity x grouping:
every touched partition is rebuilt in memory (rows of the same month outside the interval
kept) and then switched in one atomic step (``os.replace`` locally, one ``PutObject`` of the
same key on S3), so readers see the old file or the new one, never both and never a part.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from usagekit import config
from usagekit.exceptions import ConfigError, DatasetError, InvalidRowsError
from usagekit.frame import (
    API_FIELDS,
    COUNTS,
    DIMENSIONS,
    check_rows,
    date_text,
    empty_frame,
    granularity_value,
    group_parts,
    grouping_value,
    ndjson_table,
    normalize,
    read_ndjson,
    table_frame,
    to_frame,
)
from usagekit.query import Interval, parse_interval

_logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("ndjson", "parquet")
SUFFIXES: dict[str, str] = {"ndjson": ".json", "parquet": ".parquet"}
MANIFEST = "_usagekit.manifest"
FILE_STEM = "usage"

#: Storage schema: column -> Glue/Hive type, in file order (Glue lower-cases the names;
#: Athena's JSON SerDe and Parquet reader match them case-insensitively). ``platform`` is
#: only in rows grouped by Platform (NULL elsewhere).
TABLE_COLUMNS: dict[str, str] = {
    **dict.fromkeys(DIMENSIONS, "string"),
    **dict.fromkeys(COUNTS, "bigint"),
    "date": "string",
    "platform": "string",
}
#: Partition keys -> Glue/Hive type, outermost first.
PARTITION_KEYS: dict[str, str] = {"granularity": "string", "grouping": "string", "period": "string"}

_ARROW_TYPES = {"string": pa.string(), "bigint": pa.int64()}
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Dates already spelled as ``_DATE_FORMAT`` writes them (stored as they are).
_DATE_PATTERN = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"


class Partition(NamedTuple):
    """One partition of the dataset."""

    granularity: str
    grouping: str
    period: str

    @property
    def path(self) -> str:
        """The partition's folder, relative to the dataset root."""
        return f"granularity={self.granularity}/grouping={self.grouping}/period={self.period}"


@dataclass(frozen=True)
class WriteSummary:
    """What one :meth:`Dataset.write` did.

    Attributes
    ----------
    rows : int
        Rows written (the export).
    replaced : int
        Stored rows of the interval that the export replaced.
    kept : int
        Stored rows outside the interval kept in the rewritten partitions.
    written, deleted : tuple of Partition
        Partitions rewritten, and partitions removed because the export left them empty.
    """

    rows: int
    replaced: int
    kept: int
    written: tuple[Partition, ...] = ()
    deleted: tuple[Partition, ...] = field(default=())


class Storage(Protocol):
    """What a backend provides: files addressed by paths relative to the dataset root."""

    location: str

    def list_files(self) -> list[str]:
        """Every file under the root, relative, ``/``-separated."""

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""

    def replace(self, rel: str, data: bytes) -> None:
        """Create or replace the file atomically."""

    def delete(self, rel: str) -> None:
        """Remove the file (no error when it is gone)."""

    def url(self, rel: str) -> str:
        """The file's path or URL for other tools."""

    def prepare(self, fmt: str, partitions: Sequence[Partition]) -> None:
        """Called before files of ``partitions`` are replaced (S3: register in Glue)."""

    def forget(self, partitions: Sequence[Partition]) -> None:
        """Called after ``partitions`` were emptied."""


class Dataset:
    """A usage dataset of one format at one location; see the module docstring.

    Use :func:`open_dataset` to get one.
    """

    def __init__(self, storage: Storage, fmt: str, *, recorded: bool) -> None:
        self._storage = storage
        self._format = fmt
        self._recorded = recorded

    @property
    def location(self) -> str:
        """The root: a local folder or ``s3://bucket/prefix/``."""
        return self._storage.location

    @property
    def format(self) -> str:
        """``ndjson`` or ``parquet``."""
        return self._format

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
        lo, hi = _bound(start), _bound(end)
        return [
            self._storage.url(rel)
            for part, rel in self._data_files(granularity, grouping)
            if _period_overlaps(part.period, lo, hi)
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
        lo, hi = _bound(start), _bound(end)
        frames = []
        for part, rel in self._data_files(granularity, grouping):
            if not _period_overlaps(part.period, lo, hi):
                continue
            data = self._storage.read(rel)
            if data is None:  # removed since listed
                continue
            frame = _decode_frame(self._format, data, part)
            mask = np.ones(len(frame), dtype=bool)
            if lo is not None:
                mask &= (frame["date"] >= lo).to_numpy()
            if hi is not None:
                mask &= (frame["date"] < hi).to_numpy()
            frames.append(frame[mask])
        columns = (*API_FIELDS, "granularity", "grouping", "period")
        if not frames:
            return empty_frame(columns)
        out = pd.concat(frames, ignore_index=True)
        if "platform" in out.columns:
            out = out[[*API_FIELDS, "platform", *columns[len(API_FIELDS):]]]
        return normalize(out)

    # -- writing -----------------------------------------------------------------------------

    def write(
        self,
        rows_or_frame: Iterable[Mapping[str, Any]] | pd.DataFrame | bytes,
        *,
        granularity: str,
        grouping: str | Sequence[str],
        interval: Interval | str,
    ) -> WriteSummary:
        """Store rows, replacing exactly the stored rows of ``interval`` x granularity x grouping.

        Parameters
        ----------
        rows_or_frame : iterable of dict, DataFrame or bytes
            API rows (dicts), a frame (typed or from any engine), or NDJSON bytes; NDJSON
            lines and dicts are stored byte for byte (compact, as ``jq -c`` writes them).
        granularity : str
            ``day|week|month`` (or ``Day|Week|Month``).
        grouping : str or sequence of str
            The grouping key or the groupBy names that produced the rows.
        interval : Interval or str
            The interval the rows were fetched for (half-open). Stored rows dated from the
            start of the bucket holding ``interval.start`` up to ``interval.end`` are replaced.
            A week or month bucket the interval covers only in part is stored as the API
            answered it (days inside the interval only) when the dataset holds nothing
            else for it; replacing different stored rows of such a bucket is refused, since
            the days outside the interval would drop out (see :meth:`Interval.aligned`).
            The bucket holding today is never cut at its end: its data ends yesterday.

        Returns
        -------
        WriteSummary

        Raises
        ------
        InvalidRowsError
            Rows contradict the granularity, grouping or interval, or are malformed;
            nothing is written.
        DatasetError
            Storage failed. Partitions already switched hold the new rows, the others the
            old ones; each is whole. Re-running the same write completes it.
        """
        gran = granularity_value(granularity)
        if not gran:
            raise InvalidRowsError(
                "granularity-less rows cannot be stored: the dataset keeps day, week or month "
                "data only (fetch them with granularity Day, Week or Month)"
            )
        key = grouping_value(grouping)
        span = parse_interval(interval)
        lo = bucket_start(pd.Timestamp(span.start), gran)
        hi = pd.Timestamp(span.end)
        batch = _Batch.of(rows_or_frame, gran, key, self._format)
        dates = batch.frame["date"]
        outside = ((dates < lo) | (dates >= hi)).to_numpy()
        if outside.any():
            index = int(outside.argmax())
            raise InvalidRowsError(
                f"row {index + 1}: date={date_text(dates.iloc[index])!r} is outside the "
                f"interval {span.text} (its {gran} buckets start {date_text(lo)}); "
                "export with the interval the rows were fetched for"
            )
        cut = _cut_buckets(span, gran, lo, hi)
        plan = self._plan(batch, gran, key, lo, hi, cut)
        if batch.cut_replaced:
            raise InvalidRowsError(
                f"the interval {span.text} covers the {gran} bucket(s) "
                f"{', '.join(date_text(b) for b in sorted(cut))} only in part, and the dataset "
                f"holds other rows for them ({batch.cut_replaced} row(s)); replacing those "
                f"would drop the days outside the interval. Export whole {gran}s instead: "
                f"{span.aligned(gran).text} (or use day granularity); nothing was written"
            )
        self._ensure_manifest()
        written = [p for p, content in plan if content is not None]
        self._storage.prepare(self._format, written)
        deleted = []
        for part, content in plan:
            rel = _file_rel(part, self._format)
            if content is None:
                self._storage.delete(rel)
                deleted.append(part)
            else:
                self._storage.replace(rel, content)
        if deleted:
            self._storage.forget(deleted)
        summary = WriteSummary(
            rows=len(batch.frame), replaced=batch.replaced, kept=batch.kept,
            written=tuple(written), deleted=tuple(deleted),
        )
        _logger.info("wrote %s to %s", summary, self.location)
        return summary

    def _plan(
        self, batch: _Batch, gran: str, key: str, lo: pd.Timestamp, hi: pd.Timestamp,
        cut: frozenset[pd.Timestamp] = frozenset(),
    ) -> list[tuple[Partition, bytes | None]]:
        """Build every touched partition's new content before anything is switched."""
        files = self._storage.list_files()
        dates = batch.frame["date"].dt
        months = dates.year.to_numpy() * 100 + dates.month.to_numpy()
        new_cut = batch.frame["date"].isin(list(cut)).to_numpy()
        plan: list[tuple[Partition, bytes | None]] = []
        for period in _months(lo, hi):
            part = Partition(gran, key, period)
            rel = _file_rel(part, self._format)
            _check_partition_files(files, part, rel, self.location)
            in_period = months == int(period[:4]) * 100 + int(period[5:])
            new = batch.codec.take(batch.payload, in_period)
            old = self._storage.read(rel) if rel in files else None
            if old is None:
                chunks = [new]
            else:
                stored, stored_dates = batch.codec.decode(old)
                before = (stored_dates < lo).to_numpy()
                after = (stored_dates >= hi).to_numpy()
                batch.kept += int(before.sum() + after.sum())
                batch.replaced += int((~(before | after)).sum())
                old_cut = stored_dates.isin(list(cut)).to_numpy()
                if old_cut.any() and _records(batch.codec.take(stored, old_cut)) != _records(
                        batch.codec.take(batch.payload, new_cut & in_period)):
                    batch.cut_replaced += int(old_cut.sum())
                chunks = [
                    batch.codec.take(stored, before), new, batch.codec.take(stored, after)
                ]
            content = batch.codec.concat(chunks)
            if batch.codec.count(content):
                plan.append((part, batch.codec.encode(content)))
            elif old is not None:
                plan.append((part, None))
        return plan

    def _ensure_manifest(self) -> None:
        if self._recorded:
            return
        body = {"format": self._format, "layout": "granularity/grouping/period", "version": 1}
        self._storage.replace(MANIFEST, json.dumps(body).encode() + b"\n")
        self._recorded = True

    def _data_files(
        self, granularity: str | None, grouping: str | Sequence[str] | None
    ) -> list[tuple[Partition, str]]:
        gran = granularity_value(granularity) if granularity else None
        key = grouping_value(grouping) if grouping is not None else None
        suffix = SUFFIXES[self._format]
        out = []
        for rel in self._storage.list_files():
            part = _partition_of(rel)
            if part is None or not _is_data_file(rel):
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
    format: str | None = None,
    boto3_session: Any = None,
    database: str | None = None,
    table: str | None = None,
    catalog: bool = True,
) -> Dataset:
    """Open (or prepare to create) the usage dataset at ``location``.

    Parameters
    ----------
    location : str, optional
        A local folder or ``s3://bucket/prefix/``; default :func:`usagekit.config.dataset_location`.
    format : {"ndjson", "parquet"}, optional
        Required to match an existing dataset's format; for a new one, default ``ndjson``.
    boto3_session : boto3.Session, optional
        S3 only; default: the standard AWS environment.
    database, table : str, optional
        S3 only: the Glue table to register partitions in (default
        :class:`usagekit.config.AthenaSettings` from the environment).
    catalog : bool
        S3 only: register the table and partitions in Glue (default True).

    Raises
    ------
    DatasetError
        When the stored format differs from ``format`` or the location mixes formats.
    """
    if format is not None and format not in FORMATS:
        raise ConfigError(
            f"invalid dataset format {format!r}: expected one of {', '.join(FORMATS)}"
        )
    location = config.dataset_location(location)
    if config.is_s3(location):
        from usagekit._s3 import S3Storage

        settings = config.AthenaSettings.from_env()
        storage: Storage = S3Storage(
            location,
            boto3_session=boto3_session,
            database=(database or settings.database) if catalog else None,
            table=(table or settings.table) if catalog else None,
        )
    else:
        from usagekit._local import LocalStorage

        storage = LocalStorage(location)
    stored, recorded = _stored_format(storage)
    if stored is not None and format is not None and stored != format:
        raise DatasetError(
            f"the dataset at {storage.location} holds {stored} files, not {format}: "
            f"open it with format={stored!r} (or None), or choose another location"
        )
    return Dataset(storage, stored or format or "ndjson", recorded=recorded)


def run_crawler(
    name: str, *, timeout: float = 900.0, poll: float = 5.0, boto3_session: Any = None
) -> dict[str, Any]:
    """Start the blueprint's Glue crawler and wait for ``READY`` (see ``usagekit._s3``)."""
    from usagekit._s3 import run_crawler as _run

    return _run(name, timeout=timeout, poll=poll, boto3_session=boto3_session)


def covering_interval(dates: pd.Series, granularity: str) -> Interval:
    """The interval of whole buckets covering ``dates``: [earliest, end of the latest bucket).

    The end is the latest date + 1 day (day), + 7 days (week), or the 1st of the next
    month (month).
    """
    gran = granularity_value(granularity)
    if dates.empty or not gran:
        raise InvalidRowsError("no dated rows of day, week or month to derive an interval from")
    first = bucket_start(pd.Timestamp(dates.min()), gran)
    last = bucket_start(pd.Timestamp(dates.max()), gran)
    step = {"day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7),
            "month": pd.offsets.MonthBegin(1)}[gran]
    return Interval(first.to_pydatetime(), (last + step).to_pydatetime())


def bucket_start(moment: pd.Timestamp, granularity: str) -> pd.Timestamp:
    """The start of the ``granularity`` bucket holding ``moment`` (UTC; weeks start Monday)."""
    day = moment.tz_convert("UTC").floor("D")
    if granularity == "week":
        return day - pd.Timedelta(days=day.day_of_week)
    if granularity == "month":
        return day.replace(day=1)
    return day


# -- formats ---------------------------------------------------------------------------------


class _DateOnly(msgspec.Struct):
    date: str


class _Lines:
    """NDJSON content: a list of compact JSON lines (bytes) and their dates."""

    _decoder = msgspec.json.Decoder(_DateOnly)

    @staticmethod
    def take(payload: list[bytes], mask: np.ndarray) -> list[bytes]:
        return [payload[i] for i in np.flatnonzero(mask)]

    @staticmethod
    def concat(chunks: list[list[bytes]]) -> list[bytes]:
        return [line for chunk in chunks for line in chunk]

    @staticmethod
    def count(payload: list[bytes]) -> int:
        return len(payload)

    @staticmethod
    def encode(payload: list[bytes]) -> bytes:
        return b"\n".join([*payload, b""])

    @classmethod
    def decode(cls, data: bytes) -> tuple[list[bytes], pd.Series]:
        lines = _split_lines(data)
        try:
            rows = cls._decoder.decode_lines(b"\n".join(lines))
        except msgspec.DecodeError as exc:
            raise DatasetError(f"a stored NDJSON file is unreadable: {exc}") from None
        dates = pd.to_datetime(pd.Series([r.date for r in rows], dtype=object), format="ISO8601",
                               utc=True)
        return lines, dates

    @staticmethod
    def from_frame(frame: pd.DataFrame, fields: list[str]) -> list[bytes]:
        encoder = msgspec.json.Encoder()
        columns = [
            frame[name].dt.strftime(_DATE_FORMAT).tolist() if name == "date"
            else frame[name].tolist()
            for name in fields
        ]
        return [
            encoder.encode(dict(zip(fields, values, strict=True)))
            for values in zip(*columns, strict=True)
        ]


class _Table:
    """Parquet content: a pyarrow table of the API fields, ``date`` as string."""

    @staticmethod
    def take(payload: pa.Table, mask: np.ndarray) -> pa.Table:
        return payload.filter(pa.array(mask, type=pa.bool_()))

    @staticmethod
    def concat(chunks: list[pa.Table]) -> pa.Table:
        return pa.concat_tables(chunks, promote_options="default")

    @staticmethod
    def count(payload: pa.Table) -> int:
        return payload.num_rows

    @staticmethod
    def encode(payload: pa.Table) -> bytes:
        sink = io.BytesIO()
        pq.write_table(payload, sink, compression="zstd")
        return sink.getvalue()

    @staticmethod
    def decode(data: bytes) -> tuple[pa.Table, pd.Series]:
        table = pq.read_table(io.BytesIO(data))
        dates = pd.to_datetime(table.column("date").to_pandas(), format="ISO8601", utc=True)
        return table, dates

    @staticmethod
    def from_frame(frame: pd.DataFrame, fields: list[str]) -> pa.Table:
        arrays = {
            name: pa.array(
                frame[name].dt.strftime(_DATE_FORMAT) if name == "date" else frame[name],
                type=_ARROW_TYPES[TABLE_COLUMNS[name]],
            )
            for name in fields
        }
        return pa.table(arrays)

    @staticmethod
    def from_table(table: pa.Table, frame: pd.DataFrame, fields: list[str]) -> pa.Table:
        """:meth:`from_frame`'s table, taken from the parsed NDJSON ``frame`` was built from.

        Missing strings become ``""`` as in the frame; ``date`` keeps the input's strings
        when all are spelled as ``from_frame`` would spell them.
        """
        arrays = {}
        for name in fields:
            column = table.column(name)
            if name == "date":
                if not pc.all(pc.match_substring_regex(column, _DATE_PATTERN)).as_py():
                    column = pa.array(frame["date"].dt.strftime(_DATE_FORMAT), type=pa.string())
            elif column.null_count:
                column = pc.fill_null(column, "")
            arrays[name] = column
        return pa.table(arrays)


_CODECS: dict[str, Any] = {"ndjson": _Lines, "parquet": _Table}


@dataclass
class _Batch:
    """Rows being written: the typed frame (for checks) and the format's payload."""

    frame: pd.DataFrame
    payload: Any
    codec: Any
    replaced: int = 0
    kept: int = 0
    cut_replaced: int = 0

    @classmethod
    def of(cls, data: Any, gran: str, key: str, fmt: str) -> _Batch:
        codec = _CODECS[fmt]
        fields = [*API_FIELDS, *(["platform"] if "platform" in group_parts(key) else [])]
        lines: list[Any] | None = None
        table: pa.Table | None = None
        if isinstance(data, bytes | bytearray | memoryview):
            raw = bytes(data)
            table = ndjson_table(raw)
            frame = table_frame(table, granularity=gran, grouping=key)
            if fmt == "ndjson":
                lines = _compact_lines(raw)
                if len(lines) != len(frame):
                    raise InvalidRowsError(
                        f"malformed usage NDJSON: {len(lines)} lines hold {len(frame)} rows; "
                        "expected one JSON object per line")
        elif isinstance(data, pd.DataFrame):
            frame = normalize(data)
            missing = [c for c in (*DIMENSIONS, "date") if c not in frame.columns]
            if missing:
                raise InvalidRowsError(
                    f"the frame lacks column(s) {', '.join(missing)}: "
                    f"expected {', '.join(API_FIELDS)}"
                )
            frame["granularity"], frame["grouping"] = gran, key
            frame = normalize(frame)
        else:
            rows = [dict(row) for row in data]
            frame = to_frame(rows, granularity=gran, grouping=key)
            lines = [msgspec.json.encode(row) for row in rows]
        check_rows(frame, granularity=gran, grouping=key)
        if fmt == "ndjson" and lines is not None:
            payload: Any = lines
        elif fmt == "parquet" and table is not None:
            payload = codec.from_table(table, frame, fields)
        else:
            payload = codec.from_frame(frame, fields)
        return cls(frame=frame, payload=payload, codec=codec)


# -- helpers ---------------------------------------------------------------------------------


def _decode_frame(fmt: str, data: bytes, part: Partition) -> pd.DataFrame:
    if fmt == "ndjson":
        frame = read_ndjson(data, granularity=part.granularity, grouping=part.grouping)
    else:
        frame = pq.read_table(io.BytesIO(data)).to_pandas()
        frame["granularity"], frame["grouping"] = part.granularity, part.grouping
        frame = normalize(frame)
    frame["period"] = part.period
    return normalize(frame)


_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def _compact_lines(data: bytes) -> list[Any]:
    """NDJSON lines, each as ``msgspec.json.format(line, indent=-1)`` gives it, in one pass.

    The lines are compacted as one JSON array; input that is not one valid value per
    line (blank lines inside, say) takes the line-by-line way.
    """
    body = data.replace(b"\n", b",").strip(b", \t\r\x0b\x0c")
    array = b"".join((b"[", body, b"]"))
    del body  # (each copy is as large as the input)
    try:
        array = msgspec.json.format(array, indent=-1)
        return _RAW_LIST.decode(array)
    except msgspec.DecodeError:
        return [msgspec.json.format(line, indent=-1) for line in _split_lines(data)]


def _split_lines(data: bytes) -> list[bytes]:
    return [line for line in (raw.strip() for raw in data.split(b"\n")) if line]


def _stored_format(storage: Storage) -> tuple[str | None, bool]:
    """The format the dataset holds (None when empty), and whether a manifest records it."""
    manifest = storage.read(MANIFEST)
    if manifest is not None:
        try:
            fmt = json.loads(manifest)["format"]
        except (ValueError, KeyError, TypeError):
            raise DatasetError(
                f"unreadable {MANIFEST} at {storage.location}: expected JSON with a 'format'"
            ) from None
        if fmt not in FORMATS:
            raise DatasetError(f"{MANIFEST} at {storage.location} names format {fmt!r}: "
                               f"expected one of {', '.join(FORMATS)}")
    found: dict[str, str] = {}
    for rel in storage.list_files():
        if _partition_of(rel) is None or not _is_data_file(rel):
            continue
        for name, suffix in SUFFIXES.items():
            if rel.endswith(suffix):
                found.setdefault(name, rel)
    if len(found) > 1:
        raise DatasetError(
            f"the dataset at {storage.location} mixes ndjson and parquet files "
            f"({found['ndjson']}, {found['parquet']}); a dataset holds one format"
        )
    if manifest is not None:
        if found and fmt not in found:
            other = next(iter(found.values()))
            raise DatasetError(f"the dataset at {storage.location} is recorded as {fmt} "
                               f"but holds {other}; a dataset holds one format")
        return fmt, True
    return next(iter(found), None), False


def _partition_of(rel: str) -> Partition | None:
    parts = rel.split("/")
    if len(parts) != 4:
        return None
    values = []
    for text, name in zip(parts[:3], PARTITION_KEYS, strict=True):
        prefix = f"{name}="
        if not text.startswith(prefix):
            return None
        values.append(text[len(prefix):])
    return Partition(*values)


def _is_data_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return not name.startswith((".", "_")) and name.endswith(tuple(SUFFIXES.values()))


def _file_rel(part: Partition, fmt: str) -> str:
    return f"{part.path}/{FILE_STEM}{SUFFIXES[fmt]}"


def _check_partition_files(files: list[str], part: Partition, rel: str, location: str) -> None:
    prefix = part.path + "/"
    for other in files:
        if other.startswith(prefix) and other != rel and _is_data_file(other):
            raise DatasetError(
                f"unexpected file {other} in partition {part.path} of {location}: the dataset "
                f"keeps one {FILE_STEM}{SUFFIXES['ndjson']}|{SUFFIXES['parquet']} per partition; "
                "move that file away (its rows would be counted twice), then export again"
            )


def _records(payload: list[bytes] | pa.Table) -> list[Any]:
    """A format's rows as sorted comparable values (to tell a changed bucket)."""
    if isinstance(payload, pa.Table):
        return sorted(json.dumps(row, sort_keys=True) for row in payload.to_pylist())
    return sorted(json.dumps(json.loads(bytes(line)), sort_keys=True) for line in payload)


def _cut_buckets(span: Interval, gran: str, lo: pd.Timestamp, hi: pd.Timestamp
                 ) -> frozenset[pd.Timestamp]:
    """Week/month buckets the interval covers only in part (at its start or its end).

    A bucket still in progress (the interval reaches today, UTC) is not cut at its end:
    the API has no later data for it yet.
    """
    if gran == "day":
        return frozenset()
    cut = set()
    if pd.Timestamp(span.start) > lo:
        cut.add(lo)
    last = bucket_start(hi - pd.Timedelta(microseconds=1), gran)
    today = pd.Timestamp.now(tz="UTC").normalize()
    if bucket_start(hi, gran) != hi and hi < today:
        cut.add(last)
    return frozenset(cut)


def _months(lo: pd.Timestamp, hi: pd.Timestamp) -> list[str]:
    last = hi - pd.Timedelta(microseconds=1)
    year, month = lo.year, lo.month
    out = []
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _bound(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DatasetError(
            f"invalid bound {value!r}: expected a date or ISO-8601 timestamp like '2021-01-12'"
        ) from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _period_overlaps(period: str, lo: pd.Timestamp | None, hi: pd.Timestamp | None) -> bool:
    first = pd.Timestamp(f"{period}-01", tz="UTC")
    after = first + pd.offsets.MonthBegin(1)
    return (lo is None or after > lo) and (hi is None or first < hi)
