"""The two file formats: NDJSON lines as ``jq -c`` writes them, and Parquet tables."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from usagekit.dataset.layout import Partition
from usagekit.dataset.schema import DATA_FILE, FORMATS, LEGACY_DATA_FILE, MANIFEST, SUFFIXES
from usagekit.dataset.storage import Storage
from usagekit.exceptions import DatasetError, InvalidRowsError
from usagekit.frame import (
    check_rows,
    group_parts,
    line_numbers,
    ndjson_table,
    normalize,
    read_ndjson,
    table_frame,
    to_frame,
)
from usagekit.row import (
    API_FIELDS,
    BOM,
    CLIENT_NAME,
    COUNT_FIELDS,
    DATE,
    DATE_FORMAT,
    DATE_PATTERN,
    ENCODING,
    GRANULARITY,
    GROUPING,
    ID_FIELDS,
    ORG,
    PERIOD,
    PLATFORM,
    STORED_COLUMNS,
    arrow_type,
    utf8_error,
)


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
            raise DatasetError(f"a stored NDJSON file is unreadable: {exc}"
                               + (REPAIR_HINT if "UTF-8" in str(exc) else "")) from exc
        dates = pd.to_datetime(pd.Series([r.date for r in rows], dtype=object), format="ISO8601",
                               utc=True)
        return lines, dates

    @classmethod
    def repair(cls, data: bytes) -> bytes | None:
        """``data`` with bytes that are not UTF-8 replaced by U+FFFD and dates spelt as
        :data:`~usagekit.row.DATE_FORMAT` (other bytes kept); None when nothing changes."""
        fixed = data
        if utf8_error(data) is not None:
            fixed = data.decode(ENCODING, "replace").encode(ENCODING)
        lines, dates = cls.decode(fixed)
        spelt = pa.array([r.date for r in cls._decoder.decode_lines(b"\n".join(lines))],
                         type=pa.string())
        lines = _respell(lines, spelt, pd.DataFrame({DATE: dates}))
        fixed = cls.encode(lines)
        return None if fixed == data else fixed

    @staticmethod
    def from_frame(frame: pd.DataFrame, fields: list[str]) -> list[bytes]:
        """One line per row; a missing count (``<NA>`` or no column) is an absent key."""
        encoder = msgspec.json.Encoder()
        fields = [name for name in fields if name in frame.columns]
        columns = [
            frame[name].dt.strftime(DATE_FORMAT).tolist() if name == DATE
            else frame[name].astype(object).where(frame[name].notna(), None).tolist()
            if name in COUNT_FIELDS else frame[name].tolist()
            for name in fields
        ]
        return [
            encoder.encode({k: v for k, v in zip(fields, values, strict=True)
                            if v is not None or k not in COUNT_FIELDS})
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
        dates = pd.to_datetime(table.column(DATE).to_pandas(), format="ISO8601", utc=True)
        return table, dates

    @classmethod
    def repair(cls, data: bytes) -> bytes | None:
        """``data`` with strings that are not UTF-8 replaced by U+FFFD and dates spelt as
        :data:`~usagekit.row.DATE_FORMAT`; None when nothing changes."""
        table = pq.read_table(io.BytesIO(data))
        fixed = valid_text(table)
        dates = fixed.column(DATE)
        if not pc.all(pc.fill_null(pc.match_substring_regex(dates, DATE_PATTERN), False)
                      ).as_py():
            spelt = pd.to_datetime(dates.to_pandas(), format="ISO8601", utc=True)
            fixed = fixed.set_column(fixed.schema.get_field_index(DATE), DATE, pa.array(
                spelt.dt.strftime(DATE_FORMAT), type=pa.string()))
        return None if fixed is table else cls.encode(fixed)

    @staticmethod
    def from_frame(frame: pd.DataFrame, fields: list[str]) -> pa.Table:
        arrays = {
            name: pa.array(
                frame[name].dt.strftime(DATE_FORMAT) if name == DATE else frame[name],
                type=arrow_type(STORED_COLUMNS[name]),
            ) if name in frame.columns  # a count no row has: all null (missing, not 0)
            else pa.nulls(len(frame), type=arrow_type(STORED_COLUMNS[name]))
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
            if name == DATE:
                if not pc.all(pc.match_substring_regex(column, DATE_PATTERN)).as_py():
                    column = pa.array(frame[DATE].dt.strftime(DATE_FORMAT), type=pa.string())
            elif column.null_count and pa.types.is_string(column.type):
                column = pc.fill_null(column, "")  # (a missing count stays null)
            arrays[name] = column
        return pa.table(arrays)


CODECS: dict[str, Any] = {"ndjson": _Lines, "parquet": _Table}


@dataclass
class Batch:
    """Rows being written: the typed frame (for checks) and the format's payload."""

    frame: pd.DataFrame
    payload: Any
    codec: Any
    #: Each row's line in the NDJSON input, for errors (None: rows of dicts or a frame).
    numbers: np.ndarray | None = None

    @classmethod
    def of(cls, data: Any, gran: str, key: str, fmt: str,
           numbers: np.ndarray | None = None) -> Batch:
        """Parse and check rows (dicts, a frame or NDJSON bytes) for ``fmt``.

        ``numbers``: the rows' lines in the whole input, for errors (default: the lines of
        NDJSON ``data``; rows of dicts or a frame are numbered 1, 2, ...).
        """
        codec = CODECS[fmt]
        fields = [*API_FIELDS, *([PLATFORM] if PLATFORM in group_parts(key) else [])]
        lines: list[Any] | None = None
        table: pa.Table | None = None
        if isinstance(data, bytes | bytearray | memoryview):
            raw = bytes(data)
            if raw.startswith(BOM):
                raw = raw[len(BOM):]
            numbers = line_numbers(raw) if numbers is None else numbers
            table = ndjson_table(raw, numbers)
            frame = table_frame(table, granularity=gran, grouping=key, numbers=numbers)
            if fmt == "ndjson":
                lines = _compact_lines(raw)
                if len(lines) != len(frame):
                    raise InvalidRowsError(
                        f"malformed usage NDJSON: {len(lines)} lines hold {len(frame)} rows; "
                        "expected one JSON object per line")
                if table is not None:
                    lines = _respell(lines, table.column(DATE), frame)
        elif isinstance(data, pd.DataFrame):
            frame = normalize(data)
            missing = [c for c in (*ID_FIELDS, DATE) if c not in frame.columns]
            if missing:
                raise InvalidRowsError(
                    f"the frame lacks column(s) {', '.join(missing)}: "
                    f"expected {', '.join(API_FIELDS)}"
                )
            frame[GRANULARITY], frame[GROUPING] = gran, key
            frame = normalize(frame)
        else:
            rows = [dict(row) for row in data]
            frame = to_frame(rows, granularity=gran, grouping=key)
            lines = _respell([msgspec.json.encode(row) for row in rows],
                             pa.array([row.get(DATE) for row in rows], type=pa.string()), frame)
        check_rows(frame, granularity=gran, grouping=key, numbers=numbers)
        if fmt == "ndjson" and lines is not None:
            payload: Any = lines
        elif fmt == "parquet" and table is not None:
            payload = codec.from_table(table, frame, fields)
        else:
            payload = codec.from_frame(frame, fields)
        return cls(frame=frame, payload=payload, codec=codec, numbers=numbers)


