"""The rows of one fetch, in the legacy API's schema (:data:`usagekit.row.API_FIELDS`).

Legacy rows are kept as the response's raw bytes, so :meth:`UsageResult.write_ndjson` equals
``jq -c '.results[]'`` on the response. Aggregates rows are normalised to the legacy schema:
===========================  ===========================================
aggregates row               legacy column
===========================  ===========================================
``oauthClient.id``           ``clientId``
``oauthClient.name``         ``clientName``
``organizationId`` (client)  ``organizationId``
``user.id``                  ``userId``
``templateUri``              ``templateUri``
``httpMethod``               ``httpMethod``
``status200..status500``     same names (``status429`` ⊂ ``status400``)
``requestCount``             ``requests``
``date`` ``YYYY-MM-DD``      ``date`` ``YYYY-MM-DDT00:00:00Z``
``platform``                 ``platform``, last, only when present
===========================  ===========================================

Absent ids and names become ``""`` as in legacy rows; count fields are the requested
metrics (all six when none were asked for), 0 when absent. Rows of different jobs are
concatenated in window order; without a granularity, the per-job buckets are summed per
group and dated with the interval start. With ``sortBy`` and several jobs, the merged rows
are sorted again (stably, by the same fields and orders), so the whole result is ordered as
one job would order it; a ``sortBy`` field left out by ``metrics`` cannot be compared
across jobs and keeps the per-job order.
"""


from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import msgspec

from usagekit.query import UsageQuery
from usagekit.row import (
    API_FIELDS,
    CLIENT_ID,
    CLIENT_NAME,
    COUNT_FIELDS,
    COUNTS,
    DATE,
    HTTP_METHOD,
    METRIC_FIELDS,
    ORGANIZATION_ID,
    PLATFORM,
    SORT_FIELDS,
    TEMPLATE_URI,
    USER_ID,
)

_logger = logging.getLogger(__name__)

class _LegacyResults(msgspec.Struct):
    queryStatus: str | None = None
    results: list[msgspec.Raw] | None = None



