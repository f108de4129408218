"""The analysis catalogue: options, SQL rendering with bound parameters, and the runners."""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from usagekit.analyses.licences import LicenceBook, load_licences, parse_licences
from usagekit.analyses.overage import (
    CLIENT_COLUMNS,
    DAY_COLUMNS,
    MONTH_COLUMNS,
    fair_use_daily_frame,
    fair_use_frame,
    overage_by_client_frame,
)
from usagekit.analyses.post import parse_timestamp, status_mix_frame
from usagekit.exceptions import ConfigError, MissingCountsError
from usagekit.row import (
    CLIENT_ID,
    CLIENT_NAME,
    COUNT_FIELDS,
    DATE,
    GRANULARITY_VALUES,
    GROUPING_KEYS,
    HTTP_METHOD,
    KEY_HTTP_METHOD,
    KEY_OAUTH_CLIENT,
    KEY_TEMPLATE_URI,
    NO_GROUPING,
    ORG,
    REQUESTS,
    STATUS200,
    STATUS300,
    STATUS400,
    STATUS429,
    STATUS500,
    TEMPLATE_URI,
    Org,
)

if TYPE_CHECKING:  # pandas and the engines load on first use: `usagekit --help` stays fast
    import pandas as pd

    from usagekit.engine import Engine

_logger = logging.getLogger(__name__)

#: The analyses' SQL, one ``.sql`` file per query.
SQL_DIR = Path(__file__).resolve().parent / "sql"

#: The counts as the analyses list them: ``requests`` first, then the statuses by code.
COUNT_ORDER: tuple[str, ...] = tuple(sorted(COUNT_FIELDS, key=lambda f: (f != REQUESTS, f)))
_METRIC_WORD = re.compile(r"\b(" + "|".join(COUNT_ORDER) + r")\b", re.IGNORECASE)
#: What the explorer can show, with labels: three counts (errors = 4xx + 5xx) and a rate.
VIEW_METRICS: dict[str, str] = {REQUESTS: "Requests", STATUS429: "429s",
                                "errors": "Errors", "error_rate": "Error rate"}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_EARLIEST = "1970-01-01T00:00:00Z"
_LATEST = "9999-01-01T00:00:00Z"

#: Shared filter: one granularity, one grouping, bucket start in [start, end).
_WHERE = """granularity = {granularity} AND "grouping" = {grouping}
      AND period BETWEEN {start_period} AND {end_period}
      AND from_iso8601_timestamp("date") >= from_iso8601_timestamp({start})
      AND from_iso8601_timestamp("date") < from_iso8601_timestamp({end})"""
#: Added to the shared filter when an analysis reads one organisation (its id bound).
_WHERE_ORG = f" AND {ORG} = {{org}}"


@dataclass(frozen=True)
class Option:
    """An analysis-specific option (besides granularity, grouping, start and end)."""

    name: str
    type: type
    default: Any
    help: str
    minimum: float | None = None
    choices: tuple[str, ...] | None = None

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this option's type, or raise ConfigError."""
        if self.type is LicenceBook:
            return licence_book(value)
        if self.type is dict:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{self.name} must be a mapping, got {value!r}")
            return dict(value)
        if self.type is bool:
            if value in (True, False, 0, 1) or str(value).lower() in _BOOLEANS:
                return _BOOLEANS.get(str(value).lower(), bool(value))
            raise ConfigError(f"invalid {self.name} {value!r}: expected true or false")
        if isinstance(value, bool) or (self.type is int and isinstance(value, float)):
            raise ConfigError(f"invalid {self.name} {value!r}: expected {self.type.__name__}")
        try:
            converted = self.type(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"invalid {self.name} {value!r}: expected {self.type.__name__}") from None
        if self.minimum is not None and converted < self.minimum:
            raise ConfigError(f"invalid {self.name} {value!r}: must be >= {self.minimum}")
        if self.choices is not None and converted not in self.choices:
            raise ConfigError(
                f"invalid {self.name} {value!r}; valid: {', '.join(self.choices)}")
        return converted


