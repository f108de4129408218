"""The local engine: DuckDB in a UTC session with the usage dataset exposed as a typed view.

Local datasets are read with ``read_json``/``read_parquet`` over the Hive layout
``org=*/granularity=*/grouping=*/period=*/<file>``. S3 datasets are copied to a local cache
folder with ``pyarrow.fs.S3FileSystem`` (the ``httpfs`` extension cannot be installed
offline, query-engine.md §7; s3fs is not a dependency) and read from there. Copying,
rather than registering a lazy ``pyarrow.dataset``, keeps DuckDB's native readers and
never calls back into Python during a scan (which deadlocks against an in-process S3
emulator such as the tests' moto server).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from usagekit.config import AthenaSettings, athena_settings, dataset_location
from usagekit.config.settings import is_s3
from usagekit.dataset.damage import damage_message, damaged_files, undecodable_files
from usagekit.dataset.layout import legacy_files
from usagekit.dataset.orgs import legacy_message
from usagekit.dataset.schema import DATA_FILE, LEGACY_GLOB, PARTITION_GLOB
from usagekit.dataset.scratch import scratch
from usagekit.engine.base import DIALECTS, EngineBase, check_params, tidy_result
from usagekit.engine.dialect import athena_to_duckdb
from usagekit.exceptions import ConfigError, DamagedFileError, EngineError
from usagekit.row import PARTITION_KEYS, SQL_COLUMNS

_logger = logging.getLogger(__name__)

#: Columns stored in the files (everything but the Hive partition keys).
FILE_COLUMNS = {k: v for k, v in SQL_COLUMNS.items() if k not in PARTITION_KEYS}
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
    pairs = (f"{quote_literal(k)}: {quote_literal(v)}" for k, v in columns.items())
    return "{" + ", ".join(pairs) + "}"


_HIVE_TYPES = _struct({k: SQL_COLUMNS[k] for k in PARTITION_KEYS})


def _select_list(present: Iterable[str] | None = None) -> str:
    """The view's typed column list; columns not in ``present`` become typed NULLs."""
    available = set(SQL_COLUMNS) if present is None else set(present)
    parts = []
    for name, sql_type in SQL_COLUMNS.items():
        source = f"CAST({quote_ident(name)} AS {sql_type})" if name in available else (
            f"CAST(NULL AS {sql_type})")
        parts.append(f"{source} AS {quote_ident(name)}")
    return ", ".join(parts)


def _empty_source() -> str:
    return f"(SELECT {_select_list(())} LIMIT 0)"


def _local_files(root: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {"ndjson": [], "parquet": []}
    for path in root.glob(f"{PARTITION_GLOB}/*"):
        match = DATA_FILE.fullmatch(path.relative_to(root).as_posix())
        if match and path.is_file():
            found[_FORMATS[match.group(1)]].append(path)
    return found


def local_formats(location: str) -> frozenset[str]:
    """The formats with at least one data file in a local dataset (stops at the first)."""
    root = Path(location).expanduser()
    found = set()
    for suffix, kind in _FORMATS.items():
        for path in root.glob(f"{PARTITION_GLOB}/*.{suffix}"):
            if path.is_file():
                found.add(kind)
                break
    return frozenset(found)


#: DuckDB errors about the statement itself, never about the files it read.
_STATEMENT_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)


def damaged_after(root: Path, location: str, exc: duckdb.Error) -> list[tuple[str, str]]:
    """After ``exc``: the damaged data files under ``root`` (named from ``location``), and why.

    The files are checked one by one only now, after a failure (``root`` may be the local
    copy of an S3 dataset); none for an error in the statement itself.
    """
    if isinstance(exc, _STATEMENT_ERRORS):
        return []
    base = location.rstrip("/")
    return [(f"{base}/{path.relative_to(root).as_posix()}", why)
            for path, why in damaged_files(root)]


def _scan_pattern(root: Path, suffix: str, files: list[Path],
                  substitutes: Mapping[Path, Path]) -> str:
    """The glob of the ``suffix`` files, or their list with ``substitutes`` swapped in."""
    if not substitutes:
        return quote_literal((root / f"{PARTITION_GLOB}/*.{suffix}").as_posix())
    return "[" + ", ".join(quote_literal(substitutes.get(path, path).as_posix())
                           for path in sorted(files)) + "]"


