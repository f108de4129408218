"""Fetch API usage from Genesys Cloud: submit, poll, page, normalise.

Both usage APIs give rows in one schema, the legacy API's (:data:`LEGACY_FIELDS`).

Legacy (``api="legacy"``): ``POST /api/v2/usage/query`` → ``executionId``; poll
``GET /api/v2/usage/query/{executionId}/results`` until ``Complete`` (per client:
``/api/v2/oauth/clients/{clientId}/usage/query`` and ``.../usage/query/results/{id}``).
Rows are kept as the response's raw bytes, so :meth:`UsageResult.write_ndjson` equals
``jq -c '.results[]'`` on the response.

Aggregates (``api="aggregates"``): one job per :meth:`UsageQuery.split` window,
``POST /api/v2/usage/aggregates/query/jobs`` (per client:
``/api/v2/usage/client/{clientId}/aggregates/query/jobs``); all jobs are submitted first,
then each is polled (``Queued``/``Running`` → ``Succeeded``) and paged with ``pageSize``
and ``nextUri``. Rows are normalised to the legacy schema:

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
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import quote

import msgspec
import requests
from tqdm.auto import tqdm

from usagekit._http import RetryPolicy, Transport
from usagekit.auth import Credentials, TokenProvider
from usagekit.config import ENV_REGION
from usagekit.exceptions import (
    ApiError,
    ConfigError,
    PollTimeoutError,
    QueryError,
    QueryFailedError,
)
from usagekit.query import UsageQuery
from usagekit.regions import region_name, resolve

_logger = logging.getLogger(__name__)

LEGACY_FIELDS: tuple[str, ...] = (
    "clientId", "clientName", "organizationId", "userId", "templateUri", "httpMethod",
    "status200", "status300", "status400", "status500", "status429", "requests", "date",
)
COUNT_FIELDS: tuple[str, ...] = (
    "status200", "status300", "status400", "status500", "status429", "requests",
)
_METRIC_FIELD = {"Status200": "status200", "Status300": "status300", "Status400": "status400",
                 "Status500": "status500", "Status429": "status429", "Requests": "requests"}
#: Aggregates ``sortBy`` field -> the legacy-schema row field it orders.
SORT_FIELD_COLUMN: dict[str, str] = {
    "date": "date", "platform": "platform", "httpMethod": "httpMethod",
    "templateUri": "templateUri", "requestCount": "requests", "status200": "status200",
    "status300": "status300", "status400": "status400", "status429": "status429",
    "status500": "status500", "oauthClientId": "clientId", "oauthClientName": "clientName",
    "userId": "userId", "organizationId": "organizationId",
}


@dataclass(frozen=True)
class PollPolicy:
    """Adaptive polling: wait ``initial`` s, then ``factor`` times longer, up to ``maximum``.

    ``deadline`` bounds the whole wait for one query or job (seconds).
    """

    initial: float = 0.2
    factor: float = 1.6
    maximum: float = 5.0
    deadline: float = 600.0


# --- wire shapes -----------------------------------------------------------------------
class _Execution(msgspec.Struct):
    executionId: str


class _LegacyResults(msgspec.Struct):
    queryStatus: str | None = None
    results: list[msgspec.Raw] | None = None


class _Job(msgspec.Struct):
    id: str


class _JobPage(msgspec.Struct):
    queryStatus: str
    entities: list[dict[str, Any]] | None = None
    nextUri: str | None = None
    errorBody: Any = None


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
        parsed = _decode_legacy(content)
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

        Raw rows are compact already (:func:`_decode_legacy`), so a block is the rows
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
_CHECK_BLOCK = 1 << 24


def _decode_legacy(content: bytes) -> _LegacyResults:
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
    those, the spaces are all inside strings. Large texts are checked with numpy, in
    blocks; small ones are simply called not compact (compacting them is cheap).
    """
    if any(space in content for space in (b"\n", b"\r", b"\t")):
        return False
    if b" " not in content:
        return True
    if len(content) < _CHECK_MIN:
        return False
    import numpy as np

    structural = np.zeros(256, dtype=bool)
    structural[list(b"{}[]:,")] = True
    data = np.frombuffer(content, dtype=np.uint8)
    for start in range(0, len(data), _CHECK_BLOCK):
        spaces = np.flatnonzero(data[start:start + _CHECK_BLOCK] == 32) + start
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
    if tuple(row) == LEGACY_FIELDS[: len(row)]:
        return row
    known = {k: row[k] for k in LEGACY_FIELDS if k in row}
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
        "clientId": client.get("id") or "",
        "clientName": client.get("name") or "",
        "organizationId": entity.get("organizationId") or "",
        "userId": user.get("id") or "",
        "templateUri": entity.get("templateUri") or "",
        "httpMethod": entity.get("httpMethod") or "",
    }
    wanted = {_METRIC_FIELD[m] for m in metrics} or set(COUNT_FIELDS)
    for name in COUNT_FIELDS:
        if name in wanted:
            source = "requestCount" if name == "requests" else name
            row[name] = int(entity.get(source) or 0)
    day = str(entity.get("date") or "")
    row["date"] = day if "T" in day or not day else f"{day}T00:00:00Z"
    if entity.get("platform") is not None:
        row["platform"] = entity["platform"]
    return row


