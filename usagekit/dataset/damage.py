"""Damaged data files: which stored files cannot be read, and the error that names them.

Checked only after a read failed (the happy path never pays for it): a Parquet file must
open and decode whole, every NDJSON line must be a JSON object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

_SUFFIX_FORMATS = {".json": "ndjson", ".parquet": "parquet"}
_LAYOUT = re.compile(r"granularity=[^/]+/grouping=[^/]+/period=[^/]+/[^/]+\.(json|parquet)")


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


def damaged_files(root: Path) -> list[tuple[Path, str]]:
    """The data files under the local folder ``root`` that cannot be read, and why."""
    out = []
    for path in sorted(root.glob("granularity=*/grouping=*/period=*/*")):
        if not _LAYOUT.fullmatch(path.relative_to(root).as_posix()) or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.append((path, f"cannot be read ({exc.strerror})"))
            continue
        reason = problem(_SUFFIX_FORMATS[path.suffix], data)
        if reason is not None:
            out.append((path, reason))
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
