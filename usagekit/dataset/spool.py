"""Rows being written, a month partition at a time: split in memory, or spooled to disk.

:meth:`Dataset.write <usagekit.dataset.Dataset.write>` asks for one month's rows at a time,
so what it holds is set by the largest month, not by the whole input. Rows already in
memory (dicts, a frame, NDJSON bytes) are parsed and checked once and cut by month. A
stream (a binary file, stdin) is read in blocks: each line is filed by its ``date`` under
its month in a temporary file, and a month is parsed and checked when it is asked for,
with each row's number in the input kept for the error messages.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec
import numpy as np
import pandas as pd

from usagekit.dataset.formats import Batch
from usagekit.dataset.scratch import scratch
from usagekit.exceptions import DatasetError, InvalidRowsError
from usagekit.frame import check_dates, date_text, line_numbers, where
from usagekit.row import BOM

#: Bytes of input read per block while spooling (whole lines; a block's parse is ~4x this).
BLOCK_BYTES = 32 << 20


class _DateOnly(msgspec.Struct):
    date: str


_DATES = msgspec.json.Decoder(_DateOnly)


class Months(Protocol):
    """The rows of one write, by month (``YYYYMM`` as an int)."""

    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None

    def batch(self, month: int) -> Batch:
        """The month's rows, parsed and checked (empty when it has none)."""


def month_numbers(dates: pd.Series) -> np.ndarray:
    """``YYYYMM`` of each UTC date."""
    return dates.dt.year.to_numpy() * 100 + dates.dt.month.to_numpy()


def refuse_outside(dates: pd.Series, numbers: np.ndarray | None, lo: pd.Timestamp | None,
                   hi: pd.Timestamp | None, gran: str, interval: str) -> None:
    """Refuse rows dated outside ``[lo, hi)``, naming the first (``numbers``: their lines)."""
    if lo is None or hi is None:
        return
    outside = ((dates < lo) | (dates >= hi)).to_numpy()
    if outside.any():
        index = int(outside.argmax())
        raise InvalidRowsError(
            f"{where(index, numbers)}: date={date_text(dates.iloc[index])!r} is outside the "
            f"interval {interval} (its {gran} buckets start {date_text(lo)}); store them with "
            "the interval the rows were fetched for")


class InMemory:
    """Rows already in memory: parsed and checked once, then cut by month."""

    def __init__(self, batch: Batch, lo: pd.Timestamp | None, hi: pd.Timestamp | None,
                 gran: str, interval: str) -> None:
        self._batch = batch
        dates = batch.frame["date"]
        check_dates(dates, batch.numbers)
        refuse_outside(dates, batch.numbers, lo, hi, gran, interval)
        self._months = month_numbers(dates)
        self.rows = len(dates)
        self.first = dates.min() if self.rows else None
        self.last = dates.max() if self.rows else None

    def batch(self, month: int) -> Batch:
        mask = self._months == month
        whole = self._batch
        if mask.all():
            return whole  # (the usual case: a month's query; no copy)
        return Batch(frame=whole.frame[mask], payload=whole.codec.take(whole.payload, mask),
                     codec=whole.codec)


class Spooled:
    """Rows from a stream, filed by month in ``folder`` (one NDJSON file per month)."""

    def __init__(self, folder: Path, gran: str, key: str, fmt: str) -> None:
        self._folder, self._gran, self._key, self._format = folder, gran, key, fmt
        self._files: dict[int, tuple[IO[bytes], IO[bytes]]] = {}  # rows, their line numbers
        self.rows = 0
        self.lines = 0  # of the input, blank ones included
        self.first: pd.Timestamp | None = None
        self.last: pd.Timestamp | None = None

    def add(self, block: bytes, lo: pd.Timestamp | None, hi: pd.Timestamp | None,
            interval: str) -> None:
        """File a block of whole lines under their months (dates outside [lo, hi) refused).

        Lines as the API, ``jq -c`` and the kit write them (compact, ``date`` last) are filed
        by slicing the block, reading each ``date`` at its fixed place before the newline;
        other lines are decoded one by one.
        """
        if block and not block.endswith(b"\n"):
            block += b"\n"
        found = _trailing_dates(block)
        if found is not None:
            starts, ends, dates = found
            view = memoryview(block)

            def run(a: int, b: int) -> bytes | memoryview:
                return view[starts[a]:ends[b - 1] + 1]
            numbers = np.arange(self.lines + 1, self.lines + 1 + len(dates), dtype=np.int64)
        else:
            lines = [line for line in (raw.strip() for raw in block.split(b"\n")) if line]
            numbers = line_numbers(block).astype(np.int64) + self.lines
            dates = (self._dates(lines, numbers) if lines
                     else pd.Series([], dtype="datetime64[ns, UTC]"))

            def run(a: int, b: int) -> bytes | memoryview:
                return b"\n".join([*lines[a:b], b""])
        self.lines += block.count(b"\n")
        if not len(dates):
            return
        check_dates(dates, numbers)  # (before a date in 2100 makes the write span decades)
        refuse_outside(dates, numbers, lo, hi, self._gran, interval)
        months = month_numbers(dates)
        seams = [0, *(np.flatnonzero(months[1:] != months[:-1]) + 1).tolist(), len(months)]
        for a, b in itertools.pairwise(seams):
            month = int(months[a])
            if month not in self._files:
                self._files[month] = (open(self._folder / f"{month}.json", "wb"),  # noqa: SIM115
                                      open(self._folder / f"{month}.rows", "wb"))  # noqa: SIM115
            line_file, row_file = self._files[month]
            line_file.write(run(a, b))
            numbers[a:b].tofile(row_file)
        self.rows += len(dates)
        low, high = dates.min(), dates.max()
        self.first = low if self.first is None else min(self.first, low)
        self.last = high if self.last is None else max(self.last, high)

    def close(self) -> None:
        """Flush the month files (before :meth:`batch` reads them)."""
        for line_file, row_file in self._files.values():
            line_file.close()
            row_file.close()

    def batch(self, month: int) -> Batch:
        if month not in self._files:
            return Batch.of(b"", self._gran, self._key, self._format)
        data = (self._folder / f"{month}.json").read_bytes()
        numbers = np.fromfile(self._folder / f"{month}.rows", dtype=np.int64)
        return Batch.of(data, self._gran, self._key, self._format, numbers=numbers)

    def _dates(self, lines: list[bytes], numbers: np.ndarray) -> pd.Series:
        try:
            rows = _DATES.decode_lines(b"\n".join(lines))
        except msgspec.DecodeError:  # (ValidationError included)
            rows = []
        if len(rows) != len(lines):
            self._refuse(lines, numbers)
        text = pd.Series([r.date for r in rows], dtype=object)
        dates = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        bad = dates.isna().to_numpy()
        if bad.any():
            index = int(bad.argmax())
            raise InvalidRowsError(
                f"{where(index, numbers)}: invalid date {text.iloc[index]!r}: expected "
                "ISO-8601 like '2021-01-12T00:00:00Z', '2021-01-12T00:00:00.000Z' or "
                "'2021-01-12'")
        return dates

    @staticmethod
    def _refuse(lines: list[bytes], numbers: np.ndarray) -> None:
        """Name the first line that is not a usage row with a ``date``."""
        for index, line in enumerate(lines):
            try:
                _DATES.decode(line)
            except msgspec.DecodeError as exc:  # (ValidationError included)
                raise InvalidRowsError(
                    f"{where(index, numbers)}: malformed usage NDJSON ({exc}): expected "
                    "one JSON object with a 'date' per line") from exc
        raise InvalidRowsError("malformed usage NDJSON: expected one JSON object per line")


