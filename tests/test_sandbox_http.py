"""The sandbox's HTTP/1.1 on the wire: raw sockets and ``http.client``, no HTTP library.

Chunked request bodies (how ``gc`` sends every POST), gzip only when accepted, HEAD,
keep-alive and ``Connection: close``, the empty body of a retried POST, and the transport
faults as bytes on the socket.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
import time
from datetime import date
from typing import Any

import pytest
import requests

from usagekit.fetch import PollPolicy, UsageClient
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

TODAY = date(2026, 11, 27)
LEGACY = "/api/v2/usage/query"
FORM = "application/x-www-form-urlencoded"
QUERY = {"interval": "2026-10-01/2026-10-08", "granularity": "Day",
         "groupBy": ["OAuthClientId", "HttpMethod"]}


SANDBOX = {"query_seconds": 0.05, "rate_limit": 100_000, "today": TODAY}


@pytest.fixture(scope="module")
def token(sandbox: Sandbox) -> str:
    status, _, body = exchange(sandbox, "POST", "/oauth/token", form_body(),
                               {**basic(sandbox), "Content-Type": FORM})
    assert status == 200
    return json.loads(body)["access_token"]



def form_body() -> bytes:
    return b"grant_type=client_credentials"


def basic(sandbox: Sandbox) -> dict[str, str]:
    pair = f"{sandbox.client_id}:{sandbox.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def chunked(body: bytes, size: int = 7) -> bytes:
    """``body`` in the chunked transfer coding, ``size`` bytes a chunk, then the last chunk."""
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in
                                                              headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def connect(sandbox: Sandbox) -> socket.socket:
    return socket.create_connection(("127.0.0.1", sandbox.port), timeout=10)


class Reader:
    """Reads HTTP/1.1 responses (Content-Length framed) off one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"connection closed before a response head: {self.buffer!r}"
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = raw.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers

    def body(self, length: int) -> bytes:
        while len(self.buffer) < length and self._fill():
            pass
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        return data

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status, headers = self.head()
        return status, headers, self.body(int(headers["content-length"]))

    def closed(self) -> bool:
        """Whether the peer closed the connection with nothing more to read."""
        return not self.buffer and not self._fill()


