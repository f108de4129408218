"""Shared fixtures: moto's server on 127.0.0.1 for S3/Glue/Athena; one Trino 476 per session.

Fixtures specific to one area live in that area's test modules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start moto's server on a free loopback port for the session; yield its URL."""
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean moto account for one test, reached through the standard AWS environment.

    Yields the endpoint URL. State is reset before the test; ``AWS_ENDPOINT_URL`` and
    dummy credentials are set so that boto3, awswrangler and notebook kernels started
    from the test all talk to moto.
    """
    import boto3
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    for key, value in {**MOTO_ENV, "AWS_ENDPOINT_URL": moto_server}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # One default session: awswrangler otherwise rebuilds one per call (3x slower).
    boto3.setup_default_session(region_name=os.environ["AWS_DEFAULT_REGION"])
    yield moto_server
    boto3.DEFAULT_SESSION = None


# -- Trino ----------------------------------------------------------------------------------

def trino_unavailable(reason: str) -> None:
    """Skip a Trino test with ``reason``; in CI (``CI`` set) fail it instead."""
    if os.environ.get("CI"):
        pytest.fail(f"Trino is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def trino_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Trino ``hive`` catalog's file-system root (``local:///x`` is ``trino_root/x``)."""
    return tmp_path_factory.mktemp("trino-root")


@pytest.fixture(scope="session")
def trino_server(trino_root: Path) -> Iterator[Any]:
    """One Trino 476 for the whole session, on 127.0.0.1, over ``trino_root``.

    Skips (fails in CI) when the client, Maven, a Java 24+ or the artifacts are missing, or
    the server does not start.
    """
    try:
        import trino  # noqa: F401
    except ImportError:
        trino_unavailable("the trino Python client is not installed")
    from tests.externals.trino import TrinoServer, TrinoStartError, TrinoUnavailable

    server = TrinoServer(trino_root)
    try:
        server.start()
    except (TrinoUnavailable, TrinoStartError) as exc:
        trino_unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def trino_url(trino_server: Any) -> str:
    """``USAGEKIT_TRINO_URL`` for the session's server (catalog ``hive``, the kit's schema)."""
    return f"http://usagekit@{trino_server.host}:{trino_server.port}/hive/genesysclouddb"