def _local_sources(con: duckdb.DuckDBPyConnection, root: Path, location: str,
                   substitutes: Mapping[Path, Path] | None = None) -> list[tuple[str, str]]:
    files = _local_files(root)
    substitutes = substitutes or {}
    sources: list[tuple[str, str]] = []
    if files["ndjson"]:
        pattern = _scan_pattern(root, "json", files["ndjson"], substitutes)
        sources.append(("ndjson",
            f"(SELECT {_select_list()} FROM read_json({pattern}, format='newline_delimited', "
            f"columns={_struct(FILE_COLUMNS)}, hive_partitioning=true, "
            f"hive_types={_HIVE_TYPES}))"))
    if files["parquet"]:
        pattern = _scan_pattern(root, "parquet", files["parquet"], substitutes)
        scan = (f"read_parquet({pattern}, hive_partitioning=true, union_by_name=true, "
                f"hive_types={_HIVE_TYPES})")
        try:
            present = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
        except duckdb.Error as exc:  # a file that is not Parquet, or a truncated one
            damaged = damaged_after(root, location, exc)
            why = (damage_message(damaged, "nothing could be evaluated") if damaged
                   else str(exc).splitlines()[0])
            raise EngineError(
                f"cannot read the Parquet files of the dataset at {root}: {why}") from exc
        sources.append(("parquet", f"(SELECT {_select_list(present)} FROM {scan})"))
    return sources


def _s3_filesystem(boto3_session: Any = None) -> Any:
    """A ``pyarrow.fs.S3FileSystem`` from the AWS environment (honours AWS_ENDPOINT_URL)."""
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


def download_s3(location: str, target: Path, boto3_session: Any = None) -> int:
    """Copy the data files of the S3 dataset at ``location`` into the folder ``target``.

    Only files in the Hive layout are copied, keeping their relative paths; ``target``
    is emptied first. Reading happens in pyarrow's C++ S3 client (no s3fs, no DuckDB
    extension). Returns the number of files copied.
    """
    from pyarrow import fs

    s3 = _s3_filesystem(boto3_session)
    base = location.removeprefix("s3://").rstrip("/")
    try:
        infos = s3.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
        files = [info.path[len(base) + 1:] for info in infos if info.type == fs.FileType.File]
        _refuse_legacy(location, files)
        paths = [f"{base}/{rel}" for rel in files if DATA_FILE.fullmatch(rel)]
        shutil.rmtree(target, ignore_errors=True)
        local = fs.LocalFileSystem()
        for path in paths:
            destination = target / path[len(base) + 1:]
            destination.parent.mkdir(parents=True, exist_ok=True)
            fs.copy_files(path, destination.as_posix(), source_filesystem=s3,
                          destination_filesystem=local)
    except OSError as exc:
        raise EngineError(f"cannot read the dataset at {location!r}: {exc}") from exc
    _logger.info("copied %d file(s) from %s to %s", len(paths), location, target)
    return len(paths)


def _refuse_legacy(location: str, files: list[str]) -> None:
    """Refuse a dataset laid out before organisations (its rows would be left out)."""
    legacy = legacy_files(files)
    if legacy:
        raise EngineError(legacy_message(location, legacy))


