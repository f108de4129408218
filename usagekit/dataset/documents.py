"""``gc``'s result documents: told apart from NDJSON by their first line, unwrapped into rows.

``gc usage query results get`` prints one pretty JSON document
(``{"results": [...], "queryStatus": "Complete"}``), where the blueprint and the kit store
one compact row per line; :func:`open_rows` hands either to a write as NDJSON.
"""

from __future__ import annotations

import io
import json
from typing import IO

import msgspec

from usagekit.exceptions import InvalidRowsError

#: ``queryStatus`` of a ``gc usage query results get`` document that holds its rows.
COMPLETE = "Complete"


def unwrap_results(data: bytes, name: str) -> bytes:
    """NDJSON rows of ``data``: a ``gc usage query results get`` document, or ``data`` itself.

    The document (``{"results": [...], "queryStatus": "Complete"}``, pretty-printed by
    ``gc``) is recognised by its shape, without a flag; its rows come back one compact
    JSON object per line, as ``jq -c '.results[]'`` writes them. Anything else is
    returned unchanged (NDJSON).

    Raises
    ------
    InvalidRowsError
        For a document whose query is not ``Complete`` (``Running``: ask again later;
        ``Failed``: the API's message), naming ``name``.
    """
    head = data.lstrip()[:1]
    if head != b"{":
        return data
    try:
        document = json.loads(data)
    except ValueError:  # several lines of rows (NDJSON), or not JSON at all
        return data
    if not isinstance(document, dict) or not ({"queryStatus", "results", "entities"}
                                              & set(document)):
        return data  # one NDJSON row
    status = document.get("queryStatus")
    if "entities" in document:
        raise InvalidRowsError(
            f"{name} is an aggregates job page (gc usage aggregates query jobs list): fetch "
            "those with `usagekit fetch --api aggregates`, or store the legacy query's "
            "results (gc usage query results get)")
    if status != COMPLETE:
        detail = ""
        if status == "Running":
            detail = ("; run `gc usage query results get <executionId>` again until it "
                      "prints Complete, and save that")
        elif status == "Failed":
            body = document.get("errorBody") or document.get("message") or ""
            detail = f"; the API said: {json.dumps(body)[:300]}" if body else ""
        raise InvalidRowsError(
            f"{name} is a gc query result with queryStatus {status!r}, not {COMPLETE!r}: it "
            f"holds no usage rows{detail}")
    results = document.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise InvalidRowsError(f"{name}: 'results' must be a list of usage rows")
    return b"".join(msgspec.json.encode(row) + b"\n" for row in results)


def open_rows(fp: IO[bytes], name: str) -> IO[bytes]:
    """The NDJSON rows of a stream: itself, or a ``gc`` result document's rows unwrapped.

    NDJSON is left to be read in blocks; a document (one JSON value, not one row per
    line: told apart by its first line) is read whole and unwrapped (:func:`unwrap_results`).
    """
    if not hasattr(fp, "peek"):  # (a stand-in for stdin, or S3's body)
        fp = io.BufferedReader(fp)  # type: ignore[arg-type]
    if _is_document(fp.peek(1 << 16)):
        return io.BytesIO(unwrap_results(fp.read(), name))
    return fp


def _is_document(head: bytes) -> bool:
    head = head.lstrip()
    if not head.startswith(b"{"):
        return False
    line, newline, _ = head.partition(b"\n")
    if not newline:
        return True  # one line longer than the peek: a document on one line (or one row)
    try:
        first = json.loads(line)
    except ValueError:
        return True  # "{" alone: a pretty-printed document
    return isinstance(first, dict) and bool({"queryStatus", "results", "entities"} & set(first))
