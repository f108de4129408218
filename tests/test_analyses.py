"""Analyses: each answer recomputed independently with pandas from the raw rows.

The dataset is built once per format from a small deterministic generator (finest rows
per client x endpoint x method x day), aggregated in pandas to the other groupings and
granularities, and written through ``usagekit.dataset``.
"""

from __future__ import annotations

import calendar
import itertools
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlglot

from tests.orgs import ORG
from usagekit import analyses
from usagekit.analyses import ANALYSES
from usagekit.analyses.library import resolve_grouping
from usagekit.dataset import open_dataset
from usagekit.engine import DuckDBEngine
from usagekit.exceptions import ConfigError
from usagekit.row import Org

START, END = "2026-09-01", "2026-11-01"  # half-open; 2026-09-01 is a Tuesday
ENDPOINTS = (
    ("api/v2/users/{userId}", "GET"),
    ("api/v2/users/{userId}", "PATCH"),
    ("api/v2/analytics/conversations/details/query", "POST"),
    ("api/v2/routing/queues", "GET"),
    ("api/v2/notifications/channels", "POST"),
)
CLIENTS = {
    "c-steady": "Steady Sync",
    "c-busy": "Busy Integration",
    "c-burst": "Bursty Bot",  # a 429 storm on 2026-10-14
    "c-late": "Late Starter",  # appears on 2026-10-05
    "c-gone": "Gone Reporter",  # vanishes after 2026-09-27
    "c-quiet": "Quiet Tool",
}
FIELDS = ("clientId", "clientName", "organizationId", "userId", "templateUri", "httpMethod")
COUNTS = ("status200", "status300", "status400", "status500", "status429", "requests")


def usage_rows(seed: int = 7) -> pd.DataFrame:
    """Finest rows (client x templateUri x method x day) with the API's semantics."""
    rng = np.random.default_rng(seed)
    records = []
    for day in pd.date_range(START, END, freq="D", inclusive="left", tz="UTC"):
        weekend = day.day_of_week >= 5
        for n, (client, name) in enumerate(CLIENTS.items()):
            if client == "c-late" and day < pd.Timestamp("2026-10-05", tz="UTC"):
                continue
            if client == "c-gone" and day > pd.Timestamp("2026-09-27", tz="UTC"):
                continue
            for m, (template, method) in enumerate(ENDPOINTS):
                if rng.random() < 0.1:
                    continue  # gaps: not every stream every day
                base = (40 if client == "c-quiet" else 400 * (n + 1)) / (m + 1)
                requests = int(rng.poisson(base * (0.35 if weekend else 1.0)))
                s400 = int(rng.binomial(requests, 0.02 + 0.05 * (m == 1)))
                rate429 = 0.6 if (client == "c-burst" and day.day == 14
                                  and day.month == 10) else 0.08 * (client == "c-busy")
                s429 = int(rng.binomial(s400, rate429))
                s500 = int(rng.binomial(requests - s400, 0.01))
                s300 = int(rng.binomial(requests - s400 - s500, 0.1)) if method == "GET" else 0
                records.append({
                    "clientId": client, "clientName": name, "organizationId": "",
                    "userId": "", "templateUri": template, "httpMethod": method,
                    "status200": requests - s400 - s500 - s300, "status300": s300,
                    "status400": s400, "status500": s500, "status429": s429,
                    "requests": requests, "date": day,
                })
    return pd.DataFrame(records)


def rollup(raw: pd.DataFrame, grouping: str, granularity: str) -> pd.DataFrame:
    """Aggregate finest day rows to a grouping and granularity (empty unused fields)."""
    keep = {"oauthclientid": ("clientId", "clientName"), "templateuri": ("templateUri",),
            "httpmethod": ("httpMethod",)}
    parts = [] if grouping == "none" else grouping.split("-")
    frame = raw.copy()
    for part, fields in keep.items():
        if part not in parts:
            for f in fields:
                frame[f] = ""
    if granularity == "week":
        frame["date"] = frame["date"] - pd.to_timedelta(frame["date"].dt.day_of_week, unit="D")
    elif granularity == "month":
        frame["date"] = frame["date"] - pd.to_timedelta(frame["date"].dt.day - 1, unit="D")
    return frame.groupby([*FIELDS, "date"], as_index=False)[list(COUNTS)].sum()


