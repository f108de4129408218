"""The official Genesys Cloud CLI ``gc``, built from source once per machine for the tests.

``ensure_gc()`` returns the binary, building it on first use into
``${USAGEKIT_CACHE:-~/.cache/usagekit}/gc-<commit>/bin/gc``. Go's module and build caches
stay at Go's defaults, so downloads and compiled packages are shared per machine. Pre-build
with ``python -m tests.externals.gc`` from the repository root (it prints the path and
how long the build took).

The build is ``go install <module>@<commit>`` with ``GOTOOLCHAIN=local``. Where the module
proxy does not serve that module, set ``USAGEKIT_GC_SOURCE`` to a git clone of
MyPureCloud/platform-client-sdk-cli that holds the commit: ``build/gc`` of that commit is
built with ``go build`` instead (its dependencies still come through the module proxy).

Always call the returned path: Debian's ``/usr/bin/gc`` is Graphviz.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

GC_MODULE = "github.com/mypurecloud/platform-client-sdk-cli/build/gc"
GC_COMMIT = "44244cc508ce74a70e669ba3f2486f0976343cbf"  # release 166.0.0, 2026-07-13
BUILD_TIMEOUT = 3600.0  # seconds; a cold build takes minutes on 2 cores
ENV_CACHE = "USAGEKIT_CACHE"
ENV_SOURCE = "USAGEKIT_GC_SOURCE"


class GcBuildError(RuntimeError):
    """``gc`` could not be built (Go missing, the build failed or timed out)."""


def cache_dir() -> Path:
    """The kit's per-machine cache: ``$USAGEKIT_CACHE`` or ``~/.cache/usagekit``."""
    return Path(os.environ.get(ENV_CACHE) or "~/.cache/usagekit").expanduser()


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
    GcBuildError
        When Go is missing or the build fails or times out (the message holds the end of
        Go's output and the log file's path).
    """
    binary = gc_path()
    if binary.is_file():
        return binary
    home = binary.parent.parent
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home / "build.lock"):
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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (waits while another process builds)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(staging: Path, log: Path, timeout: float) -> Path:
    go = shutil.which("go")
    if go is None:
        raise GcBuildError("Go is not installed (no `go` on PATH): cannot build gc")
    env = {**os.environ, "GOTOOLCHAIN": "local"}
    source = os.environ.get(ENV_SOURCE)
    if source:
        workdir = _checkout(Path(source), staging / "src")
        command = [go, "build", "-o", str(staging / "gc"), "."]
    else:
        workdir = staging
        env["GOBIN"] = str(staging)
        command = [go, "install", f"{GC_MODULE}@{GC_COMMIT}"]
    with log.open("w") as out:
        out.write(f"$ {' '.join(command)}  (in {workdir})\n")
        out.flush()
        try:
            done = subprocess.run(command, cwd=workdir, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise GcBuildError(f"building gc took over {timeout:.0f} s; log: {log}") from None
    if done.returncode != 0 or not (staging / "gc").is_file():
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        hint = ("" if source else f"\nIf the module proxy refuses {GC_MODULE}, set "
                f"{ENV_SOURCE} to a clone of MyPureCloud/platform-client-sdk-cli.")
        raise GcBuildError(f"building gc failed (exit {done.returncode}); log: {log}\n"
                           f"{tail}{hint}")
    return staging / "gc"


def _checkout(repository: Path, target: Path) -> Path:
    """Write ``build/gc`` of ``GC_COMMIT`` from a git clone into ``target``."""
    git = shutil.which("git")
    if git is None:
        raise GcBuildError(f"{ENV_SOURCE} is set but git is not installed")
    archive = subprocess.run([git, "-C", str(repository), "archive", "--format=tar",
                              f"{GC_COMMIT}:build/gc"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise GcBuildError(f"{ENV_SOURCE}={repository}: git archive of {GC_COMMIT} failed: "
                           f"{archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


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
