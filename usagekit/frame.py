"""Usage rows as a typed pandas DataFrame, and the checks rows pass before they are stored.

The typed frame (:func:`usagekit.row.pandas_dtypes`): the six id/name fields as pandas
``string`` (never NA, ``""`` where the API gave ``""``), the six counts as ``int64``, ``date``
as ``datetime64[us, UTC]``, plus ``granularity`` and ``grouping`` (and ``period`` when read
from the dataset). A count some rows lack (an export made with a ``metrics`` subset, e.g.
the blueprint's ``Status200``/``Status429``) is missing, never zero: nullable ``Int64``
with ``<NA>``.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import IO, Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

from usagekit import row
from usagekit.exceptions import InvalidRowsError

_logger = logging.getLogger(__name__)

_DTYPES = row.pandas_dtypes()
_STRING = pd.StringDtype()
_DATE = _DTYPES[row.DATE]
_STRING_COLUMNS = tuple(name for name, dtype in _DTYPES.items() if dtype == _STRING)
_BY_LOWER = {name.lower(): name for name in _DTYPES}

#: pyarrow's JSON block size: blocks are parsed in parallel; one huge block is not.
_BLOCK = 16 << 20
_ARROW_SCHEMA = row.arrow_schema()
#: One row as the checks decode it when pyarrow refuses a block: each field typed, no other.
_ROW = msgspec.defstruct(
    "UsageRow",
    [(name, (int if kind == "bigint" else str) | None, None)
     for name, kind in row.STORED_COLUMNS.items()],
    forbid_unknown_fields=True)
_ROWS = msgspec.json.Decoder(_ROW)


def granularity_value(granularity: str | None) -> str:
    """Return the dataset spelling (``day|week|month``) of ``granularity``, or ``""`` for None.

    Raises
    ------
    InvalidRowsError
        When ``granularity`` is not Day/Week/Month in either spelling.
    """
    if granularity is None or granularity == "":
        return ""
    value = str(granularity).lower()
    if value not in row.GRANULARITY_VALUES:
        raise InvalidRowsError(
            f"invalid granularity {granularity!r}: expected one of "
            f"{', '.join(row.GRANULARITY_VALUES)}"
        )
    return value


def grouping_value(grouping: str | Sequence[str]) -> str:
    """Return the grouping key for ``grouping``: a key string, or a sequence of groupBy names.

    Raises
    ------
    InvalidRowsError
        When a key string is not ``none`` or canonical parts joined by ``-`` in order.
    """
    if not isinstance(grouping, str):
        from usagekit.query.usage_query import grouping_key

        return grouping_key(list(grouping))
    group_parts(grouping)
    return grouping


def group_parts(key: str) -> tuple[str, ...]:
    """Split a grouping key into its parts (``()`` for ``none``), validating it.

    Raises
    ------
    InvalidRowsError
        When ``key`` is not a canonical grouping key.
    """
    if key == row.NO_GROUPING:
        return ()
    parts = tuple(key.split("-"))
    order = list(row.GROUPING_KEYS)
    if not key or any(p not in order for p in parts) or list(parts) != sorted(
        set(parts), key=order.index
    ):
        raise InvalidRowsError(
            f"invalid grouping key {key!r}: expected 'none' or some of "
            f"{', '.join(order)} joined by '-' in that order"
        )
    return parts


def to_frame(
    rows: Iterable[Mapping[str, Any]], *, granularity: str | None, grouping: str | Sequence[str]
) -> pd.DataFrame:
    """Build the typed frame from API rows (dicts in the legacy schema).

    Parameters
    ----------
    rows : iterable of mapping
        Usage rows as the API returns them.
    granularity : str or None
        ``day|week|month`` (or the API's ``Day|Week|Month``); None for granularity-less rows.
    grouping : str or sequence of str
        The grouping key (``oauthclientid-templateuri``) or the groupBy names.

    Returns
    -------
    pandas.DataFrame
        The fields present in the rows, typed (a count some rows lack is ``Int64`` with
        ``<NA>`` there), plus ``granularity`` and ``grouping``.

    Raises
    ------
    InvalidRowsError
        On an unknown field or a bad date.
    """
    rows = list(rows)
    present: set[str] = set().union(*(r.keys() for r in rows)) if rows else set(row.API_FIELDS)
    unknown = present - set(row.ROW_FIELDS)
    if unknown:
        raise InvalidRowsError(
            f"unknown field(s) {', '.join(sorted(unknown))} in usage rows: expected "
            f"{', '.join(row.ROW_FIELDS)}"
        )
    data: dict[str, Any] = {}
    for name in row.ROW_FIELDS:
        if name not in present and name != row.DATE:
            if name in row.ID_FIELDS:
                data[name] = [""] * len(rows)
            continue
        values = [r.get(name) for r in rows]
        data[name] = values
    frame = pd.DataFrame(data)
    return _finish(frame, granularity, grouping)


def read_ndjson(
    src: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    granularity: str | None,
    grouping: str | Sequence[str],
) -> pd.DataFrame:
    """Read NDJSON usage rows (one API row per line) into the typed frame.

    Parameters
    ----------
    src : path, bytes or binary file
        The NDJSON text, e.g. ``jq -c '.results[]'`` output.
    granularity, grouping
        As in :func:`to_frame`.

    Stored text is read as written: bytes that are not UTF-8 (stored before the kit
    refused them; ``usagekit repair`` rewrites them) read as U+FFFD.

    Raises
    ------
    InvalidRowsError
        On malformed JSON, an unknown field or a bad date.
    """
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
    elif isinstance(src, str | os.PathLike):
        with open(src, "rb") as fp:
            data = fp.read()
    else:
        data = src.read()
    if row.utf8_error(data) is not None:
        data = data.decode(row.ENCODING, "replace").encode(row.ENCODING)
    return table_frame(ndjson_table(data), granularity=granularity, grouping=grouping)


def ndjson_table(data: bytes, numbers: np.ndarray | None = None) -> pa.Table | None:
    """Parse NDJSON usage rows into an Arrow table of the API fields (None when empty).

    Columns: the six id/name fields, ``date`` and ``platform`` as ``string`` (null where a
    row lacks the field), the counts as ``int64``. A leading UTF-8 byte order mark is skipped.

    ``numbers`` gives each row's 1-based line number in the whole input (``data`` may be one
    block or month of it); by default the lines of ``data`` (:func:`line_numbers`).

    Raises
    ------
    InvalidRowsError
        Naming the row (and the field): bytes that are not UTF-8, malformed JSON, a field of
        the wrong type, an unknown field, or a line longer than a block.
    """
    if data.startswith(row.BOM):
        data = data[len(row.BOM):]
    if not data or data.isspace():  # (no stripped copy of a large input)
        return None
    bad = row.utf8_error(data)
    if bad is not None:
        line, raw = bad
        numbers = line_numbers(data) if numbers is None else numbers
        before = sum(1 for text in data.split(b"\n")[:line - 1] if text.strip())
        raise InvalidRowsError(
            f"{where(before, numbers)}: bytes {raw} are not UTF-8: usage rows are UTF-8 "
            "text (re-encode the file, e.g. iconv -f latin1 -t utf-8)")
    block = max(1 << 20, min(len(data), _BLOCK))
    try:
        return pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(block_size=block),
            parse_options=pa_json.ParseOptions(
                explicit_schema=_ARROW_SCHEMA, unexpected_field_behavior="error"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        _explain(data, line_numbers(data) if numbers is None else numbers, block)
        raise InvalidRowsError(f"malformed usage NDJSON: {exc}") from exc


#: The bytes ``bytes.strip`` removes: a line of only these holds no row.
_BLANK = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)


def line_numbers(data: bytes) -> np.ndarray:
    """The 1-based numbers of the lines of ``data`` that are not blank: each row's line."""
    arr = np.frombuffer(data, dtype=np.uint8)
    bounds = np.concatenate(([0], np.flatnonzero(arr == 10) + 1, [len(arr)]))
    text = np.concatenate(([0], np.cumsum(~np.isin(arr, _BLANK))))
    return np.flatnonzero(text[bounds[1:]] > text[bounds[:-1]]) + 1


