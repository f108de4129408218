"""Bytes a query has to scan (what Athena bills): the blueprint's NDJSON vs Parquet.

NDJSON: Athena reads every byte of every file in the partitions the query selects. Parquet:
only the column chunks of the columns the query names (from the SQL, parsed with sqlglot),
plus each file's footer, read from the Parquet metadata of the kit's own dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from benchmarks._common import CaseResult, Context, Row, Target, dataset, fmt_bytes, label, per_size
from benchmarks._queries import GROUPING, QUERIES, TABLE, Query
from usagekit.row import PARTITION_KEYS

NAME = "scan"
TITLE = "Bytes scanned per query (Athena bills these; 10 MB minimum per query)"
TARGET_RATIO = 100.0
ATHENA_USD_PER_TB = 5.0
ATHENA_MIN_BYTES = 10 * 1024**2


def sql_of(q: Query) -> str:
    """The Athena SQL the kit sends for ``q``."""
    if q.sql is not None:
        return q.sql
    from usagekit.analyses import ANALYSES

    analysis = ANALYSES[q.analysis]
    values = analysis.bind(None, granularity=q.granularity, grouping=GROUPING, **q.options)
    return analysis.render(TABLE, values)[0]


def columns_read(sql: str, file_columns: list[str]) -> list[str]:
    """File columns the statement needs: all for ``SELECT *``, else those it names.

    ``count(*)`` is no ``SELECT *``: only a star among the selected expressions counts.
    """
    tree = sqlglot.parse_one(sql, read="athena")
    if any(isinstance(s.parent, exp.Select | exp.Column) for s in tree.find_all(exp.Star)):
        return list(file_columns)
    named = {c.name.lower() for c in tree.find_all(exp.Column)}
    return [c for c in file_columns if c.lower() in named]


def _files(root: Path, granularity: str, suffix: str) -> list[Path]:
    return sorted(root.glob(f"org=*/granularity={granularity}/grouping={GROUPING}/*/*{suffix}"))


def parquet_bytes(files: list[Path], columns: list[str]) -> int:
    """Compressed bytes of ``columns``' chunks in ``files``, plus each footer."""
    total = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        total += meta.serialized_size + 8
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        wanted = [i for i, n in enumerate(names) if n in columns]
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            total += sum(rg.column(i).total_compressed_size for i in wanted)
    return total


def _cost(nbytes: int) -> float:
    return max(nbytes, ATHENA_MIN_BYTES) / 1e12 * ATHENA_USD_PER_TB


def _one_size(ctx: Context, rows: int) -> CaseResult:
    res = CaseResult()
    ndjson_root, _ = dataset(ctx, rows, "ndjson")
    parquet_root, _ = dataset(ctx, rows, "parquet")
    ratios: dict[str, tuple[float, int, int]] = {}
    for q in QUERIES:
        pfiles = _files(parquet_root, q.granularity, ".parquet")
        jfiles = _files(ndjson_root, q.granularity, ".json")
        schema = [n for n in pq.ParquetFile(pfiles[0]).schema_arrow.names
                  if n not in PARTITION_KEYS]
        cols = columns_read(sql_of(q), schema)
        nd = sum(f.stat().st_size for f in jfiles)
        pb = parquet_bytes(pfiles, cols)
        ratio = nd / pb
        ratios[q.name] = (ratio, nd, pb)
        metrics: dict[str, Any] = {
            "ndjson_bytes": nd, "parquet_bytes": pb, "ratio": ratio, "columns": cols,
            "files": len(pfiles), "ndjson_usd": _cost(nd), "parquet_usd": _cost(pb),
            "parquet_file_bytes": sum(f.stat().st_size for f in pfiles)}
        res.rows.append(Row(
            case=NAME, rows=rows, variant=f"{q.name} ({q.granularity})",
            vs_baseline=f"{ratio:,.0f}x fewer bytes as Parquet",
            notes=f"NDJSON {fmt_bytes(nd)} vs Parquet {fmt_bytes(pb)} "
                  f"({len(cols)} of {len(schema)} columns, {len(pfiles)} files); "
                  f"Athena ${_cost(nd):.5f} vs ${_cost(pb):.5f}",
            metrics=metrics))
    if rows == max(ctx.sizes) and not ctx.quick:
        for name in (QUERIES[0].name, QUERIES[1].name, "top_clients_429"):
            ratio, nd, pb = ratios[name]
            res.targets.append(Target(
                f"bytes scanned, {name}, {label(rows)} rows",
                f"Parquet >= {TARGET_RATIO:g}x fewer bytes than NDJSON",
                f"{ratio:,.0f}x ({fmt_bytes(nd)} vs {fmt_bytes(pb)})", ratio >= TARGET_RATIO))
    return res


def run(ctx: Context) -> CaseResult:
    """Bytes per query for each size's datasets."""
    return per_size(ctx, _one_size)
