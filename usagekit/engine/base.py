"""What every engine shares: the interface, parameter checks and the kit's result dtypes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, Self, runtime_checkable

import pandas as pd

from usagekit import row
from usagekit.config.settings import validate_identifier
from usagekit.exceptions import ConfigError
from usagekit.frame import normalize

DIALECTS = ("athena", "duckdb")


@runtime_checkable
class Engine(Protocol):
    """What every engine offers: bound-parameter SQL in the Athena dialect → DataFrame."""

    kind: str
    database: str
    table: str

    @property
    def source(self) -> str:
        """The quoted ``"database"."table"`` to put in SQL text."""

    def sql(self, text: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run one statement with ``?`` placeholders bound to ``params``."""


class EngineBase:
    """What the engines share: ``with engine: ...`` closes it, and the quoted ``source``."""

    database: str
    table: str

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def source(self) -> str:
        """The quoted ``"database"."table"`` to put in SQL text."""
        return quoted_source(self.database, self.table)

    def close(self) -> None:
        """Release the engine's connection (nothing to release by default)."""


def quoted_source(database: str, table: str) -> str:
    """The validated, quoted ``"database"."table"`` to put in SQL text."""
    return f'"{validate_identifier(database, "database name")}".' \
           f'"{validate_identifier(table, "table name")}"'


def tidy_result(df: pd.DataFrame) -> pd.DataFrame:
    """Give an engine's result the kit's names and dtypes.

    Dataset columns (matched case-insensitively) go through :func:`usagekit.frame.normalize`
    (camelCase names, ``string`` with "" for NULL, ``int64`` counts, ``date`` as
    ``datetime64[us, UTC]``). Other columns: timestamps become ``datetime64[us, UTC]``
    (naive = UTC), text becomes ``string``, nullable integers without NULLs ``int64``.

    Parameters
    ----------
    df : pandas.DataFrame
        A DuckDB or awswrangler result.

    Returns
    -------
    pandas.DataFrame
        A new frame.
    """
    out = normalize(df)
    for name in out.columns:
        if name in row.SQL_COLUMNS:  # typed by normalize
            continue
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
                col.dtype):
            stamps = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
            out[name] = stamps.astype("datetime64[us, UTC]")
        elif isinstance(col.dtype, pd.StringDtype) or (
                col.dtype == object and all(isinstance(v, str) for v in col.dropna())):
            out[name] = col.astype("string")
        elif pd.api.types.is_integer_dtype(col.dtype) and not col.isna().any():
            out[name] = col.astype("int64")
    return out


#: Python types a query parameter may have (both engines).
PARAM_TYPES = (str, int, float, bool, type(None))


def check_params(params: Sequence[Any] | None) -> list[Any]:
    """Return ``params`` as a list after checking each value's type.

    Raises
    ------
    ConfigError
        For a value that is not str, int, float, bool or None, or a non-finite float.
    """
    if params is None:
        return []
    if isinstance(params, str | bytes) or not isinstance(params, Sequence):
        raise ConfigError(f"query parameters must be a list of values, got {params!r}")
    values = list(params)
    for value in values:
        if not isinstance(value, PARAM_TYPES):
            raise ConfigError(
                f"unsupported query parameter {value!r} ({type(value).__name__}): use str, "
                "int, float, bool or None (timestamps as ISO-8601 strings, parsed in SQL with "
                "from_iso8601_timestamp(?))"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"unsupported query parameter {value!r}: floats must be finite")
    return values