def expose_dataset(con: duckdb.DuckDBPyConnection, location: str, database: str, table: str,
                   *, boto3_session: Any = None, cache: Path | None = None,
                   substitutes: Mapping[Path, Path] | None = None) -> frozenset[str]:
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
    cache : Path, optional
        For S3: the folder the data files are copied to (emptied first) and read from.
    substitutes : mapping of Path to Path, optional
        Files to read in place of stored ones (the stored file's path, resolved, to its
        stand-in laid out in the same ``org=/granularity=/grouping=/period=`` folders).

    Returns
    -------
    frozenset of str
        The file formats found (none for an empty dataset: the view is then empty but
        typed).

    Raises
    ------
    EngineError
        When a local folder does not exist or S3 cannot be listed.
    """
    root = Path(location).expanduser()
    if location.startswith("s3://"):
        if cache is None:
            raise EngineError("an S3 dataset needs a local cache folder")
        if not substitutes:  # the copy stands; only the view changes
            download_s3(location, cache, boto3_session)
        root = cache
    elif not root.is_dir():
        raise EngineError(
            f"no dataset at {location!r}: the folder does not exist. Write one with "
            "`usagekit import` or pass --dataset / USAGEKIT_DATASET pointing to a "
            "folder or s3://bucket/prefix in the org=/granularity=/grouping=/period= layout"
        )
    else:
        _refuse_legacy(location, [path.relative_to(root).as_posix() for path in
                                  root.glob(f"{LEGACY_GLOB}/*")])
    sources = _local_sources(con, root.resolve(),
                             location if cache is not None else os.fspath(root.resolve()),
                             substitutes)
    formats = frozenset(kind for kind, _ in sources)
    if not sources:
        _logger.warning("dataset at %s holds no data files; queries return no rows", location)
    body = " UNION ALL ".join(f"SELECT * FROM {s}" for _, s in sources) or (
        f"SELECT * FROM {_empty_source()}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(database)}")
    con.execute(f"CREATE OR REPLACE VIEW {quote_ident(database)}.{quote_ident(table)} AS {body}")
    return formats


def execute(con: duckdb.DuckDBPyConnection, text: str, params: Sequence[Any] | None) -> Any:
    """Run ``text`` with bound ``params``; return a DataFrame (DuckDB errors → EngineError).

    ``HUGEINT`` results (DuckDB's ``sum`` of BIGINT; Trino's stays BIGINT) are cast to
    BIGINT so that counts arrive as ``int64``, not ``float64``.
    """
    import pandas as pd

    try:
        relation = con.sql(text, params=list(params) if params else None)
        if relation is None:  # a statement without a result
            return pd.DataFrame()
        if any(str(t) == "HUGEINT" for t in relation.types):
            relation = relation.project(", ".join(
                f"CAST({quote_ident(c)} AS BIGINT) AS {quote_ident(c)}"
                if str(t) == "HUGEINT" else quote_ident(c)
                for c, t in zip(relation.columns, relation.types, strict=True)))
        return relation.df()
    except duckdb.Error as exc:
        raise EngineError(f"DuckDB could not run the query: {exc}") from exc


class DuckDBEngine(EngineBase):
    """In-process DuckDB over a local or S3 dataset, speaking Athena SQL.

    Parameters
    ----------
    dataset_or_location : Dataset, str or os.PathLike, optional
        A :class:`usagekit.dataset.Dataset` (its ``location`` is used), a folder, or an
        ``s3://bucket/prefix`` URL. Default: :func:`usagekit.config.dataset_location`.
    settings : AthenaSettings, optional
        Database and table names to expose (default: from the environment).
    boto3_session : boto3.Session, optional
        Credentials/region for an S3 dataset (endpoint from ``AWS_ENDPOINT_URL``).

    Notes
    -----
    A folder that exists but holds no data files gives empty, typed results; a folder that
    does not exist raises :class:`~usagekit.exceptions.EngineError`. Files written into a
    local dataset are seen by the next query. An S3 dataset's data files are copied to a
    temporary folder when the engine opens (call :meth:`refresh` to copy again); for data
    too large for local disk use :class:`AthenaEngine`.

    Examples
    --------
    >>> with DuckDBEngine("data/usage") as engine:  # doctest: +SKIP
    ...     engine.sql('SELECT count(*) AS n FROM "genesysclouddb"."gc_usage_api_source" '
    ...                'WHERE granularity = ?', ["day"])
    """

    kind = "local"

    def __init__(self, dataset_or_location: Any = None, *,
                 settings: AthenaSettings | None = None, boto3_session: Any = None) -> None:
        settings = settings or athena_settings(session=boto3_session)
        location = getattr(dataset_or_location, "location", dataset_or_location)
        self.location = dataset_location(location)
        self.database = settings.database
        self.table = settings.table
        self._boto3_session = boto3_session
        self._scratch = contextlib.ExitStack()  # a killed run's copy: removed by a later run
        self._cache = (self._scratch.enter_context(scratch("s3"))
                       if is_s3(self.location) else None)
        self._con = connect()
        # Stored files read through a repaired copy: path -> (its mtime then, the copy).
        self._substitutes: dict[Path, tuple[int, Path]] = {}
        self.refresh()

    def __repr__(self) -> str:
        return f"DuckDBEngine({self.location!r}, source={self.source})"

    def refresh(self) -> None:
        """(Re)create the dataset view, re-listing the files."""
        self._expose({})

    def _expose(self, substitutes: dict[Path, tuple[int, Path]]) -> None:
        current = {path: copy for path, (mtime, copy) in substitutes.items()
                   if path.is_file() and path.stat().st_mtime_ns == mtime}
        self._substitutes = {path: substitutes[path] for path in current}
        self._formats = expose_dataset(
            self._con, os.fspath(self.location), self.database, self.table,
            boto3_session=self._boto3_session,
            cache=self._cache / "data" if self._cache else None, substitutes=current)

    def _root(self) -> Path:
        """The local folder read: the dataset, or the local copy of an S3 one."""
        return (self._cache / "data" if self._cache else Path(self.location)
                ).expanduser().resolve()

    def _read_undecodable_repaired(self) -> bool:
        """Read stored files holding text that is not UTF-8 through repaired copies (bad
        bytes as U+FFFD), saying so; False when there is no new such file."""
        root = self._root()
        found = {path: fixed for path, fixed in undecodable_files(root).items()
                 if path not in self._substitutes}
        if not found:
            return False
        copies = self._scratch.enter_context(scratch("utf8"))
        substitutes = dict(self._substitutes)
        for path, fixed in found.items():
            copy = copies / path.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(fixed)
            substitutes[path] = (path.stat().st_mtime_ns, copy)
        base = str(self.location).rstrip("/")
        _logger.warning(
            "%d stored file(s) hold bytes that are not UTF-8, read with U+FFFD in their place "
            "(%s); `usagekit repair --dataset %s` rewrites them so", len(found),
            ", ".join(f"{base}/{path.relative_to(root).as_posix()}" for path in sorted(found)),
            self.location)
        self._expose(substitutes)
        return True

    def close(self) -> None:
        """Close the DuckDB connection and remove the local copy of an S3 dataset."""
        self._con.close()
        self._scratch.close()

    def transpile(self, text: str) -> str:
        """The DuckDB statement that :meth:`sql` runs for Athena ``text``."""
        return athena_to_duckdb(text, {(self.database, self.table): SQL_COLUMNS})

    def sql(self, text: str, params: Sequence[Any] | None = None, *,
            dialect: Literal["athena", "duckdb"] = "athena") -> pd.DataFrame:
        """Run one statement; ``?`` placeholders are bound to ``params`` by DuckDB.

        Parameters
        ----------
        text : str
            SQL in the Athena (Trino) dialect, transpiled in typed mode; or native DuckDB
            SQL with ``dialect="duckdb"``.
        params : sequence of str, int, float, bool or None, optional
            Values for the ``?`` placeholders, in order.
        dialect : {"athena", "duckdb"}
            The dialect of ``text``.

        Returns
        -------
        pandas.DataFrame
            Tidied by :func:`tidy_result`.

        Raises
        ------
        DamagedFileError
            A stored data file cannot be read (named; found only after DuckDB failed).
        EngineError
            DuckDB refused the statement or failed otherwise.
        """
        values = check_params(params)
        if not is_s3(self.location) and local_formats(self.location) != self._formats:
            self.refresh()
        if dialect == "athena":
            statement = self.transpile(text)
        elif dialect == "duckdb":
            statement = text
        else:
            raise ConfigError(f"unknown SQL dialect {dialect!r}; valid: {', '.join(DIALECTS)}")
        try:
            return tidy_result(execute(self._con, statement, values))
        except EngineError as exc:
            if not isinstance(exc.__cause__, duckdb.Error):
                raise
            if (not isinstance(exc.__cause__, _STATEMENT_ERRORS)
                    and self._read_undecodable_repaired()):
                return self.sql(text, params, dialect=dialect)
            damaged = damaged_after(self._root(), self.location, exc.__cause__)
            if not damaged:
                raise
            raise DamagedFileError(
                f"the dataset at {self.location} holds "
                f"{damage_message(damaged, 'nothing could be evaluated')}",
                files=tuple(name for name, _ in damaged)) from exc
