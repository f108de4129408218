"""One place for paths, environment variables and settings.

Everything that can be configured is read here: the environment the official Genesys tools
use (``GENESYSCLOUD_*``), the standard AWS credential chain (left to boto3), ``USAGEKIT_*``
variables for the kit itself, and a deployed usagekit CloudFormation stack
(``USAGEKIT_STACK``, :mod:`usagekit.config.stack`).
"""

from __future__ import annotations

from usagekit.config.environment import athena_settings, dataset_location, trino_settings
from usagekit.config.settings import (
    ALERT_STATE,
    DEFAULT_DATABASE,
    DEFAULT_DATASET,
    DEFAULT_TABLE,
    DEFAULT_WORKGROUP,
    ENGINES,
    ENV_ACCESS_TOKEN,
    ENV_ATHENA_DATABASE,
    ENV_ATHENA_OUTPUT,
    ENV_ATHENA_TABLE,
    ENV_ATHENA_WORKGROUP,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_DATASET,
    ENV_REGION,
    ENV_STACK,
    ENV_TRINO_PASSWORD,
    ENV_TRINO_TOKEN,
    ENV_TRINO_URL,
    NOTEBOOKS_DIR,
    NOTIFY_FORMATS,
    PACKAGE_DIR,
    PROJECT_ROOT,
    REPORT_GROUP_BY,
    REPORTS_DIR,
    SECRET_ENV_VARS,
    SYNC_GRANULARITIES,
    SYNC_LOOKBACK_DAYS,
    SYNC_TRAILING_DAYS,
    AthenaSettings,
    TrinoSettings,
    is_s3,
    validate_identifier,
)
from usagekit.config.stack import StackConfig, load_stack, stack_from_env

__all__ = [
    "ALERT_STATE",
    "DEFAULT_DATABASE",
    "DEFAULT_DATASET",
    "DEFAULT_TABLE",
    "DEFAULT_WORKGROUP",
    "ENGINES",
    "ENV_ACCESS_TOKEN",
    "ENV_ATHENA_DATABASE",
    "ENV_ATHENA_OUTPUT",
    "ENV_ATHENA_TABLE",
    "ENV_ATHENA_WORKGROUP",
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "ENV_DATASET",
    "ENV_REGION",
    "ENV_STACK",
    "ENV_TRINO_PASSWORD",
    "ENV_TRINO_TOKEN",
    "ENV_TRINO_URL",
    "NOTEBOOKS_DIR",
    "NOTIFY_FORMATS",
    "PACKAGE_DIR",
    "PROJECT_ROOT",
    "REPORTS_DIR",
    "REPORT_GROUP_BY",
    "SECRET_ENV_VARS",
    "SYNC_GRANULARITIES",
    "SYNC_LOOKBACK_DAYS",
    "SYNC_TRAILING_DAYS",
    "AthenaSettings",
    "StackConfig",
    "TrinoSettings",
    "athena_settings",
    "dataset_location",
    "is_s3",
    "load_stack",
    "stack_from_env",
    "trino_settings",
    "validate_identifier",
]
