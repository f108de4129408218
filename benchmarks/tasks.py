"""Work that runs in a fresh process (``python -m benchmarks.tasks TASK ...``).

Each task prints one JSON object as its last stdout line: its in-process timings and
whatever the harness checks. The harness measures the process's wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec


class _Response(msgspec.Struct):
    """A legacy response, rows kept as their raw bytes."""

    results: list[msgspec.Raw]


# Spelled out (not imported from benchmarks._queries): tasks must not import pandas needlessly.
GROUPING = "oauthclientid-organizationid-userid-templateuri-httpmethod"
_TASKS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {}


def _task(fn: Callable[[argparse.Namespace], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    _TASKS[fn.__name__.replace("_", "-")] = fn
    return fn


def _legacy_result(content: bytes) -> Any:
    from usagekit.fetch import UsageResult
    from usagekit.query import UsageQuery, parse_interval

    query = UsageQuery.build(parse_interval("2021-01-01/2022-01-01"), granularity="Day",
                             group_by=("OAuthClientId", "OrganizationId", "UserId",
                                       "TemplateUri", "HttpMethod"))
    return UsageResult.from_legacy_response(query, content)


@_task
def kit_ndjson(a: argparse.Namespace) -> dict[str, Any]:
    """The kit's response -> NDJSON: ``UsageResult.write_ndjson`` on the response bytes."""
    start = time.perf_counter()
    content = Path(a.src).read_bytes()
    result = _legacy_result(content)
    with open(a.out, "wb") as fp:
        rows = result.write_ndjson(fp)
    return {"inner_s": time.perf_counter() - start, "rows": rows}


@_task
def floor_ndjson(a: argparse.Namespace) -> dict[str, Any]:
    """The floor: read, validating msgspec split into raw rows, one joined write (no kit)."""
    start = time.perf_counter()
    rows = msgspec.json.decode(Path(a.src).read_bytes(), type=_Response).results
    with open(a.out, "wb") as fp:
        fp.write(b"\n".join(rows))
        fp.write(b"\n")
    return {"inner_s": time.perf_counter() - start, "rows": len(rows)}


def _kit_frame(src: str) -> Any:
    from usagekit.frame import read_ndjson

    result = _legacy_result(Path(src).read_bytes())
    return read_ndjson(result.ndjson(), granularity="day", grouping=GROUPING)


@_task
def kit_frame(a: argparse.Namespace) -> dict[str, Any]:
    """The kit's response -> typed DataFrame (the rows' bytes through ``read_ndjson``)."""
    start = time.perf_counter()
    frame = _kit_frame(a.src)
    out: dict[str, Any] = {"inner_s": time.perf_counter() - start, "rows": len(frame)}
    if a.check:
        out["equal"] = _frame_equals_lines(frame, Path(a.check))
    return out


@_task
def pandas_frame(a: argparse.Namespace) -> dict[str, Any]:
    """Plain pandas: ``json.load`` + ``pd.DataFrame(results)`` + the same dtypes."""
    import pandas as pd

    start = time.perf_counter()
    with open(a.src, "rb") as fp:
        rows = json.load(fp)["results"]
    frame = pd.DataFrame(rows)
    del rows
    for name in ("clientId", "clientName", "organizationId", "userId", "templateUri",
                 "httpMethod"):
        frame[name] = frame[name].astype("string")
    frame["date"] = pd.to_datetime(frame["date"], format="ISO8601", utc=True).astype(
        "datetime64[us, UTC]")
    return {"inner_s": time.perf_counter() - start, "rows": len(frame)}


def _frame_equals_lines(frame: Any, ndjson: Path, chunk: int = 250_000) -> bool:
    """Whether ``frame`` holds exactly the rows parsed (``json.loads``) from ``ndjson``."""
    import pandas as pd

    expected_dtypes = {"clientId": "string", "status200": "int64", "date": "datetime64[us, UTC]"}
    for name, dtype in expected_dtypes.items():
        if str(frame[name].dtype) != dtype:
            return False
    offset = 0
    with ndjson.open("rb") as fp:
        while True:
            lines = [fp.readline() for _ in range(chunk)]
            lines = [x for x in lines if x]
            if not lines:
                break
            want = pd.DataFrame([json.loads(x) for x in lines])
            got = frame.iloc[offset:offset + len(want)]
            if len(got) != len(want):
                return False
            for name in want.columns:
                g = got[name]
                if name == "date":
                    g = g.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
                if g.tolist() != want[name].tolist():
                    return False
            offset += len(want)
    return offset == len(frame)


@_task
def kit_export(a: argparse.Namespace) -> dict[str, Any]:
    """The kit's load step: each granularity's NDJSON -> ``open_dataset(...).write``.

    ``src`` is a JSON object granularity -> NDJSON path; the dataset goes to ``--out``.
    """
    from benchmarks._common import BENCH_ORG_ID
    from usagekit.dataset import open_dataset
    from usagekit.row import Org

    cfg = a.config
    org = Org(BENCH_ORG_ID, "Benchmark org (generated)", "benchmark")
    start = time.perf_counter()
    rows = 0
    for gran, path in json.loads(a.src).items():
        summary = open_dataset(a.out, format=cfg["format"], org=org).write(
            Path(path).read_bytes(), granularity=gran, grouping=GROUPING,
            interval=cfg["interval"])
        rows += summary.rows
    return {"inner_s": time.perf_counter() - start, "rows": rows}


