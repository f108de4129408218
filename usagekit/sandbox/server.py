"""The HTTP/1.1 server (cheroot) and the public ``Sandbox``.

cheroot parses each request (a ``Content-Length`` or chunked body, ``Expect: 100-continue``),
keeps connections alive or closes them (``Connection: close``, HTTP/1.0) and serves them from
a thread pool. The gateway here hands every request to ``App.handle`` and writes its answer:
gzip when the client accepts it, no body for HEAD, and the transport faults (``drop``,
``truncate``, ``slow``) on the real connection. A streamed answer (a large organisation's
legacy results) goes out in the chunked transfer coding as it is generated, gzip-compressed
block by block, so neither it nor its compressed copy is ever held whole.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any

from cheroot import server as cheroot_server

from .app import App, RequestRecord, Response
from .errors import error_body
from .faults import Fault, make_fault
from .large_org import AnyOrganization, LargeOrganization, check_rows_per_day
from .tenants import OrgSpec, SandboxOrg, build_orgs, org_specs

_logger = logging.getLogger(__name__)
_MAX_BODY = 1_000_000
_THREADS = 10
_IDLE_SECONDS = 60  # how long a kept-alive connection may sit idle
_STREAM_GZIP_LEVEL = 1  # streamed bodies are hundreds of MB: level 6 would take 2-3x as long


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``q=0`` refuses, ``*`` stands in).

    Examples
    --------
    >>> accepts_gzip("gzip, deflate"), accepts_gzip("gzip;q=0, *"), accepts_gzip("identity")
    (True, False, False)
    """
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding.lower()] = weight
    return weights.get("gzip", weights.get("*", 0.0)) > 0


