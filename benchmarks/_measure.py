"""Time and peak memory of one fresh process; medians over repetitions."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON = sys.executable
GNU_TIME = "/usr/bin/time"  # GNU time (Debian package ``time``), for the peak RSS
ROOT = Path(__file__).resolve().parent.parent  # tasks run as ``-m benchmarks.tasks`` here


@dataclass(frozen=True)
class ProcessRun:
    """One finished process: wall time, peak resident memory and what it printed."""

    wall_s: float
    peak_rss_bytes: int
    stdout: str

    def payload(self) -> dict[str, Any]:
        """The JSON object a task printed as its last stdout line (``{}`` if none)."""
        lines = self.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else {}


def run_process(argv: Sequence[str], *, stdout_path: Path | None = None,
                env: Mapping[str, str] | None = None, cwd: Path = ROOT) -> ProcessRun:
    """Run ``argv`` in a fresh process; measure wall time and its own peak RSS.

    Peak RSS is GNU time's ``%M`` (the ``wait4`` rusage of exactly that process and the
    children it waited for). ``wait4`` on our own child would not do: a child started with
    ``vfork``/``fork`` + ``exec`` inherits the harness's high-water mark in ``ru_maxrss``.

    Raises
    ------
    RuntimeError
        When the process exits non-zero (its stderr tail is in the message).
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as captured, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        with stdout_path.open("wb") if stdout_path else nullcontext(captured) as out:
            start = time.perf_counter()
            proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss.name, *map(str, argv)],
                                  stdout=out, stderr=err, cwd=cwd, check=False,
                                  env=None if env is None else dict(env))
            wall = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(map(str, argv))} exited {proc.returncode}: {tail}")
        peak_kib = int(rss.read().split()[-1])
        text = ""
        if stdout_path is None:
            captured.seek(0)
            text = captured.read().decode()
    return ProcessRun(wall, peak_kib * 1024, text)


@dataclass(frozen=True)
class Repeated:
    """Repetitions of one measurement, summarised by the median."""

    runs: list[ProcessRun]

    @property
    def wall_s(self) -> float:
        """Median wall time."""
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def peak_rss_bytes(self) -> int:
        """Largest peak RSS over the repetitions."""
        return max(r.peak_rss_bytes for r in self.runs)

    def median(self, key: str) -> float:
        """Median of a number each run's payload reports under ``key``."""
        return statistics.median(float(r.payload()[key]) for r in self.runs)
