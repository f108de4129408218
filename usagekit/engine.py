"""Query engines: the same Athena (Trino) SQL on DuckDB locally or on Athena at scale.

Both expose the usage dataset as ``"genesysclouddb"."gc_usage_api_source"`` (names from
:class:`usagekit.config.AthenaSettings`), so the blueprint's query runs verbatim::

    SELECT * FROM "genesysclouddb"."gc_usage_api_source"
    WHERE granularity='month' ORDER BY status429 DESC limit 10

Columns: the API fields (``clientId`` ... ``requests``, ``date`` as the ISO string,
``platform``) and the Hive partition keys ``granularity``, ``grouping``, ``period``.
``grouping`` is a reserved word in Trino: quote it (``"grouping"``).

Values are always bound to ``?`` placeholders (``params``), never pasted into SQL.
Result frames use the API's camelCase names and the kit's dtypes (strings as ``string``,
whole numbers as ``int64`` when they hold no NULL, timestamps as ``datetime64[us, UTC]``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd

from usagekit import _athena, _duckdb
from usagekit._sqlglot import SOURCE_COLUMNS, athena_to_duckdb, parse_athena
from usagekit.config import AthenaSettings, dataset_location, is_s3, validate_identifier
from usagekit.exceptions import ConfigError
from usagekit.frame import COLUMNS, normalize

_logger = logging.getLogger(__name__)

ENGINES = ("local", "athena")
DIALECTS = ("athena", "duckdb")


@runtime_checkable
class Engine(Protocol):
    """What every engine offers: bound-parameter SQL in the Athena dialect → DataFrame."""

    kind: str
    database: str
    table: str

    @property
    def source(self) -> str:
        """The quoted ``"database"."table"`` to put in SQL text."""

    def sql(self, text: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run one statement with ``?`` placeholders bound to ``params``."""


def _source(database: str, table: str) -> str:
    return f'"{validate_identifier(database, "database name")}".' \
           f'"{validate_identifier(table, "table name")}"'


def tidy_result(df: pd.DataFrame) -> pd.DataFrame:
    """Give an engine's result the kit's names and dtypes.

    Dataset columns (matched case-insensitively) go through :func:`usagekit.frame.normalize`
    (camelCase names, ``string`` with "" for NULL, ``int64`` counts, ``date`` as
    ``datetime64[us, UTC]``). Other columns: timestamps become ``datetime64[us, UTC]``
    (naive = UTC), text becomes ``string``, nullable integers without NULLs ``int64``.

    Parameters
    ----------
    df : pandas.DataFrame
        A DuckDB or awswrangler result.

    Returns
    -------
    pandas.DataFrame
        A new frame.
    """
    out = normalize(df)
    for name in out.columns:
        if name in COLUMNS:
            continue
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
                col.dtype):
            stamps = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
            out[name] = stamps.astype("datetime64[us, UTC]")
        elif isinstance(col.dtype, pd.StringDtype) or (
                col.dtype == object and all(isinstance(v, str) for v in col.dropna())):
            out[name] = col.astype("string")
        elif pd.api.types.is_integer_dtype(col.dtype) and not col.isna().any():
            out[name] = col.astype("int64")
    return out


