"""The top-level CLI: sub-commands registered, exit codes, pipes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from usagekit.cli import build_parser, main

COMMANDS = ("sandbox", "fetch", "import", "sql", "analyze", "report")


def test_every_command_is_registered_with_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args([command, "--help"])
        assert done.value.code == 0
        assert f"usage: usagekit {command}" in capsys.readouterr().out


def test_bad_input_exits_2_naming_the_value(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["fetch", "--interval", "2026-13/2026-14", "-o", "-"])
    assert status == 2
    assert "2026-13" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly() -> None:
    """`usagekit analyze --list | head -1`: no traceback, the conventional status 141."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "usagekit", "analyze", "--list"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the listing is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in stderr, stderr
