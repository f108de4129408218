"""Paths, environment variable names, defaults and the validated settings types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from usagekit import row
from usagekit.exceptions import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _project_root() -> Path:
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd()


PROJECT_ROOT = _project_root()
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
DEFAULT_DATASET = PROJECT_ROOT / "data" / "usage"
REPORTS_DIR = PROJECT_ROOT / "reports"
#: The report's title (its HTML <title>, first heading and summary.json).
REPORT_TITLE = "Genesys Cloud API usage report"

# Genesys Cloud, as the CLI, Terraform provider and SDK examples name them.
ENV_CLIENT_ID = "GENESYSCLOUD_OAUTHCLIENT_ID"
ENV_CLIENT_SECRET = "GENESYSCLOUD_OAUTHCLIENT_SECRET"
ENV_REGION = "GENESYSCLOUD_REGION"
ENV_ACCESS_TOKEN = "GENESYSCLOUD_ACCESS_TOKEN"
#: What a real organisation needs, as error messages say it.
GENESYS_SETTINGS = (f"{ENV_REGION} with {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} "
                    f"(or {ENV_ACCESS_TOKEN}), or a gc --profile")
#: The Genesys Cloud CLI's profiles, relative to ``$HOME``, and its default profile.
GC_CONFIG_RELATIVE = Path(".gc") / "config.toml"
GC_DEFAULT_PROFILE = "DEFAULT"

# The kit's own settings.
ENV_DATASET = "USAGEKIT_DATASET"
ENV_STACK = "USAGEKIT_STACK"
ENV_ATHENA_DATABASE = "USAGEKIT_ATHENA_DATABASE"
ENV_ATHENA_TABLE = "USAGEKIT_ATHENA_TABLE"
ENV_ATHENA_WORKGROUP = "USAGEKIT_ATHENA_WORKGROUP"
ENV_ATHENA_OUTPUT = "USAGEKIT_ATHENA_OUTPUT"
ENV_TRINO_URL = "USAGEKIT_TRINO_URL"
ENV_TRINO_PASSWORD = "USAGEKIT_TRINO_PASSWORD"
ENV_TRINO_TOKEN = "USAGEKIT_TRINO_TOKEN"

#: The query engines: DuckDB over the dataset, Athena over its Glue table, a Trino cluster.
ENGINES: tuple[str, ...] = ("local", "athena", "trino")

# Names the blueprint's SQL uses; both engines expose the dataset under them.
DEFAULT_DATABASE = "genesysclouddb"
DEFAULT_TABLE = "gc_usage_api_source"
DEFAULT_WORKGROUP = "primary"

# What ``usagekit sync`` (and the report) keep up to date, and where alert state lives.
#: The groupBy set the report reads and ``sync`` fetches by default.
REPORT_GROUP_BY: tuple[str, ...] = (row.BY_OAUTH_CLIENT, row.BY_TEMPLATE_URI, row.BY_HTTP_METHOD)
#: The granularities ``sync`` keeps up to date by default: all of them.
SYNC_GRANULARITIES: tuple[str, ...] = row.GRANULARITIES
#: First sync: the last N complete UTC days (``--since`` to choose).
SYNC_LOOKBACK_DAYS = 90
#: Recent days fetched again on every sync: their counts can still change.
SYNC_TRAILING_DAYS = 2
#: The alert state object beside the dataset (what was notified, per webhook).
ALERT_STATE = "_usagekit.alerts.json"
#: The lock beside it: one `check --notify` at a time reads, sends and saves.
ALERT_LOCK = "_usagekit.alerts.lock"
#: Webhook payload formats: Slack-compatible, Microsoft Teams-compatible, plain JSON.
NOTIFY_FORMATS: tuple[str, ...] = ("slack", "teams", "json")
#: File formats a dataset can hold (one per dataset).
DATASET_FORMATS: tuple[str, ...] = ("ndjson", "parquet")

# Concurrent writers of one dataset take turns (usagekit.dataset.lock).
#: Seconds a write waits for another writer's lock before it gives up.
LOCK_TIMEOUT = 300.0
#: Seconds an S3 lock counts as held unless its holder renews it; a dead holder's lock is
#: taken over after that.
LOCK_LEASE = 120.0

#: Environment variables whose values must never reach a log, notebook or report.
SECRET_ENV_VARS = (
    ENV_CLIENT_SECRET,
    ENV_ACCESS_TOKEN,
    ENV_TRINO_PASSWORD,
    ENV_TRINO_TOKEN,
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


def validate_identifier(value: str, what: str = "identifier") -> str:
    """Return ``value`` if it is a safe SQL identifier (Glue/Athena rules), else raise.

    Parameters
    ----------
    value : str
        A database or table name.
    what : str
        What the value names, for the error message.

    Raises
    ------
    ConfigError
        When ``value`` is not lower-case letters, digits and underscores,
        starting with a letter or underscore, at most 128 characters.
    """
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ConfigError(
            f"invalid {what} {value!r}: use 1-128 lower-case letters, digits or '_', "
            "not starting with a digit"
        )
    return value


def is_s3(location: str) -> bool:
    """True when ``location`` is an S3 URL."""
    return location.startswith("s3://")


@dataclass(frozen=True)
class AthenaSettings:
    """Where the Athena engine runs and which table it reads."""

    database: str = DEFAULT_DATABASE
    table: str = DEFAULT_TABLE
    workgroup: str = DEFAULT_WORKGROUP
    output_location: str | None = None

    def __post_init__(self) -> None:
        validate_identifier(self.database, "database name")
        validate_identifier(self.table, "table name")
        if self.output_location is not None and not is_s3(self.output_location):
            raise ConfigError(
                f"invalid Athena output location {self.output_location!r}: "
                "expected an s3://bucket/prefix/ URL"
            )


_TRINO_URL_FORM = "http[s]://user@host:port/catalog/schema"


@dataclass(frozen=True)
class TrinoSettings:
    """Where a Trino (or Starburst) coordinator runs and which catalog and schema hold the table.

    Parameters
    ----------
    url : str
        ``http[s]://user@host:port/catalog/schema`` (no password in it: see ``password``);
        the schema defaults to ``genesysclouddb``, the port to 8080 (http) or 443 (https).
    password : str, optional
        Basic authentication (https only), from ``USAGEKIT_TRINO_PASSWORD``. Never shown.
    token : str, optional
        A JWT (https only), from ``USAGEKIT_TRINO_TOKEN``. Never shown.
    table : str
        The kit's table in that schema.
    """

    url: str
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    table: str = DEFAULT_TABLE

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        shown = self.url.replace(f":{parts.password}@", ":***@") if parts.password else self.url
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"invalid Trino URL {shown!r}: expected {_TRINO_URL_FORM}")
        if parts.password:
            raise ConfigError(f"the Trino URL {shown!r} holds a password: set "
                              f"{ENV_TRINO_PASSWORD} instead and drop it from the URL")
        if parts.query or parts.fragment:
            raise ConfigError(f"invalid Trino URL {shown!r}: expected {_TRINO_URL_FORM} "
                              "with no query or fragment")
        try:
            parts.port  # noqa: B018 - urllib checks the port when it is read
        except ValueError as exc:  # (urllib names the port only, never the password)
            raise ConfigError(f"invalid port in the Trino URL {shown!r}: expected "
                              f"{_TRINO_URL_FORM}") from exc
        path = [p for p in parts.path.split("/") if p]
        if not 1 <= len(path) <= 2:
            raise ConfigError(f"the Trino URL {shown!r} must name a catalog (and optionally a "
                              f"schema): {_TRINO_URL_FORM}")
        validate_identifier(path[0], "Trino catalog name")
        if len(path) == 2:
            validate_identifier(path[1], "Trino schema name")
        validate_identifier(self.table, "table name")
        if self.password and self.token:
            raise ConfigError(f"set one of {ENV_TRINO_PASSWORD} and {ENV_TRINO_TOKEN}, not both")
        if (self.password or self.token) and parts.scheme != "https":
            raise ConfigError(f"Trino credentials need https: {shown!r} is http (Trino accepts "
                              "passwords and tokens over TLS only)")

    @property
    def scheme(self) -> str:
        """``http`` or ``https``."""
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        """The coordinator's host name."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The coordinator's port (8080 for http, 443 for https when the URL has none)."""
        return urlsplit(self.url).port or (443 if self.scheme == "https" else 8080)

    @property
    def user(self) -> str:
        """The Trino user (``usagekit`` when the URL names none)."""
        return urlsplit(self.url).username or "usagekit"

    @property
    def catalog(self) -> str:
        """The catalog (for example ``hive``)."""
        return self._path[0]

    @property
    def schema(self) -> str:
        """The schema holding the table (default ``genesysclouddb``)."""
        return self._path[1] if len(self._path) == 2 else DEFAULT_DATABASE

    @property
    def _path(self) -> list[str]:
        return [p for p in urlsplit(self.url).path.split("/") if p]

    @property
    def display(self) -> str:
        """The URL as messages show it: user, host, port, catalog and schema; no secret."""
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.catalog}/{self.schema}"
