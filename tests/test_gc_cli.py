"""The blueprint's own client, the official Genesys Cloud CLI ``gc``, against the sandbox.

``gc`` is ``$USAGEKIT_GC``, else ``../shared/tools/gc/gc`` beside the repository (built
from gc's public source; ``tests/externals/gc.py``), and reaches the sandbox through a
gateway profile in a temporary HOME. The blueprint's steps run verbatim (its jq one-liner
piped into ``gc usage query create``, ``gc usage query results get`` until ``Complete``,
``| jq -c '.results[]' > query-result.json``) and must give what ``usagekit fetch`` gives for
the same query. gc's profiles and the kit's must be read alike: gc rewrites the file with
lower-case section names, names match whatever their case, and the ``GENESYSCLOUD_*``
variables override a profile in both. Without gc they skip, naming the paths looked at (a
``USAGEKIT_GC`` naming no executable fails them); without jq too, except in CI (``CI``
set), where a missing jq fails them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.externals import gc
from usagekit.sandbox import Sandbox

TODAY = date(2026, 11, 27)
GC_TIMEOUT = 60  # seconds for one gc call: a hung call fails the test instead of CI
GENESYS_VARS = ("GENESYSCLOUD_REGION", "GENESYSCLOUD_OAUTHCLIENT_ID",
                "GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYSCLOUD_ACCESS_TOKEN")
LEGACY_RESULTS = "/api/v2/usage/query/"
# The blueprint's one-liner (blueprint/index.md), only the interval changed and `gc` called
# by its full path ($GC).
ONE_LINER = (
    """echo {} | jq --arg interval "2026-10/2026-11" --arg granularity "Month" """
    """--argjson groupBy '["OAuthClientId"]' --argjson metrics '["Status200", "Status429"]' """
    """'.interval=$interval | if $ARGS.named.granularity != null then """
    """.granularity=$ARGS.named.granularity else . end | if $ARGS.named.groupBy != null then """
    """.groupBy=$ARGS.named.groupBy else . end | if $ARGS.named.metrics != null then """
    """.metrics=$ARGS.named.metrics else . end' | "$GC" usage query create"""
)
KIT_FETCH = ["--interval", "2026-10/2026-11", "--granularity", "Month",
             "--group-by", "OAuthClientId", "--metric", "Status200,Status429"]


