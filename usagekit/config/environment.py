"""Settings as the environment gives them: ``USAGEKIT_*`` over a stack's outputs over defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from usagekit.config.settings import (
    DEFAULT_DATASET,
    ENV_ATHENA_DATABASE,
    ENV_ATHENA_OUTPUT,
    ENV_ATHENA_TABLE,
    ENV_ATHENA_WORKGROUP,
    ENV_DATASET,
    ENV_TRINO_PASSWORD,
    ENV_TRINO_TOKEN,
    ENV_TRINO_URL,
    AthenaSettings,
    TrinoSettings,
)
from usagekit.config.stack import stack_from_env
from usagekit.exceptions import ConfigError


def dataset_location(override: str | os.PathLike[str] | None = None,
                     env: Mapping[str, str] | None = None) -> str:
    """Where the usage dataset lives: a local folder or an ``s3://bucket/prefix/`` URL.

    Order: ``override`` (a ``--dataset`` flag), then ``USAGEKIT_DATASET``, then the
    ``DataLocation`` output of the CloudFormation stack ``USAGEKIT_STACK`` names, then the
    project's ``data/usage`` folder.
    """
    env = os.environ if env is None else env
    if override not in (None, ""):
        return os.fspath(override)  # type: ignore[arg-type]
    value = env.get(ENV_DATASET, "").strip()
    if value:
        return value
    stack = stack_from_env(env)
    return stack.data_location if stack else os.fspath(DEFAULT_DATASET)


def athena_settings(env: Mapping[str, str] | None = None, session: Any = None) -> AthenaSettings:
    """Read ``USAGEKIT_ATHENA_*`` variables over the stack's or the default settings.

    When ``USAGEKIT_STACK`` names a CloudFormation stack, its outputs (read with
    ``session``, a ``boto3.Session``, or the default one) give the defaults; each
    ``USAGEKIT_ATHENA_*`` variable that is set still wins.
    """
    env = os.environ if env is None else env
    stack = stack_from_env(env, session=session)
    base = stack.athena if stack else AthenaSettings()
    return AthenaSettings(
        database=env.get(ENV_ATHENA_DATABASE) or base.database,
        table=env.get(ENV_ATHENA_TABLE) or base.table,
        workgroup=env.get(ENV_ATHENA_WORKGROUP) or base.workgroup,
        output_location=env.get(ENV_ATHENA_OUTPUT) or base.output_location,
    )


def trino_settings(env: Mapping[str, str] | None = None) -> TrinoSettings:
    """The Trino coordinator ``USAGEKIT_TRINO_URL`` names, with its optional credentials.

    The table name is the one the other engines use (``USAGEKIT_ATHENA_TABLE`` or
    ``gc_usage_api_source``).

    Raises
    ------
    ConfigError
        When ``USAGEKIT_TRINO_URL`` is unset or malformed.
    """
    env = os.environ if env is None else env
    url = env.get(ENV_TRINO_URL, "").strip()
    if not url:
        raise ConfigError(f"the Trino engine needs {ENV_TRINO_URL}="
                          "http[s]://user@host:port/catalog/schema (for example "
                          "http://usagekit@127.0.0.1:8080/hive/genesysclouddb)")
    return TrinoSettings(url, password=env.get(ENV_TRINO_PASSWORD) or None,
                         token=env.get(ENV_TRINO_TOKEN) or None,
                         table=env.get(ENV_ATHENA_TABLE) or AthenaSettings().table)
