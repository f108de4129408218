"""Local-disk storage for the usage dataset: atomic file replacement by rename.

A file is replaced by writing ``.<name>.<random>.tmp`` in the same folder, flushing it to
disk, then ``os.replace`` onto the final name (atomic on POSIX and Windows): a reader opens
either the old file or the new one. A crash before the rename leaves the old file and a
hidden ``.tmp`` file that no reader globs (``*.json``/``*.parquet``) and the next write to
that folder removes.

Writers take turns with ``flock`` on ``_usagekit.lock`` in the root (see
:mod:`usagekit.dataset.lock`): the kernel releases it when the holder exits or dies, and
the holder removes the file when it is done (a waiter that then holds a removed file
locks the new one instead). A killed holder cannot remove it: opening the dataset removes a
lock file that nobody holds (:meth:`LocalStorage.clear_stale_lock`), the same way.
``flock`` needs a local file system or NFSv4; on others the lock may not exclude writers on
other machines.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from usagekit.dataset.lock import Deadline, held_too_long, holder_record
from usagekit.dataset.schema import LOCK
from usagekit.exceptions import DatasetError

_logger = logging.getLogger(__name__)


class LocalStorage:
    """Files under a local folder (created on the first write)."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.root = Path(location).expanduser().resolve()
        self.location = os.fspath(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise DatasetError(f"dataset location {self.location} is a file, not a folder")

    def list_files(self) -> list[str]:
        """Every file under the root, relative, ``/``-separated."""
        if not self.root.is_dir():
            return []
        out = []
        for folder, _dirs, names in os.walk(self.root):
            base = Path(folder).relative_to(self.root)
            out.extend((base / name).as_posix() for name in names)
        return sorted(out)

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DatasetError(f"cannot read {self.root / rel}: {exc.strerror}") from exc

    def replace(self, rel: str, data: bytes) -> None:
        """Write ``data`` to a temporary file beside ``rel``, then rename it over ``rel``."""
        target = self.root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"cannot create {target.parent}: {exc.strerror}") from exc
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        try:
            write_file(target, data)
        except OSError as exc:
            raise DatasetError(
                f"cannot write {target}: {exc.strerror or exc}; the previous file is unchanged"
            ) from exc

    def delete(self, rel: str) -> None:
        """Remove the file, and each folder above it that becomes empty (up to the root)."""
        target = self.root / rel
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise DatasetError(f"cannot delete {target}: {exc.strerror}") from exc
        for folder in target.parents:
            if folder == self.root:
                break
            try:
                folder.rmdir()
            except OSError:  # not empty (or gone): the folders above are not empty either
                break

    def url(self, rel: str) -> str:
        """The file's absolute path."""
        return os.fspath(self.root / rel)

    def prepare(self, fmt: str, partitions: Sequence[object]) -> None:
        """Nothing to register locally."""
        del fmt, partitions

    def forget(self, partitions: Sequence[object]) -> None:
        """Nothing to unregister locally."""
        del partitions

    def drop_legacy_table(self) -> None:
        """No catalog locally."""

    def clear_stale_lock(self, name: str = LOCK) -> bool:
        """Remove the lock file ``name`` when no process holds it (its writer was killed).

        Returns whether it was removed. Removed while locked, as a holder releases it, so a
        writer waiting on it locks a new file instead.
        """
        path = self.root / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not _same_file(fd, path):
                return False
            path.unlink()
        except OSError:  # held by a live writer, or not ours to remove
            return False
        finally:
            os.close(fd)
        _logger.info("removed the lock file %s that a killed writer left", path)
        return True

    @contextlib.contextmanager
    def lock(self, timeout: float, name: str = LOCK) -> Iterator[None]:
        """Hold the lock ``name`` (``flock`` on that file; default the write lock), waiting
        ``timeout`` s.

        Raises
        ------
        DatasetError
            When another writer holds it longer (naming that writer), or it cannot be made.
        """
        path = self.root / name
        created = not self.root.exists()
        fd = _acquire(path, timeout, self.location)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder_record(), 0)
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()  # while still held: a waiter on this file then retries
            os.close(fd)
            if created:  # a refused first write leaves no empty folder behind
                with contextlib.suppress(OSError):
                    self.root.rmdir()


def _acquire(path: Path, timeout: float, location: str) -> int:
    """Open and ``flock`` the lock file at ``path``; return its descriptor."""
    deadline = Deadline(timeout)
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # (again: see LocalStorage.lock)
        except OSError as exc:
            raise DatasetError(f"cannot create {path.parent}: {exc.strerror}") from exc
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise DatasetError(f"cannot create the lock file {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0)
            os.close(fd)
            if not deadline.pause():
                raise held_too_long(location, holder, timeout) from None
            continue
        except OSError as exc:
            os.close(fd)
            raise DatasetError(
                f"cannot lock {path}: {exc.strerror}; the file system must support flock "
                "(use a local folder); nothing was written"
            ) from exc
        if _same_file(fd, path):
            return fd
        os.close(fd)  # its holder removed it on release: lock the file now at that path


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[BinaryIO]:
    """A new file that replaces ``target`` whole once the block ends without an error.

    It is written as ``.<name>.<random>.tmp`` beside ``target`` (with the permissions of
    any new file), flushed to disk and renamed over ``target``: a reader opens the old file
    or the new one, never a part. A failed block removes it and leaves ``target`` as it was.
    """
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as fp:
            yield fp
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def write_file(target: Path, data: bytes) -> None:
    """Replace ``target`` by ``data`` whole (see :func:`replacing`)."""
    with replacing(target) as fp:
        fp.write(data)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        _logger.debug("fsync of %s not supported", folder)
    finally:
        os.close(fd)
