"""Open an engine by name."""

from __future__ import annotations

import logging
from typing import Any

from usagekit.config import AthenaSettings
from usagekit.engine.athena import AthenaEngine
from usagekit.engine.duckdb import DuckDBEngine
from usagekit.exceptions import ConfigError

_logger = logging.getLogger(__name__)

ENGINES = ("local", "athena")


def open_engine(kind: str = "local", dataset: Any = None, *,
                settings: AthenaSettings | None = None,
                boto3_session: Any = None) -> DuckDBEngine | AthenaEngine:
    """Open the engine named ``kind``.

    Parameters
    ----------
    kind : {"local", "athena"}
        DuckDB over ``dataset``, or Athena over the Glue table in ``settings``.
    dataset : Dataset, str or os.PathLike, optional
        For ``local`` only: the dataset (default: :func:`usagekit.config.dataset_location`).
    settings : AthenaSettings, optional
        Names, workgroup and output location (default: from the environment).
    boto3_session : boto3.Session, optional
        AWS session for S3 datasets and Athena.
    """
    if kind == "local":
        return DuckDBEngine(dataset, settings=settings, boto3_session=boto3_session)
    if kind == "athena":
        if dataset is not None:
            _logger.info("Athena reads the Glue table, not %s", dataset)
        return AthenaEngine(settings, boto3_session=boto3_session)
    raise ConfigError(f"unknown engine {kind!r}; valid: {', '.join(ENGINES)}")
