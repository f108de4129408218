"""What every case shares: the run context, result rows, targets, generated inputs."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import generate
from benchmarks._measure import ProcessRun, Repeated

BENCH_DIR = Path(__file__).resolve().parent
#: The organisation the generated rows are stored as (datasets keep rows per org).
BENCH_ORG_ID = "b0b0b0b0-0000-4000-8000-000000000000"
SLOW_RUN_S = 60.0  # a variant slower than this runs once (the rest of a run is unaffected)


#: The scale case's parts (``--scale-parts``): 12-vs-3 months memory, rows per second, end to end.
SCALE_PARTS: tuple[str, ...] = ("memory", "rates", "e2e")


@dataclass(frozen=True)
class Context:
    """One harness run's settings."""

    sizes: tuple[int, ...]
    repeat: int
    data_dir: Path
    work_dir: Path
    seed: int = 42
    quick: bool = False
    spec_overrides: dict[str, Any] = field(default_factory=dict)
    scale_parts: tuple[str, ...] = SCALE_PARTS

    def spec(self, rows: int) -> generate.GeneratorSpec:
        """The generator spec for ``rows`` daily rows."""
        return generate.GeneratorSpec(rows=rows, seed=self.seed, **self.spec_overrides)

    def measure(self, once: Callable[[], ProcessRun]) -> Repeated:
        """``repeat`` runs of ``once``; just one when the first took over ``SLOW_RUN_S``."""
        first = once()
        more = 0 if first.wall_s > SLOW_RUN_S else self.repeat - 1
        return Repeated([first, *(once() for _ in range(more))])


@dataclass
class Row:
    """One measured variant: a line of the results table."""

    case: str
    rows: int | None
    variant: str
    baseline: bool = False
    seconds: float | None = None
    runs: int = 0
    peak_rss_bytes: int | None = None
    vs_baseline: str = ""
    equal: bool | None = None
    notes: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Target:
    """A goal from the issue and whether this run met it."""

    name: str
    goal: str
    measured: str
    met: bool


@dataclass
class CaseResult:
    """What one case hands back."""

    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)


def per_size(ctx: Context, one_size: Callable[[Context, int], CaseResult]) -> CaseResult:
    """Run ``one_size`` for every size of the run and gather its rows and targets."""
    result = CaseResult()
    for rows in ctx.sizes:
        one = one_size(ctx, rows)
        result.rows += one.rows
        result.targets += one.targets
    return result


def to_json(results: dict[str, CaseResult], meta: dict[str, Any]) -> str:
    """The whole run as JSON."""
    return json.dumps({"meta": meta, "cases": {k: asdict(v) for k, v in results.items()}},
                      indent=2, default=str)


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


def parse_size(text: str) -> int:
    """``100k`` -> 100000, ``1M`` -> 1000000, ``2500`` -> 2500."""
    m = _SIZE.match(text.strip())
    if not m:
        raise ValueError(f"bad size {text!r}: expected a number with an optional k or M suffix")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def label(rows: int) -> str:
    """``1000000`` -> ``1M``; ``100000`` -> ``100k``."""
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if rows >= scale and rows % (scale // 10 or 1) == 0:
            value = rows / scale
            return f"{value:g}{unit}"
    return str(rows)


def inputs(ctx: Context, rows: int) -> dict[str, Path]:
    """Generated files for ``rows``: the legacy response and NDJSON per granularity.

    Cached under ``ctx.data_dir`` by spec; written to a temporary name, then renamed, so an
    interrupted run never leaves a half file behind.
    """
    spec = ctx.spec(rows)
    folder = input_folder(ctx, spec)
    paths = {"response": folder / "response.json"}
    paths |= {g: folder / f"{g}.ndjson" for g in generate.GRANULARITIES}
    if all(p.exists() for p in paths.values()):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    daily = generate.generate(spec)
    for key, path in paths.items():
        gran, fmt = ("day", "response") if key == "response" else (key, "ndjson")
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fp:
            generate.write(generate.aggregate(daily, gran), fp, fmt)
        os.replace(tmp, path)
    return paths


def input_folder(ctx: Context, spec: generate.GeneratorSpec) -> Path:
    """Where the generated files of ``spec`` are cached."""
    tag = "-".join(f"{k}{v}" for k, v in sorted(asdict(spec).items()) if k != "rows")
    return ctx.data_dir / f"rows{spec.rows}-{tag}"


def streamed_inputs(ctx: Context, spec: generate.GeneratorSpec) -> dict[str, Path]:
    """Day, week and month NDJSON of ``spec``, generated as a stream (any size, little RAM).

    The same files (and folder) as :func:`inputs`, without the legacy response.
    """
    folder = input_folder(ctx, spec)
    paths = {g: folder / f"{g}.ndjson" for g in generate.GRANULARITIES}
    if all(p.exists() for p in paths.values()):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    tmp = {g: p.with_suffix(".tmp") for g, p in paths.items()}
    files = {g: t.open("wb") for g, t in tmp.items()}
    try:
        generate.write_ndjson_files(spec, files)
    finally:
        for fp in files.values():
            fp.close()
    for g, t in tmp.items():
        os.replace(t, paths[g])
    return paths


def same_bytes(a: Path, b: Path, chunk: int = 1 << 24) -> bool:
    """Whether two files hold the same bytes."""
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            if x != y:
                return False
            if not x:
                return True


def fmt_s(seconds: float | None) -> str:
    """Seconds for the table: ms below 1 s."""
    if seconds is None:
        return ""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_bytes(n: float | None) -> str:
    """Bytes for the table, in MB (10^6) or kB."""
    if n is None:
        return ""
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.1f} kB"


def interval(ctx: Context) -> str:
    """The half-open interval the generated rows cover, e.g. ``2021-01-01/2022-01-01``."""
    spec = ctx.spec(ctx.sizes[0])
    return f"{spec.start.isoformat()}/{(spec.start + dt.timedelta(days=spec.days)).isoformat()}"


def dataset(ctx: Context, rows: int, fmt: str) -> tuple[Path, ProcessRun | None]:
    """The kit's dataset (``ndjson`` or ``parquet``) of the generated rows, all granularities.

    Written once per run by the kit's own ``Dataset.write`` in a fresh, measured process;
    later calls return the folder and None.
    """
    from benchmarks._measure import PYTHON, run_process

    root = ctx.work_dir / f"dataset-{rows}-{fmt}"
    done = root / ".complete"
    if done.exists():
        return root, None
    files = {g: str(p) for g, p in inputs(ctx, rows).items() if g in generate.GRANULARITIES}
    config = json.dumps({"format": fmt, "interval": interval(ctx)})
    run = run_process([PYTHON, "-m", "benchmarks.tasks", "kit-export", json.dumps(files),
                       "--out", root, "--config", config])
    done.touch()
    return root, run
