"""HTTP transport with the retry policy the official clients lack.

- 429: wait ``Retry-After`` seconds (or :attr:`RetryPolicy.default_retry_after`), at most
  :attr:`RetryPolicy.rate_limit_retries` times in a row; a ``Retry-After`` above
  :attr:`RetryPolicy.max_retry_after` (180 s, as the .NET SDK and the CLI) raises
  :class:`~usagekit.exceptions.RateLimitError` at once, naming the wait.
- 5xx except 501, connection errors, read timeouts and truncated bodies: exponential
  backoff with full jitter (``uniform(0, min(backoff_max, backoff * 2**n))``), at most
  :attr:`RetryPolicy.retries` times.
- 401 on an API call: the token source is asked for a fresh token once, then the
  request is repeated once.
- ``inin-ratelimit-count/allowed/reset`` are read from every response; when less than
  half the budget is left, requests are spread over the rest of the window, and with
  :attr:`RetryPolicy.pace_reserve` or fewer left they wait for the window to reset.

Nothing here logs headers or bodies of requests, so no credential reaches a log line.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import msgspec
import requests

from usagekit.config.settings import ENV_ACCESS_TOKEN
from usagekit.exceptions import ApiError, AuthError, RateLimitError

_logger = logging.getLogger(__name__)
T = TypeVar("T")

_RETRYABLE_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
USER_AGENT = "usagekit (+requests)"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the transport tries before giving up.

    Attributes
    ----------
    retries : int
        Retries after a 5xx (not 501), a connection error or a truncated body.
    backoff, backoff_max : float
        Full-jitter exponential backoff: seconds for the first retry, and the cap.
    rate_limit_retries : int
        429 answers in a row before :class:`RateLimitError`.
    max_retry_after : float
        Longest ``Retry-After`` (seconds) the transport waits; longer raises.
    default_retry_after : float
        Wait after a 429 without ``Retry-After`` (the Java SDK's default).
    connect_timeout, read_timeout : float
        Per-request socket timeouts, seconds.
    pace : bool
        Use the ``inin-ratelimit-*`` headers to stay under the limit.
    pace_reserve : int
        Requests kept in reserve before waiting for the window to reset.
    """

    retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 30.0
    rate_limit_retries: int = 10
    max_retry_after: float = 180.0
    default_retry_after: float = 3.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    pace: bool = True
    pace_reserve: int = 1

    def delay(self, attempt: int) -> float:
        """Full-jitter backoff before retry number ``attempt`` (0-based)."""
        return random.uniform(0.0, min(self.backoff_max, self.backoff * 2.0**attempt))


class TokenSource(Protocol):
    """What the transport needs from :mod:`usagekit.fetch.auth`."""

    def token(self) -> str:
        """A bearer token, fetched or cached."""
        ...

    def refresh(self, rejected: str) -> bool:
        """Drop ``rejected``; True when a new token can be fetched."""
        ...