class _Gateway(cheroot_server.Gateway):
    """One request: the whole body in, ``App.handle``, the answer (or a fault) out."""

    req: Any  # cheroot's HTTPRequest

    def respond(self) -> None:
        """Answer ``self.req`` (called by cheroot once the request head is parsed)."""
        req = self.req
        method = req.method.decode("ascii")
        headers = {key.decode("latin-1").lower(): value.decode("latin-1")
                   for key, value in req.inheaders.items()}
        body = req.rfile.read(_MAX_BODY + 1)  # cheroot decodes chunked or Content-Length
        if len(body) > _MAX_BODY:
            payload = error_body(413, "request.entity.too.large",
                                 f"The request body exceeds {_MAX_BODY} bytes.")
            req.close_connection = True  # the rest of the body is still on the socket
            self._send(Response(413, json.dumps(payload).encode(),
                                {"Content-Type": "application/json"}), method, headers)
            return
        response = req.server.app.handle(method, req.uri.decode("latin-1"), headers, body)
        if response.delay:
            time.sleep(response.delay)
        if response.action == "drop":
            # Nothing is sent: cheroot writes no head for a request that is no longer
            # ``ready`` and closes the connection when ``close_connection`` is set.
            req.ready = False
            req.close_connection = True
            return
        self._send(response, method, headers)

    def _send(self, response: Response, method: str, headers: dict[str, str]) -> None:
        req = self.req
        payload = response.body
        out = dict(response.headers)
        out["Vary"] = "Accept-Encoding"
        if response.stream is not None:
            self._stream(response, response.stream, out,
                         accepts_gzip(headers.get("accept-encoding", "")))
            return
        if payload and accepts_gzip(headers.get("accept-encoding", "")):
            payload = gzip.compress(payload, compresslevel=6, mtime=0)
            out["Content-Encoding"] = "gzip"
        out["Content-Length"] = str(len(payload))
        if response.action == "truncate":
            req.close_connection = True  # cheroot adds ``Connection: close``
            payload = payload[: len(payload) // 2]
        req.status = f"{response.status} {HTTPStatus(response.status).phrase}".encode("ascii")
        req.outheaders.extend((key.encode("latin-1"), value.encode("latin-1"))
                              for key, value in out.items())
        req.ensure_headers_sent()
        if method != "HEAD":  # a HEAD answer announces the body but never sends it
            req.write(payload)

    def _stream(self, response: Response, blocks: Iterator[bytes], out: dict[str, str],
                gzipped: bool) -> None:
        """Send ``blocks`` chunked (cheroot frames them; HTTP/1.0 gets the body, then close).

        Only GET routes stream, so there is no HEAD case. ``truncate`` sends half of the
        first block and closes without the last chunk.
        """
        req = self.req
        compressor = zlib.compressobj(_STREAM_GZIP_LEVEL, zlib.DEFLATED, 31) if gzipped else None
        if compressor is not None:
            out["Content-Encoding"] = "gzip"
        if response.action == "truncate":
            req.close_connection = True
        req.status = f"{response.status} {HTTPStatus(response.status).phrase}".encode("ascii")
        req.outheaders.extend((key.encode("latin-1"), value.encode("latin-1"))
                              for key, value in out.items())
        req.ensure_headers_sent()
        for block in blocks:
            data = compressor.compress(block) if compressor is not None else block
            if response.action == "truncate" and data:
                req.write(data[: len(data) // 2])
                req.chunked_write = False  # cheroot must not send the last chunk
                return
            req.write(data)
        if compressor is not None:
            req.write(compressor.flush())


class _Server(cheroot_server.HTTPServer):
    """cheroot's HTTP server carrying the sandbox's ``App``, logging to the sandbox's logger."""

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, _Gateway, minthreads=_THREADS, maxthreads=_THREADS,
                         server_name="usagekit-sandbox")
        self.app = app
        self.timeout = _IDLE_SECONDS
        self.shutdown_timeout = 1
        self.expiration_interval = 0.05  # the selector's wake-up: stop() waits for one
        self.keep_alive_conn_limit = 100

    def error_log(self, msg: str = "", level: int = logging.INFO,
                  traceback: bool = False) -> None:
        """Send cheroot's messages to the ``usagekit.sandbox.server`` logger."""
        _logger.log(level, "%s", msg, exc_info=traceback)


def _in_daemon_thread(function: Callable[[], None]) -> None:
    """Run ``function`` in a daemon thread and wait; threads it starts are daemons too."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            function()
        except BaseException as exc:  # re-raised in the caller
            failure.append(exc)

    thread = threading.Thread(target=run, name="usagekit-sandbox-prepare", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


class Sandbox:
    """A stand-in for Genesys Cloud on 127.0.0.1: OAuth tokens, both usage APIs, billing.

    Serves deterministic synthetic usage of one or more fictional organisations for any UTC
    day before today; each has its own client credentials, and the access token decides
    which organisation a request sees. Use it as a context manager (serves in a background
    thread) or call :meth:`serve_forever` in the foreground.

    Parameters
    ----------
    host, port
        Where to listen; port 0 picks a free port (see :attr:`url` after :meth:`start`).
    seed
        Selects the organisations and their usage; same seed, same data.
    client_id, client_secret
        The client credentials ``POST /oauth/token`` accepts for the first organisation;
        organisation number n (from 2) has them with ``-n`` appended unless its
        :class:`~usagekit.sandbox.tenants.OrgSpec` sets its own.
    query_seconds
        How long a query/job reports ``Running`` before its results are ready.
    rate_limit, rate_window
        Requests allowed per access token (or per client at ``/oauth/token``) per window of
        ``rate_window`` seconds; more get 429 with ``Retry-After``.
    token_seconds
        Lifetime of an access token (``expires_in``).
    today
        Pin "today" (UTC) for reproducible runs; default: the real UTC date at each request.
    rows_per_day
        None (default): the small organisation of ``Organization``. An integer N from 1 to
        ``MAX_ROWS_PER_DAY`` (200,000): a ``LargeOrganization`` with N legacy day rows at full
        grouping on average (every whole week to within a row), whose legacy results are
        generated when read and streamed (one organisation only).
    orgs
        How many of :data:`~usagekit.sandbox.tenants.FICTIONAL_ORGS` to serve (default 1:
        the organisation a sandbox always served), or a sequence of
        :class:`~usagekit.sandbox.tenants.OrgSpec`. Each differs in name (saying it is
        fictional), id, region label, size and credentials; see :attr:`orgs`.

    Raises
    ------
    ValueError
        For a ``rows_per_day`` that is not such an integer, or ``orgs`` that are not valid
        (with ``rows_per_day``: more than one), naming the bad value and the valid ones.

    Examples
    --------
    >>> with Sandbox(seed=7) as sandbox:          # doctest: +SKIP
    ...     requests.post(f"{sandbox.url}/oauth/token", ...)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int = 7,
                 client_id: str = "sandbox-client", client_secret: str = "sandbox-secret",
                 query_seconds: float = 0.2, rate_limit: int = 300, rate_window: float = 60.0,
                 token_seconds: int = 86_400, today: date | None = None,
                 rows_per_day: int | None = None,
                 orgs: int | Sequence[OrgSpec] = 1) -> None:
        self.host = host
        self.seed = seed
        specs = org_specs(orgs)
        tenants = build_orgs(specs, seed=seed, client_id=client_id,
                             client_secret=client_secret)
        if rows_per_day is not None:
            if len(specs) > 1:
                raise ValueError(f"rows_per_day serves one large organisation; got orgs={orgs!r} "
                                 "(valid with rows_per_day: orgs=1)")
            large = LargeOrganization(seed, check_rows_per_day(rows_per_day))
            tenants = (SandboxOrg(tenants[0].spec, large, tenants[0].client_id,
                                  tenants[0].client_secret),)
        #: The organisations served, in order; ``orgs[0]`` is the one ``org``,
        #: ``client_id`` and ``client_secret`` name.
        self.orgs: tuple[SandboxOrg, ...] = tenants
        self.org: AnyOrganization = tenants[0].org
        self.client_id = tenants[0].client_id
        self._port = port
        self._today = today
        self._app = App(tenants, query_seconds=query_seconds, rate_limit=rate_limit,
                        rate_window=rate_window, token_seconds=token_seconds,
                        today=self.today)
        self._secret = tenants[0].client_secret
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server else f"{self.host}:{self._port} (not started)"
        return (f"Sandbox({where}, seed={self.seed}, orgs={len(self.orgs)}, "
                f"client_id={self.client_id!r})")

    # ------------------------------------------------------------ properties

    @property
    def client_secret(self) -> str:
        """The first organisation's client secret (never logged)."""
        return self._secret

    @property
    def organization_id(self) -> str:
        """The first fictional organisation's id."""
        return self.org.id

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return int(self._bind().bind_addr[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (login and API on the same host)."""
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log so far (method, path, status, fault), oldest first."""
        return self._app.requests()

    def today(self) -> date:
        """The UTC date the sandbox treats as today (no data from it on)."""
        return self._today or datetime.now(UTC).date()

    # ------------------------------------------------------------ faults

    def inject(self, kind: str, count: int = 1, route: str | None = None,
               **options: Any) -> None:
        """Make the next ``count`` matching requests misbehave.

        Parameters
        ----------
        kind
            ``rate_limit`` (429, option ``retry_after`` seconds, default 1),
            ``server_error`` (option ``status`` 500/501/502/503/504, default 503),
            ``drop`` (close the connection without a response),
            ``slow`` (option ``seconds``, default 1.0: delay the response),
            ``truncate`` (announce the full Content-Length, send half the body, close),
            ``fail_query`` (the next query/job submitted ends ``Failed``; option ``message``),
            ``cancel_query`` (the next aggregates job ends ``Cancelled``),
            ``expire_token`` (every token issued so far becomes invalid now: 401 until a
            new token is fetched; ``count`` and ``route`` are ignored).
        count
            How many requests (or submissions) the fault hits.
        route
            Only requests whose path starts with this prefix, e.g. ``/api/v2/usage/query``.

        Raises
        ------
        ValueError
            For an unknown kind or option, or a bad option value.
        """
        fault = make_fault(kind, count, route, options)
        if kind == "expire_token":
            self._app.revoke_tokens()
            return
        self._app.faults.add(fault)

    def pending_faults(self) -> list[Fault]:
        """Faults injected but not yet consumed."""
        return self._app.faults.pending()

    def clear_faults(self) -> None:
        """Forget every pending fault."""
        self._app.faults.clear()

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._app.clear_requests()

    # ------------------------------------------------------------ lifecycle

    def _bind(self) -> _Server:
        if self._server is None:
            server = _Server((self.host, self._port), self._app)
            # cheroot's worker threads take the daemon flag of the thread that prepares the
            # server: daemons, so a sandbox left running never keeps the interpreter alive.
            _in_daemon_thread(server.prepare)  # binds, listens, starts the workers
            self._server = server
        return self._server

    def start(self) -> Sandbox:
        """Serve in a background (daemon) thread; returns ``self``."""
        if self._thread is None:
            server = self._bind()
            self._thread = threading.Thread(target=server.serve, name="usagekit-sandbox",
                                            daemon=True)
            self._thread.start()
            _logger.info("sandbox serving at %s (seed %s)", self.url, self.seed)
        return self

    def serve_forever(self, ready: Callable[[Sandbox], None] | None = None) -> None:
        """Serve in the current thread until interrupted; ``ready(self)`` is called first."""
        server = self._bind()
        if ready is not None:
            ready(self)
        try:
            server.serve()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving, close every connection and release the port."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
