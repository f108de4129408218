"""A real Trino 476 reads the kit's dataset (NDJSON and Parquet) the way DuckDB does.

Trino is the engine lineage of Athena engine 3. The dataset is written by the kit's CLI
(``fetch --dataset`` from the embedded sandbox, ``import - --format parquet``); Trino sees it
through the Hive connector (file metastore, native local file system) with the table the
kit's Glue schema describes, and the blueprint's query and per-client sums must equal what
``usagekit sql`` (DuckDB) answers over the same files.

In CI (``CI`` set) a Trino that cannot be had fails; elsewhere it skips with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.externals.trino import TrinoServer
from usagekit.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
BLUEPRINT = ('SELECT * FROM "genesysclouddb"."gc_usage_api_source" '
             "WHERE granularity='month' ORDER BY status429 DESC limit 10")
#: The README's per-client query, verbatim, with ``?`` bound to ``day``.
PER_CLIENT = ("SELECT clientid, sum(requests) AS r FROM genesysclouddb.gc_usage_api_source "
              "WHERE granularity = ? GROUP BY 1")
SUMS = ('SELECT granularity, "grouping", clientid, sum(requests) AS r, sum(status429) AS s429 '
        "FROM genesysclouddb.gc_usage_api_source GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
WEEKS = ("SELECT date_trunc('week', from_iso8601_timestamp(\"date\")) AS w, sum(requests) AS r "
         "FROM genesysclouddb.gc_usage_api_source WHERE granularity = 'day' "
         "AND \"grouping\" = 'oauthclientid-templateuri' GROUP BY 1 ORDER BY 1")
#: (fetch flags, import flags) for each grouping the dataset gets.
FETCHES = [
    (["--interval", "2026-10-01/2026-11-01", "--granularity", "Day",
      "--group-by", "OAuthClientId,TemplateUri"],
     ["--interval", "2026-10-01/2026-11-01", "--granularity", "day",
      "--group-by", "OAuthClientId,TemplateUri"]),
    (["--interval", "2026-10-01/2026-11-01", "--granularity", "Day", "--api", "aggregates",
      "--group-by", "OAuthClientId,Platform"],
     ["--interval", "2026-10-01/2026-11-01", "--granularity", "day",
      "--group-by", "OAuthClientId,Platform"]),
    (["--interval", "2026-09-28/2026-11-02", "--granularity", "Week",
      "--group-by", "OAuthClientId"],
     ["--interval", "2026-09-28/2026-11-02", "--granularity", "week",
      "--group-by", "OAuthClientId"]),
    (["--interval", "2026-09-01/2026-11-01", "--granularity", "Month",
      "--group-by", "OAuthClientId"],
     ["--interval", "2026-09-01/2026-11-01", "--granularity", "month",
      "--group-by", "OAuthClientId"]),
]
#: Names the sandbox never has: quotes, backslash, non-ASCII, astral plane, control escapes;
#: the first tops the blueprint's ORDER BY status429.
ODD_ROWS = [
    {"clientId": "c-odd-1", "clientName": 'Zoë\'s "Quoted" Bot — 日本語 ✓ \\ back 😀',
     "status429": 900_000_000, "status400": 900_000_005, "requests": 900_000_016},
    {"clientId": "c-odd-2", "clientName": "tab\tnew\nline", "requests": 0},
    {"clientId": "c-odd-3", "clientName": "", "requests": 7},
]
EXPECTED_DDL = {
    "ndjson": (
        'CREATE TABLE hive.genesysclouddb.gc_usage_api_source ("clientid" varchar, '
        '"clientname" varchar, "organizationid" varchar, "userid" varchar, "templateuri" '
        'varchar, "httpmethod" varchar, "status200" bigint, "status300" bigint, "status400" '
        'bigint, "status500" bigint, "status429" bigint, "requests" bigint, "date" varchar, '
        '"platform" varchar, "org" varchar, "granularity" varchar, "grouping" varchar, '
        '"period" varchar) '
        "WITH (format = 'OPENX_JSON', external_location = 'local:///usage_ndjson', "
        "partitioned_by = ARRAY['org', 'granularity', 'grouping', 'period'])"
    ),
}
EXPECTED_DDL["parquet"] = (EXPECTED_DDL["ndjson"]
                           .replace("'OPENX_JSON'", "'PARQUET'")
                           .replace("usage_ndjson", "usage_parquet"))
SYNC = ("CALL hive.system.sync_partition_metadata(schema_name => 'genesysclouddb', "
        "table_name => 'gc_usage_api_source', mode => 'FULL')")


def _kit(*args: str, stdin: bytes | None = None) -> bytes:
    """Run ``python -m usagekit ARGS`` against the embedded sandbox; its stdout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GENESYSCLOUD_", "USAGEKIT_", "AWS_"))}
    done = subprocess.run([sys.executable, "-m", "usagekit", *args], input=stdin,
                          capture_output=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, f"usagekit {' '.join(args)}:\n{done.stderr.decode()}"
    return done.stdout


def _odd_ndjson() -> bytes:
    base = {"clientId": "", "clientName": "", "organizationId": "", "userId": "",
            "templateUri": "", "httpMethod": "", "status200": 0, "status300": 0,
            "status400": 0, "status500": 0, "status429": 0, "requests": 0,
            "date": "2026-08-01T00:00:00Z"}
    rows = []
    for odd in ODD_ROWS:
        row = {**base, **odd}
        row["status200"] = row["requests"] - row["status400"]
        rows.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(rows) + "\n").encode()