# --- results ---------------------------------------------------------------------------
@dataclass
class UsageResult:
    """Rows of one fetch, in the legacy schema.

    Attributes
    ----------
    query : UsageQuery
    execution_ids : tuple of str
        Legacy execution id, or the aggregates job ids (one per split window).
    """

    query: UsageQuery
    execution_ids: tuple[str, ...]
    _raw: list[list[msgspec.Raw]] = field(default_factory=list, repr=False)
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False)

    @classmethod
    def from_legacy_response(cls, query: UsageQuery, content: bytes,
                             execution_id: str = "") -> UsageResult:
        """Wrap a saved legacy results response (``{"results": [...], ...}``)."""
        parsed = decode_legacy(content)
        return cls(query, (execution_id,) if execution_id else (), [parsed.results or []])

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts, keys in legacy field order."""
        if self._rows is None:
            self._rows = [_ordered(msgspec.json.decode(raw)) for chunk in self._raw
                          for raw in chunk]
        return self._rows

    def __len__(self) -> int:
        if self._rows is None:
            return sum(len(chunk) for chunk in self._raw)
        return len(self._rows)

    def lines(self) -> Iterator[bytes]:
        """One compact JSON object per row, as ``jq -c '.results[]'`` prints them."""
        if self._rows is None:
            for chunk in self._raw:
                for raw in chunk:
                    yield _jq_row(bytes(raw))
        else:
            for row in self._rows:
                yield _jq_escapes(msgspec.json.encode(row))

    def ndjson(self) -> bytes:
        """The NDJSON text :meth:`write_ndjson` writes, as one ``bytes``."""
        return b"".join(block for block, _ in self._blocks())

    def write_ndjson(self, fp: BinaryIO) -> int:
        """Write NDJSON (one row per line, ``\\n`` after each) to a binary file.

        Returns
        -------
        int
            Rows written.
        """
        count = 0
        for block, rows in self._blocks():
            fp.write(block)
            count += rows
        return count

    def _blocks(self) -> Iterator[tuple[bytes, int]]:
        """The NDJSON text in blocks of up to :data:`_BLOCK_ROWS` rows, with their counts.

        Raw rows are compact already (:func:`decode_legacy`), so a block is the rows
        joined, unless it holds a backslash or DEL: then its rows get jq's escapes.
        """
        if self._rows is None:
            for chunk in self._raw:
                for start in range(0, len(chunk), _BLOCK_ROWS):
                    rows = chunk[start:start + _BLOCK_ROWS]
                    block = b"\n".join([*rows, b""])
                    if b"\\" in block or b"\x7f" in block:
                        block = b"\n".join([*(_jq_row(bytes(raw)) for raw in rows), b""])
                    yield block, len(rows)
        else:
            for start in range(0, len(self._rows), _BLOCK_ROWS):
                rows = self._rows[start:start + _BLOCK_ROWS]
                lines = [_jq_escapes(msgspec.json.encode(row)) for row in rows]
                yield b"\n".join([*lines, b""]), len(rows)


#: Rows per block written by :meth:`UsageResult.write_ndjson` (~24 MB of usage rows).
_BLOCK_ROWS = 65_536
_LEGACY_DECODER = msgspec.json.Decoder(_LegacyResults)
#: Bodies from this size on are checked for compactness rather than compacted anyway.
_CHECK_MIN = 1 << 20
#: Bytes per step of the check; a step's temporaries stay in the CPU cache.
_CHECK_BLOCK = 1 << 18


def decode_legacy(content: bytes) -> _LegacyResults:
    """Decode a legacy results body, its rows kept as raw, compact JSON.

    A body that is not compact is compacted first, in one pass (whitespace inside
    strings is kept), so that each raw row is what jq prints but for string escapes
    (see :func:`_jq_row`).
    """
    if not _is_compact(content):
        content = msgspec.json.format(content, indent=-1)
    return _LEGACY_DECODER.decode(content)


def _is_compact(content: bytes) -> bool:
    """Whether JSON text has no whitespace outside strings (may say False when it has none).

    Tabs and line breaks cannot occur raw inside JSON strings. Spaces outside strings
    lie between two tokens, one of which is ``{}[]:,``; so when no space touches one of
    those, the spaces are all inside strings. Large texts with spaces are checked with
    numpy in one pass over cache-sized blocks (every byte up to the space, then what
    those are and what they touch); small ones with spaces are simply called not compact
    (compacting them is cheap).
    """
    if len(content) < _CHECK_MIN or b" " not in content:
        return not any(space in content for space in (b" ", b"\n", b"\r", b"\t"))
    import numpy as np

    structural = np.zeros(256, dtype=bool)
    structural[list(b"{}[]:,")] = True
    data = np.frombuffer(content, dtype=np.uint8)
    low = np.empty(min(_CHECK_BLOCK, len(data)), dtype=bool)  # reused: no page faults
    for start in range(0, len(data), _CHECK_BLOCK):
        block = data[start:start + _CHECK_BLOCK]
        spaces = np.flatnonzero(np.less_equal(block, 32, out=low[:len(block)])) + start
        if (data[spaces] != 32).any():  # a tab or line break (or a raw control byte)
            return False
        before = data[np.maximum(spaces - 1, 0)]
        after = data[np.minimum(spaces + 1, len(data) - 1)]
        if structural[before].any() or structural[after].any():
            return False
    return True


def _jq_row(data: bytes) -> bytes:
    """A compact raw row as jq prints it."""
    if b"\\" in data:  # escapes: jq re-encodes strings (e.g. \u00e9 -> é, \/ -> /)
        data = msgspec.json.encode(msgspec.json.decode(data))
    return _jq_escapes(data)


def _jq_escapes(data: bytes) -> bytes:
    """jq escapes DEL; msgspec keeps it raw (0x7f never occurs inside a UTF-8 sequence)."""
    return data.replace(b"\x7f", b"\\u007f") if b"\x7f" in data else data


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    if tuple(row) == API_FIELDS[: len(row)]:
        return row
    known = {k: row[k] for k in API_FIELDS if k in row}
    return known | {k: v for k, v in row.items() if k not in known}


def normalize_aggregate_row(entity: Mapping[str, Any],
                            metrics: Sequence[str] = ()) -> dict[str, Any]:
    """One aggregates-API row in the legacy schema (see the module docstring).

    Parameters
    ----------
    entity : mapping
        An ``entities`` item of an aggregates results page.
    metrics : sequence of str
        The query's metrics (canonical names); empty means all six.
    """
    client = entity.get("oauthClient") or {}
    user = entity.get("user") or {}
    row: dict[str, Any] = {
        CLIENT_ID: client.get("id") or "",
        CLIENT_NAME: client.get("name") or "",
        ORGANIZATION_ID: entity.get(ORGANIZATION_ID) or "",
        USER_ID: user.get("id") or "",
        TEMPLATE_URI: entity.get(TEMPLATE_URI) or "",
        HTTP_METHOD: entity.get(HTTP_METHOD) or "",
    }
    wanted = {METRIC_FIELDS[m] for m in metrics} or set(COUNT_FIELDS)
    for count in COUNTS:
        if count.field in wanted:
            row[count.field] = int(entity.get(count.aggregates) or 0)
    day = str(entity.get(DATE) or "")
    row[DATE] = day if "T" in day or not day else f"{day}T00:00:00Z"
    if entity.get(PLATFORM) is not None:
        row[PLATFORM] = entity[PLATFORM]
    return row


def sort_rows(rows: list[dict[str, Any]], sort_by: Sequence[tuple[str, str]]
               ) -> list[dict[str, Any]]:
    """Stable multi-key sort of normalised rows by aggregates ``sortBy`` items.

    Each job's rows already come in this order, so this merges the jobs' rows. Fields
    absent from the rows (left out by ``metrics``) are skipped.
    """
    out = list(rows)
    for name, order in reversed(sort_by):
        column = SORT_FIELDS[name]
        if out and all(column in row for row in out):
            out.sort(key=lambda row, column=column: row[column], reverse=order == "Desc")
    return out


def sum_buckets(rows: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """Sum rows of the same group from several jobs into one bucket dated ``label``."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple((k, v) for k, v in row.items() if k not in COUNT_FIELDS and k != DATE)
        if key not in merged:
            merged[key] = {**row, DATE: label}
        else:
            for name in COUNT_FIELDS:
                if name in row:
                    merged[key][name] += row[name]
    return list(merged.values())
