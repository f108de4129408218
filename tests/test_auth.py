"""Credentials, secret hiding, token fetching, caching and renewal."""

from __future__ import annotations

import base64
import json
import pickle
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from usagekit.exceptions import AuthError, ConfigError
from usagekit.fetch import PollPolicy, UsageClient
from usagekit.fetch.auth import Credentials, Secret, TokenProvider
from usagekit.fetch.http import RetryPolicy
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

SECRET = "canary-auth-secret-91c2"
FAST = RetryPolicy(backoff=0.01, backoff_max=0.02)


SANDBOX = {"query_seconds": 0.01, "client_secret": SECRET, "token_seconds": 3600}


def test_secret_never_shows_itself() -> None:
    secret = Secret(SECRET)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>40}"):
        assert SECRET not in text
    assert secret.reveal() == SECRET
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_credentials_repr_hides_secret_and_token() -> None:
    credentials = Credentials("my-client", SECRET)  # type: ignore[arg-type]
    assert isinstance(credentials.client_secret, Secret)
    assert "my-client" in repr(credentials) and SECRET not in repr(credentials)
    token_only = Credentials(access_token="tok-" + SECRET)  # type: ignore[arg-type]
    assert SECRET not in repr(token_only) and "<hidden>" in str(token_only)


@pytest.mark.parametrize(("env", "missing"), [
    ({}, ["GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET"]),
    ({"GENESYSCLOUD_OAUTHCLIENT_ID": "abc"}, ["GENESYSCLOUD_OAUTHCLIENT_SECRET"]),
    ({"GENESYSCLOUD_OAUTHCLIENT_SECRET": SECRET}, ["GENESYSCLOUD_OAUTHCLIENT_ID"]),
])
def test_incomplete_credentials_name_the_missing_variables(env: dict[str, str],
                                                           missing: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        Credentials.from_env(env)
    for name in missing:
        assert name in str(info.value)
    assert "GENESYSCLOUD_ACCESS_TOKEN" in str(info.value) and SECRET not in str(info.value)


def test_from_env_accepts_a_token_alone() -> None:
    credentials = Credentials.from_env({"GENESYSCLOUD_ACCESS_TOKEN": " tok "})
    assert credentials.access_token == Secret("tok") and credentials.client_id is None


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.seen.append({"path": self.path, "auth": self.headers["Authorization"],
                               "type": self.headers["Content-Type"], "body": body})
        payload = json.dumps({"access_token": "t1", "token_type": "bearer",
                              "expires_in": 100}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


def test_token_request_is_basic_auth_with_the_client_credentials_form() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        provider = TokenProvider(Credentials("cid", SECRET),  # type: ignore[arg-type]
                                 f"http://127.0.0.1:{server.server_port}", policy=FAST)
        assert provider.token() == "t1"
    finally:
        server.shutdown()
        server.server_close()
    (seen,) = _Recorder.seen
    assert seen["path"] == "/oauth/token"
    assert seen["auth"] == "Basic " + base64.b64encode(f"cid:{SECRET}".encode()).decode()
    assert seen["type"] == "application/x-www-form-urlencoded"
    assert seen["body"] == b"grant_type=client_credentials"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_is_cached_until_expiry_minus_margin(sandbox: Sandbox) -> None:
    clock = FakeClock()
    provider = TokenProvider(Credentials(sandbox.client_id, SECRET),  # type: ignore[arg-type]
                             sandbox.url, policy=FAST, margin=60, clock=clock)
    first = provider.token()
    clock.now += 3600 - 61
    assert provider.token() == first and provider.fetches == 1
    clock.now += 2  # inside the 60 s margin
    second = provider.token()
    assert second != first and provider.fetches == 2
    assert provider.refresh(second) is True
    assert provider.token() != second and provider.fetches == 3


def test_client_reuses_one_token_across_requests(sandbox: Sandbox) -> None:
    sandbox.clear_requests()
    with UsageClient(sandbox.url, client_id=sandbox.client_id, client_secret=SECRET,
                     retry=FAST, poll=PollPolicy(initial=0.01), progress=False) as client:
        for _ in range(2):
            client.fetch(UsageQuery.build("2026-10-01/2026-10-03", "Day"))
    paths = [r.path for r in sandbox.requests]
    assert paths.count("/oauth/token") == 1 and len(paths) >= 5


def test_wrong_secret_is_an_auth_error_naming_the_client_not_the_secret(
        sandbox: Sandbox) -> None:
    wrong = SECRET + "-wrong"
    provider = TokenProvider(Credentials(sandbox.client_id, wrong),  # type: ignore[arg-type]
                             sandbox.url, policy=FAST)
    with pytest.raises(AuthError) as info:
        provider.token()
    message = str(info.value)
    assert sandbox.client_id in message and "401" in message and "bad client secret" in message
    assert wrong not in message and SECRET not in message


def test_access_token_alone_works_until_rejected(sandbox: Sandbox) -> None:
    fetcher = TokenProvider(Credentials(sandbox.client_id, SECRET),  # type: ignore[arg-type]
                            sandbox.url, policy=FAST)
    token = fetcher.token()
    sandbox.clear_requests()
    query = UsageQuery.build("2026-10-01/2026-10-02", "Day")
    with UsageClient(sandbox.url, access_token=token, retry=FAST,
                     poll=PollPolicy(initial=0.01), progress=False) as client:
        assert client.fetch(query).rows
        sandbox.inject("expire_token")
        with pytest.raises(AuthError, match="GENESYSCLOUD_ACCESS_TOKEN") as info:
            client.fetch(query)
    assert token not in str(info.value)
    assert "/oauth/token" not in [r.path for r in sandbox.requests]
