"""Damaged data files: which stored files cannot be read, and the error that names them.

Checked only after a read failed (the happy path never pays for it): a Parquet file must
open and decode whole, every NDJSON line must be a JSON object. A file whose only fault is
text that is not UTF-8 (stored by an older usagekit) is not damaged: :func:`undecodable_files`
finds it, and readers take it with U+FFFD in place of the bad bytes until ``usagekit repair``
rewrites it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from usagekit.dataset.formats import CODECS, valid_text
from usagekit.dataset.schema import DATA_FILE, PARTITION_GLOB
from usagekit.exceptions import UsagekitError
from usagekit.row import utf8_error

_SUFFIX_FORMATS = {".json": "ndjson", ".parquet": "parquet"}


def problem(fmt: str, data: bytes) -> str | None:
    """Why ``data`` is not a readable ``fmt`` (``ndjson``/``parquet``) file; None if it reads."""
    if fmt == "parquet":
        try:
            pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError, ValueError) as exc:
            return f"not a readable Parquet file ({str(exc).splitlines()[0]})"
        return None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            return f"line {number} is not JSON ({exc})"
        if not isinstance(value, dict):
            return f"line {number} is not a JSON object"
    return None


def _data_files(root: Path) -> list[Path]:
    return [path for path in sorted(root.glob(f"{PARTITION_GLOB}/*"))
            if DATA_FILE.fullmatch(path.relative_to(root).as_posix()) and path.is_file()]


def _readable_once_repaired(fmt: str, data: bytes) -> bytes | None:
    """``data`` repaired when text that is not UTF-8 is its only fault, else None."""
    try:
        if fmt == "ndjson" and utf8_error(data) is None:
            return None
        if fmt == "parquet" and valid_text(table := pq.read_table(pa.BufferReader(data))) is table:
            return None
        fixed = CODECS[fmt].repair(data)
    except (msgspec.DecodeError, pa.ArrowException, UsagekitError, ValueError, KeyError):
        # it fails for another reason too: damaged, not merely undecodable
        return None
    return fixed if fixed is not None and problem(fmt, fixed) is None else None


def damaged_files(root: Path) -> list[tuple[Path, str]]:
    """The data files under the local folder ``root`` that cannot be read, and why.

    A file whose only fault is text that is not UTF-8 is left out (see
    :func:`undecodable_files`).
    """
    out = []
    for path in _data_files(root):
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.append((path, f"cannot be read ({exc.strerror})"))
            continue
        fmt = _SUFFIX_FORMATS[path.suffix]
        reason = problem(fmt, data)
        if reason is not None and _readable_once_repaired(fmt, data) is None:
            out.append((path, reason))
    return out


def undecodable_files(root: Path) -> dict[Path, bytes]:
    """The data files under ``root`` holding text that is not UTF-8, each with its content
    as ``usagekit repair`` would rewrite it (bad bytes as U+FFFD)."""
    out = {}
    for path in _data_files(root):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # damaged_files names it
        fixed = _readable_once_repaired(_SUFFIX_FORMATS[path.suffix], data)
        if fixed is not None:
            out[path] = fixed
    return out


def damage_message(damaged: Iterable[tuple[str, str]], done: str) -> str:
    """``damaged file(s): <name>: <why>; ...; <done>.`` and how to repair the dataset.

    ``damaged`` holds ``(name, why)`` pairs; ``done`` says what happened, e.g.
    ``nothing was written``.
    """
    names = "; ".join(f"{name}: {why}" for name, why in damaged)
    return (
        f"damaged file(s): {names}; {done}. Move each damaged file out of the dataset (keep "
        "it to inspect), then fetch its month again (`usagekit sync --since`, or "
        "`usagekit import` that interval)"
    )
