"""Every error usagekit raises, in one place.

Messages name the bad value and the valid ones. No message, ``repr`` or
attribute ever carries a secret (client secret, access token, AWS keys).
"""

from __future__ import annotations

from typing import Any


class UsagekitError(Exception):
    """Base class of every usagekit error."""


class ConfigError(UsagekitError, ValueError):
    """A setting, environment variable or parameter has a bad value."""


class QueryError(UsagekitError, ValueError):
    """A usage query is invalid; raised before any request is sent."""


class AuthError(UsagekitError):
    """Authentication with Genesys Cloud failed."""


class ApiError(UsagekitError):
    """Genesys Cloud answered with an error.

    Attributes
    ----------
    status : int or None
        HTTP status, or None when no response arrived.
    correlation_id : str or None
        The ``inin-correlation-id`` header, to quote to Genesys support.
    body : Any
        The decoded error body (``ErrorBody``) when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        correlation_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.correlation_id = correlation_id
        self.body = body


class RateLimitError(ApiError):
    """A 429 asked to wait longer than the configured cap, or retries ran out."""


class QueryFailedError(ApiError):
    """The usage query or job ended as ``Failed`` or ``Cancelled``."""

    def __init__(self, message: str, *, execution_id: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.execution_id = execution_id


class PollTimeoutError(UsagekitError, TimeoutError):
    """Polling passed its deadline; the query can be resumed from its id."""

    def __init__(self, message: str, *, execution_id: str) -> None:
        super().__init__(message)
        self.execution_id = execution_id


class DatasetError(UsagekitError):
    """The usage dataset cannot be written or read as asked."""


class DamagedFileError(DatasetError):
    """Stored data files cannot be read (truncated, not Parquet, a line that is not JSON).

    ``files`` names them; a write refuses to rebuild their partitions (moving them away
    repairs the dataset).
    """

    def __init__(self, message: str, files: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.files = files


class FictionalDataError(ConfigError, DatasetError):
    """Fictional rows (the embedded sandbox's) would be stored in, or fetched for, a dataset
    that holds a real organisation's rows: Genesys settings are missing (bad input, 2)."""


class EngineError(UsagekitError):
    """A query engine (DuckDB or Athena) failed or was misconfigured."""


class ReportError(UsagekitError):
    """Running or rendering a notebook report failed."""


class MissingCountsError(DatasetError):
    """An analysis needs a count that stored rows lack (exported with a ``metrics`` subset)."""


class InvalidRowsError(DatasetError, ValueError):
    """Usage rows are malformed or contradict the granularity, grouping or interval declared."""


class CrawlerTimeoutError(DatasetError, TimeoutError):
    """A Glue crawler did not return to ``READY`` before the deadline."""


class NotifyError(UsagekitError):
    """A webhook did not accept a notification (4xx/5xx, no answer in time).

    The message names the webhook by scheme and host only: its path may carry a token.
    """
