"""The official Genesys Cloud CLI ``gc`` for the tests: the one named, or the shared build.

:func:`find_gc` returns ``$USAGEKIT_GC`` when it is set (a ``gc`` you installed from
Genesys's releases), else ``<repository>/../shared/tools/gc/gc``: the CLI built from its
public source at release 166.0.0 (that folder's README says how; the Go module proxy refuses
the module, so a fresh machine does not build it). Neither: :class:`GcMissing`, whose message
says exactly which paths were looked at; a ``$USAGEKIT_GC`` naming no executable is
:class:`GcNotExecutable`.

Always call the returned path: Debian's ``/usr/bin/gc`` is Graphviz. ``gc`` writes its token
into ``$HOME/.gc/config.toml``, so run it with ``HOME`` at a temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_BINARY = "USAGEKIT_GC"
#: The repository's root (this file is ``tests/externals/gc.py``).
REPOSITORY = Path(__file__).resolve().parents[2]
#: The shared build, beside the repository.
SHARED_GC = REPOSITORY.parent / "shared" / "tools" / "gc" / "gc"


class GcMissing(RuntimeError):
    """No ``gc`` to run: ``$USAGEKIT_GC`` is unset and there is no shared build."""


class GcNotExecutable(RuntimeError):
    """``$USAGEKIT_GC`` names no executable (a mistake to fix, not a machine without gc)."""


def find_gc(env: Mapping[str, str] | None = None, shared: Path = SHARED_GC) -> Path:
    """The ``gc`` executable the tests run.

    Parameters
    ----------
    env : Mapping, optional
        Where ``USAGEKIT_GC`` is read (default ``os.environ``).
    shared : Path
        The shared build's path (default :data:`SHARED_GC`).

    Raises
    ------
    GcNotExecutable
        ``USAGEKIT_GC`` names no executable.
    GcMissing
        ``USAGEKIT_GC`` is unset and ``shared`` is not an executable.
    """
    env = os.environ if env is None else env
    named = env.get(ENV_BINARY)
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            raise GcNotExecutable(f"{ENV_BINARY}={named} is not an executable gc")
        return Path(named)
    if shared.is_file() and os.access(shared, os.X_OK):
        return shared
    raise GcMissing(f"no gc: {ENV_BINARY} is not set and there is no executable {shared} "
                    f"(see that folder's README.md, or set {ENV_BINARY} to an installed gc)")