def where(index: int, numbers: np.ndarray | None) -> str:
    """How an error names the row at ``index``: ``line N`` of the NDJSON input when
    ``numbers`` gives the rows' lines (counted in the whole input), else ``row N``."""
    if numbers is None or index >= len(numbers):
        return f"row {index + 1}"
    return f"line {int(numbers[index])}"


def _explain(data: bytes, numbers: np.ndarray | None, block: int) -> None:
    """Name the first line pyarrow refused, and why (it counts rows per block, unnamed)."""
    for index, line in enumerate(text for text in (raw.strip() for raw in data.split(b"\n"))
                                 if text):
        at = where(index, numbers)
        if len(line) >= block:
            raise InvalidRowsError(
                f"{at}: a line of {len(line):,} bytes is longer than the limit of "
                f"{block:,} bytes: a usage row is one short JSON object per line")
        try:
            _ROWS.decode(line)
        except msgspec.ValidationError as exc:
            raise InvalidRowsError(f"{at}: {_field_error(str(exc))}") from exc
        except msgspec.DecodeError as exc:
            raise InvalidRowsError(
                f"{at}: malformed usage NDJSON ({exc}): expected one JSON object per "
                "line") from exc


def _field_error(text: str) -> str:
    """msgspec's message as the kit words it: ``field 'requests': expected int, got str``."""
    if text.startswith("Object contains unknown field"):
        return (f"unexpected field {text.split('`')[1]!r} (usage rows hold "
                f"{', '.join(row.ROW_FIELDS)})")
    what, _, at = text.partition(" - at `$.")
    if at:
        return f"field {at.rstrip('`')!r}: {what[0].lower()}{what[1:]}".replace("`", "")
    return text