class DuckDBEngine:
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
        settings = settings or AthenaSettings.from_env(session=boto3_session)
        location = getattr(dataset_or_location, "location", dataset_or_location)
        self.location = dataset_location(location)
        self.database = settings.database
        self.table = settings.table
        self._boto3_session = boto3_session
        self._cache = (tempfile.TemporaryDirectory(prefix="usagekit-s3-")
                       if is_s3(self.location) else None)
        self._con = _duckdb.connect()
        self.refresh()

    def __repr__(self) -> str:
        return f"DuckDBEngine({self.location!r}, source={self.source})"

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def source(self) -> str:
        """The quoted ``"database"."table"`` to put in SQL text."""
        return _source(self.database, self.table)

    def refresh(self) -> None:
        """(Re)create the dataset view, re-listing the files."""
        self._formats = _duckdb.expose_dataset(
            self._con, os.fspath(self.location), self.database, self.table,
            boto3_session=self._boto3_session,
            cache=Path(self._cache.name, "data") if self._cache else None)

    def close(self) -> None:
        """Close the DuckDB connection and remove the local copy of an S3 dataset."""
        self._con.close()
        if self._cache is not None:
            self._cache.cleanup()

    def transpile(self, text: str) -> str:
        """The DuckDB statement that :meth:`sql` runs for Athena ``text``."""
        return athena_to_duckdb(text, {(self.database, self.table): SOURCE_COLUMNS})

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
        """
        values = _athena.check_params(params)
        if not is_s3(self.location) and _duckdb.local_formats(self.location) != self._formats:
            self.refresh()
        if dialect == "athena":
            statement = self.transpile(text)
        elif dialect == "duckdb":
            statement = text
        else:
            raise ConfigError(f"unknown SQL dialect {dialect!r}; valid: {', '.join(DIALECTS)}")
        return tidy_result(_duckdb.execute(self._con, statement, values))


class AthenaEngine:
    """Amazon Athena through awswrangler, over the Glue table of the S3 dataset.

    Parameters
    ----------
    settings : AthenaSettings, optional
        Database, table, workgroup and output location (default:
        :meth:`AthenaSettings.from_env`).
    boto3_session : boto3.Session, optional
        The session to use (default: the standard AWS environment).
    """

    kind = "athena"

    def __init__(self, settings: AthenaSettings | None = None,
                 boto3_session: Any = None) -> None:
        self.settings = settings or AthenaSettings.from_env(session=boto3_session)
        self.database = self.settings.database
        self.table = self.settings.table
        self._boto3_session = boto3_session
        self._resolved: AthenaSettings | None = None

    def __repr__(self) -> str:
        return (f"AthenaEngine(source={self.source}, workgroup={self.settings.workgroup!r}, "
                f"output={self.settings.output_location!r})")

    def __enter__(self) -> AthenaEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @property
    def source(self) -> str:
        """The quoted ``"database"."table"`` to put in SQL text."""
        return _source(self.database, self.table)

    def close(self) -> None:
        """Nothing to release (present for symmetry with :class:`DuckDBEngine`)."""

    def sql(self, text: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run one Athena statement; ``params`` go to Athena as execution parameters.

        The text is parsed in the Athena dialect first, so a syntax error fails here
        without a round trip. The first query checks the AWS region and the result
        location (:func:`usagekit._athena.resolve_settings`): a missing one is a
        :class:`~usagekit.exceptions.ConfigError` saying what to set.
        """
        values = _athena.check_params(params)
        parse_athena(text)
        if self._resolved is None:
            self._resolved = _athena.resolve_settings(self.settings, self._boto3_session)
        frame = _athena.read_sql(text, values, self._resolved, self._boto3_session)
        metadata = getattr(frame, "query_metadata", None)
        out = tidy_result(frame)
        if metadata is not None:
            out.attrs["query_execution_id"] = metadata.get("QueryExecutionId")
        return out


def open_engine(kind: str = "local", dataset: Any = None, *,
                settings: AthenaSettings | None = None,
                boto3_session: Any = None) -> DuckDBEngine | AthenaEngine:
    """Open the engine named ``kind``.

    Parameters
    ----------
    kind : {"local", "athena"}
        DuckDB over ``dataset``, or Athena over the Glue table in ``settings``.
    dataset : Dataset, str or os.PathLike, optional
        For ``local`` only: the dataset (default: :func:`usagekit.config.dataset_location`).
    settings : AthenaSettings, optional
        Names, workgroup and output location (default: from the environment).
    boto3_session : boto3.Session, optional
        AWS session for S3 datasets and Athena.
    """
    if kind == "local":
        return DuckDBEngine(dataset, settings=settings, boto3_session=boto3_session)
    if kind == "athena":
        if dataset is not None:
            _logger.info("Athena reads the Glue table, not %s", dataset)
        return AthenaEngine(settings, boto3_session=boto3_session)
    raise ConfigError(f"unknown engine {kind!r}; valid: {', '.join(ENGINES)}")
