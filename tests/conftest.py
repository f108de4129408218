"""Shared fixtures: moto's server on 127.0.0.1 for S3/Glue/Athena.

Fixtures specific to one area live in that area's test modules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

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
