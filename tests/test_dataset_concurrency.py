"""Overlapping writers lose nothing: many kit processes writing one dataset at once.

Writers are real ``python -m usagekit import`` processes. Each reads its rows from a FIFO,
and the test opens every FIFO for writing before it sends any rows (an open returns once
the reader has opened it), so all of them start storing at the same moment.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import boto3
import pytest

from tests.orgs import ORG, ORG_DIR
from usagekit.dataset import open_dataset
from usagekit.dataset.s3 import S3Storage
from usagekit.dataset.schema import LOCK, MANIFEST
from usagekit.exceptions import ConfigError, DatasetError

BUCKET = "usage-data"
S3_ROOT = f"s3://{BUCKET}/usage/"
DAY = "oauthclientid"
WAIT = 180.0  # seconds any one step may take at most (a bound, not an assertion)

#: Stored before the writers start; the clearing writer removes them.
PRESTORED = "2026-08-01/2026-08-06"
#: Overlapping and disjoint intervals of October and its neighbouring months; every writer
#: stores the same rows for a day, so the outcome does not depend on their order.
WRITES = (
    "2026-10-01/2026-10-16", "2026-10-16/2026-11-01", "2026-10-10/2026-10-20",
    "2026-09-24/2026-10-04", "2026-10-26/2026-11-08", "2026-09-01/2026-09-08",
    "2026-11-20/2026-12-01", "2026-10-05/2026-10-08", "2026-08-20/2026-08-25",
)
#: No rows for an interval holding all of the month's stored rows: its partition is deleted
#: unless another writer adds rows (here Aug 20-24) first.
CLEAR = PRESTORED

HOLD = """
import sys, time
from usagekit.dataset.local import LocalStorage
from usagekit.dataset.s3 import S3Storage
where = sys.argv[1]
storage = S3Storage(where, lease=float(sys.argv[2])) if where.startswith("s3://") \\
    else LocalStorage(where)
with storage.lock(30):
    print("held", flush=True)
    time.sleep(600)
