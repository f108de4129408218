"""Query engines: the same Athena (Trino) SQL on DuckDB locally, on Athena, or on Trino.

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

from usagekit.config import ENGINES
from usagekit.engine.athena import AthenaEngine
from usagekit.engine.base import DIALECTS, PARAM_TYPES, Engine, check_params, tidy_result
from usagekit.engine.dialect import athena_to_duckdb, parse_athena
from usagekit.engine.duckdb import DuckDBEngine
from usagekit.engine.open import open_engine
from usagekit.engine.trino import TrinoEngine, sync_partitions_sql, table_ddl

__all__ = ["DIALECTS", "ENGINES", "PARAM_TYPES", "AthenaEngine", "DuckDBEngine",
           "Engine", "TrinoEngine", "athena_to_duckdb", "check_params", "open_engine",
           "parse_athena", "sync_partitions_sql", "table_ddl", "tidy_result"]