# -- helpers ---------------------------------------------------------------------------------


def _respell(lines: list[Any], spelt: pa.Array | pa.ChunkedArray,
             frame: pd.DataFrame) -> list[Any]:
    """``lines`` with each ``date`` spelt as :data:`~usagekit.row.DATE_FORMAT` (the API's
    spelling, kept byte for byte); a line spelt otherwise (``2026-10-01``,
    ``...T02:00:00+02:00``) is re-encoded, its fields in their order."""
    canonical = pc.fill_null(pc.match_substring_regex(spelt, DATE_PATTERN), False)
    if pc.all(canonical).as_py():
        return lines
    texts = frame[DATE].dt.strftime(DATE_FORMAT)
    out = list(lines)
    for index in np.flatnonzero(~canonical.to_numpy(zero_copy_only=False)):
        fields = msgspec.json.decode(bytes(out[index]))
        fields[DATE] = texts.iloc[index]
        out[index] = msgspec.json.encode(fields)
    return out



#: What to do about stored bytes that are not UTF-8 (stored before the kit refused them).
REPAIR_HINT = ("; it holds bytes that are not UTF-8 (stored by an older usagekit): "
               "`usagekit repair --dataset LOCATION` replaces them with U+FFFD")


def valid_text(table: pa.Table) -> pa.Table:
    """``table`` with every string that is not UTF-8 spelt with U+FFFD for each bad byte
    (``table`` itself when all are valid)."""
    out = table
    for index, field in enumerate(table.schema):
        if not pa.types.is_string(field.type):
            continue
        column = table.column(index)
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            raw = column.cast(pa.binary()).to_pylist()
            out = out.set_column(index, field, pa.array(
                [None if v is None else v.decode(ENCODING, "replace") for v in raw],
                type=pa.string()))
    return out


