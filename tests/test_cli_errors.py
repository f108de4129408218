"""How the CLI reports failures: the kit's errors by their message (the traceback and the
library error that caused them with ``-vv``), anything else as a bug (exit 70, traceback);
``-vv`` output never carries a secret."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from watch_data import limited, store

from tests.orgs import ORG
from usagekit.cli import BAD_INPUT, BUG, FAILED, build_parser, main
from usagekit.dataset import open_dataset
from usagekit.engine import DuckDBEngine

COUNT = 'SELECT count(*) AS n FROM "genesysclouddb"."gc_usage_api_source"'
ROW = {"clientId": "a", "clientName": "Client a", "organizationId": "", "userId": "",
       "templateUri": "", "httpMethod": "", "status200": 9, "status300": 0, "status400": 1,
       "status500": 0, "status429": 1, "requests": 10, "date": "2026-10-01T00:00:00Z"}
CHAIN = "The above exception was the direct cause of the following exception"


def _dataset(root: Path) -> str:
    open_dataset(str(root), format="parquet", org=ORG).write(
        [ROW], granularity="month", grouping="oauthclientid", interval="2026-10-01/2026-11-01")
    return str(root)


@pytest.fixture
def corrupt(tmp_path: Path) -> str:
    """A Parquet dataset whose one data file is not Parquet (DuckDB cannot read its footer)."""
    location = _dataset(tmp_path / "usage")
    [data] = Path(location).rglob("*.parquet")
    data.write_bytes(b"PAR1 not a parquet file PAR1")
    return location


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "usagekit", *argv], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_the_exit_statuses_are_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for status in (FAILED, BAD_INPUT, BUG, 130, 141):
        assert f"\n  {status} " in out, status
    assert "internal error: a bug" in out


def test_an_unexpected_value_error_is_a_bug_not_bad_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    location = _dataset(tmp_path / "usage")

    def planted(self: DuckDBEngine, *args: object, **kwargs: object) -> None:
        raise ValueError("could not convert string to float: 'planted'")

    monkeypatch.setattr(DuckDBEngine, "sql", planted)
    assert main(["sql", COUNT, "--dataset", location]) == BUG == 70
    err = capsys.readouterr().err
    assert err.startswith("usagekit: internal error (a bug): ValueError: could not convert "
                          "string to float: 'planted'; please report it")
    assert "usagekit: error:" not in err  # not worded as the user's mistake
    assert "Traceback (most recent call last)" in err
    assert "in planted" in err and err.rstrip().endswith(
        "ValueError: could not convert string to float: 'planted'")


def test_a_bug_in_check_is_70_not_its_error_status_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import usagekit.watch

    def planted(*args: object, **kwargs: object) -> None:
        raise KeyError("planted")

    monkeypatch.setattr(usagekit.watch, "evaluate", planted)
    assert main(["check", "--dataset", _dataset(tmp_path / "usage")]) == BUG
    err = capsys.readouterr().err
    assert "internal error (a bug): KeyError: 'planted'" in err and "Traceback" in err


def test_bad_input_is_2_with_its_message_and_no_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    location = _dataset(tmp_path / "usage")
    for verbose in ([], ["-v"]):
        assert main([*verbose, "sql", COUNT, "--dataset", location, "--output", "x.xlsx"]) == 2
        err = capsys.readouterr().err
        assert err == ("usagekit: error: invalid --output 'x.xlsx': use a file name ending in "
                       ".csv or .json\n")
    assert main(["sql", COUNT, "--dataset", location, "--max-rows", "-5"]) == 2  # (was a bug)
    assert capsys.readouterr().err == ("usagekit: error: invalid --max-rows -5: expected 0 "
                                       "(all rows) or more\n")


def test_a_kit_error_names_its_cause_with_vv_only(
        corrupt: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A Parquet file DuckDB cannot read: an EngineError (1) whose cause is DuckDB's own."""
    assert main(["sql", COUNT, "--dataset", corrupt]) == FAILED
    err = capsys.readouterr().err
    assert err.startswith(f"usagekit: error: cannot read the Parquet files of the dataset at "
                          f"{Path(corrupt).resolve()}")
    assert "Traceback" not in err and err.count("\n") == 1

    assert main(["-vv", "sql", COUNT, "--dataset", corrupt]) == FAILED
    err = capsys.readouterr().err
    assert err.startswith("usagekit: error: cannot read the Parquet files")
    cause, _, effect = err.partition(CHAIN)
    assert "Traceback (most recent call last)" in cause
    assert "duckdb.Error: " in cause and "usage.parquet" in cause  # DuckDB's explanation
    assert "usagekit.exceptions.EngineError: cannot read the Parquet files" in effect