@dataclass(frozen=True)
class Analysis:
    """One named analysis: SQL template, options, post-processing and output columns.

    The SQL template holds ``{source}`` (the quoted table) and ``{name}`` fields; every
    field except ``source`` becomes a ``?`` bound to that value, in order of appearance.
    Every analysis reads all organisations' rows (``org=None``) or one organisation's
    (``org`` its id, bound as a parameter).
    """

    name: str
    description: str
    sql: str
    columns: tuple[str, ...]
    dimensions: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    default_granularity: str = "day"
    granularities: tuple[str, ...] = GRANULARITY_VALUES
    post: Callable[[pd.DataFrame, Mapping[str, Any]], pd.DataFrame] | None = None

    def render(self, source: str, values: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The statement text (``?`` placeholders) and its parameters, in order."""
        return render(self.sql, source, values)

    def __call__(self, engine: Engine, *, org: str | Org | None = None,
                 granularity: str | None = None, grouping: str | None = None,
                 start: Any = None, end: Any = None, **options: Any) -> pd.DataFrame:
        """Run the analysis on ``engine``; see :data:`ANALYSES` for the options.

        ``org`` is an organisation (its id or :class:`~usagekit.row.Org`): only its rows
        are read (None: every org's).
        """
        values = self.bind(engine, org=org, granularity=granularity, grouping=grouping,
                           start=start, end=end, **options)
        text, params = self.render(engine.source, values)
        _logger.info("analysis %s: org=%s granularity=%s grouping=%s", self.name,
                     values["org"] or "all", values["granularity"], values["grouping"])
        self.check_counts(engine, values)
        frame = engine.sql(text, params)
        if self.post is not None:
            frame = self.post(frame, values)
        return frame.reindex(columns=list(self.columns)).reset_index(drop=True)

    def counts(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The counts the analysis reads: its ``metric`` option's, else those its SQL names."""
        if "metric" in values:
            return (values["metric"],)
        named = {word.lower() for word in _METRIC_WORD.findall(self.sql)}
        return tuple(m for m in COUNT_ORDER if m in named)

    def check_counts(self, engine: Engine, values: Mapping[str, Any]) -> None:
        """Refuse to answer when rows it would read lack a count it needs (one query).

        Rows exported with a ``metrics`` subset keep the other counts missing (NULL);
        summing them would answer with a part of the truth.

        Raises
        ------
        MissingCountsError
            Naming the counts, how many rows lack them, and how to get them.
        """
        needed = self.counts(values)
        if not needed:
            return
        lacking = ", ".join(f"count(*) - count({m}) AS {m}" for m in needed)
        text, params = render(f"SELECT count(*) AS n, {lacking} FROM {{source}} "
                              "WHERE {where}", engine.source, values)
        found = engine.sql(text, params)
        if not len(found):
            return
        row = found.iloc[0]
        short = {m: int(row[m]) for m in needed if not _is_na(row[m]) and int(row[m]) > 0}
        if short:
            total = int(row["n"])
            raise MissingCountsError(
                f"{self.name} needs {', '.join(short)}, which stored rows lack ("
                + "; ".join(f"{m}: {n} of {total} rows" for m, n in short.items())
                + f"; granularity {values['granularity']}, grouping {values['grouping']}, "
                f"{values['start'][:10]} to {values['end'][:10]}): they came from an export "
                "with a metrics subset. Fetch that interval again with every metric "
                "(usagekit fetch --dataset, no --metric), or import an export that has them")

    def bind(self, engine: Engine | None, *, org: str | Org | None = None,
             granularity: str | None = None, grouping: str | None = None, start: Any = None,
             end: Any = None, **options: Any) -> dict[str, Any]:
        """Validate and complete the values for :meth:`render` (grouping resolved on ``engine``)."""
        known = {o.name: o for o in self.options}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(unknown)} for analysis {self.name!r}; "
                f"valid: {', '.join(known) or '(none)'}")
        granularity = granularity or self.default_granularity
        if granularity not in self.granularities:
            raise ConfigError(f"invalid granularity {granularity!r} for {self.name}; "
                              f"valid: {', '.join(self.granularities)}")
        values: dict[str, Any] = {ORG: check_org(org), "granularity": granularity}
        values.update(interval_values(start, end))
        for name, option in known.items():
            values[name] = option.check(options.get(name, option.default))
        if grouping is None:
            if engine is None:
                raise ConfigError("grouping is required when no engine is given")
            grouping = resolve_grouping(engine, granularity, self.dimensions, values["org"])
        values["grouping"] = check_grouping(grouping, self.dimensions)
        return values


