"""The Athena engine: awswrangler over the Glue table of the S3 dataset.

Athena binds ``?`` placeholders server-side from ``ExecutionParameters``, each of which
is SQL literal text (a string parameter must arrive quoted: ``'c1'``). The values are
turned into literals here, never pasted into the statement.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from usagekit.config import AthenaSettings, athena_settings
from usagekit.config.settings import ENV_ATHENA_OUTPUT, ENV_STACK
from usagekit.engine.base import EngineBase, check_params, tidy_result
from usagekit.engine.dialect import parse_athena
from usagekit.exceptions import ConfigError, EngineError

_logger = logging.getLogger(__name__)

def athena_literal(value: str | int | float | bool | None) -> str:
    """The Athena (Trino) literal for one parameter value.

    Strings become quoted VARCHAR literals with quotes doubled, floats DOUBLE literals
    (exponent form: ``0.5E0``; a plain ``0.5`` would be a DECIMAL in Trino).
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if "e" in text else f"{text}E0"
    return "'" + value.replace("'", "''") + "'"


_HOW_TO_CONFIGURE = (f"name the usagekit CloudFormation stack in {ENV_STACK} (it provides "
                     f"the workgroup and output location), or set {ENV_ATHENA_OUTPUT}="
                     "s3://bucket/prefix/")


def resolve_settings(settings: AthenaSettings, boto3_session: Any = None) -> AthenaSettings:
    """Check that Athena can run with ``settings``; fill in the workgroup's output location.

    awswrangler would otherwise create a bucket ``aws-athena-query-results-<account>-
    <region>`` in the user's account when neither the settings nor the workgroup name a
    result location; the kit refuses instead.

    Raises
    ------
    ConfigError
        When no AWS region is configured, or no result location is known.
    EngineError
        When the workgroup cannot be read.
    """
    import boto3
    import botocore.exceptions

    session = boto3_session or boto3.Session()
    if not session.region_name:
        raise ConfigError("the Athena engine needs an AWS region: set AWS_REGION (or "
                          "AWS_DEFAULT_REGION, or a profile's region) to where the Glue "
                          f"table lives, and {_HOW_TO_CONFIGURE}")
    if settings.output_location is not None:
        return settings
    try:
        workgroup = session.client("athena").get_work_group(
            WorkGroup=settings.workgroup).get("WorkGroup")
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise EngineError(f"cannot read Athena workgroup {settings.workgroup!r}: "
                          f"{error.get('Code', '?')}: {error.get('Message', '')}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise EngineError(f"cannot reach Athena: {type(exc).__name__}: {exc}") from exc
    if not workgroup:
        raise EngineError(f"Athena workgroup {settings.workgroup!r} does not exist in "
                          f"{session.region_name}")
    output = (workgroup.get("Configuration", {})
              .get("ResultConfiguration", {}).get("OutputLocation"))
    if not output:
        raise ConfigError(f"Athena workgroup {settings.workgroup!r} has no query result "
                          f"location: {_HOW_TO_CONFIGURE}")
    return AthenaSettings(settings.database, settings.table, settings.workgroup, output)


def read_sql(text: str, params: Sequence[Any], settings: AthenaSettings,
             boto3_session: Any = None) -> pd.DataFrame:
    """Run ``text`` on Athena through awswrangler; return its frame (awswrangler's dtypes).

    Uses the plain path (``ctas_approach=False, unload_approach=False``): results are read
    from the query's CSV, with types from Athena's column metadata. ``settings`` should
    come from :func:`resolve_settings`.
    """
    import awswrangler as wr
    import botocore.exceptions

    literals = [athena_literal(v) for v in params]
    _logger.info("Athena query on %s (workgroup %s), %d parameter(s)",
                 settings.database, settings.workgroup, len(literals))
    try:
        return wr.athena.read_sql_query(
            text,
            database=settings.database,
            workgroup=settings.workgroup,
            s3_output=settings.output_location,
            ctas_approach=False,
            unload_approach=False,
            params=literals or None,
            paramstyle="qmark",
            boto3_session=boto3_session,
        )
    except (wr.exceptions.QueryFailed, wr.exceptions.QueryCancelled) as exc:
        raise EngineError(f"Athena query failed: {exc}") from exc
    except wr.exceptions.NoFilesFound as exc:
        raise EngineError(f"Athena returned no readable result: {exc}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise EngineError(f"cannot reach Athena: {type(exc).__name__}: {exc}") from exc
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise EngineError(
            f"Athena refused the query: {error.get('Code', '?')}: {error.get('Message', '')}"
        ) from exc


class AthenaEngine(EngineBase):
    """Amazon Athena through awswrangler, over the Glue table of the S3 dataset.

    Parameters
    ----------
    settings : AthenaSettings, optional
        Database, table, workgroup and output location (default:
        :func:`usagekit.config.athena_settings`).
    boto3_session : boto3.Session, optional
        The session to use (default: the standard AWS environment).
    """

    kind = "athena"

    def __init__(self, settings: AthenaSettings | None = None,
                 boto3_session: Any = None) -> None:
        self.settings = settings or athena_settings(session=boto3_session)
        self.database = self.settings.database
        self.table = self.settings.table
        self._boto3_session = boto3_session
        self._resolved: AthenaSettings | None = None

    def __repr__(self) -> str:
        return (f"AthenaEngine(source={self.source}, workgroup={self.settings.workgroup!r}, "
                f"output={self.settings.output_location!r})")

    def sql(self, text: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run one Athena statement; ``params`` go to Athena as execution parameters.

        The text is parsed in the Athena dialect first, so a syntax error fails here
        without a round trip. The first query checks the AWS region and the result
        location (:func:`resolve_settings`): a missing one is a
        :class:`~usagekit.exceptions.ConfigError` saying what to set.
        """
        values = check_params(params)
        parse_athena(text)
        if self._resolved is None:
            self._resolved = resolve_settings(self.settings, self._boto3_session)
        frame = read_sql(text, values, self._resolved, self._boto3_session)
        metadata = getattr(frame, "query_metadata", None)
        out = tidy_result(frame)
        if metadata is not None:
            out.attrs["query_execution_id"] = metadata.get("QueryExecutionId")
        return out
