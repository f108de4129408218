"""The HTTP server (stdlib ``ThreadingHTTPServer``) and the public ``Sandbox``."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .app import App, RequestRecord
from .faults import Fault, make_fault
from .org import Organization

_logger = logging.getLogger(__name__)
_MAX_BODY = 1_000_000


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (e.g. timed out on a ``slow`` fault) is not an error."""
        _logger.debug("connection from %s ended abnormally", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Close every open (keep-alive) connection."""
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: _Server
    timeout = 60

    def do_GET(self) -> None:
        self._handle()

    # Every method goes through the app, so HEAD and OPTIONS get the same 405 (with
    # ``Allow``), correlation id and rate-limit headers as any unsupported method.
    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        response = self.server.app.handle(self.command, self.path, headers, body)
        if response.delay:
            time.sleep(response.delay)
        if response.action == "drop":
            self.close_connection = True
            return
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        payload = response.body
        if response.action == "truncate":
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":  # a HEAD response announces the body but never sends it
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s " + format, self.address_string(), *args)


class Sandbox:
    """A stand-in for Genesys Cloud on 127.0.0.1: OAuth tokens and both usage APIs.

    Serves deterministic synthetic usage of a fictional organisation for any UTC day before
    today. Use it as a context manager (serves in a background thread) or call
    :meth:`serve_forever` in the foreground.

    Parameters
    ----------
    host, port
        Where to listen; port 0 picks a free port (see :attr:`url` after :meth:`start`).
    seed
        Selects the organisation and its usage; same seed, same data.
    client_id, client_secret
        The client credentials ``POST /oauth/token`` accepts.
    query_seconds
        How long a query/job reports ``Running`` before its results are ready.
    rate_limit, rate_window
        Requests allowed per access token (or per client at ``/oauth/token``) per window of
        ``rate_window`` seconds; more get 429 with ``Retry-After``.
    token_seconds
        Lifetime of an access token (``expires_in``).
    today
        Pin "today" (UTC) for reproducible runs; default: the real UTC date at each request.

    Examples
    --------
    >>> with Sandbox(seed=7) as sandbox:          # doctest: +SKIP
    ...     requests.post(f"{sandbox.url}/oauth/token", ...)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int = 7,
                 client_id: str = "sandbox-client", client_secret: str = "sandbox-secret",
                 query_seconds: float = 0.2, rate_limit: int = 300, rate_window: float = 60.0,
                 token_seconds: int = 86_400, today: date | None = None) -> None:
        self.host = host
        self.seed = seed
        self.org = Organization(seed)
        self.client_id = client_id
        self._port = port
        self._today = today
        self._app = App(self.org, client_id=client_id, client_secret=client_secret,
                        query_seconds=query_seconds, rate_limit=rate_limit,
                        rate_window=rate_window, token_seconds=token_seconds,
                        today=self.today)
        self._secret = client_secret
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server else f"{self.host}:{self._port} (not started)"
        return f"Sandbox({where}, seed={self.seed}, client_id={self.client_id!r})"

    # ------------------------------------------------------------ properties

    @property
    def client_secret(self) -> str:
        """The client secret ``/oauth/token`` accepts (never logged)."""
        return self._secret

    @property
    def organization_id(self) -> str:
        """The fictional organisation's id."""
        return self.org.id

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._bind().server_address[1]

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
            self._server = _Server((self.host, self._port), self._app)
        return self._server

    def start(self) -> Sandbox:
        """Serve in a background (daemon) thread; returns ``self``."""
        if self._thread is None:
            server = self._bind()
            self._thread = threading.Thread(target=server.serve_forever, name="usagekit-sandbox",
                                             kwargs={"poll_interval": 0.1}, daemon=True)
            self._thread.start()
            _logger.info("sandbox serving at %s (seed %s)", self.url, self.seed)
        return self

    def serve_forever(self, ready: Callable[[Sandbox], None] | None = None) -> None:
        """Serve in the current thread until interrupted; ``ready(self)`` is called first."""
        server = self._bind()
        if ready is not None:
            ready(self)
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None and self._server is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._server is not None:
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
