"""One place for paths, environment variables and settings.

Everything that can be configured is read here: the environment the official Genesys tools
use (``GENESYSCLOUD_*``), the standard AWS credential chain (left to boto3), ``USAGEKIT_*``
variables for the kit itself, and a deployed usagekit CloudFormation stack
(``USAGEKIT_STACK``, :mod:`usagekit.config.stack`).
"""

from __future__ import annotations

from usagekit.config.environment import athena_settings, dataset_location
from usagekit.config.settings import (
    DEFAULT_DATABASE,
    DEFAULT_DATASET,
    DEFAULT_TABLE,
    DEFAULT_WORKGROUP,
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
    GC_CONFIG_RELATIVE,
    GC_DEFAULT_PROFILE,
    NOTEBOOKS_DIR,
    PACKAGE_DIR,
    PROJECT_ROOT,
    REPORTS_DIR,
    SECRET_ENV_VARS,
    AthenaSettings,
    is_s3,
    validate_identifier,
)
from usagekit.config.stack import StackConfig, load_stack, stack_from_env

__all__ = [
    "DEFAULT_DATABASE", "DEFAULT_DATASET", "DEFAULT_TABLE", "DEFAULT_WORKGROUP",
    "ENV_ACCESS_TOKEN", "ENV_ATHENA_DATABASE", "ENV_ATHENA_OUTPUT", "ENV_ATHENA_TABLE",
    "ENV_ATHENA_WORKGROUP", "ENV_CLIENT_ID", "ENV_CLIENT_SECRET", "ENV_DATASET", "ENV_REGION",
    "ENV_STACK", "GC_CONFIG_RELATIVE", "GC_DEFAULT_PROFILE", "NOTEBOOKS_DIR", "PACKAGE_DIR",
    "PROJECT_ROOT", "REPORTS_DIR",
    "SECRET_ENV_VARS", "AthenaSettings", "StackConfig", "athena_settings", "dataset_location",
    "is_s3", "load_stack", "stack_from_env", "validate_identifier",
]
