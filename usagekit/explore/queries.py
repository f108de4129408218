"""The explorer's SQL (Athena dialect, values bound to ``?``) and a cache of its answers.

Two questions reach the engine: the interval's counts per client and endpoint (once per
interval and granularity; every client, endpoint and method breakdown is cut from it) and
the selection's counts per period (once per selection). Answers are kept per statement
and parameters, so going back to an earlier view or switching the metric asks nothing
(rows stored later are seen by a new explorer: run the notebook's cells again).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from usagekit.analyses.library import interval_values, render, resolve_grouping
from usagekit.row import GRANULARITY, GROUPING, KEY_HTTP_METHOD, KEY_OAUTH_CLIENT, KEY_TEMPLATE_URI

if TYPE_CHECKING:
    import pandas as pd

    from usagekit.engine import Engine

_logger = logging.getLogger(__name__)

#: The explorer's queries, one ``.sql`` file each.
SQL_DIR = Path(__file__).resolve().parent / "sql"
#: The grouping-key parts every explorer query needs in the stored grouping (client,
#: endpoint and method).
REQUIRED_GROUPING_KEYS: tuple[str, ...] = (KEY_OAUTH_CLIENT, KEY_TEMPLATE_URI, KEY_HTTP_METHOD)
CACHE_SIZE = 64


def sql(name: str) -> str:
    """The query ``sql/<name>.sql`` without its ``--`` header."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("--"))


@dataclass(frozen=True)
class Filters:
    """Which rows a series counts ("" or an empty tuple: all).

    Attributes
    ----------
    clients : tuple of str
        OAuth client ids.
    template_uri : str
        One endpoint's template URI.
    http_method : str
        One HTTP method.
    """

    clients: tuple[str, ...] = ()
    template_uri: str = ""
    http_method: str = ""

    def template(self) -> tuple[str, dict[str, Any]]:
        """The ``{filters}`` SQL text (fields only, never values) and the values to bind."""
        parts: list[str] = []
        values: dict[str, Any] = {}
        if self.clients:
            names = [f"client_{i}" for i in range(len(self.clients))]
            parts.append("clientId IN (" + ", ".join(f"{{{n}}}" for n in names) + ")")
            values |= dict(zip(names, self.clients, strict=True))
        if self.template_uri:
            parts.append("templateUri = {template_uri}")
            values["template_uri"] = self.template_uri
        if self.http_method:
            parts.append("httpMethod = {http_method}")
            values["http_method"] = self.http_method
        return "".join(f"\n      AND {p}" for p in parts), values


class Queries:
    """The explorer's questions to one engine, answered once each.

    Parameters
    ----------
    engine : Engine
        Any engine :func:`usagekit.engine.open_engine` opens (DuckDB, Athena, ...).
    cache_size : int
        How many answers to keep (least recently used go first).
    org : str, optional
        An organisation id: only its rows are asked about (default: every row).
    """

    def __init__(self, engine: Engine, cache_size: int = CACHE_SIZE,
                 org: str | None = None) -> None:
        self.engine = engine
        self.org = org
        self._cache: OrderedDict[tuple[str, tuple[Any, ...]], pd.DataFrame] = OrderedDict()
        self._cache_size = cache_size
        self._groupings: dict[str, str] = {}
        #: How many statements went to the engine (the rest came from the cache).
        self.asked = 0

    def grouping(self, granularity: str) -> str:
        """The finest stored grouping of ``granularity`` holding client, endpoint and method."""
        if granularity not in self._groupings:
            self._groupings[granularity] = resolve_grouping(self.engine, granularity,
                                                            REQUIRED_GROUPING_KEYS, self.org)
        return self._groupings[granularity]

    def statement(self, name: str, granularity: str, start: Any, end: Any,
                  filters: Filters | None = None) -> tuple[str, list[Any]]:
        """The text (``?`` placeholders) and bound values of query ``name``."""
        fragment, bound = (filters or Filters()).template()
        values = {GRANULARITY: granularity, GROUPING: self.grouping(granularity),
                  **interval_values(start, end), **bound, "org": self.org}
        return render(sql(name).replace("{filters}", fragment), self.engine.source, values)

    def usage_by_endpoint(self, granularity: str, start: Any, end: Any) -> pd.DataFrame:
        """Counts per client, template URI and method over the interval."""
        return self._ask(*self.statement("usage_by_endpoint", granularity, start, end))

    def series(self, granularity: str, start: Any, end: Any, filters: Filters,
               by_client: bool) -> pd.DataFrame:
        """Counts per period of the rows ``filters`` keep (per client when ``by_client``)."""
        name = "series_by_client" if by_client else "series_total"
        return self._ask(*self.statement(name, granularity, start, end, filters))

    def _ask(self, text: str, params: Sequence[Any]) -> pd.DataFrame:
        key = (text, tuple(params))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        self.asked += 1
        answer = self.engine.sql(text, list(params))
        self._cache[key] = answer
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        _logger.debug("explorer query: %d rows", len(answer))
        return answer