def _sort_rows(rows: list[dict[str, Any]], sort_by: Sequence[tuple[str, str]]
               ) -> list[dict[str, Any]]:
    """Stable multi-key sort of normalised rows by aggregates ``sortBy`` items.

    Each job's rows already come in this order, so this merges the jobs' rows. Fields
    absent from the rows (left out by ``metrics``) are skipped.
    """
    out = list(rows)
    for name, order in reversed(sort_by):
        column = SORT_FIELD_COLUMN[name]
        if out and all(column in row for row in out):
            out.sort(key=lambda row, column=column: row[column], reverse=order == "Desc")
    return out


def _sum_buckets(rows: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """Sum rows of the same group from several jobs into one bucket dated ``label``."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple((k, v) for k, v in row.items() if k not in COUNT_FIELDS and k != "date")
        if key not in merged:
            merged[key] = {**row, "date": label}
        else:
            for name in COUNT_FIELDS:
                if name in row:
                    merged[key][name] += row[name]
    return list(merged.values())


# --- the client ------------------------------------------------------------------------
class UsageClient:
    """A Genesys Cloud usage-API client with retries, pacing and progress.

    Parameters
    ----------
    base_url : str
        Region id, domain or URL (see :func:`usagekit.regions.resolve`).
    client_id, client_secret : str, optional
        OAuth client credentials (grant ``client_credentials``).
    access_token : str, optional
        A ready token instead of client credentials.
    login_url : str, optional
        Overrides the login host derived from ``base_url``.
    session : requests.Session, optional
    retry : RetryPolicy, optional
    poll : PollPolicy, optional
    progress : bool or None
        Show tqdm progress; None shows it only on a terminal or notebook.

    Examples
    --------
    >>> client = UsageClient("eu-west-1", client_id="...", client_secret="...")  # doctest: +SKIP
    >>> result = client.fetch(UsageQuery.build("2026-10/2026-11", "Day", ["OAuthClientId"]))
    """

    def __init__(self, base_url: str, *, client_id: str | None = None,
                 client_secret: str | None = None, access_token: str | None = None,
                 login_url: str | None = None, session: requests.Session | None = None,
                 retry: RetryPolicy | None = None, poll: PollPolicy | None = None,
                 progress: bool | None = None) -> None:
        api_url, derived_login = resolve(base_url)
        credentials = Credentials(client_id, client_secret,  # type: ignore[arg-type]
                                  access_token)  # type: ignore[arg-type]
        self.session = session or requests.Session()
        self.retry = retry or RetryPolicy()
        self.poll = poll or PollPolicy()
        self.progress = progress
        self.source = f"genesys:{region_name(api_url)}"
        self.tokens = TokenProvider(credentials, login_url or derived_login,
                                    session=self.session, policy=self.retry)
        self.transport = Transport(api_url, self.tokens, session=self.session, policy=self.retry)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> UsageClient:
        """A client from ``GENESYSCLOUD_REGION`` and the credential variables.

        Raises
        ------
        ConfigError
            Naming the missing variables.
        """
        env = os.environ if env is None else env
        region = (env.get(ENV_REGION) or "").strip()
        credentials = Credentials.from_env(env)  # raises on missing credentials
        if not region:
            raise ConfigError(f"missing {ENV_REGION}: set a region id (e.g. us-east-1), "
                              "a domain (mypurecloud.ie) or a URL")
        return cls(region, client_id=credentials.client_id,
                   client_secret=_reveal(credentials.client_secret),
                   access_token=_reveal(credentials.access_token), **options)

    @property
    def base_url(self) -> str:
        """The API base URL."""
        return self.transport.base_url

    def __repr__(self) -> str:
        return f"UsageClient({self.base_url!r}, source={self.source!r})"

    def __enter__(self) -> UsageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    # --- public operations -------------------------------------------------------------
    def fetch(self, query: UsageQuery) -> UsageResult:
        """Run ``query`` and return all its rows.

        Raises
        ------
        QueryFailedError
            The query or a job ended ``Failed``/``Cancelled``.
        PollTimeoutError
            Still running at the poll deadline; resume with :meth:`resume`. Its
            ``execution_id`` holds every id of the fetch, comma-joined in
            ``query.split()`` order (one per aggregates job), which :meth:`resume` and
            ``usagekit fetch --resume`` accept as is.
        RateLimitError, ApiError, AuthError
        """
        return self.resume((), query)

    def resume(self, execution_id: str | Sequence[str], query: UsageQuery) -> UsageResult:
        """Collect the results of already submitted queries or jobs.

        Parameters
        ----------
        execution_id : str or sequence of str
            The id(s) a :class:`PollTimeoutError` named (comma-separated or a list), in
            the order of ``query.split()``; windows without an id are submitted now.
        query : UsageQuery
            The query they were submitted for.
        """
        ids = _id_list(execution_id)
        if query.api == "legacy":
            if len(ids) > 1:
                raise QueryError(f"a legacy query has one execution id, got {len(ids)}: {ids}")
            return self._legacy(query, ids[0] if ids else None)
        return self._aggregates(query, ids)

    # --- legacy ------------------------------------------------------------------------
    def _legacy(self, query: UsageQuery, execution_id: str | None) -> UsageResult:
        cid = quote(query.client_id, safe="") if query.client_id else None
        base = f"/api/v2/oauth/clients/{cid}/usage/query" if cid else "/api/v2/usage/query"
        started = time.monotonic()
        with self._bar(1, "query") as bar:
            if execution_id is None:
                _logger.info("submitting legacy usage query: %s", query.legacy_body())
                reply = self.transport.call("POST", base, json=query.legacy_body(),
                                            decode=_decoder(_Execution))
                execution_id = reply.data.executionId
            else:
                _logger.info("resuming legacy usage query %s", execution_id)
            eid = quote(execution_id, safe="")
            path = f"{base}/results/{eid}" if cid else f"{base}/{eid}/results"
            page = self._wait(path, _decode_legacy, execution_id, [execution_id],
                              running=("Running",), done="Complete")
            bar.update(1)
        rows = page.results or []
        _logger.info("usage query %s complete: %d rows in %.1f s", execution_id, len(rows),
                     time.monotonic() - started)
        return UsageResult(query, (execution_id,), [rows])

    # --- aggregates --------------------------------------------------------------------
    def _aggregates(self, query: UsageQuery, ids: list[str]) -> UsageResult:
        jobs = query.split()
        if len(ids) > len(jobs):
            raise QueryError(f"{len(ids)} job ids given but the query splits into {len(jobs)} "
                             f"jobs ({', '.join(j.aggregates_body()['interval'] for j in jobs)})")
        cid = quote(query.client_id, safe="") if query.client_id else None
        base = (f"/api/v2/usage/client/{cid}/aggregates/query/jobs" if cid
                else "/api/v2/usage/aggregates/query/jobs")
        started = time.monotonic()
        for job in jobs[len(ids):]:
            body = job.aggregates_body()
            reply = self.transport.call("POST", base, json=body, decode=_decoder(_Job))
            ids.append(reply.data.id)
            _logger.info("submitted aggregates job %s: %s", reply.data.id, body)
        rows: list[dict[str, Any]] = []
        with self._bar(len(jobs), "job") as bar:
            for job_id in ids:
                rows.extend(self._job_rows(query, base, job_id, ids))
                bar.update(1)
                bar.set_postfix(rows=len(rows))
        if query.granularity is None and len(jobs) > 1:
            rows = _sum_buckets(rows, f"{query.first_day}T00:00:00Z")
        if query.sort_by and len(jobs) > 1:
            rows = _sort_rows(rows, query.sort_by)
        _logger.info("aggregates jobs %s complete: %d rows in %.1f s", ", ".join(ids),
                     len(rows), time.monotonic() - started)
        return UsageResult(query, tuple(ids), [], rows)

    def _job_rows(self, query: UsageQuery, base: str, job_id: str,
                  all_ids: list[str]) -> Iterator[dict[str, Any]]:
        path = f"{base}/{quote(job_id, safe='')}"
        params = {"pageSize": query.page_size}
        page = self._wait(path, _decoder(_JobPage), job_id, all_ids,
                          running=("Queued", "Running"), done="Succeeded", params=params)
        seen: set[str] = set()
        pages = 1
        while True:
            for entity in page.entities or []:
                yield normalize_aggregate_row(entity, query.metrics)
            if not page.nextUri:
                break
            if page.nextUri in seen:
                raise ApiError(f"aggregates job {job_id}: nextUri repeats ({page.nextUri})")
            seen.add(page.nextUri)
            page = self.transport.call("GET", page.nextUri, decode=_decoder(_JobPage)).data
            pages += 1
            if page.queryStatus != "Succeeded":
                raise self._failed(job_id, page.queryStatus, page.errorBody, None)
        _logger.debug("aggregates job %s: %d pages", job_id, pages)

    # --- polling -----------------------------------------------------------------------
    def _wait(self, path: str, decode: Callable[[bytes], Any], execution_id: str,
              all_ids: list[str], *,
              running: tuple[str, ...], done: str, params: Mapping[str, Any] | None = None
              ) -> Any:
        policy = self.poll
        deadline = time.monotonic() + policy.deadline
        delay = policy.initial
        polls = 0
        while True:
            reply = self.transport.call("GET", path, params=params, decode=decode)
            polls += 1
            status = reply.data.queryStatus
            if status == done:
                _logger.debug("%s %s after %d polls", execution_id, done, polls)
                return reply.data
            if status not in running:
                raise self._failed(execution_id, status, getattr(reply.data, "errorBody", None)
                                   or reply.error_body(), reply.correlation_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timeout(execution_id, status, policy.deadline, all_ids)
            time.sleep(min(delay, remaining))
            delay = min(delay * policy.factor, policy.maximum)

    @staticmethod
    def _failed(execution_id: str, status: str | None, body: Any,
                correlation_id: str | None) -> QueryFailedError:
        message = body.get("message") if isinstance(body, dict) else None
        text = f"usage query {execution_id} ended {status}"
        if message:
            text += f": {message}"
        if correlation_id:
            text += f" (correlation id {correlation_id})"
        return QueryFailedError(text, execution_id=execution_id, correlation_id=correlation_id,
                                body=body)

    def _bar(self, total: int, unit: str) -> tqdm:  # type: ignore[type-arg]
        disable = None if self.progress is None else not self.progress
        return tqdm(total=total, unit=unit, desc="usage", disable=disable, leave=False)


def _decoder(shape: type[Any]) -> Callable[[bytes], Any]:
    decoder = msgspec.json.Decoder(shape)
    return decoder.decode


def _id_list(value: str | Sequence[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def _timeout(execution_id: str, status: str | None, deadline: float,
             all_ids: list[str]) -> PollTimeoutError:
    ids = ",".join(all_ids)
    return PollTimeoutError(
        f"usage query {execution_id} still {status} after {deadline:g} s; resume it with "
        f"`usagekit fetch --resume {ids}` and the same query options, or "
        f"client.resume({ids!r}, query)",
        execution_id=ids,
    )


def _reveal(secret: Any) -> str | None:
    return secret.reveal() if secret is not None else None
