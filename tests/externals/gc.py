"""The official Genesys Cloud CLI ``gc`` for the tests: an installed one, or built once.

``ensure_gc()`` returns ``$USAGEKIT_GC`` when it names an executable (a ``gc`` you installed
from Genesys's releases), else the binary built on first use with ``go install
<module>@<commit>`` (``GOTOOLCHAIN=local``) into
``${USAGEKIT_CACHE:-~/.cache/usagekit}/gc-<commit>/bin/gc``. Go's module and build caches stay
at Go's defaults, so downloads and compiled packages are shared per machine. Pre-build with
``python -m tests.externals.gc`` from the repository root.

A module proxy that refuses the module (it answers "not available", 403 or 410) raises
:class:`GcUnavailable`: the build cannot succeed on that machine, whatever is retried.

Always call the returned path: Debian's ``/usr/bin/gc`` is Graphviz.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.externals.cache import cache_dir, locked

GC_MODULE = "github.com/mypurecloud/platform-client-sdk-cli/build/gc"
GC_COMMIT = "44244cc508ce74a70e669ba3f2486f0976343cbf"  # release 166.0.0, 2026-07-13
BUILD_TIMEOUT = 3600.0  # seconds; a cold build takes minutes on 2 cores
ENV_BINARY = "USAGEKIT_GC"
#: What Go prints when the module proxy refuses a module (a final answer, not a fault).
_REFUSALS = ("not available", "403 Forbidden", "410 Gone")


class GcBuildError(RuntimeError):
    """``gc`` could not be built (Go missing, the build failed or timed out)."""


class GcUnavailable(GcBuildError):
    """The module proxy refuses the ``gc`` module: no build is possible on this machine."""



def gc_path() -> Path:
    """Where the built binary lives (it may not exist yet)."""
    return cache_dir() / f"gc-{GC_COMMIT}" / "bin" / "gc"


def ensure_gc(timeout: float = BUILD_TIMEOUT) -> Path:
    """The path of the ``gc`` binary, built first if this machine has none.

    Parameters
    ----------
    timeout
        Seconds the build may take before it is stopped.

    Returns
    -------
    Path
        The executable, to be called by this full path.

    Raises
    ------
    GcUnavailable
        When the module proxy refuses the module.
    GcBuildError
        When Go is missing or the build fails or times out (the message holds the end of
        Go's output and the log file's path).
    """
    installed = os.environ.get(ENV_BINARY)
    if installed:
        if not os.access(installed, os.X_OK):
            raise GcBuildError(f"{ENV_BINARY}={installed} is not an executable gc")
        return Path(installed)
    binary = gc_path()
    if binary.is_file():
        return binary
    home = binary.parent.parent
    home.mkdir(parents=True, exist_ok=True)
    with locked(home / "build.lock"):
        if binary.is_file():  # another process built it while this one waited
            return binary
        for stale in home.glob("build-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix="build-", dir=home))
        try:
            built = _build(staging, home / "build.log", timeout)
            binary.parent.mkdir(exist_ok=True)
            os.replace(built, binary)  # atomic: the final name only ever holds a whole binary
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return binary



def _build(staging: Path, log: Path, timeout: float) -> Path:
    go = shutil.which("go")
    if go is None:
        raise GcBuildError("Go is not installed (no `go` on PATH): cannot build gc")
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOBIN": str(staging)}
    command = [go, "install", f"{GC_MODULE}@{GC_COMMIT}"]
    with log.open("w") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        try:
            done = subprocess.run(command, cwd=staging, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise GcBuildError(f"building gc took over {timeout:.0f} s; log: {log}") from None
    if done.returncode != 0 or not (staging / "gc").is_file():
        text = log.read_text(errors="replace")
        tail = "".join(text.splitlines(keepends=True)[-15:])
        if any(word in text for word in _REFUSALS):
            raise GcUnavailable(f"the Go module proxy refuses {GC_MODULE}@{GC_COMMIT[:12]}, so "
                                f"gc cannot be built here; set {ENV_BINARY} to an installed gc "
                                f"to run these tests. Go said:\n{tail}")
        raise GcBuildError(f"building gc failed (exit {done.returncode}); log: {log}\n{tail}")
    return staging / "gc"


def main() -> int:
    """Build (or find) ``gc`` and print its path; exit 1 with the reason if that fails."""
    started = time.monotonic()
    try:
        binary = ensure_gc()
    except GcBuildError as exc:
        print(f"gc: {exc}", file=sys.stderr)
        return 1
    print(f"{binary}  ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