_KEY = np.frombuffer(b'"date":"', dtype=np.uint8)
_END = np.frombuffer(b'"}', dtype=np.uint8)
_TAIL = np.arange(-30, 0)  # '"date":"' + 20 characters + '"}' before the newline


def _trailing_dates(block: bytes) -> tuple[np.ndarray, np.ndarray, pd.Series] | None:
    """Line starts, newline positions and dates of a block whose every line ends with
    ``"date":"YYYY-MM-DDTHH:MM:SSZ"}``; None when any line does not (or a date is bad)."""
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if not len(ends) or (ends - starts < 31).any():
        return None  # (blank or short lines)
    tail = arr[ends[:, None] + _TAIL]
    if not ((tail[:, :8] == _KEY).all() and (tail[:, 28:] == _END).all()):
        return None
    texts, inverse = np.unique(tail[:, 8:28].copy().view("S20").ravel(), return_inverse=True)
    parsed = pd.to_datetime(pd.Series(texts.astype(str)), format="%Y-%m-%dT%H:%M:%SZ",
                            utc=True, errors="coerce")
    if parsed.isna().any():
        return None  # (named by the line-by-line way)
    return starts, ends, pd.Series(parsed.array.take(inverse))


def line_blocks(fp: IO[bytes]) -> Iterator[bytes]:
    """The stream in blocks of about :data:`BLOCK_BYTES`, each ending at a line end.

    A leading UTF-8 byte order mark is skipped.
    """
    rest = fp.read(len(BOM))
    if rest == BOM:
        rest = b""
    while chunk := fp.read(BLOCK_BYTES):
        block = rest + chunk
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        if cut:
            yield block[:cut]
    if rest:
        yield rest


@contextmanager
def months_of(data: Any, gran: str, key: str, fmt: str, lo: pd.Timestamp | None,
              hi: pd.Timestamp | None, interval: str) -> Iterator[Months]:
    """The rows of ``data`` by month: a binary stream or path is spooled, the rest held.

    Rows dated outside ``[lo, hi)`` (when given) are refused, naming the row.
    """
    if isinstance(data, os.PathLike):
        with open(data, "rb") as fp, months_of(fp, gran, key, fmt, lo, hi, interval) as months:
            yield months
        return
    if not hasattr(data, "read"):
        yield InMemory(Batch.of(data, gran, key, fmt), lo, hi, gran, interval)
        return
    with scratch("spool") as folder:
        spooled = Spooled(folder, gran, key, fmt)
        with spooling(folder):
            try:
                for block in line_blocks(data):
                    spooled.add(block, lo, hi, interval)
            finally:
                spooled.close()
        yield spooled


#: What a failure to write a temporary file says: a full, capped or read-only disk.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


@contextmanager
def spooling(folder: Path) -> Iterator[None]:
    """Turn a failure to write ``folder`` (a full disk) into a :class:`DatasetError`.

    Other errors (reading the input, say) pass unchanged.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno in _DISK_ERRNOS or str(exc.filename or "").startswith(str(folder)):
            raise _disk_error(folder, exc) from exc
        raise


def _disk_error(folder: str | Path, exc: OSError) -> DatasetError:
    return DatasetError(
        f"cannot write the rows being stored to the temporary folder {folder}: "
        f"{exc.strerror or exc}; free space there, or set TMPDIR to a folder with room "
        f"(TMPDIR={os.environ.get('TMPDIR', '(unset)')}); nothing was stored")
