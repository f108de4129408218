"""Nothing is left behind by a killed writer: its scratch space and its lock file go away.

Writers are real ``python -m usagekit`` processes killed with ``SIGKILL`` part-way through a
large generated input; the next run (in this process) must remove what they left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import generate
from tests.orgs import ORG
from usagekit.cli import main
from usagekit.dataset import open_dataset
from usagekit.dataset.local import LocalStorage
from usagekit.dataset.schema import LOCK
from usagekit.dataset.scratch import scratch, scratch_root, sweep

WAIT = 120.0  # seconds a step may take at most (a bound, not an assertion)
GROUP_BY = "OrganizationId,OAuthClientId,TemplateUri,HttpMethod,UserId"
TABLE = '"genesysclouddb"."gc_usage_api_source"'


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``$TMPDIR`` for this test and the processes it starts."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def rows_file(path: Path, rows: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    generate.main(["--rows", str(rows), "--days", "120", "--format", "ndjson",
                   "--out", str(path)])
    return path


def kill_when(args: list[str], ready: Callable[[int], bool]) -> int:
    """Start ``usagekit args``, SIGKILL it as soon as ``ready(pid)``; return its pid."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "usagekit", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + WAIT
        while not ready(proc.pid):
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < end, "the writer never got there"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL
    return proc.pid


def leftovers(pid: int) -> list[str]:
    root = scratch_root()
    assert root is not None
    return sorted(p.name for p in root.iterdir() if p.name.startswith(f"{pid}-"))


def test_a_killed_export_leaves_nothing_after_the_next_run(
        tmp: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = rows_file(tmp_path / "in" / "usage.json", 150_000)
    location = tmp_path / "usage"
    args = ["import", "--org", ORG.id,
            str(source), "--dataset", str(location), "--granularity", "day",
            "--group-by", GROUP_BY]

    def staging(pid: int) -> bool:  # killed while it holds the lock and stages partitions
        return (location / LOCK).exists() and any("-stage-" in n for n in leftovers(pid))

    pid = kill_when(args, staging)
    left = leftovers(pid)
    assert any("-spool-" in n for n in left) and any("-stage-" in n for n in left)
    assert (location / LOCK).exists()

    # readers are not confused by the stale lock: every stored partition is whole
    assert main(["sql", f"SELECT count(*) AS n FROM {TABLE}", "--dataset",
                 str(location)]) == 0
    capsys.readouterr()

    small = rows_file(tmp_path / "small" / "usage.json", 2_000)
    assert main(["import", "--org", ORG.id,
                 str(small), "--dataset", str(location), "--granularity", "day",
                 "--group-by", GROUP_BY]) == 0
    assert leftovers(pid) == []
    assert not (location / LOCK).exists()
    assert [n for n in os.listdir(tmp) if "usagekit" in n] == [f"usagekit-{os.getuid()}"]
    assert os.listdir(tmp / f"usagekit-{os.getuid()}") == []


def test_a_killed_import_leaves_nothing_after_the_next_run(tmp: Path, tmp_path: Path) -> None:
    source = tmp_path / "exports"
    rows_file(source / "granularity=day" / "usage.json", 150_000)
    location = tmp_path / "usage"
    pid = kill_when(["import", "--org", ORG.id, str(source), "--dataset", str(location)],
                    lambda pid: any("-import-" in n for n in leftovers(pid)))
    assert leftovers(pid)

    open_dataset(str(location))  # the next run: opening the dataset is enough
    assert leftovers(pid) == []
    assert not (location / LOCK).exists()


def test_a_live_run_keeps_its_scratch_space(tmp: Path) -> None:
    with scratch("stage") as mine:
        (mine / "part").write_bytes(b"x")
        assert mine.name.startswith(f"{os.getpid()}-stage-")
        assert sweep() == []
        assert (mine / "part").read_bytes() == b"x"
    assert not mine.exists()


def test_a_stale_lock_is_removed_but_a_held_one_is_kept(tmp: Path, tmp_path: Path) -> None:
    location = tmp_path / "usage"
    location.mkdir()
    (location / LOCK).write_text('{"pid": 1}\n')  # left by a killed writer: nobody holds it
    open_dataset(str(location))
    assert not (location / LOCK).exists()

    with LocalStorage(str(location)).lock(1.0):
        open_dataset(str(location))
        assert (location / LOCK).exists()
    assert not (location / LOCK).exists()