def test_check_keeps_2_for_a_kit_error_and_chains_with_vv(
        corrupt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--dataset", corrupt]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["-vv", "check", "--dataset", corrupt]) == 2
    err = capsys.readouterr().err
    assert CHAIN in err and "duckdb.Error: " in err


def test_vv_logs_the_kits_debug_and_v_its_info(tmp_path: Path) -> None:
    location = _dataset(tmp_path / "usage")
    info = _cli("-v", "analyze", "top_clients_429", "--dataset", location)
    assert info.returncode == 0, info.stderr
    assert "INFO usagekit.analyses.library: analysis top_clients_429" in info.stderr
    assert "DEBUG" not in info.stderr
    debug = _cli("-vv", "sql", COUNT, "--dataset", location)
    assert debug.returncode == 0, debug.stderr
    assert "DEBUG usagekit.engine.dialect: transpiled to DuckDB" in debug.stderr
    assert all(line.startswith(("DEBUG usagekit.", "INFO ")) for line in debug.stderr.splitlines())


def test_vv_shows_no_trino_password(tmp_path: Path) -> None:
    """A Trino coordinator that does not answer: the cause (requests/urllib3) is shown, the
    password is not."""
    pytest.importorskip("trino")
    password = "canary-trino-password-5e1f"
    run = _cli("-vv", "sql", "SELECT 1 AS x", "--engine", "trino", env={
        "USAGEKIT_TRINO_URL": f"https://alice@127.0.0.1:{_closed_port()}/hive/genesysclouddb",
        "USAGEKIT_TRINO_PASSWORD": password})
    assert run.returncode == FAILED, run.stderr
    assert run.stderr.startswith("usagekit: error: cannot reach Trino at https://alice@127.0.0.1")
    assert CHAIN in run.stderr and "Connection refused" in run.stderr
    assert password not in run.stdout + run.stderr


def test_vv_shows_no_aws_secret(tmp_path: Path) -> None:
    """An Athena endpoint that does not answer: botocore's error is the cause; its DEBUG logs
    (request headers with the session token) stay out of ``-vv``."""
    pytest.importorskip("awswrangler")
    secrets = {"AWS_SECRET_ACCESS_KEY": "canary-aws-secret-9b2d",
               "AWS_SESSION_TOKEN": "canary-aws-session-token-41aa"}
    run = _cli("-vv", "sql", "SELECT 1 AS x", "--engine", "athena", env={
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}", "AWS_MAX_ATTEMPTS": "1",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIACANARY",
        "USAGEKIT_ATHENA_OUTPUT": "s3://results/usagekit/", **secrets})
    assert run.returncode == FAILED, run.stderr
    assert "usagekit: error: cannot reach Athena: EndpointConnectionError" in run.stderr
    assert CHAIN in run.stderr and "botocore.exceptions.EndpointConnectionError" in run.stderr
    for secret in secrets.values():
        assert secret not in run.stdout + run.stderr


def test_vv_shows_no_webhook_token(tmp_path: Path) -> None:
    """A webhook that does not answer: reported by scheme and host; its path (a token) is
    in no log line, message or traceback."""
    token = "T0KEN-canary-8c3e"
    last = datetime.now(UTC).date() - timedelta(days=1)
    store(tmp_path / "usage", limited(last, "Wallboard"))
    url = f"http://127.0.0.1:{_closed_port()}/services/{token}?key={token}"
    run = _cli("-vv", "check", "--dataset", str(tmp_path / "usage"), "--notify", url,
               "--notify-retries", "1", "--notify-timeout", "2")
    assert run.returncode == 2, run.stderr
    assert "INFO usagekit.watch.notify: webhook http://127.0.0.1:" in run.stderr
    assert "connection failed (ConnectionError)" in run.stderr
    assert token not in run.stdout + run.stderr
