"""Fetch API usage from Genesys Cloud: submit, poll, page, normalise.

Both usage APIs give rows in one schema, the legacy API's (:data:`usagekit.row.API_FIELDS`).

Legacy (``api="legacy"``): ``POST /api/v2/usage/query`` → ``executionId``; poll
``GET /api/v2/usage/query/{executionId}/results`` until ``Complete`` (per client:
``/api/v2/oauth/clients/{clientId}/usage/query`` and ``.../usage/query/results/{id}``).

Aggregates (``api="aggregates"``): one job per :meth:`UsageQuery.split` window,
``POST /api/v2/usage/aggregates/query/jobs`` (per client:
``/api/v2/usage/client/{clientId}/aggregates/query/jobs``); all jobs are submitted first,
then each is polled (``Queued``/``Running`` → ``Succeeded``) and paged with ``pageSize``
and ``nextUri``. Rows are normalised to the legacy schema (:mod:`usagekit.fetch.result`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import msgspec
import requests
from tqdm.auto import tqdm

from usagekit.config.settings import ENV_REGION
from usagekit.exceptions import (
    ApiError,
    ConfigError,
    PollTimeoutError,
    QueryError,
    QueryFailedError,
)
from usagekit.fetch.auth import Credentials, TokenProvider
from usagekit.fetch.http import RetryPolicy, Transport
from usagekit.fetch.regions import region_name, resolve
from usagekit.fetch.result import (
    UsageResult,
    decode_legacy,
    normalize_aggregate_row,
    sort_rows,
    sum_buckets,
)
from usagekit.query import UsageQuery
from usagekit.query.usage_query import split_names
from usagekit.row import Org

_logger = logging.getLogger(__name__)


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
class _Organization(msgspec.Struct):
    id: str
    name: str


class _Execution(msgspec.Struct):
    executionId: str


class _Job(msgspec.Struct):
    id: str


class _JobPage(msgspec.Struct):
    queryStatus: str
    entities: list[dict[str, Any]] | None = None
    nextUri: str | None = None
    errorBody: Any = None


# --- the client ------------------------------------------------------------------------
class UsageClient:
    """A Genesys Cloud usage-API client with retries, pacing and progress.

    Parameters
    ----------
    base_url : str
        Region id, domain or URL (see :func:`usagekit.fetch.regions.resolve`).
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
        #: One line, no secret, naming where the data comes from (``connect`` words it).
        self.source_line = self.source
        self.tokens = TokenProvider(credentials, login_url or derived_login,
                                    session=self.session, policy=self.retry)
        self.transport = Transport(api_url, self.tokens, session=self.session, policy=self.retry)
        self.fictional = False
        self._org: Org | None = None

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
    def organization(self) -> Org:
        """Who this client is talking to: ``GET /api/v2/organizations/me``, asked once.

        ``region`` is the API host's region (``mypurecloud.ie``), or ``sandbox`` when the
        client is the embedded sandbox's (``fictional`` then True).
        """
        if self._org is None:
            found = self.transport.call("GET", "/api/v2/organizations/me",
                                        decode=_decoder(_Organization)).data
            region = "sandbox" if self.fictional else region_name(self.base_url)
            self._org = Org(found.id, found.name, region, fictional=self.fictional)
            _logger.info("organisation: %s", self._org.label)
        return self._org

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
        ids = split_names(execution_id)
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
            page = self._wait(path, decode_legacy, execution_id, [execution_id],
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
            rows = sum_buckets(rows, f"{query.first_day}T00:00:00Z")
        if query.sort_by and len(jobs) > 1:
            rows = sort_rows(rows, query.sort_by)
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
