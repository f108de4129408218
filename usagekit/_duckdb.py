"""DuckDB plumbing: a UTC session with the usage dataset exposed as a typed view.

Local datasets are read with ``read_json``/``read_parquet`` over the Hive layout
``granularity=*/grouping=*/period=*/<file>``. S3 datasets are read through
``pyarrow.fs.S3FileSystem`` + ``pyarrow.dataset`` registered in DuckDB, because the
``httpfs`` extension cannot be installed offline (query-engine.md §7).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from usagekit._sqlglot import SOURCE_COLUMNS
from usagekit.exceptions import EngineError

_logger = logging.getLogger(__name__)

PARTITION_KEYS = ("granularity", "grouping", "period")
#: Columns stored in the files (everything but the Hive partition keys).
FILE_COLUMNS = {k: v for k, v in SOURCE_COLUMNS.items() if k not in PARTITION_KEYS}
_LAYOUT = re.compile(r"granularity=[^/]+/grouping=[^/]+/period=[^/]+/[^/]+\.(json|parquet)")
_FORMATS = {"json": "ndjson", "parquet": "parquet"}


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC that never tries to download extensions."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET autoinstall_known_extensions = false")
    return con


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in columns.items()) + "}"


_HIVE_TYPES = _struct({k: "VARCHAR" for k in PARTITION_KEYS})


def _select_list(present: Iterable[str] | None = None) -> str:
    """The view's typed column list; columns not in ``present`` become typed NULLs."""
    available = set(SOURCE_COLUMNS) if present is None else set(present)
    parts = []
    for name, sql_type in SOURCE_COLUMNS.items():
        source = f"CAST({quote_ident(name)} AS {sql_type})" if name in available else (
            f"CAST(NULL AS {sql_type})")
        parts.append(f"{source} AS {quote_ident(name)}")
    return ", ".join(parts)


def _empty_source() -> str:
    return f"(SELECT {_select_list(())} LIMIT 0)"


def _local_files(root: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {"ndjson": [], "parquet": []}
    for path in root.glob("granularity=*/grouping=*/period=*/*"):
        match = _LAYOUT.fullmatch(path.relative_to(root).as_posix())
        if match and path.is_file():
            found[_FORMATS[match.group(1)]].append(path)
    return found


def _local_sources(con: duckdb.DuckDBPyConnection, root: Path) -> list[str]:
    files = _local_files(root)
    sources = []
    if files["ndjson"]:
        pattern = quote_literal((root / "granularity=*/grouping=*/period=*/*.json").as_posix())
        sources.append(
            f"(SELECT {_select_list()} FROM read_json({pattern}, format='newline_delimited', "
            f"columns={_struct(FILE_COLUMNS)}, hive_partitioning=true, "
            f"hive_types={_HIVE_TYPES}))"
        )
    if files["parquet"]:
        pattern = quote_literal((root / "granularity=*/grouping=*/period=*/*.parquet").as_posix())
        scan = (f"read_parquet({pattern}, hive_partitioning=true, union_by_name=true, "
                f"hive_types={_HIVE_TYPES})")
        present = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
        sources.append(f"(SELECT {_select_list(present)} FROM {scan})")
    return sources


def _s3_filesystem(boto3_session: Any = None) -> Any:
    """A ``pyarrow.fs.S3FileSystem`` from the standard AWS environment (honours AWS_ENDPOINT_URL)."""
    import boto3
    from pyarrow import fs

    session = boto3_session or boto3.Session()
    kwargs: dict[str, Any] = {"region": session.region_name or "us-east-1"}
    credentials = session.get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key,
                      session_token=frozen.token)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, _, rest = endpoint.partition("://")
        kwargs.update(scheme=scheme, endpoint_override=rest.rstrip("/"))
    return fs.S3FileSystem(**kwargs)


def _s3_sources(con: duckdb.DuckDBPyConnection, location: str,
                boto3_session: Any = None) -> list[str]:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.json as pj
    from pyarrow import fs

    s3 = _s3_filesystem(boto3_session)
    base = location.removeprefix("s3://").rstrip("/")
    try:
        infos = s3.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise EngineError(f"cannot list the dataset at {location!r}: {exc}") from None
    files: dict[str, list[str]] = {"ndjson": [], "parquet": []}
    for info in infos:
        match = _LAYOUT.fullmatch(info.path[len(base) + 1:])
        if info.type == fs.FileType.File and match:
            files[_FORMATS[match.group(1)]].append(info.path)
    arrow_types = {"VARCHAR": pa.string(), "BIGINT": pa.int64()}
    file_schema = pa.schema([(k, arrow_types[v]) for k, v in FILE_COLUMNS.items()])
    partitioning = ds.partitioning(pa.schema([(k, pa.string()) for k in PARTITION_KEYS]),
                                   flavor="hive")
    formats: dict[str, Any] = {
        "ndjson": ds.JsonFileFormat(parse_options=pj.ParseOptions(
            explicit_schema=file_schema, unexpected_field_behavior="ignore")),
        "parquet": ds.ParquetFileFormat(),
    }
    sources = []
    for kind, paths in files.items():
        if not paths:
            continue
        dataset = ds.dataset(paths, schema=file_schema, format=formats[kind], filesystem=s3,
                             partitioning=partitioning, partition_base_dir=base)
        name = f"_usagekit_s3_{kind}"
        con.register(name, dataset)
        sources.append(f"(SELECT {_select_list()} FROM {quote_ident(name)})")
    return sources


def expose_dataset(con: duckdb.DuckDBPyConnection, location: str, database: str, table: str,
                   *, boto3_session: Any = None) -> int:
    """Create ``database.table`` as a typed view over the dataset at ``location``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The session (from :func:`connect`).
    location : str
        A local folder or an ``s3://bucket/prefix`` URL in the contract's Hive layout.
    database, table : str
        Validated identifiers.
    boto3_session : boto3.Session, optional
        Credentials and region for S3.

    Returns
    -------
    int
        How many file formats were found (0 for an empty dataset: the view is then empty
        but typed).

    Raises
    ------
    EngineError
        When a local folder does not exist or S3 cannot be listed.
    """
    if location.startswith("s3://"):
        sources = _s3_sources(con, location, boto3_session)
    else:
        root = Path(location).expanduser()
        if not root.is_dir():
            raise EngineError(
                f"no dataset at {location!r}: the folder does not exist. Write one with "
                "`usagekit export` or pass --dataset / USAGEKIT_DATASET pointing to a "
                "folder or s3://bucket/prefix in the granularity=/grouping=/period= layout"
            )
        sources = _local_sources(con, root.resolve())
    if not sources:
        _logger.warning("dataset at %s holds no data files; queries return no rows", location)
    body = " UNION ALL ".join(f"SELECT * FROM {s}" for s in sources) or (
        f"SELECT * FROM {_empty_source()}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(database)}")
    con.execute(f"CREATE OR REPLACE VIEW {quote_ident(database)}.{quote_ident(table)} AS {body}")
    return len(sources)


def execute(con: duckdb.DuckDBPyConnection, text: str, params: Sequence[Any] | None) -> Any:
    """Run ``text`` with bound ``params``; return a pandas DataFrame (DuckDB errors → EngineError)."""
    try:
        return con.execute(text, list(params) if params else None).df()
    except duckdb.Error as exc:
        raise EngineError(f"DuckDB could not run the query: {exc}") from None