"""


def days(interval: str) -> list[date]:
    start, end = (date.fromisoformat(t) for t in interval.split("/"))
    return [start + timedelta(days=n) for n in range((end - start).days)]


def make_rows(interval: str) -> list[dict[str, object]]:
    """Two clients' rows per day; a day's rows depend on the day only."""
    rows = []
    for day in days(interval):
        rng = random.Random(day.isoformat())
        for n in range(2):
            s200, s400 = rng.randrange(500), rng.randrange(40)
            rows.append({
                "clientId": f"c-{n}", "clientName": f"Client {n}", "organizationId": "",
                "userId": "", "templateUri": "", "httpMethod": "",
                "status200": s200, "status300": 0, "status400": s400, "status500": 0,
                "status429": rng.randrange(s400 + 1), "requests": s200 + s400,
                "date": f"{day.isoformat()}T00:00:00Z",
            })
    return rows


def ndjson(rows: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in rows)


def stored(location: str) -> list[tuple[str, str, int]]:
    """Every stored row as (day, client, requests), duplicates kept."""
    frame = open_dataset(location, org=ORG).read()
    return sorted(zip(frame["date"].dt.strftime("%Y-%m-%d"), frame["clientId"],
                      frame["requests"].tolist(), strict=True))


def expect(rows: list[dict[str, object]]) -> list[tuple[str, str, int]]:
    return sorted((str(r["date"])[:10], str(r["clientId"]), int(str(r["requests"])))
                  for r in rows)


def _open_fifo(fifo: Path, proc: subprocess.Popen[bytes], deadline: float) -> int:
    """Open ``fifo`` for writing once its reader (``proc``) has opened it."""
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        else:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
            return fd
        if proc.poll() is not None:
            raise AssertionError(f"writer exited before reading: {proc.communicate()[1]!r}")
        if time.monotonic() > deadline:
            raise AssertionError(f"writer did not open {fifo} within {WAIT:g} s")
        time.sleep(0.02)


def import_at_once(location: str, jobs: list[tuple[list[str], bytes]], tmp_path: Path
                   ) -> list[tuple[int, str]]:
    """Run one ``usagekit import`` per job (its flags, its rows), all storing at once.

    Returns each process's exit status and stderr, in job order.
    """
    procs: list[tuple[subprocess.Popen[bytes], Path, bytes]] = []
    try:
        for n, (flags, data) in enumerate(jobs):
            fifo = tmp_path / f"rows-{n}.fifo"
            os.mkfifo(fifo)
            cmd = [sys.executable, "-m", "usagekit", "import", "--org", ORG.id,
                   str(fifo), "--dataset", location,
                   "--granularity", "day", "--group-by", "OAuthClientId", *flags]
            procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE), fifo, data))
        deadline = time.monotonic() + WAIT
        fds = [_open_fifo(fifo, proc, deadline) for proc, fifo, _ in procs]
        for fd, (_, _, data) in zip(fds, procs, strict=True):
            os.write(fd, data)  # a few KB: fits the pipe's buffer
        for fd in fds:
            os.close(fd)
        results = []
        for proc, _, _ in procs:
            _, err = proc.communicate(timeout=WAIT)
            results.append((proc.returncode, err.decode()))
        return results
    finally:
        for proc, _, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def holder(location: str, lease: float = 60.0) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the dataset's write lock until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, location, str(lease)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "held\n", proc.communicate(timeout=WAIT)[1]
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=WAIT)


@pytest.fixture
def s3(aws: str) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return S3_ROOT


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "s3":
        return str(request.getfixturevalue("s3"))
    return str(tmp_path / "usage")


def test_many_writers_at_once_store_every_row_exactly_once(location: str,
                                                           tmp_path: Path) -> None:
    open_dataset(location, org=ORG).write(make_rows(PRESTORED), granularity="day", grouping=DAY,
                                 interval=PRESTORED)
    jobs = [(["--interval", i], ndjson(make_rows(i))) for i in WRITES]
    jobs.append((["--interval", CLEAR], b""))
    results = import_at_once(location, jobs, tmp_path)
    assert [code for code, _ in results] == [0] * len(jobs), results
    written = sorted({day for i in WRITES for day in days(i)} - set(days(CLEAR)))
    want = expect([row for day in written for row in make_rows(f"{day}/{day + timedelta(1)}")])
    assert stored(location) == want  # each row once: none lost, none twice


def test_writers_of_two_formats_on_a_new_dataset_store_one(location: str,
                                                           tmp_path: Path) -> None:
    intervals = ["2026-10-01/2026-10-11", "2026-10-11/2026-10-21", "2026-10-21/2026-11-01",
                 "2026-11-01/2026-11-11"]
    formats = ["ndjson", "parquet", "ndjson", "parquet"]
    jobs = [(["--interval", i, "--format", f], ndjson(make_rows(i)))
            for i, f in zip(intervals, formats, strict=True)]
    results = import_at_once(location, jobs, tmp_path)
    kept = open_dataset(location, org=ORG).format
    for (code, err), fmt in zip(results, formats, strict=True):
        if fmt == kept:
            assert code == 0, err
        else:
            assert code == 1 and f"holds {kept} files, not {fmt}" in err, err
    assert stored(location) == expect([row for i, f in zip(intervals, formats, strict=True)
                                       if f == kept for row in make_rows(i)])


def test_local_lock_names_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    root = tmp_path / "usage"
    rows = make_rows("2026-10-01/2026-10-03")
    with holder(str(root)) as proc:
        ds = open_dataset(root, lock_timeout=0.3, org=ORG)
        with pytest.raises(DatasetError) as caught:
            ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-01/2026-10-03")
        message = str(caught.value)
        assert f"the dataset at {root} is being written by process {proc.pid} on" in message
        assert "after 0.3 s; nothing was written. Run the write again" in message
        assert sorted(p.name for p in root.iterdir()) == [LOCK]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=WAIT)
        assert (root / LOCK).exists()  # left behind, but no longer locked
        ds.write(rows, granularity="day", grouping=DAY, interval="2026-10-01/2026-10-03")
    assert stored(str(root)) == expect(rows)
    assert sorted(p.name for p in root.iterdir()) == [MANIFEST, ORG_DIR]


def test_s3_lock_names_a_live_holder(s3: str) -> None:
    rows = make_rows("2026-10-01/2026-10-03")
    with holder(s3, lease=60) as proc, pytest.raises(DatasetError) as caught:
        open_dataset(s3, lock_timeout=0.3, org=ORG).write(rows, granularity="day", grouping=DAY,
                                                 interval="2026-10-01/2026-10-03")
    assert f"the dataset at {s3} is being written by process {proc.pid} on" in str(caught.value)
    assert "Run the write again" in str(caught.value)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [f"usage/{LOCK}"]  # the killed holder's, until its lease runs out


def test_s3_lock_of_a_killed_holder_is_taken_over_after_its_lease(
        s3: str, caplog: pytest.LogCaptureFixture) -> None:
    rows = make_rows("2026-10-01/2026-10-03")
    with holder(s3, lease=1) as proc:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=WAIT)
    with caplog.at_level(logging.WARNING, logger="usagekit.dataset.s3"):
        open_dataset(s3, lock_timeout=WAIT, org=ORG).write(rows, granularity="day", grouping=DAY,
                                                  interval="2026-10-01/2026-10-03")
    assert f"took over the write lock of {s3} from process {proc.pid}" in caplog.text
    assert stored(s3) == expect(rows)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert f"usage/{LOCK}" not in keys


def test_s3_writer_that_lost_its_lock_fails_instead_of_overwriting(s3: str) -> None:
    first = make_rows("2026-10-01/2026-10-03")
    open_dataset(s3, org=ORG).write(first, granularity="day", grouping=DAY,
                           interval="2026-10-01/2026-10-03")
    rel = f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10/usage.json"
    later = make_rows("2026-10-10/2026-10-12")
    slow = S3Storage(s3, lease=1)
    with slow.lock(WAIT):
        assert rel in slow.list_files()
        stale = slow.read(rel)
        assert stale is not None
        # Meanwhile another writer finds the slow one's lease run out, takes the lock over,
        # stores its rows and releases the lock.
        open_dataset(s3, lock_timeout=WAIT, org=ORG).write(later, granularity="day", grouping=DAY,
                                                  interval="2026-10-10/2026-10-12")
        with pytest.raises(DatasetError, match=rf"lost the write lock of {s3}: .*lease of "
                                               r"1 s.*; run the write again"):
            slow.replace(rel, stale)
    assert stored(s3) == expect(first + later)


def test_s3_put_is_conditional_on_what_the_write_read(s3: str) -> None:
    """A writer that takes no lock (an older kit) changes a partition mid-write."""
    first = make_rows("2026-10-01/2026-10-03")
    open_dataset(s3, org=ORG).write(first, granularity="day", grouping=DAY,
                           interval="2026-10-01/2026-10-03")
    rel = f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-10/usage.json"
    other = ndjson(make_rows("2026-10-01/2026-10-05"))
    storage = S3Storage(s3)
    with storage.lock(WAIT):
        stale = storage.read(rel)
        assert stale is not None
        boto3.client("s3").put_object(Bucket=BUCKET, Key=f"usage/{rel}", Body=other)
        with pytest.raises(DatasetError, match=rf"cannot write {s3}{rel}: another writer "
                                               r"changed it since this write read it"):
            storage.replace(rel, stale)
        new = f"{ORG_DIR}/granularity=day/grouping=oauthclientid/period=2026-11/usage.json"
        boto3.client("s3").put_object(Bucket=BUCKET, Key=f"usage/{new}", Body=other)
        with pytest.raises(DatasetError, match="another writer changed it"):
            storage.replace(new, stale)  # found absent: created only if still absent
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"usage/{rel}")["Body"].read()
    assert body == other


@pytest.mark.parametrize("value", [-1, "soon", float("nan"), True])
def test_bad_lock_timeout_is_refused(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"invalid lock timeout {value!r}: expected a number "
                                          r"of seconds >= 0"):
        open_dataset(tmp_path, lock_timeout=value, org=ORG)  # type: ignore[arg-type]
