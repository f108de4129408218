"""Paths, environment variable names, defaults and the validated settings types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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

# Genesys Cloud, as the CLI, Terraform provider and SDK examples name them.
ENV_CLIENT_ID = "GENESYSCLOUD_OAUTHCLIENT_ID"
ENV_CLIENT_SECRET = "GENESYSCLOUD_OAUTHCLIENT_SECRET"
ENV_REGION = "GENESYSCLOUD_REGION"
ENV_ACCESS_TOKEN = "GENESYSCLOUD_ACCESS_TOKEN"
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

# Names the blueprint's SQL uses; both engines expose the dataset under them.
DEFAULT_DATABASE = "genesysclouddb"
DEFAULT_TABLE = "gc_usage_api_source"
DEFAULT_WORKGROUP = "primary"

#: Environment variables whose values must never reach a log, notebook or report.
SECRET_ENV_VARS = (
    ENV_CLIENT_SECRET,
    ENV_ACCESS_TOKEN,
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
