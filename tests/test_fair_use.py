"""Fair use as Genesys bills it: licences, the allowance, the month day by day, who causes it.

Every figure is hand-computed below from a small dataset of day rows (one org):

- September 2026: "Steady Sync" makes 17,448 requests a day on the 1st to the 29th (none
  on the 30th): 505,992 requests, Genesys's worked example.
- October 2026, the 1st (a Thursday) to the 14th: "Steady Sync" and "Busy Integration"
  make 750 + 250 a weekday and 150 + 50 a weekend day in the first week, 900 + 300 and
  225 + 75 in the second: 12,000 requests; weekday 1,000 then 1,200, weekend day 200 then
  300. The 15th to the 31st are 12 weekdays and 5 weekend days.
- Every day, Genesys's own "Genesys Cloud Data Actions (purecloud-builtin)" makes 500.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from tests.orgs import ORG
from usagekit import analyses
from usagekit.analyses.licences import (
    ALLOWANCES,
    billed_licences,
    canonical_licence,
    is_genesys_client,
    load_licences,
    parse_licences,
)
from usagekit.dataset import open_dataset
from usagekit.engine import DuckDBEngine
from usagekit.exceptions import ApiError, ConfigError
from usagekit.fetch import UsageClient
from usagekit.fetch.billing import billable_usage
from usagekit.query import parse_interval
from usagekit.report.gather import _billed
from usagekit.sandbox import Sandbox

STEADY, BUSY, GENESYS = "c-steady", "c-busy", "c-genesys"
NAMES = {STEADY: "Steady Sync", BUSY: "Busy Integration",
         GENESYS: "Genesys Cloud Data Actions (purecloud-builtin)"}
GENESYS_DAILY = 500


def _october(day: pd.Timestamp) -> tuple[int, int]:
    """(steady, busy) requests of an October day."""
    weekend = day.day_of_week >= 5
    if day.day <= 7:
        return (150, 50) if weekend else (750, 250)
    return (225, 75) if weekend else (900, 300)


def _rows() -> list[dict]:
    rows = []

    def add(client: str, day: pd.Timestamp, requests: int) -> None:
        rows.append({"clientId": client, "clientName": NAMES[client], "organizationId": "",
                     "userId": "", "templateUri": "", "httpMethod": "",
                     "status200": requests, "status300": 0, "status400": 0, "status500": 0,
                     "status429": 0, "requests": requests,
                     "date": day.strftime("%Y-%m-%dT%H:%M:%SZ")})

    for day in pd.date_range("2026-09-01", "2026-10-14", tz="UTC"):
        add(GENESYS, day, GENESYS_DAILY)
        if day.month == 9 and day.day <= 29:
            add(STEADY, day, 17_448)
        elif day.month == 10:
            steady, busy = _october(day)
            add(STEADY, day, steady)
            add(BUSY, day, busy)
    return rows


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDBEngine:
    root = tmp_path_factory.mktemp("fair-use")
    dataset = open_dataset(str(root), org=ORG)
    dataset.write(_rows(), granularity="day", grouping="oauthclientid",
                  interval="2026-09-01/2026-10-15")
    with DuckDBEngine(root) as eng:
        yield eng


def _book(text: str, tmp_path: Path) -> Path:
    path = tmp_path / "licences.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


# ------------------------------------------------------------------ licences and allowance

def test_the_table_is_genesys_table() -> None:
    assert ALLOWANCES == {"CX1": (75_000, 97_500), "CX2": (110_000, 143_000),
                          "CX2 Digital": (110_000, 143_000), "CX3": (140_000, 182_000),
                          "CX3 Digital": (140_000, 182_000), "Communicate": (10_000, None),
                          "EX": (75_000, None)}
    assert canonical_licence("cx2_digital") == canonical_licence("CX 2 Digital") == "CX2 Digital"
    assert canonical_licence("Genesys Cloud CX 3") == "CX3"


def test_the_issue_example_file_and_every_rule(tmp_path: Path) -> None:
    book = load_licences(_book("""
        [licences]
        CX3 = { named = 800, concurrent = 20 }
        CX2_Digital = { named = 50, commit = 60 }
        Communicate = { named = 200 }
        CX1 = { named = 10 }
        EX = { named = 3, commit = 2 }
        CX3_Digital = { concurrent = 1, concurrent_commit = 4 }
        Digital_Addon = { base = "CX1", named = 10, per_user = 5000 }
        """, tmp_path))
    org = book.for_org(ORG.id)
    assert {line.name: line.allowance for line in org.lines("2026-10")} == {
        "CX3": 800 * 140_000 + 20 * 182_000,
        "CX2 Digital": 60 * 110_000,          # the commitment, above the 50 used
        "Communicate": 200 * 10_000,
        "CX1": 10 * 75_000,
        "EX": 3 * 75_000,                     # the actual use, above the commitment
        "CX3 Digital": 4 * 182_000,
        "Digital_Addon": 10 * 5_000}
    addon = org.lines("2026-10")[-1]
    assert addon.group == "CX1"
    assert org.allowance("2026-10") == (115_640_000 + 6_600_000 + 2_000_000 + 750_000
                                        + 225_000 + 728_000 + 50_000)


def test_genesys_worked_example(engine: DuckDBEngine) -> None:
    """Allowance 182,000 (one CX3 concurrent licence) against 505,992 requests."""
    got = analyses.fair_use(engine, licences={"licences": {"CX3": {"concurrent": 1}}})
    september = got.iloc[0]
    assert september["month"] == _ts("2026-09-01")
    assert september["complete"]
    assert (september["requests"], september["allowance"]) == (505_992, 182_000)
    assert september["overage"] == 323_992
    assert september["genesys_requests"] == 30 * GENESYS_DAILY  # apart, not counted
    # 17,448 a day: 174,480 after the 10th, 191,928 after the 11th
    assert september["runs_out"] == _ts("2026-09-11")
    assert not september["runs_out_projected"]


@pytest.mark.parametrize(("text", "match"), [
    ("[licences]\nCX9 = { named = 1 }", r"unknown licence 'CX9'; valid: CX1, CX2, CX2 Digital"),
    ("[licences]\nCX3 = { nmaed = 1 }", r"unknown key\(s\) nmaed in CX3; valid: named"),
    ("[licences]\nCX3 = { named = -1 }", r"invalid CX3.named = -1"),
    ("[licences]\nCX3 = { named = 1.5 }", r"invalid CX3.named = 1.5"),
    ("[licences]\nCommunicate = { concurrent = 2 }", r"Communicate has no concurrent"),
    ("[licences]\nAddon = { base = 'CX7', named = 1, per_user = 1 }", r"unknown licence 'CX7'"),
    ("[licences]\nAddon = { base = 'CX1', named = 1 }", r"add-on Addon counts named users "
                                                        r"but has no per_user"),
    ("[licences]\nCX3 = { named = 1, per_user = 9 }", r"per_user is for add-ons"),
    ("[licences]\nCX3 = { named = 1 }\ncx_3 = { named = 2 }", r"CX3 given twice"),
    ("[licence]\nCX3 = { named = 1 }", r"unknown table\(s\) licence; valid: licences"),
    ("[licences_from.'2026-13']\nCX3 = { named = 1 }\n[licences]", r"invalid month"),
    ("[licences]\n[fair_use]\ngenesys_clients = 'maybe'", r"valid: exclude, include"),
    ("[licences]\n[fair_use]\nprice_per_request = -1", r"price_per_request = -1"),
    ("[orgs.a.licences]\nCX3 = { named = 1 }\n[licences]", r"not both"),
    ("[fair_use]\n", r"no \[licences\] table"),
])
def test_bad_licences_files_name_the_value_and_the_valid_ones(tmp_path: Path, text: str,
                                                              match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_licences(_book(text, tmp_path))


def test_one_section_per_org(tmp_path: Path) -> None:
    book = load_licences(_book("""
        [orgs."org-a".licences]
        CX3 = { named = 10 }
        [orgs."org-b".licences]
        CX1 = { named = 10 }
        """, tmp_path))
    assert book.for_org("org-a").allowance("2026-10") == 1_400_000
    assert book.for_org("org-b").allowance("2026-10") == 750_000
    with pytest.raises(ConfigError, match=r"several orgs .*org-a, org-b.* --org"):
        book.for_org(None)
    with pytest.raises(ConfigError, match="no licences for org 'org-c'; it has: org-a"):
        book.for_org("org-c")


# ------------------------------------------------------------------ no alert on a guess

def test_without_licences_the_allowance_is_unknown(engine: DuckDBEngine) -> None:
    got = analyses.fair_use(engine)
    assert got["requests"].tolist() == [505_992, 12_000]
    assert got["allowance"].isna().all() and got["overage"].isna().all()
    assert got["used_share"].isna().all() and got["runs_out"].isna().all()
    assert got["licences"].tolist() == ["", ""]


# ------------------------------------------------------------------ the month day by day

def test_projection_from_the_month_weekday_pattern(engine: DuckDBEngine) -> None:
    got = analyses.fair_use(engine, licences={"licences": {"Communicate": {"named": 2}}})
    october = got.iloc[1]
    assert (october["requests"], october["days_elapsed"], october["complete"]) == (
        12_000, 14, False)
    # 12 weekdays at 1,100 (1,000..1,200) and 5 weekend days at 250 (200..300)
    assert october["projected_requests"] == 12_000 + 12 * 1_100 + 5 * 250 == 26_450
    assert october["projected_low"] == 12_000 + 12 * 1_000 + 5 * 200
    assert october["projected_high"] == 12_000 + 12 * 1_200 + 5 * 300
    assert october["allowance"] == 20_000
    assert october["used_share"] == pytest.approx(0.6)
    assert october["projected_overage"] == 6_450
    assert october["overage"] == 0
    # cumulative 12,000 on the 14th, then 13,100 .. 19,100 (22nd), 20,200 (23rd)
    assert october["runs_out"] == _ts("2026-10-23")
    assert october["runs_out_projected"]


def test_crossing_the_allowance_mid_month(engine: DuckDBEngine) -> None:
    """10,000 allowed: cumulative 9,600 on the 12th, 10,800 on the 13th (actual)."""
    daily = analyses.fair_use_daily(engine, start="2026-10-01",
                                    licences={"licences": {"Communicate": {"named": 1}}})
    assert len(daily) == 31 and (daily["allowance"] == 10_000).all()
    actual = daily[daily["kind"] == "actual"]
    assert actual["cumulative"].tolist() == [1_000, 2_000, 2_200, 2_400, 3_400, 4_400, 5_400,
                                             6_600, 7_800, 8_100, 8_400, 9_600, 10_800,
                                             12_000]
    assert daily["used_share"].iloc[12] == pytest.approx(1.08)
    projected = daily[daily["kind"] == "projected"]
    assert projected["date"].iloc[0] == _ts("2026-10-15")
    assert projected["day_requests"].iloc[:3].tolist() == [1_100, 1_100, 250]
    assert projected["low"].iloc[:3].tolist() == [1_000, 1_000, 200]
    assert projected["high"].iloc[:3].tolist() == [1_200, 1_200, 300]
    assert daily["cumulative"].iloc[-1] == 26_450
    assert daily["cumulative_low"].iloc[-1] == 25_000
    assert daily["cumulative_high"].iloc[-1] == 27_900
    month = analyses.fair_use(engine, start="2026-10-01",
                              licences={"licences": {"Communicate": {"named": 1}}})
    assert month["runs_out"].tolist() == [_ts("2026-10-13")]
    assert month["runs_out_projected"].tolist() == [False]
    assert month["overage"].tolist() == [2_000]


def test_licences_that_change(engine: DuckDBEngine, tmp_path: Path) -> None:
    path = _book("""
        [licences]
        CX3 = { concurrent = 1 }
        [licences_from."2026-10"]
        Communicate = { named = 2 }
        """, tmp_path)
    got = analyses.fair_use(engine, licences=str(path))
    assert got["allowance"].tolist() == [182_000, 20_000]
    assert got["overage"].tolist() == [323_992, 0]
    assert got["projected_overage"].tolist() == [323_992, 6_450]
    assert got["licences"].tolist() == ["CX3 1 concurrent x 182,000",
                                        "Communicate 2 named x 10,000"]


def test_an_as_of_day_cuts_the_actual_days(engine: DuckDBEngine) -> None:
    got = analyses.fair_use(engine, start="2026-10-01", as_of="2026-10-07")
    # one week seen: weekdays 1,000, weekend days 200; 24 days left: 17 weekdays, 7 weekend
    assert got["requests"].tolist() == [5_400]
    assert got["projected_requests"].tolist() == [5_400 + 17 * 1_000 + 7 * 200]
    assert got["projected_low"].tolist() == got["projected_high"].tolist()


# ------------------------------------------------------------------ who causes it

def test_overage_by_client_pro_rata(engine: DuckDBEngine, tmp_path: Path) -> None:
    path = _book("""
        [licences]
        Communicate = { named = 2 }
        [fair_use]
        price_per_request = 0.001
        currency = "EUR"
        [teams]
        c-steady = "Contact centre"
        """, tmp_path)
    got = analyses.overage_by_client(engine, start="2026-10-01", licences=str(path))
    assert got["clientId"].tolist() == [STEADY, BUSY, GENESYS]
    assert got["requests"].tolist() == [9_000, 3_000, 14 * GENESYS_DAILY]
    assert got["group"].tolist() == ["client", "client", "genesys"]
    assert got["counted"].tolist() == [True, True, False]
    assert got["team"].tolist() == ["Contact centre", "(no team)", "(no team)"]
    assert got["share"].iloc[:2].tolist() == [0.75, 0.25]
    assert got["overage"].iloc[:2].tolist() == [0.75 * 6_450, 0.25 * 6_450]
    assert got["overage_basis"].iloc[:2].tolist() == ["projected", "projected"]
    assert got["estimated_cost"].iloc[:2].tolist() == pytest.approx([4.8375, 1.6125])
    assert pd.isna(got["share"].iloc[2]) and pd.isna(got["overage"].iloc[2])
    assert got["currency"].iloc[0] == "EUR"
    teams = analyses.overage_by_client(engine, start="2026-10-01", licences=str(path),
                                       per="team")
    assert teams[["team", "requests"]].values.tolist() == [
        ["Contact centre", 9_000], ["(no team)", 3_000], ["(no team)", 7_000]]


def test_no_price_no_cost_and_no_licences_no_overage(engine: DuckDBEngine) -> None:
    priced = analyses.overage_by_client(
        engine, start="2026-09-01", end="2026-10-01",
        licences={"licences": {"CX3": {"concurrent": 1}}})
    assert priced["overage"].iloc[0] == 323_992 and priced["overage_basis"].iloc[0] == "actual"
    assert priced["estimated_cost"].isna().all()
    unknown = analyses.overage_by_client(engine, start="2026-09-01", end="2026-10-01")
    assert unknown["share"].iloc[0] == 1.0 and unknown["overage"].isna().all()


def test_genesys_clients_counted_in_by_the_rule(engine: DuckDBEngine) -> None:
    book = {"licences": {"Communicate": {"named": 2}}, "fair_use": {"genesys_clients":
                                                                     "include"}}
    got = analyses.fair_use(engine, start="2026-10-01", licences=book)
    assert got["requests"].tolist() == [12_000 + 14 * GENESYS_DAILY]
    assert got["genesys_requests"].tolist() == [14 * GENESYS_DAILY]
    clients = analyses.overage_by_client(engine, start="2026-10-01", licences=book)
    assert clients["counted"].all()
    assert clients["share"].sum() == pytest.approx(1.0)
    assert clients.set_index("clientId")["share"][GENESYS] == pytest.approx(7_000 / 19_000)


@pytest.mark.parametrize(("name", "genesys"), [
    ("purecloud", True), ("PureCloud-Builtin", True),
    ("Genesys Cloud Data Actions (purecloud-builtin)", True),
    ("Genesys Cloud Integrations Runtime (purecloud)", True),
    ("PureCloud Sync for Salesforce", False), ("purecloudish", False), (None, False)])
def test_genesys_clients_by_their_documented_names(name: str | None, genesys: bool) -> None:
    assert is_genesys_client(name) is genesys


def test_a_licence_book_passes_through(tmp_path: Path) -> None:
    book = parse_licences({"licences": {"CX1": {"named": 1}}})
    assert parse_licences(book) is book
    with pytest.raises(ConfigError, match="cannot read licences file"):
        load_licences(tmp_path / "missing.toml")


# ------------------------------------------------------------------ licences from Genesys

def test_licences_from_the_billable_usage_report() -> None:
    book, left_out = billed_licences([
        ("Genesys Cloud CX 3", 180.0), ("Genesys Cloud CX 3 Concurrent", 4.0),
        ("Genesys Cloud Communicate", 30.0), ("Genesys Cloud WEM Add-on II", 12.0)], "billing")
    assert book is not None and left_out == ("Genesys Cloud WEM Add-on II",)
    assert book.for_org().allowance("2026-10") == 180 * 140_000 + 4 * 182_000 + 30 * 10_000
    assert billed_licences([("Genesys Cloud WEM Add-on II", 3.0)], "billing") == (
        None, ("Genesys Cloud WEM Add-on II",))


def test_billable_usage_from_the_sandbox() -> None:
    """Asked again while InProgress; each org's own licences, as its token sees them."""
    with Sandbox(orgs=2, query_seconds=0.3) as sandbox:
        for org in sandbox.orgs:
            with UsageClient(sandbox.url, client_id=org.client_id,
                             client_secret=org.client_secret, progress=False) as client:
                found = billable_usage(client, datetime(2026, 10, 1, tzinfo=UTC),
                                       datetime(2026, 11, 1, tzinfo=UTC))
            assert found.usages == tuple((name, float(n)) for name, n in org.spec.licences)


class _Refusing(BaseHTTPRequestHandler):
    """Genesys's answer to a client whose role may not read billing data."""

    def do_GET(self) -> None:
        body = json.dumps({"message": "Unable to perform the requested action. You are "
                           "missing the following permission(s): [billing]",
                           "code": "missing.any.permissions", "status": 403}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_without_the_billing_permission_the_report_says_why() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with UsageClient(f"http://127.0.0.1:{server.server_port}", access_token="t0ken-x",
                         progress=False) as client:
            with pytest.raises(ApiError) as info:
                billable_usage(client, datetime(2026, 10, 1, tzinfo=UTC),
                               datetime(2026, 11, 1, tzinfo=UTC))
            assert info.value.status == 403
            interval = parse_interval("2026-10-05/2026-10-26")
            assert _billed(client, interval) == (
                None, "unknown: the OAuth client may not read billing data")
    finally:
        server.shutdown()
        server.server_close()