#: The embedded sandbox's org: ``fetch`` stores its rows as that org's, and so do the imports.
EMBEDDED_ORG = Sandbox().org.id

# -- fixtures (the server and its root: tests/conftest.py) --------------------------------

@pytest.fixture(scope="session")
def kit_datasets(trino_root: Path) -> dict[str, Path]:
    """The same rows as kit datasets ``trino_root/usage_ndjson`` and ``.../usage_parquet``.

    NDJSON: ``usagekit fetch --dataset`` (the API's bytes, as jq writes them). Parquet:
    ``usagekit import - --format parquet`` of those very files. Plus odd names (month 2026-08).
    """
    ndjson, parquet = trino_root / "usage_ndjson", trino_root / "usage_parquet"
    for fetch_flags, _ in FETCHES:
        _kit("fetch", *fetch_flags, "--no-progress", "--dataset", str(ndjson))
    files = sorted(ndjson.glob("org=*/granularity=*/grouping=*/period=*/usage.json"))
    assert len(files) == 6
    for _, import_flags in FETCHES:
        grouping = "-".join(import_flags[-1].lower().split(","))
        granularity = import_flags[3]
        rows = b"".join(p.read_bytes() for p in files
                        if f"granularity={granularity}/grouping={grouping}/" in p.as_posix())
        _kit("import", "--org", EMBEDDED_ORG,
             "-", *import_flags, "--format", "parquet", "--dataset", str(parquet),
             stdin=rows)
    odd = ["--interval", "2026-08-01/2026-09-01", "--granularity", "month",
           "--group-by", "OAuthClientId"]
    _kit("import", "--org", EMBEDDED_ORG, "-", *odd, "--dataset", str(ndjson),
         stdin=_odd_ndjson())
    _kit("import", "--org", EMBEDDED_ORG, "-", *odd, "--format", "parquet",
         "--dataset", str(parquet),
         stdin=_odd_ndjson())
    return {"ndjson": ndjson, "parquet": parquet}