def licence_book(value: Any) -> LicenceBook | None:
    """The ``licences`` option: None (unknown), a file path, a document or a LicenceBook."""
    if value is None or isinstance(value, LicenceBook):
        return value
    if isinstance(value, str | Path):
        return load_licences(value) if str(value) else None
    if isinstance(value, Mapping):
        return parse_licences(value) if value else None
    raise ConfigError(f"invalid licences {value!r}: expected a licences file (TOML), its "
                      "decoded document or a LicenceBook")


def _is_na(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def render(template: str, source: str, values: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """Fill ``{source}`` with the quoted table and every other field with a bound ``?``.

    Parameters
    ----------
    template : str
        SQL with ``{where}``, ``{source}`` and ``{name}`` fields.
    source : str
        The validated ``"database"."table"`` (from ``engine.source``).
    values : mapping
        A value for every other field; ``org`` (when not None) adds ``org = ?`` to
        ``{where}``.

    Returns
    -------
    tuple of (str, list)
        The statement and its parameters, in placeholder order.
    """
    text: list[str] = []
    params: list[Any] = []
    where = _WHERE + (_WHERE_ORG if values.get("org") is not None else "")
    for literal, name, _spec, _conv in string.Formatter().parse(template.replace(
            "{where}", where)):
        text.append(literal)
        if name is None:
            continue
        if name == "source":
            text.append(source)
        else:
            text.append("?")
            params.append(values[name])
    return "".join(text), params


def interval_values(start: Any, end: Any) -> dict[str, str]:
    """Bound values for the interval filter: ISO bounds and the months they span.

    ``start``/``end`` are dates, datetimes or ISO strings (naive = UTC); ``None`` is
    open-ended. ``end`` is exclusive.
    """
    import pandas as pd

    lo = parse_timestamp(start, "start") if start is not None else None
    hi = parse_timestamp(end, "end") if end is not None else None
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(f"empty interval: start {lo.isoformat()} is not before end "
                          f"{hi.isoformat()}")
    iso = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "start": lo.strftime(iso) if lo is not None else _EARLIEST,
        "end": hi.strftime(iso) if hi is not None else _LATEST,
        "start_period": lo.strftime("%Y-%m") if lo is not None else _EARLIEST[:7],
        "end_period": (hi - pd.Timedelta(microseconds=1)).strftime("%Y-%m")
        if hi is not None else _LATEST[:7],
    }


def check_org(org: str | Org | None) -> str | None:
    """The organisation id ``org`` names (an id or an :class:`~usagekit.row.Org`; None for
    every org), or raise ConfigError."""
    if org is None:
        return None
    if isinstance(org, Org):
        return org.id
    if not isinstance(org, str) or not org.strip():
        raise ConfigError(f"invalid org {org!r}: expected an organisation id, or None for "
                          "every organisation's rows")
    return org.strip()


def check_grouping(grouping: str, dimensions: tuple[str, ...] = ()) -> str:
    """Return ``grouping`` if it is a grouping key holding ``dimensions``, else raise."""
    parts = [] if grouping == NO_GROUPING else grouping.split("-")
    if not isinstance(grouping, str) or not all(p in GROUPING_KEYS for p in parts) or (
            parts != sorted(parts, key=GROUPING_KEYS.index)) or len(set(parts)) != len(parts):
        raise ConfigError(f"invalid grouping {grouping!r}: expected 'none' or "
                          f"{'-'.join(GROUPING_KEYS)} components in that order, joined by '-'")
    missing = [d for d in dimensions if d not in parts]
    if missing:
        raise ConfigError(f"grouping {grouping!r} lacks {', '.join(missing)}, which this "
                          "analysis needs; pick a grouping that holds it")
    return grouping


def available_groupings(engine: Engine, granularity: str, org: str | None = None) -> list[str]:
    """The grouping keys stored for ``granularity`` (of ``org``, else of any org; sorted)."""
    where, params = "WHERE granularity = ?", [granularity]
    if org is not None:
        where, params = where + f" AND {ORG} = ?", [granularity, org]
    frame = engine.sql(f'SELECT DISTINCT "grouping" FROM {engine.source} {where}', params)
    return sorted(frame.iloc[:, 0].dropna().astype(str)) if len(frame) else []


def resolve_grouping(engine: Engine, granularity: str, dimensions: tuple[str, ...],
                     org: str | None = None) -> str:
    """The finest stored grouping holding ``dimensions`` (most components; ties: by name).

    When nothing is stored for ``granularity``, the grouping of exactly ``dimensions``
    (the query then returns no rows). Raises ConfigError when data exists but no
    grouping holds the dimensions.
    """
    stored = available_groupings(engine, granularity, org)
    fitting = [g for g in stored if g != NO_GROUPING and set(dimensions) <= set(g.split("-"))]
    if not dimensions and NO_GROUPING in stored:
        fitting.append(NO_GROUPING)
    if fitting:
        return sorted(fitting, key=lambda g: (-len(g.split("-")) if g != NO_GROUPING else 0,
                                              g))[0]
    if stored:
        raise ConfigError(
            f"no stored grouping for granularity={granularity} holds "
            f"{', '.join(dimensions)}; stored: {', '.join(stored)}. Fetch with the matching "
            "groupBy, or pass --grouping")
    return "-".join(d for d in GROUPING_KEYS if d in dimensions) or NO_GROUPING


def _limit(option: str = "limit", default: int = 10) -> Option:
    return Option(option, int, default, "how many rows to keep", minimum=1)


def _sql(name: str) -> str:
    """The query ``sql/<name>.sql`` shipped with the package, without its ``--`` header."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("--"))


_FAIR_USE_OPTIONS = (
    Option("licences", LicenceBook, None, "the org's licences file (TOML; see "
           "usagekit.analyses.licences); without it the allowance is unknown"),
    Option("as_of", str, "", "last complete day (default: last day with data)"))

_TIME_COLUMNS = (DATE, REQUESTS, STATUS200, STATUS300, STATUS400, STATUS429, STATUS500,
                 "rate429", "error_rate")

ANALYSES: dict[str, Analysis] = {a.name: a for a in (
    Analysis(
        "requests_over_time",
        "Requests and status counts per period (org total), with 429 and error rates.",
        _sql("totals_over_time"), _TIME_COLUMNS),
    Analysis(
        "status_mix",
        "Status mix: 2xx, 3xx, 4xx other than 429, 429, 5xx (they sum to requests), "
        "over the interval or per period.",
        _sql("totals_over_time"), (DATE, "status", "count", "share"),
        options=(Option("per_period", bool, False, "one mix per period (else one overall)"),),
        post=status_mix_frame),
    Analysis(
        "top_clients_429",
        "OAuth clients with the most 429 (rate-limited) responses.",
        _sql("top_clients_429"),
        ("rank", CLIENT_ID, CLIENT_NAME, STATUS429, REQUESTS, "rate429"),
        dimensions=(KEY_OAUTH_CLIENT,), options=(_limit(),)),
    Analysis(
        "rate_429_over_time",
        "429 rate per period for the clients with the most 429s (or one client).",
        _sql("rate_429_over_time"),
        (DATE, CLIENT_ID, CLIENT_NAME, REQUESTS, STATUS429, "rate429"),
        dimensions=(KEY_OAUTH_CLIENT,),
        options=(Option("top", int, 5, "how many clients (most 429s first)", minimum=1),
                 Option("client_id", str, "", "only this OAuth client id"))),
    Analysis(
        "error_rate_by_endpoint",
        "Error rate (4xx+5xx; 429s are part of 4xx) by templateUri and method.",
        _sql("error_rate_by_endpoint"),
        ("rank", TEMPLATE_URI, HTTP_METHOD, REQUESTS, STATUS400, STATUS429, STATUS500,
         "errors", "error_rate", "rate429"),
        dimensions=(KEY_TEMPLATE_URI, KEY_HTTP_METHOD),
        options=(_limit(default=20),
                 Option("min_requests", int, 1, "ignore endpoints with fewer requests",
                        minimum=1))),
    Analysis(
        "method_mix",
        "Traffic mix by HTTP method: requests, errors, 429s and share of requests.",
        _sql("method_mix"), (HTTP_METHOD, REQUESTS, "errors", STATUS429, "share"),
        dimensions=(KEY_HTTP_METHOD,)),
    Analysis(
        "client_changes",
        "Clients that appeared, vanished, surged or dropped from one period to the next "
        "(week over week by default).",
        _sql("client_changes"),
        (DATE, CLIENT_ID, CLIENT_NAME, "change", REQUESTS, "previous_requests", "ratio"),
        dimensions=(KEY_OAUTH_CLIENT,), default_granularity="week",
        options=(Option("factor", float, 2.0, "surge/drop when requests changed by this "
                        "factor or more", minimum=1.0),
                 Option("min_requests", int, 100, "ignore clients below this many requests "
                        "in both periods", minimum=1))),
    Analysis(
        "spikes",
        "Periods where a client's metric exceeds its own baseline (mean + k*sd of the "
        "previous `window` periods, missing periods counted as 0).",
        _sql("spikes"),
        (DATE, CLIENT_ID, CLIENT_NAME, "metric", "value", "baseline_mean", "baseline_sd",
         "score"),
        dimensions=(KEY_OAUTH_CLIENT,),
        options=(Option("metric", str, STATUS429, "which count to watch",
                        choices=COUNT_ORDER),
                 Option("window", int, 7, "baseline length in periods", minimum=2),
                 Option("k", float, 3.0, "how many standard deviations above the mean",
                        minimum=0.0),
                 Option("min_value", int, 10, "ignore values below this", minimum=1)),
        post=lambda frame, values: frame.assign(metric=values["metric"]).astype(
            {"metric": "string"})),
    Analysis(
        "fair_use",
        "Requests per month against the fair-use allowance of the org's licences (unknown "
        "without them), with the overage, the day the allowance runs out and a month-end "
        "projection with a range from the month's weekday pattern.",
        _sql("daily_client_requests"), MONTH_COLUMNS, dimensions=(KEY_OAUTH_CLIENT,),
        granularities=("day",), options=_FAIR_USE_OPTIONS, post=fair_use_frame),
    Analysis(
        "fair_use_daily",
        "The fair-use allowance used day by day: actual days, then projected ones with a "
        "range, cumulative against the allowance.",
        _sql("daily_client_requests"), DAY_COLUMNS, dimensions=(KEY_OAUTH_CLIENT,),
        granularities=("day",), options=_FAIR_USE_OPTIONS, post=fair_use_daily_frame),
    Analysis(
        "overage_by_client",
        "Each client's (or team's) share of the month's requests and of the overage, pro "
        "rata to requests; Genesys's own clients as their own group; an estimated cost "
        "only with a price per request.",
        _sql("daily_client_requests"), CLIENT_COLUMNS, dimensions=(KEY_OAUTH_CLIENT,),
        granularities=("day",),
        options=(*_FAIR_USE_OPTIONS,
                 Option("per", str, "client", "one row per client or per team (the "
                        "licences file's [teams])", choices=("client", "team"))),
        post=overage_by_client_frame),
)}


def run(name: str, engine: Engine, **options: Any) -> pd.DataFrame:
    """Run the analysis called ``name`` (see :data:`ANALYSES`)."""
    try:
        analysis = ANALYSES[name]
    except KeyError:
        raise ConfigError(f"unknown analysis {name!r}; valid: {', '.join(ANALYSES)}") from None
    return analysis(engine, **options)


def _function(name: str) -> Callable[..., pd.DataFrame]:
    analysis = ANALYSES[name]

    def function(engine: Engine, **options: Any) -> pd.DataFrame:
        return analysis(engine, **options)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = analysis.description
    return function


requests_over_time = _function("requests_over_time")
status_mix = _function("status_mix")
top_clients_429 = _function("top_clients_429")
rate_429_over_time = _function("rate_429_over_time")
error_rate_by_endpoint = _function("error_rate_by_endpoint")
method_mix = _function("method_mix")
client_changes = _function("client_changes")
spikes = _function("spikes")
fair_use = _function("fair_use")
fair_use_daily = _function("fair_use_daily")
overage_by_client = _function("overage_by_client")
