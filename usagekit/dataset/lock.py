"""Concurrent writers take turns: the write lock's holder record, waiting, and its errors.

Every :meth:`Dataset.write <usagekit.dataset.Dataset.write>` holds the dataset's write lock
(``_usagekit.lock`` beside the data) for the read-rebuild-switch of its partitions only,
never while rows are fetched. Each storage implements ``lock(timeout)``:

- locally (:mod:`usagekit.dataset.local`) ``flock`` on the lock file, which the kernel
  releases when the holder exits or is killed;
- on S3 (:mod:`usagekit.dataset.s3`) an object put only if absent (``IfNoneMatch='*'``)
  naming a lease that its holder renews while it writes; a lock whose lease ran out is taken
  over (``IfMatch`` on the ETag read, so one waiter wins), and every partition put is
  conditional on the ETag the write read, so a holder that lost its lock fails instead of
  overwriting.

A write that waits longer than its timeout fails with a :class:`DatasetError` naming the
dataset and the holder (host, process id, since when); nothing is written and the write can
simply be run again.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import UTC, datetime

from usagekit.exceptions import ConfigError, DatasetError

#: Seconds between two tries for a held lock (doubling up to ``_MAX_POLL``).
_FIRST_POLL = 0.02
_MAX_POLL = 0.5


def check_lock_timeout(value: float) -> float:
    """Return ``value`` if it is a usable lock timeout (seconds, >= 0), else raise ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(
            f"invalid lock timeout {value!r}: expected a number of seconds >= 0 "
            "(0: do not wait for another writer)"
        )
    return float(value)


def holder_record(since: str | None = None, lease: float | None = None) -> bytes:
    """The lock's content naming this process: host, pid, since when (UTC ISO) and its lease.

    With a lease, ``renewed`` (now) makes each renewal's content, and so its ETag, new.
    """
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    body: dict[str, object] = {"host": socket.gethostname(), "pid": os.getpid(),
                               "since": since or now}
    if lease is not None:
        body.update(lease=lease, renewed=now)
    return json.dumps(body).encode() + b"\n"


def holder_field(data: bytes | None, name: str) -> object:
    """One field of a holder record, or None when the record is missing or unreadable."""
    try:
        body = json.loads(data or b"")
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


def describe_holder(data: bytes | None) -> str:
    """``process 123 on host-a (since 2026-12-01T07:40:00Z)``, or a placeholder."""
    pid, host, since = (holder_field(data, k) for k in ("pid", "host", "since"))
    if pid is None:
        return "another process (its lock names no holder yet)"
    when = f" (since {str(since)[:19]}Z)" if isinstance(since, str) else ""
    return f"process {pid} on {host}{when}"


def held_too_long(location: str, holder: bytes | None, timeout: float) -> DatasetError:
    """The error of a write that gave up waiting for the lock."""
    return DatasetError(
        f"the dataset at {location} is being written by {describe_holder(holder)}: gave up "
        f"waiting for its write lock after {timeout:g} s; nothing was written. Run the write "
        "again once that writer has finished (stop it if it hangs: a dead writer's lock is "
        "released)"
    )


class Deadline:
    """A bounded wait: :meth:`pause` sleeps a little longer each time until the time is up."""

    def __init__(self, timeout: float) -> None:
        self._end = time.monotonic() + timeout
        self._poll = _FIRST_POLL

    def pause(self) -> bool:
        """Sleep before the next try; return False (without sleeping) when the time is up."""
        remaining = self._end - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(self._poll, remaining))
        self._poll = min(self._poll * 2, _MAX_POLL)
        return True
