"""The queries the query case runs: Athena SQL for the kit, plain pandas for the baseline.

Each query is answered by the kit (``DuckDBEngine.sql`` or an analysis from
``usagekit.analyses.ANALYSES``) and, where a pandas version exists here, by plain pandas on
the same stored rows. Answers are compared by :func:`same_answer`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from usagekit.row import PARTITION_KEYS

GROUPING = "oauthclientid-organizationid-userid-templateuri-httpmethod"
TABLE = '"genesysclouddb"."gc_usage_api_source"'
BLUEPRINT_TOP10 = (f"SELECT * FROM {TABLE} WHERE granularity='month' "
                   "ORDER BY status429 DESC limit 10")
API_COLUMNS = ("clientId", "clientName", "organizationId", "userId", "templateUri",
               "httpMethod", "status200", "status300", "status400", "status500", "status429",
               "requests", "date")


@dataclass(frozen=True)
class Query:
    """One query: how the kit runs it, how pandas does, how answers compare."""

    name: str
    granularity: str
    sql: str | None = None  # Athena SQL run verbatim through DuckDBEngine.sql
    analysis: str | None = None  # or a named analysis from usagekit.analyses
    options: dict[str, Any] = field(default_factory=dict)
    pandas: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    top_by: str | None = None  # a top-N by this column: ties at the cut may differ


def _sel(df: pd.DataFrame, granularity: str) -> pd.DataFrame:
    return df[(df["granularity"] == granularity) & (df["grouping"] == GROUPING)]


def _top10(granularity: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def run(df: pd.DataFrame) -> pd.DataFrame:
        part = df[df["granularity"] == granularity]
        return part.nlargest(10, "status429")[[*API_COLUMNS, "granularity"]]
    return run


def _top_clients_429(df: pd.DataFrame) -> pd.DataFrame:
    g = _sel(df, "day").groupby("clientId", observed=True).agg(
        clientName=("clientName", "max"), status429=("status429", "sum"),
        requests=("requests", "sum"))
    g = g[g["status429"] > 0].reset_index()
    g = g.sort_values(["status429", "clientId"], ascending=[False, True]).head(10)
    g["rate429"] = g["status429"] / g["requests"]
    g.insert(0, "rank", np.arange(1, len(g) + 1))
    return g


def _requests_over_time(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["requests", "status200", "status300", "status400", "status429", "status500"]
    g = _sel(df, "day").groupby("ts", observed=True)[cols].sum().sort_index()
    g["rate429"] = g["status429"] / g["requests"]
    g["error_rate"] = (g["status400"] + g["status500"]) / g["requests"]
    return g.reset_index().rename(columns={"ts": "date"})


def _method_mix(df: pd.DataFrame) -> pd.DataFrame:
    g = _sel(df, "day").groupby("httpMethod", observed=True).agg(
        requests=("requests", "sum"), status400=("status400", "sum"),
        status500=("status500", "sum"), status429=("status429", "sum"))
    g["errors"] = g["status400"] + g["status500"]
    g["share"] = g["requests"] / g["requests"].sum()
    g = g.reset_index().sort_values(["requests", "httpMethod"], ascending=[False, True])
    return g[["httpMethod", "requests", "errors", "status429", "share"]]


def _error_rate_by_endpoint(df: pd.DataFrame) -> pd.DataFrame:
    g = _sel(df, "day").groupby(["templateUri", "httpMethod"], observed=True).agg(
        requests=("requests", "sum"), status400=("status400", "sum"),
        status429=("status429", "sum"), status500=("status500", "sum")).reset_index()
    g["errors"] = g["status400"] + g["status500"]
    g["error_rate"] = g["errors"] / g["requests"]
    g["rate429"] = g["status429"] / g["requests"]
    g = g.sort_values(["error_rate", "requests", "templateUri", "httpMethod"],
                      ascending=[False, False, True, True]).head(20)
    g.insert(0, "rank", np.arange(1, len(g) + 1))
    return g


def _rate_429_over_time(df: pd.DataFrame) -> pd.DataFrame:
    day = _sel(df, "day")
    per = day.groupby("clientId", observed=True)["status429"].sum()
    per = per[per > 0].reset_index().sort_values(["status429", "clientId"],
                                                 ascending=[False, True])
    top = set(per["clientId"].head(5))
    g = day[day["clientId"].isin(top)].groupby(["ts", "clientId"], observed=True).agg(
        clientName=("clientName", "max"), requests=("requests", "sum"),
        status429=("status429", "sum")).reset_index()
    g["rate429"] = g["status429"] / g["requests"]
    return g.sort_values(["ts", "clientId"]).rename(columns={"ts": "date"})


QUERIES: tuple[Query, ...] = (
    Query("blueprint top-10 (month, verbatim)", "month", sql=BLUEPRINT_TOP10,
          pandas=_top10("month"), top_by="status429"),
    Query("blueprint top-10 over day rows", "day",
          sql=BLUEPRINT_TOP10.replace("'month'", "'day'"), pandas=_top10("day"),
          top_by="status429"),
    Query("top_clients_429", "day", analysis="top_clients_429", pandas=_top_clients_429),
    Query("requests_over_time", "day", analysis="requests_over_time",
          pandas=_requests_over_time),
    Query("rate_429_over_time", "day", analysis="rate_429_over_time",
          pandas=_rate_429_over_time),
    Query("error_rate_by_endpoint", "day", analysis="error_rate_by_endpoint",
          pandas=_error_rate_by_endpoint),
    Query("method_mix", "day", analysis="method_mix", pandas=_method_mix),
    Query("status_mix", "day", analysis="status_mix"),
    Query("client_changes (week)", "week", analysis="client_changes"),
    Query("spikes", "day", analysis="spikes"),
    Query("fair_use", "day", analysis="fair_use"),
)


def load_pandas(root: str) -> pd.DataFrame:
    """Plain pandas: the whole Parquet dataset (hive partitions) into one frame."""
    df = pd.read_parquet(root)
    for name in PARTITION_KEYS:
        df[name] = df[name].astype(str)
    df["ts"] = pd.to_datetime(df["date"], format="ISO8601", utc=True)
    return df


def run_kit(engine: Any, q: Query) -> pd.DataFrame:
    """The kit's answer to ``q``."""
    if q.sql is not None:
        return engine.sql(q.sql)
    from usagekit.analyses import ANALYSES

    return ANALYSES[q.analysis](engine, granularity=q.granularity, grouping=GROUPING,
                                **q.options)


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name in df.columns:
        col = df[name]
        key = name.lower()
        if key in (*PARTITION_KEYS, "ts"):
            continue
        if key == "date":
            if not pd.api.types.is_datetime64_any_dtype(col):
                col = pd.to_datetime(col, format="ISO8601", utc=True)
            elif col.dt.tz is None:
                col = col.dt.tz_localize("UTC")
            out[key] = col.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
        elif pd.api.types.is_float_dtype(col):
            out[key] = col.to_numpy(dtype="float64", na_value=np.nan)
        elif pd.api.types.is_integer_dtype(col) or pd.api.types.is_bool_dtype(col):
            out[key] = col.to_numpy(dtype="int64")
        else:
            out[key] = col.astype(str).to_numpy(dtype=object)
    return pd.DataFrame(out)


