"""Open an engine by name."""

from __future__ import annotations

import logging
from typing import Any

from usagekit.config import AthenaSettings
from usagekit.config.settings import ENGINES
from usagekit.engine.athena import AthenaEngine
from usagekit.engine.duckdb import DuckDBEngine
from usagekit.engine.trino import TrinoEngine
from usagekit.exceptions import ConfigError

_logger = logging.getLogger(__name__)


def open_engine(kind: str = "local", dataset: Any = None, *,
                settings: AthenaSettings | None = None,
                boto3_session: Any = None) -> DuckDBEngine | AthenaEngine | TrinoEngine:
    """Open the engine named ``kind``.

    Parameters
    ----------
    kind : {"local", "athena", "trino"}
        DuckDB over ``dataset``, Athena over the Glue table in ``settings``, or the Trino
        cluster ``USAGEKIT_TRINO_URL`` names.
    dataset : Dataset, str or os.PathLike, optional
        For ``local`` only: the dataset (default: :func:`usagekit.config.dataset_location`).
    settings : AthenaSettings, optional
        Names, workgroup and output location (default: from the environment).
    boto3_session : boto3.Session, optional
        AWS session for S3 datasets and Athena.
    """
    if kind == "local":
        return DuckDBEngine(dataset, settings=settings, boto3_session=boto3_session)
    if kind in ("athena", "trino") and dataset is not None:
        _logger.info("%s reads its catalog's table, not %s", kind, dataset)
    if kind == "athena":
        return AthenaEngine(settings, boto3_session=boto3_session)
    if kind == "trino":
        return TrinoEngine()
    raise ConfigError(f"unknown engine {kind!r}; valid: {', '.join(ENGINES)}")