def exchange(sandbox: Sandbox, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None, *, chunk: bool = False
             ) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection (``Connection: close``); the decoded response."""
    headers = {**(headers or {}), "Connection": "close"}
    if chunk:
        headers["Transfer-Encoding"] = "chunked"
        body = chunked(body)
    elif body:
        headers["Content-Length"] = str(len(body))
    with connect(sandbox) as sock:
        sock.sendall(request_bytes(method, path, headers, body))
        return Reader(sock).response()


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def results(sandbox: Sandbox, token: str, results_uri: str) -> dict[str, Any]:
    for _ in range(200):
        status, _, body = exchange(sandbox, "GET", results_uri, headers=bearer(token))
        assert status == 200
        payload = json.loads(body)
        if payload["queryStatus"] != "Running":
            return payload
        time.sleep(0.02)
    raise AssertionError("the query never completed")


# ------------------------------------------------------------------ chunked request bodies

def test_chunked_token_post_is_answered(sandbox: Sandbox) -> None:
    status, headers, body = exchange(sandbox, "POST", "/oauth/token", form_body(),
                                     {**basic(sandbox), "Content-Type": FORM}, chunk=True)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["token_type"] == "bearer" and answer["access_token"]


def test_chunked_query_post_is_read_whole(sandbox: Sandbox, token: str) -> None:
    text = json.dumps(QUERY).encode()
    answers = [exchange(sandbox, "POST", LEGACY, text,
                        bearer(token, **{"Content-Type": "application/json"}), chunk=chunk)
               for chunk in (True, False)]
    assert [status for status, _, _ in answers] == [202, 202]
    by_chunks, by_length = (results(sandbox, token, json.loads(body)["resultsUri"])
                            for _, _, body in answers)
    assert by_chunks["queryStatus"] == "Complete" and len(by_chunks["results"]) > 7
    assert by_chunks == by_length


@pytest.mark.parametrize("path", ["/oauth/token", LEGACY, "/api/v2/usage/aggregates/query/jobs"])
def test_an_empty_chunked_post_gets_a_clear_400_at_once(sandbox: Sandbox, token: str,
                                                        path: str) -> None:
    auth = basic(sandbox) if path == "/oauth/token" else bearer(token)
    started = time.monotonic()
    status, _, body = exchange(sandbox, "POST", path, b"", auth, chunk=True)
    assert time.monotonic() - started < 5
    assert status == 400
    error = json.loads(body)
    message = error.get("message") or error.get("description")
    assert "request body is empty" in message and "retries a POST" in message
    assert ("grant_type=client_credentials" if path == "/oauth/token" else "JSON") in message


@pytest.mark.parametrize("chunk", [True, False], ids=["chunked", "content-length"])
def test_a_body_over_the_limit_gets_413_and_a_closed_connection(sandbox: Sandbox, token: str,
                                                               chunk: bool) -> None:
    sent = b"x" * 1_000_001  # one byte over; the rest is never sent, so none lies unread
    if chunk:
        framing = {"Transfer-Encoding": "chunked"}
        body = chunked(sent, 65536).removesuffix(b"0\r\n\r\n")
    else:
        framing, body = {"Content-Length": "2000000"}, sent
    with connect(sandbox) as sock:
        sock.sendall(request_bytes("POST", LEGACY, bearer(token, **framing), body))
        reader = Reader(sock)
        status, headers, answer = reader.response()
        assert status == 413 and "1000000 bytes" in json.loads(answer)["message"]
        assert headers["connection"] == "close" and reader.closed()


# ------------------------------------------------------------------ gzip

@pytest.mark.parametrize("accept", ["gzip", "deflate, gzip;q=0.5", "*"])
def test_gzip_when_accepted_decompresses_to_the_same_json(sandbox: Sandbox, token: str,
                                                          accept: str) -> None:
    uri = f"{LEGACY}/nope/results"
    plain = exchange(sandbox, "GET", uri, headers=bearer(token))
    zipped = exchange(sandbox, "GET", uri, headers=bearer(token, **{"Accept-Encoding": accept}))
    assert plain[0] == zipped[0] == 404
    assert "content-encoding" not in plain[1]
    assert zipped[1]["content-encoding"] == "gzip" and zipped[1]["vary"] == "Accept-Encoding"
    assert int(zipped[1]["content-length"]) == len(zipped[2])
    unzipped = json.loads(gzip.decompress(zipped[2]))
    assert unzipped.keys() == json.loads(plain[2]).keys()
    assert unzipped["message"] == json.loads(plain[2])["message"]


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "br", "gzip;q=0, *"])
def test_identity_unless_gzip_is_accepted(sandbox: Sandbox, token: str, accept: str) -> None:
    status, headers, body = exchange(sandbox, "GET", f"{LEGACY}/nope/results",
                                     headers=bearer(token, **{"Accept-Encoding": accept}))
    assert status == 404 and "content-encoding" not in headers
    assert json.loads(body)["code"] == "not.found"


def test_query_results_gzip_to_the_same_rows(sandbox: Sandbox, token: str) -> None:
    _, _, body = exchange(sandbox, "POST", LEGACY, json.dumps(QUERY).encode(),
                          bearer(token, **{"Content-Type": "application/json"}))
    uri = json.loads(body)["resultsUri"]
    plain = results(sandbox, token, uri)
    status, headers, zipped = exchange(sandbox, "GET", uri,
                                       headers=bearer(token, **{"Accept-Encoding": "gzip"}))
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert len(zipped) < len(json.dumps(plain)) / 3
    assert json.loads(gzip.decompress(zipped)) == plain


# ------------------------------------------------------------------ HEAD

def test_head_has_the_get_headers_and_no_body(sandbox: Sandbox, token: str) -> None:
    uri = f"{LEGACY}/nope/results"
    with connect(sandbox) as sock:
        reader = Reader(sock)
        for accept in ("identity", "gzip"):
            sock.sendall(request_bytes("HEAD", uri, bearer(token, **{"Accept-Encoding": accept})))
            head_status, head = reader.head()
            sock.sendall(request_bytes("GET", uri, bearer(token, **{"Accept-Encoding": accept})))
            status, got, body = reader.response()  # parsed right after HEAD's head: no body
            assert head_status == 405 and status == 404  # routes answer HEAD with 405
            assert int(head["content-length"]) > 0 and head["allow"] == "GET"
            assert head["content-type"] == got["content-type"] == "application/json"
            assert head.get("content-encoding") == got.get("content-encoding")
            assert {"inin-correlation-id", "inin-ratelimit-count"} <= head.keys()
            assert body


def test_http_client_reads_a_head_answer(sandbox: Sandbox, token: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=10)
    try:
        conn.request("HEAD", "/oauth/token")
        response = conn.getresponse()
        assert response.status == 405 and response.read() == b""
        assert int(response.getheader("Content-Length")) > 0
        conn.request("GET", f"{LEGACY}/nope/results", headers=bearer(token))
        assert conn.getresponse().status == 404  # same connection, still in step
    finally:
        conn.close()


# ------------------------------------------------------------------ connections

def test_keep_alive_reuses_one_connection(sandbox: Sandbox, token: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=10)
    try:
        ports = []
        for _ in range(5):
            conn.request("GET", f"{LEGACY}/nope/results", headers=bearer(token))
            response = conn.getresponse()
            assert response.status == 404 and response.read()
            assert response.getheader("Connection") is None  # HTTP/1.1: kept by default
            assert conn.sock is not None
            ports.append(conn.sock.getsockname()[1])
        assert len(set(ports)) == 1
    finally:
        conn.close()


def test_connection_close_is_answered_then_closed(sandbox: Sandbox, token: str) -> None:
    with connect(sandbox) as sock:
        sock.sendall(request_bytes("GET", f"{LEGACY}/nope/results",
                                   bearer(token, Connection="close")))
        reader = Reader(sock)
        status, headers, body = reader.response()
        assert status == 404 and json.loads(body)["code"] == "not.found"
        assert headers["connection"] == "close"
        assert reader.closed()


def test_pipelined_requests_on_one_socket(sandbox: Sandbox, token: str) -> None:
    with connect(sandbox) as sock:
        one = request_bytes("POST", "/oauth/token", {
            **basic(sandbox), "Content-Type": FORM, "Transfer-Encoding": "chunked"},
            chunked(form_body()))
        two = request_bytes("GET", f"{LEGACY}/nope/results", bearer(token))
        sock.sendall(one + two)
        reader = Reader(sock)
        assert [reader.response()[0] for _ in range(2)] == [200, 404]


# ------------------------------------------------------------------ faults on the wire

def test_drop_sends_not_one_byte(sandbox: Sandbox, token: str) -> None:
    sandbox.inject("drop", route="/api/v2/usage/query/")
    with connect(sandbox) as sock:
        sock.sendall(request_bytes("GET", f"{LEGACY}/nope/results", bearer(token)))
        assert sock.recv(65536) == b""
    assert sandbox.requests[-1].fault == "drop"


def test_truncate_announces_the_length_sends_half_and_closes(sandbox: Sandbox,
                                                             token: str) -> None:
    sandbox.inject("truncate", route="/api/v2/usage/query/")
    with connect(sandbox) as sock:
        sock.sendall(request_bytes("GET", f"{LEGACY}/nope/results",
                                   bearer(token, **{"Accept-Encoding": "gzip"})))
        reader = Reader(sock)
        status, headers = reader.head()
        announced = int(headers["content-length"])
        got = reader.body(announced)
        assert status == 404 and headers["connection"] == "close"
        assert len(got) == announced // 2 and reader.closed()


def test_kit_client_reads_gzip_answers_into_the_same_rows(sandbox: Sandbox) -> None:
    encodings: list[str] = []

    def fetch(accept: str) -> list[dict[str, Any]]:
        session = requests.Session()
        session.headers["Accept-Encoding"] = accept
        session.hooks["response"].append(
            lambda response, **_: encodings.append(
                response.headers.get("Content-Encoding", "identity")))
        with UsageClient(sandbox.url, client_id=sandbox.client_id,
                         client_secret=sandbox.client_secret, session=session,
                         poll=PollPolicy(initial=0.01), progress=False) as client:
            rows = client.fetch(UsageQuery.build("2026-10-01/2026-10-15", "Day",
                                                 ["OAuthClientId", "TemplateUri"])).rows
            rows += client.fetch(UsageQuery.build("2026-10-01/2026-10-08", "Day",
                                                  ["OAuthClientId"], api="aggregates",
                                                  page_size=100)).rows
        return rows

    zipped = fetch("gzip, deflate")
    assert set(encodings) == {"gzip"} and len(encodings) > 5  # token, submits, polls, pages
    encodings.clear()
    plain = fetch("identity")
    assert set(encodings) == {"identity"}
    assert len(zipped) > 300 and zipped == plain