def same_answer(kit: pd.DataFrame, pandas: pd.DataFrame, top_by: str | None = None) -> bool:
    """Whether two answers hold the same rows (floats to 1e-9; top-N ties handled)."""
    a, b = _canonical(kit), _canonical(pandas)
    # The kit's table has an optional ``platform`` column, empty for legacy rows.
    empty = [c for c in set(a.columns) - set(b.columns) if (a[c].isin(["", "nan", "<NA>"])).all()]
    a = a.drop(columns=empty)
    if set(a.columns) != set(b.columns) or len(a) != len(b):
        return False
    b = b[list(a.columns)]
    if top_by is not None:  # same values; rows above the cut-off value must match as sets
        key = top_by.lower()
        if sorted(a[key]) != sorted(b[key]):
            return False
        cut = a[key].min()
        a, b = a[a[key] > cut], b[b[key] > cut]
        order = list(a.columns)
        a = a.sort_values(order).reset_index(drop=True)
        b = b.sort_values(order).reset_index(drop=True)
    for name in a.columns:
        x, y = a[name].to_numpy(), b[name].to_numpy()
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            if not np.allclose(x.astype(float), y.astype(float), rtol=1e-9, equal_nan=True):
                return False
        elif list(x) != list(y):
            return False
    return True


def same_frame(a: pd.DataFrame, b: pd.DataFrame, top_by: str | None = None) -> bool:
    """Whether two engines' frames are equal: columns, dtypes, values (floats to 1e-9).

    For a top-N by ``top_by`` (the blueprint's ``ORDER BY status429 DESC LIMIT 10``) rows
    tied at the cut may differ, as in :func:`same_answer`.
    """
    if list(a.columns) != list(b.columns) or list(map(str, a.dtypes)) != list(map(str,
                                                                               b.dtypes)):
        return False
    if top_by is not None:
        return same_answer(a, b, top_by)
    try:
        for name in a.columns:  # integers exactly: pandas would apply rtol to them too
            exact = not pd.api.types.is_float_dtype(b[name].dtype)
            pd.testing.assert_series_equal(a[name], b[name], check_exact=exact,
                                           **({} if exact else {"rtol": 1e-9, "atol": 0.0}))
    except AssertionError:
        return False
    return True
