"""Shared fixtures: the sandbox; moto's server on 127.0.0.1 for S3/Glue/Athena; one Trino 476.

Fixtures specific to one area live in that area's test modules. Under pytest-xdist
(``make test``: ``-n 2 --dist loadgroup``) each test module runs whole in one worker, the
notebooks together in one, and the Trino modules together in one
(:func:`pytest_xdist_make_scheduler`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from usagekit.config.settings import ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REGION
from usagekit.embedded import GENESYS_VARS
from usagekit.sandbox import Sandbox

# -- pytest-xdist ---------------------------------------------------------------------------

#: Modules that share a worker with other modules: one Trino per run.
XDIST_GROUPS = {"tests/test_trino.py": "trino", "tests/test_trino_server.py": "trino"}
#: The longest work units (see the README's slowest tests), handed out first so that no worker
#: is left alone with one of them at the end; the others go largest first.
XDIST_FIRST = ("tests/test_benchmarks.py", "trino", "tests/test_dataset_concurrency.py",
               "notebooks", "tests/test_report.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: a work unit per test module, per :data:`XDIST_GROUPS` group, and
    one for the notebooks.

    A module runs whole in one worker, so its module-scoped fixtures (a report run, a
    JupyterLab, a dataset) start once, as in a serial run; the notebooks (nbval) run in their
    order in one worker (they share ``data/usage``). Groups are named here, not with
    ``xdist_group`` marks, which pytest 9.2 and xdist 3.8 do not carry to the scheduler. Other
    ``--dist`` modes are xdist's own.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "notebooks" if path.endswith(".ipynb") else XDIST_GROUPS.get(path, path)

        def _assign_work_unit(self, node: Any) -> None:
            first = next((scope for scope in XDIST_FIRST if scope in self.workqueue), None)
            if first is not None:
                self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return ModuleScheduling(config, log)


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


# -- the sandbox ---------------------------------------------------------------------------

def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module with ``SANDBOX_PER_TEST = True`` gets a ``sandbox`` of its own for each test."""
    if "sandbox" in metafunc.fixturenames and getattr(metafunc.module, "SANDBOX_PER_TEST", False):
        metafunc.parametrize("sandbox", [getattr(metafunc.module, "SANDBOX", {})],
                             indirect=True, scope="function", ids=["own-sandbox"])


@pytest.fixture(scope="module")
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The sandbox on a free loopback port, shared by a module's tests.

    Its options (:class:`usagekit.sandbox.Sandbox`'s keyword arguments) are the module's
    ``SANDBOX`` dict. ``SANDBOX_PER_TEST = True`` gives each test its own (a fresh request
    log and rate limit, no fault left by another test); ``SANDBOX_IN_ENV = True`` (per test
    only) points ``GENESYSCLOUD_REGION``, ``_OAUTHCLIENT_ID`` and ``_OAUTHCLIENT_SECRET`` at it
    for the CLI, the other ``GENESYSCLOUD_*`` unset.
    """
    in_env = getattr(request.module, "SANDBOX_IN_ENV", False)
    if in_env and request.scope != "function":
        raise pytest.UsageError(f"{request.module.__name__}: SANDBOX_IN_ENV needs "
                                "SANDBOX_PER_TEST = True (the variables are set per test)")
    with Sandbox(**getattr(request.module, "SANDBOX", {})) as running, \
            pytest.MonkeyPatch.context() as mp:
        if in_env:
            for name in GENESYS_VARS:
                mp.delenv(name, raising=False)
            mp.setenv(ENV_REGION, running.url)
            mp.setenv(ENV_CLIENT_ID, running.client_id)
            mp.setenv(ENV_CLIENT_SECRET, running.client_secret)
        yield running


@pytest.fixture
def no_genesys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``GENESYSCLOUD_*`` variable: the kit falls back to the embedded sandbox."""
    for name in GENESYS_VARS:
        monkeypatch.delenv(name, raising=False)


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


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for the browser tests: skipped without it, a failure in CI."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        reason = "no Chromium: install Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    return found