class RatePacer:
    """Keeps a sequence of requests under the ``inin-ratelimit-*`` budget."""

    def __init__(self, reserve: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self._reserve = reserve
        self._clock = clock
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._allowed = 0
        self._reset_at = 0.0

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record the budget a response reports (ignores absent or bad headers)."""
        try:
            count = int(float(headers["inin-ratelimit-count"]))
            allowed = int(float(headers["inin-ratelimit-allowed"]))
            reset = float(headers["inin-ratelimit-reset"])
        except (KeyError, ValueError):
            return
        with self._lock:
            self._allowed = allowed
            self._remaining = allowed - count
            self._reset_at = self._clock() + max(reset, 0.0)

    def delay(self) -> float:
        """Seconds to wait before the next request (0 when the budget is ample)."""
        with self._lock:
            if self._remaining is None:
                return 0.0
            left = self._reset_at - self._clock()
            if left <= 0:
                self._remaining = None
                return 0.0
            if self._remaining <= self._reserve:
                return left
            if self._remaining * 2 < self._allowed:
                return left / self._remaining
            return 0.0

    def spend(self) -> None:
        """Count a request sent before its response arrives."""
        with self._lock:
            if self._remaining is not None:
                self._remaining -= 1


@dataclass(frozen=True)
class Reply:
    """A completed response: status, headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    data: Any = None

    @property
    def correlation_id(self) -> str | None:
        """The ``inin-correlation-id`` header."""
        return self.headers.get("inin-correlation-id")

    def error_body(self) -> Any:
        """The decoded error body, or its text (shortened) when it is not JSON."""
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError:
            return self.content[:500].decode("utf-8", "replace")


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    what: str,
    pacer: RatePacer | None = None,
    headers: Mapping[str, str] | None = None,
    decode: Callable[[bytes], Any] | None = None,
    **kwargs: Any,
) -> Reply:
    """Send one request, retrying 429, 5xx (not 501), connection errors and bad bodies.

    Parameters
    ----------
    session : requests.Session
    method, url : str
    policy : RetryPolicy
    what : str
        Short description for logs and errors (never contains credentials).
    pacer : RatePacer, optional
        Paces requests by the rate-limit headers.
    headers : mapping, optional
    decode : callable, optional
        Decodes a 2xx body into :attr:`Reply.data`; a :class:`msgspec.DecodeError`
        (not a validation error) means a truncated body and is retried.
    **kwargs
        Passed to :meth:`requests.Session.request` (``json``, ``data``, ``params``, ``auth``).

    Returns
    -------
    Reply
        Any response that is not retried (2xx, 3xx, 4xx other than 429, 501).

    Raises
    ------
    RateLimitError, ApiError
    """
    failures = 0
    limited = 0
    while True:
        if pacer is not None and policy.pace:
            wait = pacer.delay()
            if wait > 0:
                _logger.debug("pacing %s: waiting %.2f s for the rate-limit window", what, wait)
                time.sleep(wait)
            pacer.spend()
        try:
            response = session.request(
                method, url, headers=dict(headers or {}),
                timeout=(policy.connect_timeout, policy.read_timeout), **kwargs,
            )
            reply = Reply(response.status_code, response.headers, response.content)
            if decode is not None and 200 <= reply.status < 300:
                reply = Reply(reply.status, reply.headers, reply.content, decode(reply.content))
        except msgspec.ValidationError as exc:
            raise ApiError(f"{what}: unexpected response shape ({exc})",
                           status=reply.status, correlation_id=reply.correlation_id) from exc
        except (*_RETRYABLE_ERRORS, msgspec.DecodeError) as exc:
            failures += 1
            problem = "truncated body" if isinstance(exc, msgspec.DecodeError) else (
                type(exc).__name__)
            if failures > policy.retries:
                raise ApiError(f"{what}: {problem} after {policy.retries} retries") from exc
            wait = policy.delay(failures - 1)
            _logger.warning("%s: %s; retry %d/%d in %.2f s", what, problem, failures,
                            policy.retries, wait)
            time.sleep(wait)
            continue
        if pacer is not None:
            pacer.observe(reply.headers)
        if reply.status == 429:
            limited += 1
            wait = _retry_after(reply, policy)
            if wait > policy.max_retry_after:
                raise RateLimitError(
                    f"{what}: rate limited and asked to wait {wait:g} s (Retry-After), more than "
                    f"the {policy.max_retry_after:g} s cap (RetryPolicy.max_retry_after); "
                    "a daily or org-wide limit may be exhausted, try again later",
                    status=429, correlation_id=reply.correlation_id, body=reply.error_body())
            if limited > policy.rate_limit_retries:
                raise RateLimitError(
                    f"{what}: still rate limited after {policy.rate_limit_retries} retries",
                    status=429, correlation_id=reply.correlation_id, body=reply.error_body())
            _logger.warning("%s: 429 rate limited; waiting %.2f s (retry %d/%d)", what, wait,
                            limited, policy.rate_limit_retries)
            time.sleep(wait)
            continue
        if reply.status >= 500 and reply.status != 501:
            failures += 1
            if failures > policy.retries:
                raise api_error(what, reply, f" after {policy.retries} retries")
            wait = policy.delay(failures - 1)
            _logger.warning("%s: HTTP %d; retry %d/%d in %.2f s", what, reply.status, failures,
                            policy.retries, wait)
            time.sleep(wait)
            continue
        return reply


def api_error(what: str, reply: Reply, suffix: str = "") -> ApiError:
    """An :class:`ApiError` quoting the status, the API's message and the correlation id."""
    body = reply.error_body()
    message = body.get("message") if isinstance(body, dict) else None
    text = f"{what}: HTTP {reply.status}{suffix}"
    if message:
        text += f": {message}"
    if reply.correlation_id:
        text += f" (correlation id {reply.correlation_id})"
    return ApiError(text, status=reply.status, correlation_id=reply.correlation_id, body=body)


def _retry_after(reply: Reply, policy: RetryPolicy) -> float:
    value = reply.headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else policy.default_retry_after
    except ValueError:
        return policy.default_retry_after


class Transport:
    """Authenticated JSON calls to one API base URL, with retries and pacing.

    Parameters
    ----------
    base_url : str
        ``https://api.<domain>`` or a custom URL.
    tokens : TokenSource
    session : requests.Session, optional
    policy : RetryPolicy, optional
    """

    def __init__(self, base_url: str, tokens: TokenSource, *,
                 session: requests.Session | None = None,
                 policy: RetryPolicy | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.pacer = RatePacer(self.policy.pace_reserve)
        self._tokens = tokens
        self._host = urlsplit(self.base_url).netloc

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def call(self, method: str, path: str, *, decode: Callable[[bytes], Any] | None = None,
             **kwargs: Any) -> Reply:
        """Send an authenticated request to ``path`` (relative to the base URL).

        Raises
        ------
        AuthError
            When the API rejects a freshly fetched token.
        ApiError
            For any other non-2xx answer.
        """
        url = self._url(path)
        what = f"{method} {urlsplit(url).path}"
        retried = False
        while True:
            token = self._tokens.token()
            reply = send(self.session, method, url, policy=self.policy, what=what,
                         pacer=self.pacer, decode=decode, headers={
                             "Authorization": f"Bearer {token}", "User-Agent": USER_AGENT,
                             "Accept": "application/json"}, **kwargs)
            if reply.status == 401 and not retried and self._tokens.refresh(token):
                _logger.info("%s: 401, fetching a new access token once", what)
                retried = True
                continue
            if reply.status == 401:
                hint = (" even after fetching a new one; check the OAuth client's roles"
                        if retried else f"; set a fresh {ENV_ACCESS_TOKEN} or use client "
                        "credentials")
                raise AuthError(f"{what}: the access token was rejected (HTTP 401){hint}"
                                + (f" (correlation id {reply.correlation_id})"
                                   if reply.correlation_id else ""))
            if not 200 <= reply.status < 300:
                raise api_error(what, reply)
            return reply

    def _url(self, path: str) -> str:
        parts = urlsplit(path)
        if parts.scheme or parts.netloc:
            if parts.netloc != self._host:
                raise ApiError(f"refusing to send the token to another host: {parts.netloc!r}")
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)
