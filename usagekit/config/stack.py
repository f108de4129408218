"""Configure usagekit from the CloudFormation stack in ``cloudformation/``.

Deploy ``cloudformation/usage-api.template.yaml`` once, then name the stack
(``USAGEKIT_STACK=<stack name>`` or :func:`load_stack`) instead of copying bucket,
database and workgroup names by hand. The stack's Outputs become the dataset location
(``s3://<source bucket>/<prefix>/``) and the :class:`~usagekit.config.AthenaSettings`.

boto3 is needed (the ``aws`` extra); it is imported only when a stack is read. The
region and credentials come from the standard AWS chain (``AWS_REGION``,
``AWS_PROFILE``, ...), or from the ``session`` passed in.

For processes that do not read the stack themselves (a shell, notebook kernels)::

    eval "$(python -m usagekit.config.stack my-stack)"  # USAGEKIT_DATASET, USAGEKIT_ATHENA_*
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from usagekit.config.settings import (
    ENV_ATHENA_DATABASE,
    ENV_ATHENA_OUTPUT,
    ENV_ATHENA_TABLE,
    ENV_ATHENA_WORKGROUP,
    ENV_DATASET,
    ENV_STACK,
    AthenaSettings,
)
from usagekit.exceptions import ConfigError

if TYPE_CHECKING:
    import boto3

_logger = logging.getLogger(__name__)

#: Outputs the kit cannot work without, as the template names them.
REQUIRED_OUTPUTS: tuple[str, ...] = (
    "SourceBucket",
    "DataLocation",
    "ResultsBucket",
    "AthenaOutputLocation",
    "Database",
    "Table",
    "WorkGroup",
)
#: Outputs read when present (``CrawlerName`` only exists with ``CreateCrawler=true``).
OPTIONAL_OUTPUTS: tuple[str, ...] = ("DataFormat", "CrawlerName", "AccessLogBucket")
DATA_FORMATS: tuple[str, ...] = ("ndjson", "parquet")

# Stacks that never completed, rolled back their creation or are being deleted have no
# usable outputs; every other status keeps the outputs of the last successful operation.
_UNUSABLE_PREFIXES = ("CREATE_IN_PROGRESS", "CREATE_FAILED", "ROLLBACK_", "DELETE_", "REVIEW_")


@dataclass(frozen=True)
class StackConfig:
    """What the kit needs from a deployed usagekit stack.

    Attributes
    ----------
    stack_name : str
        The CloudFormation stack the values came from.
    region : str or None
        The stack's region (the session's), when known.
    source_bucket : str
        Bucket holding the dataset.
    data_location : str
        Dataset root, ``s3://<source bucket>/<prefix>/``.
    results_bucket : str
        Bucket holding Athena query results.
    athena : AthenaSettings
        Database, table, workgroup and output location for the Athena engine.
    data_format : str or None
        ``ndjson`` or ``parquet``: the format the Glue table reads; None when the stack
        does not say.
    crawler_name : str or None
        The optional Glue crawler; None when the stack has none.
    outputs : Mapping[str, str]
        Every output of the stack, by key.
    """

    stack_name: str
    region: str | None
    source_bucket: str
    data_location: str
    results_bucket: str
    athena: AthenaSettings
    data_format: str | None = None
    crawler_name: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict, repr=False)

    def env(self) -> dict[str, str]:
        """The ``USAGEKIT_*`` variables that point a process (e.g. a notebook) at the stack.

        Returns
        -------
        dict of str to str
            ``USAGEKIT_DATASET`` and the ``USAGEKIT_ATHENA_*`` settings.
        """
        return {
            ENV_DATASET: self.data_location,
            ENV_ATHENA_DATABASE: self.athena.database,
            ENV_ATHENA_TABLE: self.athena.table,
            ENV_ATHENA_WORKGROUP: self.athena.workgroup,
            ENV_ATHENA_OUTPUT: self.athena.output_location or "",
        }


def config_from_outputs(
    stack_name: str, outputs: Mapping[str, str], *, region: str | None = None
) -> StackConfig:
    """Build a :class:`StackConfig` from a stack's outputs (``OutputKey`` → ``OutputValue``).

    Parameters
    ----------
    stack_name : str
        The stack the outputs belong to (for messages).
    outputs : Mapping[str, str]
        The stack's outputs.
    region : str, optional
        The stack's region.

    Raises
    ------
    ConfigError
        When required outputs are missing (all of them are named), when the locations do
        not lie in the buckets the stack names, or when a name is not a valid identifier.
    """
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        present = ", ".join(sorted(outputs)) or "none"
        raise ConfigError(
            f"stack {stack_name!r} lacks the output(s) {', '.join(missing)} "
            f"(it has: {present}); deploy cloudformation/usage-api.template.yaml, which "
            f"provides {', '.join(REQUIRED_OUTPUTS)}"
        )
    source_bucket = outputs["SourceBucket"]
    results_bucket = outputs["ResultsBucket"]
    data_location = _location(stack_name, "DataLocation", outputs["DataLocation"], source_bucket)
    output_location = _location(
        stack_name, "AthenaOutputLocation", outputs["AthenaOutputLocation"], results_bucket
    )
    data_format = outputs.get("DataFormat") or None
    if data_format is not None and data_format not in DATA_FORMATS:
        raise ConfigError(
            f"stack {stack_name!r} output DataFormat is {data_format!r}; "
            f"expected one of {', '.join(DATA_FORMATS)}"
        )
    athena = AthenaSettings(
        database=outputs["Database"],
        table=outputs["Table"],
        workgroup=outputs["WorkGroup"],
        output_location=output_location,
    )
    return StackConfig(
        stack_name=stack_name,
        region=region,
        source_bucket=source_bucket,
        data_location=data_location,
        results_bucket=results_bucket,
        athena=athena,
        data_format=data_format,
        crawler_name=outputs.get("CrawlerName") or None,
        outputs=dict(outputs),
    )


def read_outputs(
    stack_name: str, *, session: boto3.Session | None = None
) -> tuple[dict[str, str], str | None]:
    """Read a stack's outputs with ``cloudformation:DescribeStacks``.

    Parameters
    ----------
    stack_name : str
        Name (or id) of the stack.
    session : boto3.Session, optional
        Session to use; the default session (standard AWS chain) otherwise.

    Returns
    -------
    tuple of (dict of str to str, str or None)
        The outputs by key, and the region they were read from.

    Raises
    ------
    ConfigError
        When the stack does not exist in the region (the message lists the usagekit
        stacks that do), is not in a usable state, or cannot be read.
    """
    client, region = _cloudformation(session)
    stack = _describe(client, stack_name, region)
    status = stack.get("StackStatus", "")
    if status.startswith(_UNUSABLE_PREFIXES):
        raise ConfigError(
            f"stack {stack_name!r} in {region} is {status}; usable stacks are in a *_COMPLETE "
            "state such as CREATE_COMPLETE or UPDATE_COMPLETE"
        )
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return outputs, region


def load_stack(
    stack_name: str | None = None,
    *,
    session: boto3.Session | None = None,
    env: Mapping[str, str] | None = None,
) -> StackConfig:
    """Configure usagekit from a deployed stack.

    Parameters
    ----------
    stack_name : str, optional
        The stack; defaults to ``USAGEKIT_STACK``.
    session : boto3.Session, optional
        Session to use; the default session (standard AWS chain) otherwise.
    env : Mapping[str, str], optional
        Environment to read ``USAGEKIT_STACK`` from (default ``os.environ``).

    Raises
    ------
    ConfigError
        When no stack is named, the stack is missing or unusable, or outputs are missing.
    """
    env = os.environ if env is None else env
    name = (stack_name or env.get(ENV_STACK, "")).strip()
    if not name:
        raise ConfigError(f"no stack named: pass a stack name or set {ENV_STACK}=<stack name>")
    outputs, region = read_outputs(name, session=session)
    config = config_from_outputs(name, outputs, region=region)
    _logger.info("usagekit configured from stack %s (%s): %s", name, region, config.data_location)
    return config


def stack_from_env(
    env: Mapping[str, str] | None = None, *, session: boto3.Session | None = None
) -> StackConfig | None:
    """The stack ``USAGEKIT_STACK`` names, or None when the variable is unset or empty."""
    env = os.environ if env is None else env
    if not env.get(ENV_STACK, "").strip():
        return None
    return load_stack(env=env, session=session)


def _location(stack_name: str, key: str, value: str, bucket: str) -> str:
    prefix = f"s3://{bucket}/"
    if not value.startswith(prefix):
        raise ConfigError(
            f"stack {stack_name!r} output {key} is {value!r}; expected a location in its "
            f"bucket, {prefix}..."
        )
    return value if value.endswith("/") else value + "/"


def _cloudformation(session: boto3.Session | None) -> tuple[Any, str | None]:
    try:
        import boto3
        from botocore.exceptions import NoRegionError
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError(
            "reading a CloudFormation stack needs boto3: pip install 'usagekit[aws]'"
        ) from exc
    session = session or boto3.DEFAULT_SESSION or boto3.Session()
    try:
        client = session.client("cloudformation")
    except NoRegionError as exc:
        raise ConfigError(
            "no AWS region for the stack: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's "
            "region) to the region the stack was deployed in"
        ) from exc
    return client, client.meta.region_name


def _describe(client: Any, stack_name: str, region: str | None) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return client.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get(
            "Message", ""
        ):
            known = _usagekit_stacks(client)
            raise ConfigError(
                f"stack {stack_name!r} does not exist in {region}; usagekit stacks there: "
                f"{', '.join(known) or 'none'} (check {ENV_STACK} and AWS_REGION)"
            ) from None
        raise ConfigError(
            f"cannot read stack {stack_name!r} in {region}: {error.get('Code', 'error')}: "
            f"{error.get('Message', '')}"
        ) from exc
    except BotoCoreError as exc:
        raise ConfigError(f"cannot read stack {stack_name!r} in {region}: {exc}") from exc


def _usagekit_stacks(client: Any) -> list[str]:
    """Names of the stacks in the region that look like usagekit stacks (best effort)."""
    from botocore.exceptions import BotoCoreError, ClientError

    names: list[str] = []
    try:
        for page in client.get_paginator("describe_stacks").paginate():
            for stack in page.get("Stacks", []):
                keys = {o.get("OutputKey") for o in stack.get("Outputs", [])}
                if {"DataLocation", "AthenaOutputLocation"} <= keys:
                    names.append(stack["StackName"])
    except (BotoCoreError, ClientError) as exc:  # listing is only a hint for the message
        _logger.debug("cannot list stacks: %s", exc)
    return sorted(names)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m usagekit.config.stack [STACK] [--region R]``: print shell ``export`` lines.

    Returns
    -------
    int
        0 on success, 2 when the stack cannot be used (the reason goes to stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m usagekit.config.stack",
        description="Print `export` lines pointing usagekit at a deployed stack "
        f"(use: eval \"$(python -m usagekit.config.stack NAME)\"). NAME defaults to ${ENV_STACK}.",
    )
    parser.add_argument("stack", nargs="?", help=f"stack name (default: ${ENV_STACK})")
    parser.add_argument("--region", help="the stack's region (default: the AWS environment's)")
    args = parser.parse_args(argv)
    session = None
    if args.region:
        import boto3

        session = boto3.Session(region_name=args.region)
    try:
        config = load_stack(args.stack, session=session)
    except ConfigError as exc:
        print(f"usagekit.config.stack: {exc}", file=sys.stderr)
        return 2
    variables = {**config.env(), **({"AWS_REGION": config.region} if config.region else {})}
    for key, value in variables.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
