"""The Trino engine: the same Athena SQL on a Trino (or Starburst) cluster, and the kit's table.

Athena engine version 3 is built on Trino, so the analyses run unchanged. The kit's dataset is
a Hive table on the cluster: :func:`table_ddl` writes its ``CREATE TABLE`` from the same
schema as the Glue table (:data:`usagekit.row.SQL_COLUMNS`: the stored columns, then the
partition keys): NDJSON through ``OPENX_JSON`` (the reader of Athena's JSON SerDe) or
Parquet, partitioned by ``granularity``, ``grouping`` and ``period``.

Values are bound to ``?`` placeholders by the ``trino`` client (``EXECUTE IMMEDIATE``), never
pasted into the text. Errors name the coordinator as :attr:`TrinoSettings.display` shows it
(no password or token), the catalog and schema, and Trino's own message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from usagekit.config import TrinoSettings, trino_settings
from usagekit.config.settings import validate_identifier
from usagekit.dataset.schema import FORMATS
from usagekit.engine.base import EngineBase, check_params, tidy_result
from usagekit.engine.dialect import parse_athena
from usagekit.exceptions import ConfigError, EngineError
from usagekit.row import PARTITION_KEYS, SQL_COLUMNS

_logger = logging.getLogger(__name__)

#: The dataset's format -> the Hive connector's storage format.
TABLE_FORMATS: dict[str, str] = {"ndjson": "OPENX_JSON", "parquet": "PARQUET"}
#: Location schemes the Hive connector reads (``local:///`` is Trino's native local file system).
LOCATION_SCHEMES: tuple[str, ...] = ("s3://", "s3a://", "gs://", "abfs://", "abfss://",
                                     "hdfs://", "local:///")
_MISSING = {"CATALOG_NOT_FOUND": "catalog", "SCHEMA_NOT_FOUND": "schema",
            "TABLE_NOT_FOUND": "table"}
_DENIED = {"PERMISSION_DENIED", "ACCESS_DENIED"}
_INTEGER = re.compile(r"^(bigint|integer|smallint|tinyint)$")
_FLOAT = re.compile(r"^(double|real|decimal.*)$")
_TEXT = re.compile(r"^(varchar|char).*$")


def table_ddl(location: str, fmt: str = "ndjson", *, catalog: str = "hive",
              schema: str = "genesysclouddb", table: str = "gc_usage_api_source") -> list[str]:
    """The statements that create the kit's table on a Trino Hive catalog.

    Parameters
    ----------
    location : str
        The dataset's root as Trino sees it: ``s3://bucket/prefix/`` or ``local:///usage``.
    fmt : {"ndjson", "parquet"}
        The dataset's format.
    catalog, schema, table : str
        Where the table goes.

    Returns
    -------
    list of str
        ``CREATE SCHEMA IF NOT EXISTS`` and ``CREATE TABLE``, in order.
    """
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"invalid dataset format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if not location.startswith(LOCATION_SCHEMES) or "'" in location:
        raise ConfigError(f"invalid table location {location!r}: expected the dataset as Trino "
                          f"sees it, starting with {', '.join(LOCATION_SCHEMES)}")
    target = _qualified(catalog, schema, table)
    columns = ", ".join(f'"{name.lower()}" {kind.lower()}' for name, kind in SQL_COLUMNS.items())
    keys = ", ".join(f"'{name}'" for name in PARTITION_KEYS)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {_qualified(catalog, schema)}",
        f"CREATE TABLE {target} ({columns}) WITH (format = '{TABLE_FORMATS[fmt]}', "
        f"external_location = '{location}', partitioned_by = ARRAY[{keys}])",
    ]


def sync_partitions_sql(*, catalog: str = "hive", schema: str = "genesysclouddb",
                        table: str = "gc_usage_api_source") -> str:
    """The ``CALL`` that registers every ``key=value/`` folder of the table as a partition."""
    _qualified(catalog, schema, table)
    return (f"CALL {catalog}.system.sync_partition_metadata(schema_name => '{schema}', "
            f"table_name => '{table}', mode => 'FULL')")


class TrinoEngine(EngineBase):
    """A Trino coordinator over the kit's Hive table, speaking the analyses' Athena SQL.

    Parameters
    ----------
    settings : TrinoSettings, optional
        The coordinator, catalog, schema and credentials (default: from
        ``USAGEKIT_TRINO_URL`` and friends, :func:`usagekit.config.trino_settings`).

    Examples
    --------
    >>> with TrinoEngine() as engine:  # doctest: +SKIP
    ...     engine.sql('SELECT count(*) AS n FROM "genesysclouddb"."gc_usage_api_source" '
    ...                'WHERE granularity = ?', ["day"])
    """

    kind = "trino"

    def __init__(self, settings: TrinoSettings | None = None) -> None:
        self.settings = settings or trino_settings()
        self.database = self.settings.schema
        self.table = self.settings.table
        self._connection: Any = None

    def __repr__(self) -> str:
        return f"TrinoEngine({self.settings.display}, table={self.table!r})"

    def close(self) -> None:
        """Close the connection (a later query opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def sql(self, text: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run one statement with ``?`` placeholders bound to ``params``.

        Returns
        -------
        pandas.DataFrame
            Typed as the DuckDB engine's results (:func:`tidy_result`).

        Raises
        ------
        EngineError
            The coordinator cannot be reached, refuses the credentials or the permission, a
            catalog, schema or table is missing, or the query fails; each names the URL
            (without credentials), the catalog and schema, and Trino's message.
        """
        values = check_params(params)
        parse_athena(text)
        with self._errors():
            cursor = self._connect().cursor()
            cursor.execute(text, values or None)
            rows = cursor.fetchall()
            description = cursor.description or []
        _logger.info("Trino query on %s: %d row(s)", self.settings.display, len(rows))
        return tidy_result(_frame(rows, description))

    def execute(self, statement: str) -> None:
        """Run a statement that returns no rows of interest (DDL, ``CALL``)."""
        with self._errors():
            cursor = self._connect().cursor()
            cursor.execute(statement)
            cursor.fetchall()

    def create_table(self, location: str, fmt: str = "ndjson") -> list[str]:
        """Create the kit's table over ``location`` and register its partitions.

        Returns
        -------
        list of str
            The statements run, in order.
        """
        s = self.settings
        statements = [*table_ddl(location, fmt, catalog=s.catalog, schema=s.schema,
                                 table=s.table),
                      sync_partitions_sql(catalog=s.catalog, schema=s.schema, table=s.table)]
        for statement in statements:
            self.execute(statement)
        return statements

    def _connect(self) -> Any:
        if self._connection is None:
            try:
                from trino import auth, dbapi
            except ImportError as exc:  # pragma: no cover - depends on the installed extras
                raise ConfigError("the Trino engine needs the trino client: "
                                  "pip install 'usagekit[trino]'") from exc
            s = self.settings
            credentials = (auth.BasicAuthentication(s.user, s.password) if s.password
                           else auth.JWTAuthentication(s.token) if s.token else None)
            self._connection = dbapi.connect(
                host=s.host, port=s.port, user=s.user, catalog=s.catalog, schema=s.schema,
                http_scheme=s.scheme, auth=credentials, timezone="UTC", source="usagekit",
                max_attempts=1, request_timeout=60.0)
        return self._connection

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import requests
        from trino import exceptions as trino_errors

        s = self.settings
        where = f"Trino at {s.display} (catalog {s.catalog!r}, schema {s.schema!r})"
        try:
            yield
        except trino_errors.TrinoQueryError as exc:
            name = exc.error_name or exc.error_type or "error"
            if name in _MISSING:
                raise EngineError(f"{where}: the {_MISSING[name]} does not exist: {exc.message} "
                                  "(create the table with `usagekit trino-table --create`)"
                                  ) from exc
            if name in _DENIED:
                raise EngineError(f"{where}: permission denied: {exc.message}") from exc
            raise EngineError(f"{where}: query failed: {name}: {exc.message}") from exc
        except trino_errors.HttpError as exc:
            text = str(exc)
            if "401" in text or "403" in text:
                raise EngineError(f"{where} refused the credentials: {text}") from exc
            raise EngineError(f"{where} answered with an error: {text}") from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                trino_errors.TrinoConnectionError, trino_errors.OperationalError) as exc:
            raise EngineError(f"cannot reach {where}: {type(exc).__name__}: "
                              f"{_first_line(exc)}") from exc


def _qualified(*names: str) -> str:
    return ".".join(validate_identifier(name, "Trino name") for name in names)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _frame(rows: list[list[Any]], description: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """A frame from Trino rows, each column typed by its Trino type (also when empty)."""
    columns: dict[str, Any] = {}
    for index, column in enumerate(description):
        name, kind = column[0], str(column[1]).lower()
        values = [row[index] for row in rows]
        if _INTEGER.match(kind):
            columns[name] = pd.array(values, dtype="Int64")
        elif _FLOAT.match(kind):
            columns[name] = pd.array([None if v is None else float(v) for v in values],
                                     dtype="float64")
        elif _TEXT.match(kind):
            columns[name] = pd.array(values, dtype="string")
        elif kind == "boolean":
            columns[name] = pd.array(values, dtype="boolean")
        elif kind.startswith("timestamp") or kind == "date":
            columns[name] = pd.to_datetime(pd.Series(values, dtype=object),
                                           utc="with time zone" in kind)
        else:
            columns[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)
