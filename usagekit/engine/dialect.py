"""Athena (Trino) SQL → DuckDB SQL, through sqlglot's typed transpiler.

Plain ``sqlglot.transpile`` silently changes Trino semantics (integer division,
``try()``); qualifying the query and annotating its types against the table
schema first keeps them (query-engine.md §6).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from usagekit.exceptions import EngineError

_logger = logging.getLogger(__name__)

def parse_athena(text: str) -> exp.Expression:
    """Parse one statement in the Athena dialect.

    Raises
    ------
    EngineError
        When the text is not one valid Athena (Trino) statement.
    """
    try:
        statements = [s for s in sqlglot.parse(text, read="athena") if s is not None]
    except ParseError as exc:
        raise EngineError(f"SQL is not valid Athena (Trino) syntax: {exc}") from exc
    if len(statements) != 1:
        raise EngineError(
            f"expected exactly one SQL statement, got {len(statements)}: {text[:200]!r}"
        )
    return statements[0]


def athena_to_duckdb(text: str, tables: Mapping[tuple[str, str], Mapping[str, str]]) -> str:
    """Transpile Athena SQL to DuckDB SQL in typed mode.

    Parameters
    ----------
    text : str
        One statement in the Athena (Trino) dialect; ``?`` placeholders are kept.
    tables : mapping
        ``(database, table) -> {column: SQL type}`` for every table the query may read.

    Returns
    -------
    str
        The DuckDB statement.

    Raises
    ------
    EngineError
        When the text does not parse or references unknown tables or columns.

    Notes
    -----
    Results are cached per (text, tables): a repeated query is not transpiled again.
    """
    key = tuple((database, table, tuple(columns.items()))
                for (database, table), columns in tables.items())
    return _transpile(text, key)


_Tables = tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]


@functools.lru_cache(maxsize=512)
def _transpile(text: str, tables: _Tables) -> str:
    expression = parse_athena(text)
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for database, table, columns in tables:
        schema.setdefault(database, {})[table] = dict(columns)
    try:
        qualified = qualify(expression, schema=schema, dialect="athena")
        typed = annotate_types(qualified, schema=schema, dialect="athena")
        out = typed.sql(dialect="duckdb")
    except (OptimizeError, SqlglotError) as exc:
        known = ", ".join(f"{d}.{t}" for d, t, _ in tables)
        raise EngineError(f"cannot compile the SQL for DuckDB ({exc}); tables: {known}") from exc
    _logger.debug("transpiled to DuckDB: %s", out)
    return out