@pytest.fixture(scope="module", params=["ndjson", "parquet"])
def usage_table(request: pytest.FixtureRequest, trino_server: TrinoServer, trino_url: str,
                kit_datasets: dict[str, Path]) -> Iterator[tuple[str, Path]]:
    """``hive.genesysclouddb.gc_usage_api_source`` over the kit dataset of one format.

    Made by the kit itself (:meth:`usagekit.engine.TrinoEngine.create_table`), so these
    tests prove the kit's own DDL.
    """
    from usagekit.config import TrinoSettings
    from usagekit.engine import TrinoEngine

    fmt: str = request.param
    trino_server.execute("DROP TABLE IF EXISTS hive.genesysclouddb.gc_usage_api_source")
    with TrinoEngine(TrinoSettings(trino_url)) as engine:
        statements = engine.create_table(f"local:///usage_{fmt}", fmt)
    assert statements == ["CREATE SCHEMA IF NOT EXISTS hive.genesysclouddb", EXPECTED_DDL[fmt],
                          SYNC]
    yield fmt, kit_datasets[fmt]
    # An external table: dropping it leaves the kit's files alone.
    trino_server.execute("DROP TABLE hive.genesysclouddb.gc_usage_api_source")
    assert any(kit_datasets[fmt].rglob("usage.*"))


# -- helpers ------------------------------------------------------------------------------

def _trino(server: TrinoServer, sql: str, params: list[Any] | None = None) -> list[dict]:
    conn = server.connect()
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        names = [d[0] for d in cur.description]
    finally:
        conn.close()
    return [dict(zip(names, row, strict=True)) for row in rows]


def _duckdb(dataset: Path, sql: str, *params: str, tmp: Path) -> list[dict]:
    """``usagekit sql`` (the local DuckDB engine) over ``dataset``; rows as JSON objects."""
    out = tmp / "result.json"
    flags = [a for p in params for a in ("--param", p)]
    _kit("sql", sql, *flags, "--dataset", str(dataset), "--output", str(out))
    return json.loads(out.read_text())


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _kit_shaped(rows: list[dict]) -> list[dict]:
    """Trino rows with lower-cased keys and values as the kit's JSON output spells them.

    The kit's results give NULL text as "" (only ``platform`` is ever NULL here).
    """
    out = []
    for row in rows:
        shaped = {k.lower(): _plain(v) for k, v in row.items()}
        if "platform" in shaped and shaped["platform"] is None:
            shaped["platform"] = ""
        out.append(shaped)
    return out


def _lower(rows: list[dict]) -> list[dict]:
    return [{k.lower(): v for k, v in row.items()} for row in rows]


# -- tests --------------------------------------------------------------------------------

def test_the_server_listens_on_loopback_only(trino_server: TrinoServer) -> None:
    etc = (trino_server.run_dir or Path()) / "etc"
    node = (etc / "node.properties").read_text()
    assert "node.bind-ip=127.0.0.1" in node and "node.internal-address=127.0.0.1" in node
    rows = _trino(trino_server, "SELECT node_id, http_uri, node_version, coordinator, state "
                                "FROM system.runtime.nodes")
    assert [(r["http_uri"], r["node_version"], r["state"]) for r in rows] == [
        (f"http://127.0.0.1:{trino_server.port}", "476", "active")]


def test_blueprint_query_matches_duckdb(trino_server: TrinoServer,
                                        usage_table: tuple[str, Path], tmp_path: Path) -> None:
    _fmt, dataset = usage_table
    eleven = _trino(trino_server, BLUEPRINT.replace("limit 10", "limit 11"))
    assert eleven[9]["status429"] != eleven[10]["status429"], "a tie at the LIMIT: ambiguous"
    got = _kit_shaped(_trino(trino_server, BLUEPRINT))
    want = _lower(_duckdb(dataset, BLUEPRINT, tmp=tmp_path))
    assert len(got) == 10
    assert got == want
    assert got[0]["clientname"] == ODD_ROWS[0]["clientName"]


