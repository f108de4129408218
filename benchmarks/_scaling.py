"""What the scale case runs: the kit's commands in fresh processes, a large sandbox process.

Every measured step is ``python -m usagekit …`` (or a task) in its own process, so its peak
RSS is GNU time's ``%M`` of that process. The sandbox runs in a process of its own
(``usagekit sandbox --rows-per-day N``), never inside the measured one; the kit reaches it
with ``GENESYSCLOUD_REGION=<its URL>`` and the sandbox's client credentials.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from benchmarks._measure import PYTHON, ROOT, ProcessRun, run_process

#: The harness's grouping (generated rows carry organizationId, see ``_queries.GROUPING``).
GROUP_BY = "OAuthClientId,OrganizationId,UserId,TemplateUri,HttpMethod"
KIT = (PYTHON, "-m", "usagekit")
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
RATE_LIMIT = 1_000_000  # throughput is measured here, not pacing (see the fetch case)
_URL = re.compile(r"serving at (http://\S+)")


def interval_text(first: dt.date, end: dt.date) -> str:
    """``first/end`` (end exclusive) as the kit's ``--interval`` takes it."""
    return f"{first.isoformat()}/{end.isoformat()}"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without ``GENESYSCLOUD_*``/``USAGEKIT_*``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GENESYSCLOUD_", "USAGEKIT_"))}
    return env | dict(extra or {})


def kit_env(url: str) -> dict[str, str]:
    """The environment pointing the kit at the sandbox at ``url``."""
    return clean_env({"GENESYSCLOUD_REGION": url, "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
                      "GENESYSCLOUD_OAUTHCLIENT_SECRET": CLIENT_SECRET})


def run_kit(args: Sequence[object], env: Mapping[str, str] | None = None) -> ProcessRun:
    """``python -m usagekit ARGS`` in a fresh, measured process."""
    return run_process([*KIT, *args], env=clean_env() if env is None else env)


def fresh(path: Path) -> Path:
    """``path``, emptied."""
    shutil.rmtree(path, ignore_errors=True)
    return path


def blueprint_folder(day_file: Path, folder: Path) -> Path:
    """A blueprint-layout source: ``folder/granularity=day/usage.json`` (a hard link)."""
    target = fresh(folder) / "granularity=day" / "usage.json"
    target.parent.mkdir(parents=True)
    try:
        os.link(day_file, target)
    except OSError:  # another file system
        shutil.copyfile(day_file, target)
    return folder


@contextmanager
def sandbox(today: dt.date, rows_per_day: int) -> Iterator[str]:
    """A ``usagekit sandbox`` process serving ``rows_per_day`` rows a day; yields its URL.

    Stopped (SIGTERM, then SIGKILL after 10 s) when the block ends.
    """
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [*KIT, "sandbox", "--port", "0", "--today", today.isoformat(),
             "--rows-per-day", str(rows_per_day), "--rate-limit", str(RATE_LIMIT),
             "--query-seconds", "0.05",
             "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
            stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT, env=clean_env())
        try:
            assert proc.stdout is not None
            url = next((m.group(1) for m in map(_URL.search, proc.stdout) if m), None)
            if url is None:
                proc.wait()
                err.seek(0)
                raise RuntimeError(f"the sandbox exited {proc.returncode} before serving: "
                                   f"{err.read()[-2000:]}")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