def _time_queries(run: Callable[[Any], Any], out: Path, repeat: int) -> dict[str, Any]:
    """Each query once cold, then ``repeat`` warm runs; answers pickled into ``out``."""
    import statistics

    from benchmarks._queries import QUERIES

    timings: dict[str, Any] = {}
    out.mkdir(parents=True, exist_ok=True)
    for i, q in enumerate(QUERIES):
        t0 = time.perf_counter()
        answer = run(q)
        times = [time.perf_counter() - t0]
        if answer is None:  # no such version of this query
            continue
        answer.to_pickle(out / f"{i}.pkl")
        for _ in range(repeat):
            t0 = time.perf_counter()
            run(q)
            times.append(time.perf_counter() - t0)
        timings[q.name] = {"first_s": times[0], "median_s": statistics.median(times[1:])}
    return timings


@_task
def query_kit(a: argparse.Namespace) -> dict[str, Any]:
    """The kit: open ``DuckDBEngine`` on the dataset, run every query (cold, then warm)."""
    from benchmarks._queries import run_kit
    from usagekit.engine import DuckDBEngine

    start = time.perf_counter()
    engine = DuckDBEngine(a.src)
    opened = time.perf_counter() - start
    timings = _time_queries(lambda q: run_kit(engine, q), Path(a.out), a.config["repeat"])
    return {"open_s": opened, "queries": timings}


@_task
def query_trino(a: argparse.Namespace) -> dict[str, Any]:
    """Trino: ``TrinoEngine`` on the table at ``src`` (a ``USAGEKIT_TRINO_URL``), every query."""
    from benchmarks._queries import run_kit
    from usagekit.config import TrinoSettings
    from usagekit.engine import TrinoEngine

    start = time.perf_counter()
    engine = TrinoEngine(TrinoSettings(a.src, table=a.config["table"]))
    engine.sql("SELECT 1 AS one")
    opened = time.perf_counter() - start
    timings = _time_queries(lambda q: run_kit(engine, q), Path(a.out), a.config["repeat"])
    return {"open_s": opened, "queries": timings}


@_task
def query_pandas(a: argparse.Namespace) -> dict[str, Any]:
    """Plain pandas: ``read_parquet`` the dataset, run the pandas version of each query."""
    from benchmarks._queries import load_pandas

    start = time.perf_counter()
    df = load_pandas(a.src)
    opened = time.perf_counter() - start
    timings = _time_queries(lambda q: q.pandas(df) if q.pandas else None, Path(a.out),
                            a.config["repeat"])
    return {"open_s": opened, "queries": timings}


@_task
def explore_kit(a: argparse.Namespace) -> dict[str, Any]:
    """The kit's explorer on the dataset: open, then every click of the explore case."""
    from benchmarks._exploring import run_kit

    return run_kit(a.src, a.config["interval"], Path(a.out))


@_task
def explore_pandas(a: argparse.Namespace) -> dict[str, Any]:
    """Plain pandas: load the Parquet dataset, answer and draw the kit's selections."""
    from benchmarks._exploring import run_pandas

    return run_pandas(a.src, Path(a.check), Path(a.out))


@_task
def fetch(a: argparse.Namespace) -> dict[str, Any]:
    """A paged aggregates fetch from a rate-limited sandbox (``src``: ``kit`` or ``naive``)."""
    from benchmarks._fetching import run

    return run(a.src, a.config)


@_task
def scale_fetch(a: argparse.Namespace) -> dict[str, Any]:
    """``UsageClient.fetch`` from the sandbox at ``src`` (gzip on), a month at a time,
    counting wire bytes.

    ``--config``: ``interval``, ``group_by`` (comma-separated). Bytes on the wire are the
    bodies as sent (gzip, chunk framing left out); decoded, what the client parses. A
    response hook reads each body undecoded and hands requests the decoded bytes.
    """
    import gzip

    import requests

    from usagekit.fetch import UsageClient
    from usagekit.query import UsageQuery

    wire = {"wire": 0, "decoded": 0, "responses": 0}

    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = response.raw.read(decode_content=False)
        wire["wire"] += len(body)
        encoding = response.headers.get("Content-Encoding", "identity")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding != "identity":
            raise ValueError(f"unexpected Content-Encoding {encoding!r}; valid: gzip, identity")
        response._content = body  # what requests would have decoded
        wire["decoded"] += len(body)
        wire["responses"] += 1

    session = requests.Session()
    session.hooks["response"].append(count)
    cfg = a.config
    query = UsageQuery.build(cfg["interval"], granularity="Day",
                             group_by=cfg["group_by"].split(","))
    start = time.perf_counter()
    rows = 0
    with UsageClient(a.src, client_id=cfg["client_id"], client_secret=cfg["client_secret"],
                     session=session, progress=False) as client:
        for piece in query.months():  # as the kit fetches: a month at a time
            rows += len(client.fetch(piece))
    return {"inner_s": time.perf_counter() - start, "rows": rows, **wire}


@_task
def count_rows(a: argparse.Namespace) -> dict[str, Any]:
    """Rows stored per granularity in the dataset folder ``src`` (Parquet footers, lines)."""
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    for path in sorted(Path(a.src).rglob("*")):
        if (path.suffix not in (".parquet", ".ndjson", ".json") or not path.is_file()
                or path.name.startswith("_")):
            continue
        gran = next((part.split("=", 1)[1] for part in path.parts
                     if part.startswith("granularity=")), "unknown")
        n = (pq.ParquetFile(path).metadata.num_rows if path.suffix == ".parquet"
             else sum(1 for line in path.open("rb") if line.strip()))
        counts[gran] = counts.get(gran, 0) + n
    return {"rows": counts}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one task; print its JSON result."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.tasks")
    p.add_argument("task", choices=sorted(_TASKS))
    p.add_argument("src", help="input file or folder")
    p.add_argument("--out", help="output file")
    p.add_argument("--check", help="a reference file to compare the output with")
    p.add_argument("--config", default="{}", help="task options as JSON")
    a = p.parse_args(argv)
    a.config = json.loads(a.config)
    print(json.dumps(_TASKS[a.task](a)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