def decode_frame(fmt: str, data: bytes, part: Partition) -> pd.DataFrame:
    """A stored file's rows, typed, with its partition keys (bad UTF-8 read as U+FFFD)."""
    if fmt == "ndjson":
        frame = read_ndjson(data, granularity=part.granularity, grouping=part.grouping)
    else:
        frame = valid_text(pq.read_table(io.BytesIO(data))).to_pandas()
        frame[GRANULARITY], frame[GROUPING] = part.granularity, part.grouping
        frame = normalize(frame)
    frame[ORG], frame[PERIOD] = part.org, part.period
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


def lost_counts(new: pd.DataFrame, stored: pd.DataFrame) -> dict[str, int]:
    """Counts that stored rows hold and the new rows for the same bucket lack (by count).

    Rows are matched on ``date`` and the ids (not ``clientName``). Empty when ``new``
    holds every count (the usual case, checked without reading ``stored``).
    """
    lacking = [c for c in COUNT_FIELDS if c not in new.columns or new[c].isna().any()]
    if not lacking or stored.empty or new.empty:
        return {}
    keys = [c for c in (*ID_FIELDS, PLATFORM, DATE)
            if c != CLIENT_NAME and c in new.columns and c in stored.columns]
    pairs = stored.reindex(columns=[*keys, *lacking]).merge(
        new.reindex(columns=[*keys, *lacking]), on=keys, suffixes=("_old", "_new"))
    lost = {name: int((pairs[f"{name}_old"].notna() & pairs[f"{name}_new"].isna()).sum())
            for name in lacking}
    return {name: n for name, n in lost.items() if n}


def records(payload: list[bytes] | pa.Table) -> list[Any]:
    """A format's rows as sorted comparable values (to tell a changed bucket)."""
    if isinstance(payload, pa.Table):
        return sorted(json.dumps(row, sort_keys=True) for row in payload.to_pylist())
    return sorted(json.dumps(json.loads(bytes(line)), sort_keys=True) for line in payload)


def stored_format(storage: Storage, files: list[str] | None = None
                   ) -> tuple[str | None, bool]:
    """The format the dataset holds (None when empty), and whether a manifest records it.

    ``files`` is the storage's listing when the caller has it already.
    """
    manifest = storage.read(MANIFEST)
    if manifest is not None:
        try:
            fmt = json.loads(manifest)["format"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(
                f"unreadable {MANIFEST} at {storage.location}: expected JSON with a 'format'"
            ) from exc
        if fmt not in FORMATS:
            raise DatasetError(f"{MANIFEST} at {storage.location} names format {fmt!r}: "
                               f"expected one of {', '.join(FORMATS)}")
    found: dict[str, str] = {}
    for rel in storage.list_files() if files is None else files:
        if not (DATA_FILE.fullmatch(rel) or LEGACY_DATA_FILE.fullmatch(rel)):
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