def table_frame(
    table: pa.Table | None, *, granularity: str | None, grouping: str | Sequence[str],
    numbers: np.ndarray | None = None,
) -> pd.DataFrame:
    """The typed frame of an :func:`ndjson_table` (granularity, grouping as in :func:`to_frame`).

    Raises
    ------
    InvalidRowsError
        On a bad date, naming its row (``numbers`` as in :func:`ndjson_table`).
    """
    if table is None:
        return to_frame([], granularity=granularity, grouping=grouping)
    columns: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        nulls = column.null_count
        if nulls == len(column) and name != row.DATE:
            if name in row.ID_FIELDS:
                columns[name] = pd.array([""] * len(column), dtype=_STRING)
            continue
        if name in row.COUNT_FIELDS and nulls:  # missing where a row lacks it, never 0
            columns[name] = column.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
            continue
        columns[name] = column.to_pandas()
    return _finish(pd.DataFrame(columns), granularity, grouping, numbers)


def _finish(
    frame: pd.DataFrame, granularity: str | None, grouping: str | Sequence[str],
    numbers: np.ndarray | None = None,
) -> pd.DataFrame:
    frame[row.GRANULARITY] = granularity_value(granularity)
    frame[row.GROUPING] = grouping_value(grouping)
    return normalize(frame, numbers)


def normalize(df: pd.DataFrame, numbers: np.ndarray | None = None) -> pd.DataFrame:
    """Coerce a frame from any engine to the typed schema, for the columns present.

    Column names are matched case-insensitively (``clientid`` -> ``clientId``); strings
    (also ``category``/``object``) become ``string`` with NA as ``""``; counts become
    ``int64`` (``Int64`` is kept when it holds NA); ``date`` (ISO text or any datetime,
    naive = UTC) becomes ``datetime64[us, UTC]``. Other columns are left as they are.

    Raises
    ------
    InvalidRowsError
        When a ``date`` value is not an ISO-8601 date or timestamp, naming its row
        (``numbers``: each row's 1-based number in the input; default 1, 2, ...).
    """
    out = df.rename(columns={c: _BY_LOWER.get(str(c).lower(), c) for c in df.columns}).copy()
    for name in out.columns:
        if name in _STRING_COLUMNS:
            out[name] = out[name].astype(_STRING).fillna("")
        elif name in row.COUNT_FIELDS:
            column = out[name]
            if column.isna().any():
                out[name] = column.astype("Int64")
            elif column.dtype != np.dtype("int64"):
                out[name] = column.astype("int64")
        elif name == row.DATE:
            out[name] = _to_utc(out[name], numbers)
    return out


def _to_utc(values: pd.Series, numbers: np.ndarray | None = None) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(_DATE)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC").astype(_DATE)
    text = values.astype(_STRING)
    try:
        parsed = pd.to_datetime(text, format="ISO8601", utc=True)
    except (ValueError, TypeError) as exc:
        index, bad = _first_bad_date(text)
        raise InvalidRowsError(
            f"{where(index, numbers)}: invalid date {bad!r}: expected ISO-8601 like "
            "'2021-01-12T00:00:00Z', '2021-01-12T00:00:00.000Z' or '2021-01-12'"
        ) from exc
    if parsed.isna().any():
        raise InvalidRowsError(
            f"{where(int(parsed.isna().to_numpy().argmax()), numbers)} has no 'date'"
        )
    return parsed.astype(_DATE)


def _first_bad_date(text: pd.Series) -> tuple[int, str]:
    for index, value in enumerate(text):
        try:
            pd.to_datetime(value, format="ISO8601", utc=True)
        except (ValueError, TypeError):
            return index, str(value)
    return 0, "?"


