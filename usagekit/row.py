"""The usage row: every name and type a stage needs to speak of it, declared once.

A stored row is the legacy Usage API's row (``jq -c '.results[]'``), in this field order:
the id/name fields (:data:`ID_FIELDS`), the counts (:data:`COUNT_FIELDS`), ``date``, and
``platform`` where grouped by it (:data:`OPTIONAL_FIELDS`). The dataset adds its Hive
partition keys (:data:`PARTITION_KEYS`).

Each dimension (:data:`DIMENSIONS`) carries its groupBy name in both APIs' spellings, its
part of the dataset's grouping key, the row fields it fills and its aggregates filter; each
count (:data:`COUNTS`) its row field, metric name and aggregates field. Granularities come in
the API's spelling (:data:`GRANULARITIES`) and the dataset's (:data:`GRANULARITY_VALUES`).
Types are declared once as Glue/Hive types (:data:`STORED_COLUMNS`) and mapped to Arrow,
SQL and pandas here (:func:`arrow_schema`, :data:`SQL_COLUMNS`, :func:`pandas_dtypes`).
A module that names a few of them uses the constants: fields (``REQUESTS``), groupBy names
(``BY_TEMPLATE_URI``), grouping-key parts (``KEY_TEMPLATE_URI``), partition keys
(``GRANULARITY``); the API names come as a type too (:data:`Api`).

The input rules live here too, for every path that stores rows: text is UTF-8
(:data:`ENCODING`; a leading byte order mark, :data:`BOM`, is skipped; :func:`utf8_error`
finds the first invalid byte), and ``date`` is spelt :data:`DATE_FORMAT` once stored and lies
between :data:`FIRST_DAY` and tomorrow (:func:`date_bounds`).

This module imports nothing heavy: pandas and pyarrow load only when their types are asked
for. The sandbox keeps a vocabulary of its own on purpose (it plays Genesys Cloud).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Dimension:
    """One groupBy dimension.

    Attributes
    ----------
    group_by : str
        The legacy API's groupBy name (the kit's canonical spelling): ``OAuthClientId``.
    aggregates : str
        The aggregates API's groupBy name: ``OauthClientId``.
    key : str
        Its part of the dataset's grouping key: ``oauthclientid``.
    fields : tuple of str
        The row fields it fills: ``("clientId", "clientName")``.
    filter : str
        The aggregates API's filter of it: ``oauthClientIds``.
    aggregates_also : tuple of str
        Aggregates groupBy names asked for along with it, so every field it fills arrives:
        ``OauthClientName`` (Genesys Cloud may fill ``oauthClient.name`` only when asked).
    """

    group_by: str
    aggregates: str
    key: str
    fields: tuple[str, ...]
    filter: str
    aggregates_also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Count:
    """One count of a row.

    Attributes
    ----------
    field : str
        The row field: ``requests``.
    metric : str
        The metric that asks for it (both APIs): ``Requests``.
    aggregates : str
        The aggregates API's field (and ``sortBy`` name): ``requestCount``.
    """

    field: str
    metric: str
    aggregates: str


#: groupBy names (legacy spelling, the kit's canonical one).
BY_OAUTH_CLIENT = "OAuthClientId"
BY_ORGANIZATION = "OrganizationId"
BY_USER = "UserId"
BY_TEMPLATE_URI = "TemplateUri"
BY_HTTP_METHOD = "HttpMethod"
BY_PLATFORM = "Platform"
#: Grouping-key parts (the dataset's spelling of each dimension).
KEY_OAUTH_CLIENT = "oauthclientid"
KEY_ORGANIZATION = "organizationid"
KEY_USER = "userid"
KEY_TEMPLATE_URI = "templateuri"
KEY_HTTP_METHOD = "httpmethod"
KEY_PLATFORM = "platform"
#: Row fields.
CLIENT_ID = "clientId"
CLIENT_NAME = "clientName"
ORGANIZATION_ID = "organizationId"
USER_ID = "userId"
TEMPLATE_URI = "templateUri"
HTTP_METHOD = "httpMethod"
DATE = "date"
PLATFORM = "platform"
STATUS200 = "status200"
STATUS300 = "status300"
STATUS400 = "status400"
STATUS500 = "status500"
STATUS429 = "status429"
REQUESTS = "requests"

#: The groupBy dimensions, in grouping-key order.
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(BY_OAUTH_CLIENT, "OauthClientId", KEY_OAUTH_CLIENT, (CLIENT_ID, CLIENT_NAME),
              "oauthClientIds", aggregates_also=("OauthClientName",)),
    Dimension(BY_ORGANIZATION, "OrganizationId", KEY_ORGANIZATION, (ORGANIZATION_ID,),
              "organizationIds"),
    Dimension(BY_USER, "UserId", KEY_USER, (USER_ID,), "userIds"),
    Dimension(BY_TEMPLATE_URI, "TemplateUri", KEY_TEMPLATE_URI, (TEMPLATE_URI,), "templateUris"),
    Dimension(BY_HTTP_METHOD, "HttpMethod", KEY_HTTP_METHOD, (HTTP_METHOD,), "httpMethods"),
    Dimension(BY_PLATFORM, "Platform", KEY_PLATFORM, (PLATFORM,), "platforms"),
)
#: The counts, in the legacy API's field order. ``status429`` is part of ``status400``.
COUNTS: tuple[Count, ...] = (
    Count(STATUS200, "Status200", "status200"),
    Count(STATUS300, "Status300", "status300"),
    Count(STATUS400, "Status400", "status400"),
    Count(STATUS500, "Status500", "status500"),
    Count(STATUS429, "Status429", "status429"),
    Count(REQUESTS, "Requests", "requestCount"),
)

#: The id/name fields of a legacy row, in the API's order.
ID_FIELDS: tuple[str, ...] = (CLIENT_ID, CLIENT_NAME, ORGANIZATION_ID, USER_ID, TEMPLATE_URI,
                              HTTP_METHOD)
#: The count fields, in the API's order.
COUNT_FIELDS: tuple[str, ...] = tuple(c.field for c in COUNTS)
#: Every field of a legacy API row, in the API's order.
API_FIELDS: tuple[str, ...] = (*ID_FIELDS, *COUNT_FIELDS, DATE)
#: Fields only some rows carry (the aggregates API's ``platform``, when grouped by it).
OPTIONAL_FIELDS: tuple[str, ...] = (PLATFORM,)
#: Every field a stored row may hold, in file order.
ROW_FIELDS: tuple[str, ...] = (*API_FIELDS, *OPTIONAL_FIELDS)

#: groupBy names (legacy spelling, the kit's canonical one), in grouping-key order.
GROUP_BY: tuple[str, ...] = tuple(d.group_by for d in DIMENSIONS)
#: Grouping-key parts, in order.
GROUPING_KEYS: tuple[str, ...] = tuple(d.key for d in DIMENSIONS)
#: Grouping-key part -> the row fields that dimension fills.
GROUP_FIELDS: dict[str, tuple[str, ...]] = {d.key: d.fields for d in DIMENSIONS}
#: The grouping key of rows grouped by nothing.
NO_GROUPING = "none"
#: Metric names (either API), in the legacy API's order.
METRICS: tuple[str, ...] = tuple(c.metric for c in COUNTS)
#: Metric name -> row field.
METRIC_FIELDS: dict[str, str] = {c.metric: c.field for c in COUNTS}
#: Aggregates ``sortBy`` names -> the row field each orders.
SORT_FIELDS: dict[str, str] = {
    DATE: DATE, PLATFORM: PLATFORM, HTTP_METHOD: HTTP_METHOD, TEMPLATE_URI: TEMPLATE_URI,
    **{c.aggregates: c.field for c in COUNTS},
    "oauthClientId": CLIENT_ID, "oauthClientName": CLIENT_NAME, USER_ID: USER_ID,
    ORGANIZATION_ID: ORGANIZATION_ID,
}

#: Granularities in the API's spelling.
GRANULARITIES: tuple[str, ...] = ("Day", "Week", "Month")
#: Granularities in the dataset's spelling (the ``granularity`` partition's values).
GRANULARITY_VALUES: tuple[str, ...] = tuple(g.lower() for g in GRANULARITIES)
#: HTTP methods the Usage API records (and the aggregates ``httpMethods`` filter takes).
HTTP_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
#: The two Usage APIs' names, as a type.
Api: TypeAlias = Literal["legacy", "aggregates"]
#: The two Usage APIs.
APIS: tuple[str, ...] = get_args(Api)

#: Stored columns -> Glue/Hive type, in file order (Glue lower-cases the names; Athena's
#: JSON SerDe and Parquet reader match them case-insensitively). ``date`` is the ISO text.
STORED_COLUMNS: dict[str, str] = {
    **dict.fromkeys(ID_FIELDS, "string"),
    **dict.fromkeys(COUNT_FIELDS, "bigint"),
    DATE: "string",
    **dict.fromkeys(OPTIONAL_FIELDS, "string"),
}
#: Partition keys: the organisation's id (:class:`Org`), the granularity, the grouping key
#: and the month (``YYYY-MM``) of ``date``.
ORG = "org"
GRANULARITY = "granularity"
GROUPING = "grouping"
PERIOD = "period"
#: Hive partition keys -> Glue/Hive type, outermost first.
PARTITION_KEYS: dict[str, str] = dict.fromkeys((ORG, GRANULARITY, GROUPING, PERIOD), "string")
#: The partition keys of datasets stored before organisations (usagekit 0.x, the blueprint's
#: bucket): the same without :data:`ORG`.
LEGACY_PARTITION_KEYS: tuple[str, ...] = (GRANULARITY, GROUPING, PERIOD)
#: Glue/Hive type -> SQL type (Athena, Trino and DuckDB spell these alike).
SQL_TYPES: dict[str, str] = {"string": "VARCHAR", "bigint": "BIGINT"}
#: The dataset's columns as SQL sees them (stored columns, then partition keys).
SQL_COLUMNS: dict[str, str] = {name: SQL_TYPES[kind]
                               for name, kind in {**STORED_COLUMNS, **PARTITION_KEYS}.items()}


@dataclass(frozen=True)
class Org:
    """The Genesys Cloud organisation rows belong to (``GET /api/v2/organizations/me``).

    Attributes
    ----------
    id : str
        The organisation's id (a UUID): the value of the ``org`` partition.
    name : str
        Its name.
    region : str
        Where it was reached: the region's host (``mypurecloud.ie``), or ``sandbox``.
    fictional : bool
        True when the kit itself made the data up: the embedded sandbox. A sandbox reached
        through Genesys settings (a stand-in for a real org in tests) counts as real.
    """

    id: str
    name: str
    region: str
    fictional: bool = False

    @property
    def short_id(self) -> str:
        """The id's first 8 characters (as Genesys's admin UI abbreviates it)."""
        return self.id[:8]

    @property
    def label(self) -> str:
        """``Name (short id, region)``: how every output names the organisation."""
        return f"{self.name} ({self.short_id}, {self.region})"

    def matches(self, text: str) -> bool:
        """Whether ``text`` names this org: its id, short id or name (name ignoring case)."""
        text = text.strip()
        return text in (self.id, self.short_id) or text.casefold() == self.name.casefold()


#: The encoding of every stored and imported text (JSON's; Parquet's strings too).
ENCODING = "utf-8"
#: A UTF-8 byte order mark: skipped at the start of an input (editors on Windows add one).
BOM = b"\xef\xbb\xbf"
#: How ``date`` is stored, whichever command stored it (the API's own spelling, UTC).
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Dates already spelt as :data:`DATE_FORMAT` writes them (stored as they are).
DATE_PATTERN = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
#: The first day a usage row can be dated. Genesys Cloud's API usage endpoints
#: (``/api/v2/usage/query``, later the aggregates jobs) came long after PureCloud's start,
#: and neither serves usage from before 2017; an older date is a typo or an unset clock
#: (1970-01-01), and would make ``sync`` backfill for decades.
FIRST_DAY = date(2017, 1, 1)


def date_bounds(today: date | None = None) -> tuple[datetime, datetime]:
    """The half-open span of dates a usage row may have: :data:`FIRST_DAY` to the day after
    tomorrow (UTC midnights; ``today`` default: now, UTC).

    Usage data ends yesterday; tomorrow is allowed for a clock a day ahead. A later date
    (2100-01-01) would make ``sync`` believe the dataset is current.
    """
    today = today or datetime.now(UTC).date()
    end = today + timedelta(days=2)
    return (datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC),
            datetime(end.year, end.month, end.day, tzinfo=UTC))


def utf8_error(data: bytes | memoryview) -> tuple[int, str] | None:
    """The first invalid UTF-8 in ``data``: its 1-based line and the bytes; None when valid.

    A JSON escape of a lone surrogate (``"\\udc80"``) is not checked here (the JSON
    decoders refuse it).
    """
    try:
        bytes(data).decode(ENCODING)
    except UnicodeDecodeError as exc:
        raw = bytes(data)
        return raw.count(b"\n", 0, exc.start) + 1, repr(raw[exc.start:exc.end])
    return None


def arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of a Glue/Hive type (``string`` or ``bigint``)."""
    import pyarrow as pa

    return {"string": pa.string(), "bigint": pa.int64()}[kind]


def arrow_schema(columns: dict[str, str] | None = None) -> pa.Schema:
    """The Arrow schema of ``columns`` (default :data:`STORED_COLUMNS`), as stored."""
    import pyarrow as pa

    return pa.schema([(name, arrow_type(kind))
                      for name, kind in (columns or STORED_COLUMNS).items()])


def pandas_dtypes() -> dict[str, Any]:
    """Column -> pandas dtype of a typed frame.

    Ids and names are ``string``, counts ``int64``, ``date`` ``datetime64[us, UTC]``, and
    the partition keys (``org`` first) ``string``.
    """
    import numpy as np
    import pandas as pd

    kinds = {"string": pd.StringDtype(), "bigint": np.dtype("int64")}
    dtypes: dict[str, Any] = {name: kinds[kind] for name, kind in STORED_COLUMNS.items()}
    dtypes[DATE] = pd.DatetimeTZDtype(unit="us", tz="UTC")
    return dtypes | {name: kinds[kind] for name, kind in PARTITION_KEYS.items()}