def test_per_client_sums_match_duckdb(trino_server: TrinoServer,
                                      usage_table: tuple[str, Path], tmp_path: Path) -> None:
    _fmt, dataset = usage_table
    got = {r["clientid"]: r["r"] for r in _trino(trino_server, PER_CLIENT, ["day"])}
    want = {r["clientid"]: r["r"] for r in _lower(_duckdb(dataset, PER_CLIENT, "day",
                                                          tmp=tmp_path))}
    assert len(got) > 10
    assert got == want
    got_all = _kit_shaped(_trino(trino_server, SUMS))
    assert {(r["granularity"], r["grouping"]) for r in got_all} == {
        ("day", "oauthclientid-templateuri"), ("day", "oauthclientid-platform"),
        ("week", "oauthclientid"), ("month", "oauthclientid")}
    assert got_all == _lower(_duckdb(dataset, SUMS, tmp=tmp_path))


def test_iso_date_strings_bucket_alike(trino_server: TrinoServer,
                                       usage_table: tuple[str, Path], tmp_path: Path) -> None:
    _fmt, dataset = usage_table
    got = _kit_shaped(_trino(trino_server, WEEKS))
    assert len(got) == 5
    assert got == _lower(_duckdb(dataset, WEEKS, tmp=tmp_path))


def test_how_trino_types_the_kits_files(trino_server: TrinoServer,
                                        usage_table: tuple[str, Path]) -> None:
    """camelCase keys land in lower-case columns; "" stays ""; absent platform is NULL."""
    columns = _trino(trino_server, "SHOW COLUMNS FROM hive.genesysclouddb.gc_usage_api_source")
    assert {c["Column"]: c["Type"] for c in columns}["date"] == "varchar"
    rows = _trino(trino_server, """
        SELECT "grouping", count(*) AS n, count(clientid) AS ids, count(platform) AS platforms,
               count_if(organizationid = '') AS empty_orgs, count_if(clientname = '') AS unnamed,
               count_if(regexp_like("date", '^\\d{4}-\\d{2}-\\d{2}T00:00:00Z$')) AS iso,
               min(requests) AS low
        FROM genesysclouddb.gc_usage_api_source GROUP BY 1""")
    by_grouping = {r["grouping"]: r for r in rows}
    for grouping, r in by_grouping.items():
        assert r["ids"] == r["n"] == r["empty_orgs"] == r["iso"], r
        assert r["platforms"] == (r["n"] if grouping == "oauthclientid-platform" else 0), r
        assert r["low"] >= 0
    assert by_grouping["oauthclientid"]["unnamed"] == 1  # c-odd-3
    odd = _trino(trino_server, "SELECT clientid, clientname FROM "
                               "genesysclouddb.gc_usage_api_source WHERE clientid LIKE ? "
                               "ORDER BY 1", ["c-odd-%"])
    assert [r["clientname"] for r in odd] == [o["clientName"] for o in ODD_ROWS]


def test_a_crashed_exports_hidden_tmp_file_is_not_read(trino_server: TrinoServer,
                                                       usage_table: tuple[str, Path],
                                                       tmp_path: Path) -> None:
    """The kit's atomic write leaves ``.usage.<ext>.<hex>.tmp`` on a crash: Trino skips it."""
    fmt, dataset = usage_table
    part = dataset / f"org={EMBEDDED_ORG}/granularity=month/grouping=oauthclientid/period=2026-10"
    name = "usage.json" if fmt == "ndjson" else "usage.parquet"
    count = ("SELECT count(*) AS n FROM genesysclouddb.gc_usage_api_source "
             "WHERE granularity = 'month' AND period = '2026-10'")
    before = _trino(trino_server, count)
    stale = part / f".{name}.0123456789abcdef.tmp"
    stale.write_bytes((part / name).read_bytes()[:-7])  # a torn copy of the real file
    try:
        assert _trino(trino_server, count) == before == _duckdb(dataset, count, tmp=tmp_path)
    finally:
        stale.unlink()
