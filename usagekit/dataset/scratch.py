"""Scratch folders (spooled rows, staged partitions): removed again after a killed run.

Every folder lives in ``$TMPDIR/usagekit-<uid>/`` (made private to its user) as
``<pid>-<kind>-<random>``; its owner holds ``flock`` on the ``.owner`` file inside while it
works. The kernel releases that lock when the owner ends, also by ``kill -9``, so each later
run that makes a scratch folder, or opens a dataset, removes the folders whose lock it can
take: those of dead runs. A folder is renamed to its final name only once locked, so a run
never removes the folder of a live one.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_logger = logging.getLogger(__name__)

#: The lock file inside a scratch folder; its flock is held by the owning run.
OWNER = ".owner"
#: Seconds after which a folder that never got its final name (its run was killed while
#: making it) is removed.
_UNNAMED_AGE = 3600.0


def scratch_root() -> Path | None:
    """``$TMPDIR/usagekit-<uid>``, made if needed; None when it is not a private folder."""
    root = Path(tempfile.gettempdir()) / f"usagekit-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    try:
        info = root.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        _logger.warning("%s is not a folder of this user: scratch folders go to %s directly",
                        root, tempfile.gettempdir())
        return None
    return root


@contextlib.contextmanager
def scratch(kind: str) -> Iterator[Path]:
    """A new scratch folder for ``kind`` (``spool``, ``stage``, ...), removed on exit."""
    root = scratch_root()
    if root is None:
        with tempfile.TemporaryDirectory(prefix=f"usagekit-{kind}-") as folder:
            yield Path(folder)
        return
    sweep(root)
    making = Path(tempfile.mkdtemp(prefix=f".{os.getpid()}-{kind}-", dir=root))
    fd = os.open(making / OWNER, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        folder = making.with_name(making.name[1:])
        os.rename(making, folder)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(fd)
        shutil.rmtree(making, ignore_errors=True)  # (only if the rename failed)


def sweep(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders of runs that ended without removing them; return them."""
    root = root or scratch_root()
    if root is None:
        return []
    removed = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith("."):
            with contextlib.suppress(OSError):
                if time.time() - folder.lstat().st_mtime > _UNNAMED_AGE:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
            continue
        try:
            fd = os.open(folder / OWNER, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # its owner is removing it, or it is half removed
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its run is alive
            continue
        else:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            os.close(fd)
    if removed:
        _logger.info("removed %d scratch folder(s) of ended runs from %s", len(removed), root)
    return removed
