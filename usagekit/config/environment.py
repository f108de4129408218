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
    AthenaSettings,
)
from usagekit.config.stack import stack_from_env


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
