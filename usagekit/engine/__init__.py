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

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "athena": ("AthenaEngine",),
    "base": ("Engine",),
    "duckdb": ("DuckDBEngine",),
    "open": ("open_engine",),
    "trino": ("TrinoEngine",),
})
