"""The analyses' pandas steps after the SQL: the long status mix and the fair-use projection."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from usagekit.exceptions import ConfigError
from usagekit.row import DATE, STATUS200, STATUS300, STATUS400, STATUS429, STATUS500

if TYPE_CHECKING:  # pandas loads on first use: `usagekit --help` stays fast
    import pandas as pd

#: Fair-use API allocation per named user per month, by licence tier (Genesys Cloud fair-use
#: policy, as of 2026; figures change, so pass your contract's numbers).
FAIR_USE_ALLOWANCES: dict[str, int] = {"CX1": 75_000, "CX2": 110_000, "CX3": 140_000}
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


def _weekend(day: pd.Timestamp) -> bool:
    return day.day_of_week >= 5


def fair_use_frame(frame: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    """Daily totals → per month: requests, allowance and a weekday-aware projection."""
    import pandas as pd

    allowances = {**FAIR_USE_ALLOWANCES, **{k.upper(): int(v)
                                            for k, v in values["allowances"].items()}}
    users = {k.upper(): int(v) for k, v in values["users"].items()}
    unknown = sorted(set(users) - set(allowances))
    if unknown or any(v < 0 for v in users.values()):
        raise ConfigError(f"invalid users {values['users']!r}: give a count >= 0 per tier; "
                          f"tiers: {', '.join(allowances)}")
    allowance = sum(allowances[t] * n for t, n in users.items())
    daily = frame.set_index(frame["date"].dt.tz_convert("UTC").dt.floor("D"))["requests"]
    as_of = (parse_timestamp(values["as_of"], "as_of").floor("D") if values["as_of"]
             else (daily.index.max() if len(daily) else None))
    rows = []
    for (year, month), month_daily in daily.groupby([daily.index.year, daily.index.month]):
        first = pd.Timestamp(year=year, month=month, day=1, tz="UTC")
        n_days = calendar.monthrange(year, month)[1]
        days = pd.date_range(first, periods=n_days, freq="D")
        elapsed = [d for d in days if d <= as_of]
        remaining = [d for d in days if d > as_of]
        observed = month_daily.reindex(elapsed, fill_value=0)
        total = int(month_daily[month_daily.index <= as_of].sum())
        projected = float(total)
        if remaining and elapsed:
            overall = observed.mean()
            rate = {kind: (observed[[_weekend(d) == kind for d in elapsed]].mean()
                           if any(_weekend(d) == kind for d in elapsed) else overall)
                    for kind in (False, True)}
            projected += float(sum(rate[_weekend(d)] for d in remaining))
        rows.append({
            "month": first, "requests": total, "days_elapsed": len(elapsed),
            "days_in_month": n_days, "complete": not remaining,
            "projected_requests": projected if elapsed else float("nan"),
            "allowance": allowance,
        })
    out = pd.DataFrame(rows, columns=["month", "requests", "days_elapsed", "days_in_month",
                                      "complete", "projected_requests", "allowance"])
    share = out["allowance"].where(out["allowance"] > 0)
    out["used_share"] = (out["requests"] / share).astype("float64")
    out["projected_share"] = (out["projected_requests"] / share).astype("float64")
    out["projected_overage"] = (out["projected_requests"] - share).clip(lower=0).astype(
        "float64")
    return out.astype({"month": "datetime64[us, UTC]", "requests": "int64",
                       "days_elapsed": "int64", "days_in_month": "int64", "complete": "bool",
                       "projected_requests": "float64", "allowance": "int64"})
