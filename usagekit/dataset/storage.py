"""What a storage backend provides (``local.py``, ``s3.py``): files by path below a root."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from usagekit.dataset.layout import Partition
from usagekit.dataset.schema import LOCK


class Storage(Protocol):
    """What a backend provides: files addressed by paths relative to the dataset root."""

    location: str

    def list_files(self) -> list[str]:
        """Every file under the root, relative, ``/``-separated."""

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""

    def replace(self, rel: str, data: bytes) -> None:
        """Create or replace the file atomically."""

    def delete(self, rel: str) -> None:
        """Remove the file (no error when it is gone)."""

    def url(self, rel: str) -> str:
        """The file's path or URL for other tools."""

    def prepare(self, fmt: str, partitions: Sequence[Partition]) -> None:
        """Called before files of ``partitions`` are replaced (S3: register in Glue)."""

    def forget(self, partitions: Sequence[Partition]) -> None:
        """Called after ``partitions`` were emptied."""

    def drop_legacy_table(self) -> None:
        """Before a migration (S3: drop the kit's Glue table laid out without ``org``)."""

    def lock(self, timeout: float, name: str = LOCK) -> AbstractContextManager[None]:
        """Hold the lock ``name`` (default the write lock), waiting at most ``timeout`` s.

        Released when the block ends, and also when the holding process dies.
        """
