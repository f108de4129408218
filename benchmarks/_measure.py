"""Time and peak memory of one fresh process; medians over repetitions."""

from __future__ import annotations

import json
import os
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

    Peak RSS comes from ``wait4``'s rusage for exactly that child (Linux ``ru_maxrss`` is KiB),
    so neither the harness nor other children count.

    Raises
    ------
    RuntimeError
        When the process exits non-zero (its stderr tail is in the message).
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as captured:
        with stdout_path.open("wb") if stdout_path else nullcontext(captured) as out:
            start = time.perf_counter()
            proc = subprocess.Popen(list(map(str, argv)), stdout=out, stderr=err,
                                    env=None if env is None else dict(env), cwd=cwd)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(map(str, argv))} exited {proc.returncode}: {tail}")
        text = ""
        if stdout_path is None:
            captured.seek(0)
            text = captured.read().decode()
    return ProcessRun(wall, usage.ru_maxrss * 1024, text)


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