def check_dates(dates: pd.Series, numbers: np.ndarray | None = None,
                today: date | None = None) -> None:
    """Refuse dates the Usage API cannot have produced (:func:`usagekit.row.date_bounds`).

    Raises
    ------
    InvalidRowsError
        Naming the first such row (``numbers`` as in :func:`check_rows`) and the bounds.
    """
    first, after = (pd.Timestamp(bound) for bound in row.date_bounds(today))
    outside = ((dates < first) | (dates >= after)).to_numpy(dtype=bool, na_value=False)
    if outside.any():
        index = int(outside.argmax())
        raise InvalidRowsError(
            f"{where(index, numbers)}: date={date_text(dates.iloc[index])!r} is not a "
            f"date the Usage API can have produced: usage rows are dated from "
            f"{row.FIRST_DAY} to tomorrow ({(after - pd.Timedelta(days=1)).date()}, UTC)")


def empty_frame(columns: Iterable[str] = (*row.API_FIELDS, row.GRANULARITY, row.GROUPING)
                ) -> pd.DataFrame:
    """An empty typed frame with ``columns``."""
    return pd.DataFrame({name: pd.Series(dtype=_DTYPES[name]) for name in columns})


def check_rows(frame: pd.DataFrame, *, granularity: str | None, grouping: str,
               numbers: np.ndarray | None = None) -> None:
    """Check that typed rows can be stored as ``granularity`` x ``grouping`` data.

    Checks: a storable granularity; dates the Usage API can have produced
    (:func:`check_dates`); some count present, none negative (a missing count,
    ``<NA>`` or no column, stays missing); no non-empty
    field that the grouping does not fill (e.g. ``templateUri`` when not grouped by
    TemplateUri); each ``date`` at the start of its bucket (midnight; a Monday for week;
    the 1st for month); no two rows with the same date and fields.

    ``numbers`` gives each row's 1-based number in the input when the frame holds part of
    it (one month of a larger export); by default rows are numbered from 1.

    Raises
    ------
    InvalidRowsError
        Naming the first offending row (1-based) and value, and what was expected.
    """
    if not granularity:
        raise InvalidRowsError(
            "granularity-less rows cannot be stored: the dataset keeps day, week or month "
            "data only (fetch them with granularity Day, Week or Month)"
        )
    granularity = granularity_value(granularity)
    parts = group_parts(grouping)
    check_dates(frame[row.DATE], numbers)
    present = [name for name in row.COUNT_FIELDS if name in frame.columns]
    if len(frame) and not present:
        raise InvalidRowsError(
            f"rows hold none of the counts {', '.join(row.COUNT_FIELDS)}: these are not usage rows"
        )
    for name in present:
        _first(frame, (frame[name] < 0).fillna(False), name,
               "counts must be non-negative integers", numbers)
    filled = {f for part in parts for f in row.GROUP_FIELDS[part]}
    for part, fields in row.GROUP_FIELDS.items():
        for name in fields:
            if name in filled or name not in frame.columns:
                continue
            _first(frame, frame[name] != "", name,
                   f"it must be empty when not grouped by {part!r} (grouping {grouping!r}); "
                   f"store them with a group-by that includes it", numbers)
    dates = frame[row.DATE]
    misaligned = dates != dates.dt.floor("D")
    bucket = "midnight UTC"
    if granularity == "week":
        misaligned |= dates.dt.day_of_week != 0
        bucket = "a Monday, midnight UTC"
    elif granularity == "month":
        misaligned |= dates.dt.day != 1
        bucket = "the 1st of a month, midnight UTC"
    _first(frame, misaligned, row.DATE,
           f"{granularity} buckets start at {bucket}; are these rows of another granularity?",
           numbers)
    keys = [c for c in (*row.ID_FIELDS, *row.OPTIONAL_FIELDS, row.DATE) if c in frame.columns]
    _first(frame, frame.duplicated(keys, keep="first"), row.DATE,
           f"another row has the same date and {', '.join(keys[:-1])}; "
           "each row may appear once per export", numbers)


def date_text(value: pd.Timestamp) -> str:
    """A timestamp as the API spells ``date``: ``2021-01-12T00:00:00Z`` (UTC)."""
    stamp = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{stamp.microsecond:06d}".rstrip("0") if stamp.microsecond else "") + "Z"


def _first(frame: pd.DataFrame, bad: pd.Series, name: str, why: str,
           numbers: np.ndarray | None = None) -> None:
    mask = bad.fillna(True).to_numpy(dtype=bool)
    if mask.any():
        index = int(mask.argmax())
        value = frame[name].iloc[index]
        if isinstance(value, pd.Timestamp):
            value = date_text(value)
        elif isinstance(value, np.generic):
            value = value.item()
        raise InvalidRowsError(f"{where(index, numbers)}: {name}={value!r}: {why}")
