"""A real single-node Trino 476 for the test suite: fetched with Maven, cached, started per run.

:func:`ensure_trino` resolves the server core tarball and the Hive and memory plugin zips
through ``mvn`` (by coordinates, into the machine's local Maven repository) and extracts them
once into ``${USAGEKIT_CACHE:-~/.cache/usagekit}/trino-476/`` with only those two plugins.
:class:`TrinoServer` writes an ``etc/`` for one run in a temporary folder, starts
``bin/launcher run`` on Java 24+ bound to 127.0.0.1 only, waits until its node is active
and stops the process group on exit. Its ``hive`` catalog is the Hive connector with a file
metastore on Trino's native local file system rooted at ``data_root`` (tables use
``local:///<path relative to data_root>``).

``python -m tests.externals.trino`` pre-warms the cache (and with ``--start`` checks a start).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.externals.cache import cache_dir, locked

VERSION = "476"
#: Maven coordinates (groupId:artifactId:version:packaging) of the server and its plugins.
SERVER_ARTIFACT = f"io.trino:trino-server-core:{VERSION}:tar.gz"
PLUGIN_ARTIFACTS: dict[str, str] = {
    "hive": f"io.trino:trino-hive:{VERSION}:zip",
    "memory": f"io.trino:trino-memory:{VERSION}:zip",
}
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
#: Trino 476 needs Java 24 or newer; the machines' default ``java`` is 17.
MIN_JAVA = 24
DEFAULT_JAVA_HOME = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
#: Written last into a finished cache folder (before it is renamed into place).
_MARKER = ".usagekit-complete"
_MVN_TIMEOUT = 1800.0


class TrinoUnavailable(RuntimeError):
    """Trino cannot be had on this machine (no Maven, no Java 24+, artifact not resolvable)."""


class TrinoStartError(RuntimeError):
    """The server was launched but died or did not answer in time (message has the log tail)."""



def trino_home() -> Path:
    """Where :func:`ensure_trino` puts the extracted server."""
    return cache_dir() / f"trino-{VERSION}"


def java_home() -> Path:
    """A JDK for Trino: ``$USAGEKIT_TRINO_JAVA_HOME`` or the Temurin 25 JDK; checked >= 24.

    Raises
    ------
    TrinoUnavailable
        No ``bin/java`` there, or it is older than :data:`MIN_JAVA`.
    """
    home = Path(os.environ.get("USAGEKIT_TRINO_JAVA_HOME") or DEFAULT_JAVA_HOME)
    java = home / "bin" / "java"
    if not java.is_file():
        raise TrinoUnavailable(f"no JDK at {home} (Trino {VERSION} needs Java {MIN_JAVA}+; "
                               "set USAGEKIT_TRINO_JAVA_HOME)")
    release = home / "release"
    text = release.read_text() if release.is_file() else ""
    match = re.search(r'^JAVA_VERSION="(\d+)', text, re.MULTILINE)
    if match is None:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True,
                             timeout=60).stderr
        match = re.search(r'version "(\d+)', out)
    if match is None or int(match.group(1)) < MIN_JAVA:
        found = match.group(1) if match else "unknown"
        raise TrinoUnavailable(f"Trino {VERSION} needs Java {MIN_JAVA}+, {home} is {found}")
    return home



def _dies_with_us() -> list[str]:
    """A command prefix that SIGKILLs the child when this process dies (``setpriv``, Linux).

    Without it a killed test run would leave mvn writing into a removed folder, or an
    orphaned Trino holding its port and heap. The signal follows the thread that started the
    child, so start servers from the main thread (pytest fixtures do).
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _mvn_copy(artifact: str, dest: Path) -> Path:
    """Resolve ``artifact`` with mvn (local repository, else the default remote) into ``dest``.

    ``dependency:copy`` goes through the local repository like ``dependency:get`` (so the
    download is cached per machine) and also copies the file out, so its path in the local
    repository (``settings.xml``, ``-Dmaven.repo.local``) never has to be guessed.
    """
    mvn = shutil.which("mvn")
    if mvn is None:
        raise TrinoUnavailable(f"no mvn on PATH: it fetches {artifact}")
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [*_dies_with_us(), mvn, "-B", "-q", "--strict-checksums", "-Dstyle.color=never",
           f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={dest}"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_MVN_TIMEOUT,
                              cwd=dest, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise TrinoUnavailable(f"mvn did not resolve {artifact} in {_MVN_TIMEOUT:g} s") from None
    _group, name, version, packaging = artifact.split(":")
    path = dest / f"{name}-{version}.{packaging}"
    if done.returncode != 0 or not path.is_file():
        output = _ANSI.sub("", done.stdout + done.stderr).strip()
        tail = "\n".join(output.splitlines()[-20:])
        raise TrinoUnavailable(f"mvn could not resolve {artifact} (exit {done.returncode}):\n"
                               f"{tail}")
    return path


def _extract_server(tarball: Path, home: Path) -> None:
    """Extract the core tarball into ``home`` without its bundled plugins."""
    with tarfile.open(tarball) as tar:
        members = []
        for member in tar.getmembers():
            parts = member.name.split("/", 1)
            rel = parts[1] if len(parts) == 2 else ""
            if not rel or rel.startswith("plugin/"):
                continue
            member.name = rel
            if member.islnk():
                member.linkname = member.linkname.split("/", 1)[-1]
            members.append(member)
        tar.extractall(home, members=members, filter="data")
    (home / "plugin").mkdir(exist_ok=True)


def _extract_plugin(archive: Path, target: Path) -> None:
    """Unzip a plugin zip (one top folder of jars) into ``target``."""
    target.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            rel = info.filename.split("/", 1)[1] if "/" in info.filename else ""
            if not rel or info.is_dir():
                continue
            if "/" in rel or rel.startswith("."):
                raise TrinoUnavailable(f"unexpected entry {info.filename} in {archive.name}")
            with zf.open(info) as src, (target / rel).open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def ensure_trino() -> Path:
    """The extracted Trino 476 (``bin/``, ``lib/``, ``plugin/{hive,memory}``); made once.

    Built in a temporary sibling folder and renamed into place under a file lock, so two
    processes never race and a killed run leaves only a temporary folder (removed by the
    next run).

    Raises
    ------
    TrinoUnavailable
        mvn is missing or cannot resolve an artifact.
    """
    home = trino_home()
    if (home / _MARKER).is_file():
        return home
    root = home.parent
    root.mkdir(parents=True, exist_ok=True)
    with locked(root / f"{home.name}.lock"):
        if (home / _MARKER).is_file():
            return home
        for stale in root.glob(f".{home.name}-*"):  # left by a killed run (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        if home.exists():  # no marker: incomplete by construction
            shutil.rmtree(home)
        work = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=root))
        try:
            downloads = work / "downloads"
            staged = work / home.name
            _extract_server(_mvn_copy(SERVER_ARTIFACT, downloads), staged)
            for plugin, artifact in PLUGIN_ARTIFACTS.items():
                archive = _mvn_copy(artifact, downloads)
                _extract_plugin(archive, staged / "plugin" / plugin)
                archive.unlink()
            (staged / _MARKER).write_text(
                f"trino-server-core {VERSION}; plugins: {', '.join(PLUGIN_ARTIFACTS)}\n")
            staged.rename(home)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return home


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _properties(values: Mapping[str, object]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def write_etc(etc: Path, *, port: int, data_dir: Path, data_root: Path, heap: str,
              query_memory: str, metastore_dir: str, c1_only: bool = True,
              hive_properties: Mapping[str, object] | None = None) -> None:
    """Write a single-node, loopback-only configuration into ``etc``."""
    (etc / "catalog").mkdir(parents=True, exist_ok=True)
    tmp = data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    (etc / "node.properties").write_text(_properties({
        "node.environment": "usagekit",
        "node.id": "usagekit",
        "node.data-dir": data_dir,
        # Bind and announce loopback only (by default Trino listens on every address and
        # talks to itself through the machine's first non-loopback one).
        "node.bind-ip": "127.0.0.1",
        "node.internal-address": "127.0.0.1",
    }))
    (etc / "jvm.config").write_text("\n".join([
        "-server",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        # C1 only: about 40% less CPU to start (15 s instead of 26 s here) for slower peak
        # speed, which the tests' small queries never reach (benchmarks turn it off).
        *(["-XX:TieredStopAtLevel=1"] if c1_only else []),
        "-XX:+ExitOnOutOfMemoryError",
        "-Djdk.attach.allowAttachSelf=true",
        "-XX:+EnableDynamicAgentLoading",
        "--enable-native-access=ALL-UNNAMED",
        "-Dfile.encoding=UTF-8",
        "-Duser.timezone=UTC",
        f"-Djava.io.tmpdir={tmp}",
    ]) + "\n")
    (etc / "config.properties").write_text(_properties({
        "coordinator": "true",
        "node-scheduler.include-coordinator": "true",
        "http-server.http.port": port,
        "discovery.uri": f"http://127.0.0.1:{port}",
        "query.max-memory-per-node": query_memory,
        "query.max-memory": query_memory,
        # One node that is its own worker: the failure detector's 500 ms heartbeats time out
        # on 2 busy cores and mark the only node failed ("NO_NODES_AVAILABLE" mid-suite, seen
        # in CI). Trino's own TestingTrinoServer turns it off for the same reason.
        "failure-detector.enabled": "false",
    }))
    (etc / "log.properties").write_text("io.trino=INFO\n")
    (etc / "catalog" / "hive.properties").write_text(_properties({
        "connector.name": "hive",
        "hive.metastore": "file",
        "hive.metastore.catalog.dir": f"local:///{metastore_dir}",
        "fs.native-local.enabled": "true",
        "local.location": data_root,
        "hive.non-managed-table-writes-enabled": "true",
        **(hive_properties or {}),
    }))
    (etc / "catalog" / "memory.properties").write_text(_properties({
        "connector.name": "memory",
        "memory.max-data-per-node": "64MB",
    }))


#: What proves the server can schedule work on its node: a table written and scanned there.
_READY_STATEMENTS = ("DROP TABLE IF EXISTS memory.default.usagekit_ready",
                     "CREATE TABLE memory.default.usagekit_ready AS SELECT 1 AS x",
                     "SELECT count(*) FROM memory.default.usagekit_ready")


class TrinoServer:
    """One Trino process for a ``with`` block: ``host``/``port`` while running.

    Parameters
    ----------
    data_root : Path
        The ``hive`` catalog's file system root (an existing folder; ``local:///x`` is
        ``data_root/x``). The file metastore lives in ``data_root/<metastore_dir>``.
    heap : str
        ``-Xmx`` (the JVM's resident size settles around half of it at idle).
    startup_timeout : float, optional
        Seconds to wait for the node to be active (default ``$USAGEKIT_TRINO_START_TIMEOUT``
        or 300: a cold start takes 25-60 s on 2 busy cores, 2 min seen under load 10).
    hive_properties : Mapping, optional
        More (or overriding) ``hive`` catalog properties.
    c1_only : bool
        Run the JVM with the C1 compiler only (faster start, lower peak speed; default).
    """

    def __init__(self, data_root: Path, *, heap: str = "1G", query_memory: str = "512MB",
                 startup_timeout: float | None = None, metastore_dir: str = "_trino_metastore",
                 port: int | None = None, c1_only: bool = True,
                 hive_properties: Mapping[str, object] | None = None) -> None:
        self.data_root = Path(data_root).resolve()
        self.heap = heap
        self.query_memory = query_memory
        self.startup_timeout = startup_timeout or float(
            os.environ.get("USAGEKIT_TRINO_START_TIMEOUT") or 300)
        self.metastore_dir = metastore_dir
        self.hive_properties = dict(hive_properties or {})
        self.c1_only = c1_only
        self.host = "127.0.0.1"
        self.port = port or 0
        self.startup_seconds: float | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.run_dir: Path | None = None
        self.log_path: Path | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> TrinoServer:
        """Launch the server and wait until its node is an active worker.

        Raises
        ------
        TrinoUnavailable
            No Java 24+ or Maven/artifacts (see :func:`ensure_trino`).
        TrinoStartError
            It exited or did not answer within ``startup_timeout`` (the log tail is in the
            message).
        """
        if not self.data_root.is_dir():
            raise NotADirectoryError(f"data_root {self.data_root} is not a folder")
        jdk = java_home()
        home = ensure_trino()
        self.run_dir = Path(tempfile.mkdtemp(prefix="usagekit-trino-"))
        self.log_path = self.run_dir / "server.log"
        self.port = self.port or free_port()
        data_dir = self.run_dir / "data"
        write_etc(self.run_dir / "etc", port=self.port, data_dir=data_dir,
                  data_root=self.data_root, heap=self.heap, query_memory=self.query_memory,
                  metastore_dir=self.metastore_dir, c1_only=self.c1_only,
                  hive_properties=self.hive_properties)
        env = {**os.environ, "JAVA_HOME": str(jdk),
               "PATH": f"{jdk / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*_dies_with_us(), str(home / "bin" / "launcher"), "run",
                 f"--etc-dir={self.run_dir / 'etc'}", f"--data-dir={data_dir}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=self.run_dir, start_new_session=True,
            )
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_ready(self, started: float) -> None:
        import trino

        assert self.process is not None
        deadline = started + self.startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise TrinoStartError(f"Trino {VERSION} exited with {code} during start-up; "
                                      f"log tail:\n{self.log_tail()}")
            try:
                conn = trino.dbapi.connect(host=self.host, port=self.port, user="usagekit",
                                           request_timeout=10, max_attempts=1)
                try:
                    cur = conn.cursor()
                    # SELECT 1 (and system tables) answer on the coordinator alone; a scan
                    # is scheduled on workers, which the scheduler learns of seconds later
                    # (before that: NO_NODES_AVAILABLE, seen in CI on the first scan). Ready
                    # means a table written and scanned on the node.
                    for statement in _READY_STATEMENTS:
                        cur.execute(statement)
                        answer = cur.fetchall()
                    if answer == [[1]]:
                        return
                finally:
                    conn.close()
            except Exception as exc:  # connection refused, SERVER_STARTING_UP, ...
                last = exc
            time.sleep(0.5)
        raise TrinoStartError(
            f"Trino {VERSION} had no active node on {self.host}:{self.port} within "
            f"{self.startup_timeout:g} s (last error: {last!r}); log tail:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout``; remove the run folder."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None

    def __enter__(self) -> TrinoServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- use -------------------------------------------------------------------------------

    def connect(self, **kwargs: Any) -> Any:
        """A ``trino.dbapi`` connection (user ``usagekit``, catalog ``hive``, UTC)."""
        import trino

        options: dict[str, Any] = {"user": "usagekit", "catalog": "hive", "timezone": "UTC",
                                   **kwargs}
        return trino.dbapi.connect(host=self.host, port=self.port, **options)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[list[Any]]:
        """Run one statement on a fresh connection; all rows."""
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            return cur.fetchall()
        finally:
            conn.close()

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's output."""
        if self.log_path is None or not self.log_path.is_file():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def rss_bytes(self) -> int | None:
        """The JVM's resident set size (Linux), while running."""
        if self.process is None:
            return None
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Pre-warm the cache; ``--start`` also starts the server once and times it."""
    parser = argparse.ArgumentParser(prog="python -m tests.externals.trino",
                                     description=main.__doc__)
    parser.add_argument("--start", action="store_true", help="start it once and time it")
    args = parser.parse_args(argv)
    began = time.monotonic()
    home = ensure_trino()
    print(f"Trino {VERSION} at {home} ({time.monotonic() - began:.1f} s)")
    if args.start:
        with tempfile.TemporaryDirectory() as root, TrinoServer(Path(root)) as server:
            rss = server.rss_bytes() or 0
            print(f"started on {server.host}:{server.port} in {server.startup_seconds:.1f} s, "
                  f"RSS {rss / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
