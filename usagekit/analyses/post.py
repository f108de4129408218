"""The analyses' pandas steps after the SQL: timestamps and the long status mix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from usagekit.exceptions import ConfigError
from usagekit.row import DATE, STATUS200, STATUS300, STATUS400, STATUS429, STATUS500

if TYPE_CHECKING:  # pandas loads on first use: `usagekit --help` stays fast
    import pandas as pd

#: The status_mix analysis' ``status`` of 4xx responses other than 429.
STATUS400_NON429 = f"{STATUS400}_non429"


def parse_timestamp(value: Any, what: str) -> pd.Timestamp:
    """``value`` as a UTC timestamp (naive = UTC); a ConfigError naming ``what`` if not."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {what} {value!r}: expected an ISO-8601 date or "
                          "datetime such as 2026-10-01 or 2026-10-01T00:00:00Z") from exc
    if pd.isna(stamp):
        raise ConfigError(f"invalid {what} {value!r}")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def status_mix_frame(frame: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    """Wide per-period sums → long (date, status, count, share); 429s split out of 4xx.

    Like every analysis, no matching data gives no rows (typed, empty), both for the
    overall mix (``per_period`` false) and per period; periods without data have no rows.
    """
    import pandas as pd

    frame = frame.assign(**{STATUS400_NON429: frame[STATUS400] - frame[STATUS429]})
    statuses = [STATUS200, STATUS300, STATUS400_NON429, STATUS429, STATUS500]
    if not values["per_period"] and len(frame):
        frame = frame[statuses].sum().to_frame().T
        frame.insert(0, DATE, pd.Series([pd.NaT], dtype="datetime64[us, UTC]"))
    long = frame.melt(id_vars=[DATE], value_vars=statuses, var_name="status",
                      value_name="count")
    long["status"] = pd.Categorical(long["status"], categories=statuses)
    long = long.sort_values([DATE, "status"], kind="stable")
    totals = long.groupby(DATE, dropna=False, observed=True)["count"].transform("sum")
    long["share"] = (long["count"] / totals.where(totals != 0)).astype("float64")
    long["status"] = long["status"].astype("string")
    long["count"] = long["count"].astype("int64")
    long["date"] = long["date"].astype("datetime64[us, UTC]")
    return long