def _missing(reason: str) -> NoReturn:
    """Skip for a missing tool, except in CI, where every tool must be there."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def gc_binary() -> Path:
    """``$USAGEKIT_GC`` or the shared build (skipped, saying why, when neither exists)."""
    if shutil.which("jq") is None:
        _missing("jq is not installed (.ci/run installs it)")
    try:
        return gc.find_gc()
    except gc.GcMissing as exc:
        pytest.skip(str(exc))
    except gc.GcNotExecutable as exc:
        pytest.fail(str(exc))


#: A sandbox with a fresh secret: a trace of it in output is a leak, not a coincidence. The
#: secret is only ever read from ``sandbox.client_secret`` (``Sandbox``'s repr omits it), never
#: passed to a test as an argument, which pytest would show in a failure's traceback.
SANDBOX = {"client_secret": "sb-" + secrets.token_urlsafe(24), "query_seconds": 0.5,
           "today": TODAY}


def check_no_secret(secret: str, done: subprocess.CompletedProcess[str], program: str) -> None:
    """Fail if ``secret`` is in the output, showing neither (this frame is hidden)."""
    __tracebackhide__ = True
    if secret in done.stdout + done.stderr:
        raise AssertionError(f"{program} printed the client secret")


class Gc:
    """Runs ``gc`` (and shell pipelines around it) with a gateway profile for the sandbox."""

    def __init__(self, binary: Path, home: Path, sandbox: Sandbox) -> None:
        self.binary = binary
        self.home = home
        self.sandbox = sandbox
        self.env = {key: value for key, value in os.environ.items()
                    if key not in GENESYS_VARS}  # they would override the profile
        self.env["HOME"] = str(home)

    def write_profile(self, wrong_secret: str | None = None) -> None:
        """``~/.gc/config.toml``: one profile, the sandbox as gateway, its secret or another."""
        (self.home / ".gc").mkdir(exist_ok=True)
        (self.home / ".gc" / "config.toml").write_text(
            "[DEFAULT]\n"
            'environment = "mypurecloud.com"\n'
            f'client_credentials = "{self.sandbox.client_id}"\n'
            f'client_secret = "{wrong_secret or self.sandbox.client_secret}"\n'
            'gateway_protocol = "http"\n'
            'gateway_host = "127.0.0.1"\n'
            f'gateway_port = "{self.sandbox.port}"\n'
            f'log_file_path = "{self.home / "gc.log"}"\n')  # else /tmp/GenesysCloud/gc.log

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """``gc ARGS`` in the temporary HOME; its output is checked to hold no secret."""
        done = subprocess.run([str(self.binary), *args], input=stdin, capture_output=True,
                              text=True, env=self.env, cwd=self.home, timeout=GC_TIMEOUT,
                              check=False)
        check_no_secret(self.sandbox.client_secret, done, "gc")
        return done

    def shell(self, pipeline: str) -> subprocess.CompletedProcess[str]:
        """A bash pipeline (``$GC`` is the binary) in the temporary HOME."""
        done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + pipeline],
                              capture_output=True, text=True, cwd=self.home,
                              env={**self.env, "GC": str(self.binary)}, timeout=GC_TIMEOUT,
                              check=False)
        check_no_secret(self.sandbox.client_secret, done, "gc")
        return done

    def kit(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``usagekit ARGS`` in the same HOME and environment as ``gc``; no secret shown."""
        done = subprocess.run([sys.executable, "-m", "usagekit", *args], capture_output=True,
                              text=True, env=self.env, cwd=self.home, timeout=120,
                              check=False)
        check_no_secret(self.sandbox.client_secret, done, "usagekit")
        return done

    def json(self, *args: str, stdin: str = "") -> Any:
        """``gc ARGS``, which must succeed, parsed from its pretty JSON output."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture
def cli(gc_binary: Path, sandbox: Sandbox, tmp_path: Path) -> Iterator[Gc]:
    """``gc`` logged in to the sandbox; the profile (secret, cached token) goes afterwards."""
    runner = Gc(gc_binary, tmp_path, sandbox)
    runner.write_profile()
    sandbox.clear_requests()
    try:
        yield runner
    finally:
        shutil.rmtree(tmp_path / ".gc", ignore_errors=True)


def kit_fetch(sandbox: Sandbox, *args: str) -> str:
    """``usagekit fetch ARGS -o -`` in a subprocess, configured for the sandbox by env."""
    env = {key: value for key, value in os.environ.items() if key not in GENESYS_VARS}
    env |= {"GENESYSCLOUD_REGION": sandbox.url,
            "GENESYSCLOUD_OAUTHCLIENT_ID": sandbox.client_id,
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": sandbox.client_secret}
    done = subprocess.run([sys.executable, "-m", "usagekit", "fetch", *args, "--no-progress",
                           "-o", "-"], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    check_no_secret(sandbox.client_secret, done, "usagekit fetch")
    assert done.returncode == 0, done.stderr
    return done.stdout


def poll(cli: Gc, args: tuple[str, ...], done: tuple[str, ...]) -> dict[str, Any]:
    """Repeat ``gc ARGS`` until its ``queryStatus`` is one of ``done``."""
    for _ in range(100):
        answer = cli.json(*args)
        if answer["queryStatus"] in done:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"gc {' '.join(args)} never reached {done}")


# ------------------------------------------------------------------ the blueprint's steps

@pytest.mark.slow
def test_blueprint_steps_give_the_rows_usagekit_fetch_gives(cli: Gc) -> None:
    created = cli.shell(ONE_LINER)
    assert created.returncode == 0, created.stderr
    execution = json.loads(created.stdout)
    execution_id = execution["executionId"]
    assert execution["resultsUri"] == f"{LEGACY_RESULTS}{execution_id}/results"

    cli.sandbox.inject("rate_limit", retry_after=1, route=LEGACY_RESULTS)  # gc waits, retries
    first = cli.json("usage", "query", "results", "get", execution_id)
    assert first["queryStatus"] in ("Running", "Complete")
    assert poll(cli, ("usage", "query", "results", "get", execution_id),
                ("Complete", "Failed"))["queryStatus"] == "Complete"

    flattened = cli.shell(f'"$GC" usage query results get {shlex.quote(execution_id)} '
                          "| jq -c '.results[]' > query-result.json")
    assert flattened.returncode == 0, flattened.stderr
    rows = (cli.home / "query-result.json").read_text()
    assert len(rows.splitlines()) > 10
    assert all(json.loads(line)["date"] == "2026-10-01T00:00:00Z" for line in rows.splitlines())
    assert rows == kit_fetch(cli.sandbox, *KIT_FETCH)

    log = [(r.method, r.path.removesuffix(f"/{execution_id}/results"), r.status)
           for r in cli.sandbox.requests]
    assert log[:2] == [("POST", "/oauth/token", 200), ("POST", "/api/v2/usage/query", 202)]
    assert ("GET", "/api/v2/usage/query", 429) in log  # the injected burst, waited out
    assert all(status in (200, 202, 429) for _, _, status in log)


@pytest.mark.slow
def test_aggregates_job_create_and_list(cli: Gc) -> None:
    body = {"interval": "2026-10-01/2026-10-02", "granularity": "Day",
            "groupBy": ["OauthClientId"]}
    job = cli.json("usage", "aggregates", "query", "jobs", "create", stdin=json.dumps(body))
    assert job["resultsUri"] == f"/api/v2/usage/aggregates/query/jobs/{job['id']}"
    page = poll(cli, ("usage", "aggregates", "query", "jobs", "list", job["id"]),
                ("Succeeded", "Failed", "Cancelled"))
    assert page["queryStatus"] == "Succeeded" and "nextUri" not in page  # < 100 entities
    seen = [(e["oauthClient"]["id"], f"{e['date']}T00:00:00Z", e["requestCount"],
             e["status200"], e["status429"]) for e in page["entities"]]
    kit = [json.loads(line) for line in kit_fetch(
        cli.sandbox, "--api", "aggregates", "--interval", "2026-10-01/2026-10-03",
        "--granularity", "Day", "--group-by", "OAuthClientId").splitlines()]
    assert len(seen) > 40
    assert seen == [(r["clientId"], r["date"], r["requests"], r["status200"], r["status429"])
                    for r in kit]


@pytest.mark.slow
def test_a_wrong_secret_fails_as_against_genesys_cloud(cli: Gc) -> None:
    wrong = "wrong-" + secrets.token_urlsafe(12)
    cli.write_profile(wrong_secret=wrong)
    done = cli.run("usage", "query", "results", "get", "any-id")
    check_no_secret(wrong, done, "gc")
    assert done.returncode == 1 and done.stdout == ""
    assert json.loads(done.stderr)["error"] == "invalid_client"
    assert [(r.method, r.path, r.status) for r in cli.sandbox.requests] == [
        ("POST", "/oauth/token", 401)]  # one login attempt, no retried POST


# ------------------------------------------------------------------ gc's profiles, read alike

@pytest.mark.slow
def test_the_kit_finds_the_profile_gc_renamed(cli: Gc) -> None:
    body = {"interval": "2026-10-01/2026-10-02", "granularity": "Day"}
    job = cli.json("usage", "aggregates", "query", "jobs", "create", stdin=json.dumps(body))
    config = (cli.home / ".gc" / "config.toml").read_text()
    # gc saved its token and rewrote the file: [DEFAULT] is now [default]
    assert re.findall(r"^\[(.*)\]$", config, re.M) == ["default"]
    assert "oauth_token_data" in config
    expected = kit_fetch(cli.sandbox, *KIT_FETCH)
    first_line = (f"usagekit: Genesys Cloud 127.0.0.1:{cli.sandbox.port} via gc profile "
                  "'default' (~/.gc/config.toml): ")
    for given in (["--profile", "DEFAULT"], ["--profile", "default"], ["--profile", "Default"],
                  []):  # [] : neither variables nor --profile: gc's DEFAULT profile
        listed = cli.run(*given, "usage", "aggregates", "query", "jobs", "list", job["id"])
        assert listed.returncode == 0, listed.stderr
        done = cli.kit("fetch", *given, *KIT_FETCH, "--no-progress", "-o", "-")
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected
        assert done.stderr.splitlines()[0].startswith(first_line), done.stderr
    # a name neither knows: both refuse it
    unknown = cli.run("--profile", "prod", "usage", "aggregates", "query", "jobs", "list",
                      job["id"])
    assert "profile named prod passed can not be located" in unknown.stdout + unknown.stderr
    refused = cli.kit("fetch", "--profile", "prod", *KIT_FETCH, "-o", "-")
    assert refused.returncode == 2 and "profiles there: default" in refused.stderr
    assert refused.stdout == ""


@pytest.mark.slow
def test_the_variables_override_the_profile_in_gc_and_in_the_kit(cli: Gc) -> None:
    wrong = "wrong-" + secrets.token_urlsafe(12)
    cli.env["GENESYSCLOUD_OAUTHCLIENT_SECRET"] = wrong  # over the profile's right secret
    gc_done = cli.run("--profile", "DEFAULT", "usage", "query", "results", "get", "any-id")
    kit_done = cli.kit("fetch", "--profile", "DEFAULT", *KIT_FETCH, "--no-progress", "-o", "-")
    for program, done in (("gc", gc_done), ("usagekit", kit_done)):
        check_no_secret(wrong, done, program)
        assert done.returncode != 0 and done.stdout == ""
    assert json.loads(gc_done.stderr)["error"] == "invalid_client"
    assert "rejected (HTTP 401)" in kit_done.stderr
    assert "via GENESYSCLOUD_* variables over gc profile 'DEFAULT'" in kit_done.stderr
    assert [r.status for r in cli.sandbox.requests] == [401, 401]  # one login each

    cli.write_profile(wrong_secret=wrong)  # the other way round: a stale secret in the file
    cli.env["GENESYSCLOUD_OAUTHCLIENT_SECRET"] = cli.sandbox.client_secret
    body = {"interval": "2026-10-01/2026-10-02", "granularity": "Day"}
    assert cli.json("--profile", "DEFAULT", "usage", "aggregates", "query", "jobs", "create",
                    stdin=json.dumps(body))["id"]
    done = cli.kit("fetch", "--profile", "DEFAULT", *KIT_FETCH, "--no-progress", "-o", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == kit_fetch(cli.sandbox, *KIT_FETCH)


# ------------------------------------------------------------------ which gc runs

def test_usagekit_gc_comes_before_the_shared_build(tmp_path: Path) -> None:
    installed, shared = tmp_path / "installed-gc", tmp_path / "shared" / "gc"
    shared.parent.mkdir()
    for binary in (installed, shared):
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
    assert gc.find_gc({gc.ENV_BINARY: str(installed)}, shared) == installed
    assert gc.find_gc({}, shared) == shared
    assert (gc.REPOSITORY / "pyproject.toml").is_file()  # the shared build is beside it


def test_without_either_the_reason_names_both(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "gc"
    with pytest.raises(gc.GcMissing) as info:
        gc.find_gc({}, shared)
    assert f"{gc.ENV_BINARY} is not set" in str(info.value) and str(shared) in str(info.value)
    not_executable = tmp_path / "gc"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(gc.GcNotExecutable, match=f"{gc.ENV_BINARY}=.* is not an executable"):
        gc.find_gc({gc.ENV_BINARY: str(not_executable)}, shared)