GROUPINGS = ("oauthclientid-templateuri-httpmethod", "oauthclientid", "httpmethod", "none")


#: A second organisation, with other numbers (another seed), in the two-org dataset.
OTHER_ORG = Org("0c9e4b7a-2d1f-4e3a-8b5c-6d7e8f9a0b1c", "Second Org", "usw2.pure.cloud")
#: The datasets each analysis is checked on: one org in each format, and each org of a
#: dataset holding two (``org=`` its id; the pandas oracle sees that org's rows only).
CASES = ("ndjson", "parquet", "two-orgs:first", "two-orgs:second")


@pytest.fixture(scope="module")
def raw_first() -> pd.DataFrame:
    return usage_rows()


@pytest.fixture(scope="module")
def raw_second() -> pd.DataFrame:
    return usage_rows(seed=11)


def _write(root: Path, fmt: str, raw: pd.DataFrame, org: Org = ORG) -> None:
    dataset = open_dataset(str(root), format=fmt, org=org)
    for granularity in ("day", "week", "month"):
        for grouping in GROUPINGS:
            rows = rollup(raw, grouping, granularity)
            records = rows.assign(date=rows["date"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
            dataset.write(records.to_dict("records"), granularity=granularity,
                          grouping=grouping, interval=f"{START}/{END}")


@pytest.fixture(scope="module")
def two_orgs(raw_first: pd.DataFrame, raw_second: pd.DataFrame,
             tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("usage-two-orgs")
    _write(root, "ndjson", raw_first, ORG)
    _write(root, "ndjson", raw_second, OTHER_ORG)
    return root


@dataclass(frozen=True)
class Case:
    """One dataset to check on: its engine, the rows the oracle sees, the org asked for."""

    engine: DuckDBEngine
    raw: pd.DataFrame
    org: str | None

    def __getattr__(self, name: str) -> Callable[..., pd.DataFrame]:
        """The analysis ``name`` run on this case's engine for its org."""
        analysis = ANALYSES[name]
        return lambda engine, **options: analysis(engine, org=self.org, **options)


@pytest.fixture(scope="module", params=CASES)
def case(request: pytest.FixtureRequest, raw_first: pd.DataFrame, raw_second: pd.DataFrame,
         two_orgs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    if request.param.startswith("two-orgs"):
        second = request.param.endswith("second")
        with DuckDBEngine(two_orgs) as eng:
            yield Case(eng, raw_second if second else raw_first,
                       (OTHER_ORG if second else ORG).id)
        return
    root = tmp_path_factory.mktemp(f"usage-{request.param}")
    _write(root, request.param, raw_first)
    with DuckDBEngine(root) as eng:
        yield Case(eng, raw_first, None)


@pytest.fixture
def engine(case: Case) -> DuckDBEngine:
    return case.engine


@pytest.fixture
def raw(case: Case) -> pd.DataFrame:
    return case.raw


@pytest.fixture
def an(case: Case) -> Case:
    """The analyses, as ``an.top_clients_429(engine, ...)``, for the case's org."""
    return case


def finest(raw: pd.DataFrame, granularity: str = "day") -> pd.DataFrame:
    return rollup(raw, GROUPINGS[0], granularity)


def between(frame: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    lo = pd.Timestamp(start or "1970-01-01", tz="UTC")
    hi = pd.Timestamp(end or "9999-01-01", tz="UTC")
    return frame[(frame["date"] >= lo) & (frame["date"] < hi)]


def _compare(got: pd.DataFrame, want: pd.DataFrame) -> None:
    want = want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=1e-9)


# ------------------------------------------------------------------ SQL is valid Athena

@pytest.mark.parametrize("name", list(ANALYSES))
def test_sql_parses_as_athena(name: str) -> None:
    analysis = ANALYSES[name]
    grouping = "-".join(analysis.dimensions) or "none"
    values = analysis.bind(None, grouping=grouping)
    text, params = analysis.render('"genesysclouddb"."gc_usage_api_source"', values)
    statements = sqlglot.parse(text, read="athena")
    assert len(statements) == 1
    assert text.count("?") == len(params) > 0
    # no value was pasted into the text
    assert "'day'" not in text and values["start"] not in text


def test_every_shipped_sql_file_is_an_analysis_query_in_athena_sql() -> None:
    """Each ``analyses/sql/*.sql`` file is some analysis's query, and one Athena statement."""
    from usagekit.analyses.library import SQL_DIR, render

    files = sorted(SQL_DIR.glob("*.sql"))
    assert files
    templates = {a.sql for a in ANALYSES.values()}
    for path in files:
        body = "".join(line for line in path.read_text().splitlines(keepends=True)
                       if not line.startswith("--"))
        assert body in templates, f"{path.name} is used by no analysis"
        fields = {name for _, name, _, _ in string.Formatter().parse(body) if name}
        text, _ = render(body, '"db"."t"', dict.fromkeys(fields - {"source", "where"}, 0)
                         | {"granularity": "day", "grouping": "oauthclientid", "start": "",
                            "end": "", "start_period": "", "end_period": ""})
        assert len(sqlglot.parse(text, read="athena")) == 1, path.name


def test_every_analysis_documents_its_columns() -> None:
    for analysis in ANALYSES.values():
        assert analysis.description and analysis.columns


# ------------------------------------------------------------------ correctness

def test_requests_over_time(engine: DuckDBEngine, an: Case, raw: pd.DataFrame) -> None:
    got = an.requests_over_time(engine, start="2026-09-10", end="2026-10-20")
    rows = between(finest(raw), "2026-09-10", "2026-10-20")
    want = rows.groupby("date", as_index=False)[
        ["requests", "status200", "status300", "status400", "status429", "status500"]].sum()
    want["rate429"] = want["status429"] / want["requests"]
    want["error_rate"] = (want["status400"] + want["status500"]) / want["requests"]
    _compare(got, want)
    assert str(got["date"].dtype) == "datetime64[us, UTC]"
    assert got["requests"].dtype == "int64"


@pytest.mark.parametrize("grouping", ["none", "httpmethod", GROUPINGS[0]])
def test_totals_never_mix_groupings(engine: DuckDBEngine, an: Case, raw: pd.DataFrame,
                                    grouping: str) -> None:
    got = an.requests_over_time(engine, granularity="month", grouping=grouping)
    assert got["requests"].sum() == raw["requests"].sum()


def test_status_mix_sums_to_requests(engine: DuckDBEngine, an: Case, raw: pd.DataFrame) -> None:
    got = an.status_mix(engine)
    total = raw[list(COUNTS)].sum()
    want = pd.DataFrame({
        "date": pd.Series([pd.NaT] * 5, dtype="datetime64[us, UTC]"),
        "status": ["status200", "status300", "status400_non429", "status429", "status500"],
        "count": [total["status200"], total["status300"],
                  total["status400"] - total["status429"], total["status429"],
                  total["status500"]],
    })
    want["share"] = want["count"] / total["requests"]
    _compare(got, want)
    assert got["count"].sum() == total["requests"]


def test_status_mix_per_period(engine: DuckDBEngine, an: Case, raw: pd.DataFrame) -> None:
    got = an.status_mix(engine, granularity="week", per_period=True)
    weeks = finest(raw, "week").groupby("date")[list(COUNTS)].sum()
    assert got["date"].nunique() == len(weeks)
    per_week = got.groupby("date")["count"].sum()
    assert per_week.to_numpy().tolist() == weeks["requests"].to_numpy().tolist()
    only429 = got[got["status"] == "status429"].set_index("date")["count"]
    assert only429.to_numpy().tolist() == weeks["status429"].to_numpy().tolist()


def test_status_mix_without_data_in_the_interval(engine: DuckDBEngine, an: Case) -> None:
    """No data in the interval: no rows (not five zero rows), typed, overall and per period."""
    for per_period in (False, True):
        got = an.status_mix(engine, start="2030-01-01", end="2030-02-01",
                                  per_period=per_period)
        assert got.empty and list(got.columns) == ["date", "status", "count", "share"]
        assert got["count"].dtype == "int64" and str(got["date"].dtype) == "datetime64[us, UTC]"


@pytest.mark.parametrize("limit", [3, 10])
def test_top_clients_429(engine: DuckDBEngine, an: Case, raw: pd.DataFrame, limit: int) -> None:
    got = an.top_clients_429(engine, start=START, end="2026-10-31", limit=limit)
    rows = between(raw, START, "2026-10-31")
    want = rows.groupby("clientId", as_index=False).agg(
        clientName=("clientName", "max"), status429=("status429", "sum"),
        requests=("requests", "sum"))
    want = want[want["status429"] > 0].sort_values(["status429", "clientId"],
                                                   ascending=[False, True]).head(limit)
    want["rate429"] = want["status429"] / want["requests"]
    want.insert(0, "rank", range(1, len(want) + 1))
    _compare(got, want)
    assert got["clientId"].iloc[0] in {"c-busy", "c-burst"}


def test_top_clients_same_on_a_coarser_grouping(engine: DuckDBEngine, an: Case) -> None:
    finer = an.top_clients_429(engine)
    coarser = an.top_clients_429(engine, grouping="oauthclientid")
    _compare(finer, coarser)


@pytest.mark.parametrize("client_id", ["", "c-quiet"])
def test_rate_429_over_time(engine: DuckDBEngine, an: Case, raw: pd.DataFrame,
                            client_id: str) -> None:
    got = an.rate_429_over_time(engine, granularity="week", top=2, client_id=client_id)
    rows = finest(raw, "week")
    if client_id:
        chosen = [client_id]
    else:
        totals = rows.groupby("clientId")["status429"].sum()
        totals = totals[totals > 0].reset_index().sort_values(
            ["status429", "clientId"], ascending=[False, True])
        chosen = totals["clientId"].head(2).tolist()
    want = rows[rows["clientId"].isin(chosen)].groupby(["date", "clientId"], as_index=False).agg(
        clientName=("clientName", "max"), requests=("requests", "sum"),
        status429=("status429", "sum"))
    want["rate429"] = want["status429"] / want["requests"]
    _compare(got, want.sort_values(["date", "clientId"]))
    assert set(got["clientId"]) == set(chosen)


@pytest.mark.parametrize("min_requests", [1, 5000])
def test_error_rate_by_endpoint(engine: DuckDBEngine, an: Case, raw: pd.DataFrame,
                                min_requests: int) -> None:
    got = an.error_rate_by_endpoint(engine, limit=4, min_requests=min_requests,
                                          end="2026-10-01")
    rows = between(raw, None, "2026-10-01")
    want = rows.groupby(["templateUri", "httpMethod"], as_index=False)[
        ["requests", "status400", "status429", "status500"]].sum()
    want = want[want["requests"] >= min_requests]
    want["errors"] = want["status400"] + want["status500"]  # 429 is inside 400
    want["error_rate"] = want["errors"] / want["requests"]
    want["rate429"] = want["status429"] / want["requests"]
    want = want.sort_values(["error_rate", "requests", "templateUri", "httpMethod"],
                            ascending=[False, False, True, True]).head(4)
    want.insert(0, "rank", range(1, len(want) + 1))
    _compare(got, want)
    assert (got["errors"] <= got["requests"]).all()


def test_method_mix(engine: DuckDBEngine, an: Case, raw: pd.DataFrame) -> None:
    got = an.method_mix(engine, start="2026-10-01")
    rows = between(raw, "2026-10-01", None)
    want = rows.groupby("httpMethod", as_index=False)[
        ["requests", "status400", "status500", "status429"]].sum()
    want["errors"] = want["status400"] + want["status500"]
    want["share"] = want["requests"] / want["requests"].sum()
    want = want.sort_values(["requests", "httpMethod"], ascending=[False, True])
    _compare(got, want[["httpMethod", "requests", "errors", "status429", "share"]])
    assert got["share"].sum() == pytest.approx(1.0)


def _client_changes_reference(rows: pd.DataFrame, factor: float,
                              min_requests: int) -> pd.DataFrame:
    per = rows.groupby(["clientId", "date"])["requests"].sum().unstack(fill_value=0)
    names = rows.groupby("clientId")["clientName"].max()
    periods = sorted(rows["date"].unique())
    out = []
    for prev, cur in itertools.pairwise(periods):
        for client in per.index:
            now, before = int(per.at[client, cur]), int(per.at[client, prev])
            if before == 0 and now > 0:
                change = "appeared"
            elif now == 0 and before > 0:
                change = "vanished"
            elif before > 0 and now >= factor * before:
                change = "surged"
            elif now > 0 and now * factor <= before:
                change = "dropped"
            else:
                continue
            if max(now, before) < min_requests:
                continue
            out.append({"date": cur, "clientId": client, "clientName": names[client],
                        "change": change, "requests": now, "previous_requests": before,
                        "ratio": now / before if before else np.nan})
    return pd.DataFrame(out).sort_values(["date", "clientId"])


@pytest.mark.parametrize(("factor", "min_requests"), [(2.0, 100), (1.3, 1)])
def test_client_changes(engine: DuckDBEngine, an: Case, raw: pd.DataFrame, factor: float,
                        min_requests: int) -> None:
    got = an.client_changes(engine, factor=factor, min_requests=min_requests)
    want = _client_changes_reference(finest(raw, "week"), factor, min_requests)
    _compare(got, want)
    changes = {(r.clientId, r.change) for r in got.itertuples()}
    assert ("c-late", "appeared") in changes and ("c-gone", "vanished") in changes


def _spikes_reference(rows: pd.DataFrame, metric: str, window: int, k: float,
                      min_value: int) -> pd.DataFrame:
    grid = rows.groupby(["clientId", "date"])[metric].sum().unstack(fill_value=0)
    names = rows.groupby("clientId")["clientName"].max()
    out = []
    for client, series in grid.iterrows():
        values = series.to_numpy(dtype=float)
        for i in range(window, len(values)):
            history = values[i - window:i]
            mean, sd = history.mean(), history.std(ddof=1)
            value = values[i]
            if value >= min_value and value > mean + k * sd:
                out.append({"date": grid.columns[i], "clientId": client,
                            "clientName": names[client], "metric": metric, "value": value,
                            "baseline_mean": mean, "baseline_sd": sd,
                            "score": (value - mean) / sd if sd else np.nan})
    return pd.DataFrame(out).sort_values(["date", "clientId"])


@pytest.mark.parametrize(("metric", "window", "k"), [("status429", 7, 3.0),
                                                     ("requests", 5, 2.0)])
def test_spikes(engine: DuckDBEngine, an: Case, raw: pd.DataFrame, metric: str, window: int,
                k: float) -> None:
    got = an.spikes(engine, metric=metric, window=window, k=k, min_value=10)
    want = _spikes_reference(finest(raw), metric, window, k, 10)
    _compare(got, want)
    if metric == "status429":
        burst = got[got["clientId"] == "c-burst"]
        assert pd.Timestamp("2026-10-14", tz="UTC") in set(burst["date"])


LICENCES = {"licences": {"CX1": {"named": 2}, "CX3": {"concurrent": 1, "commit": 1}}}
ALLOWANCE = 2 * 75_000 + 182_000 + 140_000  # CX1 named, CX3 concurrent, CX3 commitment


def _fair_use_reference(daily: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per month with pandas: weekday-of-month means (min, max) for the days left."""
    rows = []
    for (year, month), part in daily.groupby([daily.index.year, daily.index.month]):
        days = pd.date_range(f"{year}-{month:02d}-01", periods=calendar.monthrange(
            year, month)[1], tz="UTC")
        seen = part.reindex(days[days <= as_of], fill_value=0)
        by_dow = seen.groupby(seen.index.day_of_week).agg(["mean", "min", "max"])
        rest = days[days > as_of]
        extra = by_dow.reindex(rest.day_of_week).sum() if len(rest) else pd.Series(
            0.0, index=["mean", "min", "max"])
        projected = seen.sum() + extra["mean"]
        cumulative = pd.concat([seen, pd.Series(by_dow["mean"].reindex(rest.day_of_week)
                                                .to_numpy(), index=rest)]).cumsum()
        over = cumulative[cumulative > ALLOWANCE]
        rows.append({"month": days[0], "requests": int(seen.sum()),
                     "days_elapsed": len(seen), "days_in_month": len(days),
                     "complete": not len(rest), "projected_requests": projected,
                     "projected_low": seen.sum() + extra["min"],
                     "projected_high": seen.sum() + extra["max"], "allowance": ALLOWANCE,
                     "used_share": seen.sum() / ALLOWANCE,
                     "projected_share": projected / ALLOWANCE,
                     "overage": max(0, int(seen.sum()) - ALLOWANCE),
                     "projected_overage": max(0.0, projected - ALLOWANCE),
                     "runs_out": over.index[0] if len(over) else pd.NaT})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("as_of", [None, "2026-10-17"])
def test_fair_use(engine: DuckDBEngine, an: Case, raw: pd.DataFrame, as_of: str | None) -> None:
    got = an.fair_use(engine, licences=LICENCES, as_of=as_of or "")
    daily = raw.groupby("date")["requests"].sum()
    stamp = pd.Timestamp(as_of, tz="UTC") if as_of else daily.index.max()
    want = _fair_use_reference(daily, stamp)
    _compare(got[list(want.columns)], want)
    assert got["complete"].tolist() == [True, as_of is None]
    assert (got["genesys_requests"] == 0).all()
    if as_of:  # weekday-aware: not the plain run-rate
        october = got.iloc[1]
        plain = october["requests"] / 17 * 31
        assert october["projected_requests"] != pytest.approx(plain, rel=1e-6)


def test_overage_by_client(engine: DuckDBEngine, an: Case, raw: pd.DataFrame) -> None:
    got = an.overage_by_client(engine, licences=LICENCES)
    months = an.fair_use(engine, licences=LICENCES).set_index("month")
    frame = raw.assign(month=raw["date"].dt.tz_convert(None).dt.to_period("M")
                       .dt.start_time.dt.tz_localize("UTC"))
    sums = frame.groupby(["month", "clientId"])["requests"].sum()
    share = sums / sums.groupby(level="month").transform("sum")
    want = share * months["overage"].astype("float64").reindex(
        share.index.get_level_values("month")).to_numpy()
    indexed = got.set_index(["month", "clientId"])
    pd.testing.assert_series_equal(indexed["requests"].sort_index(), sums.sort_index(),
                                   check_names=False, check_index_type=False)
    pd.testing.assert_series_equal(indexed["overage"].sort_index(), want.sort_index(),
                                   check_names=False, check_index_type=False)
    assert got.groupby("month")["share"].sum().tolist() == pytest.approx([1.0, 1.0])


# ------------------------------------------------------------------ options and groupings

def test_default_grouping_is_the_finest_with_the_dimension(engine: DuckDBEngine, an: Case) -> None:
    assert resolve_grouping(engine, "day", ("oauthclientid",), an.org) == GROUPINGS[0]
    assert resolve_grouping(engine, "day", ("httpmethod",), an.org) == GROUPINGS[0]
    assert resolve_grouping(engine, "day", (), an.org) == GROUPINGS[0]


def test_grouping_without_the_dimension_is_refused(engine: DuckDBEngine, an: Case) -> None:
    with pytest.raises(ConfigError, match="lacks oauthclientid"):
        an.top_clients_429(engine, grouping="httpmethod")
    with pytest.raises(ConfigError, match="invalid grouping"):
        an.top_clients_429(engine, grouping="oauthclientid' OR 1=1 --")


@pytest.mark.parametrize(("options", "match"), [
    ({"limit": 0}, "must be >= 1"),
    ({"limit": "ten"}, "expected int"),
    ({"granularity": "hour"}, "valid: day, week, month"),
    ({"start": "not a date"}, "invalid start"),
    ({"start": "2026-10-01", "end": "2026-09-01"}, "empty interval"),
    ({"bogus": 1}, "valid: limit"),
])
def test_bad_options_are_clear_errors(engine: DuckDBEngine, an: Case, options: dict,
                                      match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        an.top_clients_429(engine, **options)


def test_injection_in_a_parameter_matches_nothing(engine: DuckDBEngine, an: Case) -> None:
    for evil in ("' OR 1=1 --", "x'; DROP TABLE genesysclouddb.gc_usage_api_source; --"):
        got = an.rate_429_over_time(engine, client_id=evil)
        assert got.empty
    assert len(an.top_clients_429(engine)) > 0  # the table is still there


def test_empty_dataset_gives_typed_empty_results(tmp_path: Path) -> None:
    with DuckDBEngine(tmp_path) as eng:
        for name, analysis in ANALYSES.items():
            got = analysis(eng)
            assert got.empty, name
            assert list(got.columns) == list(analysis.columns)


def test_unknown_analysis() -> None:
    with pytest.raises(ConfigError, match="valid: requests_over_time"):
        analyses.run("nope", None)  # type: ignore[arg-type]


def test_whole_number_columns_are_int64(engine: DuckDBEngine, an: Case) -> None:
    whole = {"rank", "errors", "previous_requests", "count", "requests", "status429",
             "days_elapsed"}
    for name, analysis in ANALYSES.items():
        got = analysis(engine, org=an.org)
        assert not got.empty, name
        for column in whole & set(got.columns):
            assert got[column].dtype == "int64", (name, column)


# ------------------------------------------------------------------ organisations

def test_without_org_every_org_is_read(two_orgs: Path, raw_first: pd.DataFrame,
                                       raw_second: pd.DataFrame) -> None:
    with DuckDBEngine(two_orgs) as eng:
        got = analyses.requests_over_time(eng, granularity="month", grouping="none")
        first = analyses.requests_over_time(eng, org=ORG, granularity="month", grouping="none")
    assert got["requests"].sum() == raw_first["requests"].sum() + raw_second["requests"].sum()
    assert first["requests"].sum() == raw_first["requests"].sum()


@pytest.mark.parametrize("org", ["9f8e7d6c-0000-4000-8000-000000000000", "' OR 1=1 --"])
def test_an_org_the_dataset_lacks_gives_no_rows(two_orgs: Path, org: str) -> None:
    with DuckDBEngine(two_orgs) as eng:
        for name, analysis in ANALYSES.items():
            got = analysis(eng, org=org)
            assert got.empty, name
        assert len(analyses.top_clients_429(eng, org=OTHER_ORG.id)) > 0


def test_the_org_is_bound_never_written_into_the_sql() -> None:
    analysis = ANALYSES["top_clients_429"]
    values = analysis.bind(None, org=ORG, grouping="oauthclientid")
    text, params = analysis.render('"db"."t"', values)
    assert ORG.id not in text and params[-2:] == [ORG.id, 10]
    assert "org = ?" in text and len(sqlglot.parse(text, read="athena")) == 1
    with pytest.raises(ConfigError, match="invalid org ' '"):
        analysis.bind(None, org=" ", grouping="oauthclientid")
