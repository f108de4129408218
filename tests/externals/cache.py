"""The per-machine cache the outside programs of the tests are fetched or built into."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

ENV_CACHE = "USAGEKIT_CACHE"


def cache_dir() -> Path:
    """``$USAGEKIT_CACHE``, else ``~/.cache/usagekit``."""
    return Path(os.environ.get(ENV_CACHE) or "~/.cache/usagekit").expanduser()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created) for the block: one builder at a time."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
