"""Local-disk storage for the usage dataset: atomic file replacement by rename.

A file is replaced by writing ``.<name>.<random>.tmp`` in the same folder, flushing it to
disk, then ``os.replace`` onto the final name (atomic on POSIX and Windows): a reader opens
either the old file or the new one. A crash before the rename leaves the old file and a
hidden ``.tmp`` file that no reader globs (``*.json``/``*.parquet``) and the next write to
that folder removes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

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
            raise DatasetError(f"cannot read {self.root / rel}: {exc.strerror}") from None

    def replace(self, rel: str, data: bytes) -> None:
        """Write ``data`` to a temporary file beside ``rel``, then rename it over ``rel``."""
        target = self.root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"cannot create {target.parent}: {exc.strerror}") from None
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fp:
                fp.write(data)
                fp.flush()
                os.fsync(fp.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise DatasetError(
                f"cannot write {target}: {exc.strerror or exc}; the previous file is unchanged"
            ) from None
        _fsync_dir(target.parent)

    def delete(self, rel: str) -> None:
        """Remove the file and its folder when that becomes empty."""
        target = self.root / rel
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise DatasetError(f"cannot delete {target}: {exc.strerror}") from None
        with contextlib.suppress(OSError):
            target.parent.rmdir()

    def url(self, rel: str) -> str:
        """The file's absolute path."""
        return os.fspath(self.root / rel)

    def prepare(self, fmt: str, partitions: Sequence[object]) -> None:
        """Nothing to register locally."""
        del fmt, partitions

    def forget(self, partitions: Sequence[object]) -> None:
        """Nothing to unregister locally."""
        del partitions


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
