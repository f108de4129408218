"""`usagekit check`: each rule firing and not firing on data built by hand, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from watch_data import limited, quiet_days, row, store, week_rows

from tests.orgs import ORG
from usagekit.cli import main
from usagekit.engine import DuckDBEngine
from usagekit.exceptions import ConfigError
from usagekit.watch import Rules, evaluate, load_rules
from usagekit.watch.rules import parse_rules

TODAY = date(2026, 11, 20)  # a Friday
LAST = TODAY - timedelta(days=1)


def check(location: Path, rules: Rules | None = None, today: date = TODAY) -> dict[str, list]:
    with DuckDBEngine(str(location)) as engine:
        result = evaluate(engine, rules, today=today)
    assert result.skipped == {}
    by_rule: dict[str, list] = {}
    for alert in result.alerts:
        by_rule.setdefault(alert.rule, []).append(alert)
    return by_rule


def only(**options: dict) -> Rules:
    """The default rules with just the named ones enabled (and their options)."""
    from usagekit.watch.rules import RULES

    return parse_rules({r: {"enabled": r in options, **options.get(r, {})} for r in RULES})


def test_quiet_data_fires_nothing(tmp_path: Path) -> None:
    store(tmp_path, quiet_days(LAST, days=LAST.day))
    assert check(tmp_path, only(**{r: {} for r in ("rate_limited", "spike", "endpoint_errors",
                                                   "client_changes", "stale")})) == {}


def test_rate_limited_by_count_with_since_when(tmp_path: Path) -> None:
    days = quiet_days(LAST)
    days = [r for r in days if not (r["clientName"] == "Wallboard"
                                    and r["date"] >= f"{LAST - timedelta(days=2)}")]
    days += [row(LAST - timedelta(days=n), "Wallboard", 500, s429=150) for n in range(3)]
    store(tmp_path, days)
    (alert,) = check(tmp_path, only(rate_limited={}))["rate_limited"]
    assert alert.key == "rate_limited:id-wallboard"
    assert alert.message == (
        f"Wallboard (id-wallboard) got 150 429s on {LAST} (30.0% of 500 requests): "
        f"rate-limited every day since {LAST - timedelta(days=2)} (3 days)")
    assert alert.details["since"] == str(LAST - timedelta(days=2))
    assert check(tmp_path, only(rate_limited={"count": 151, "rate": 0.31})) == {}


def test_rate_limited_by_rate_below_the_count(tmp_path: Path) -> None:
    days = [r for r in quiet_days(LAST) if not (r["clientName"] == "Wallboard"
                                                 and r["date"].startswith(str(LAST)))]
    store(tmp_path, [*days, row(LAST, "Wallboard", 500, s429=20)])  # 4 %, 20 < 100
    (alert,) = check(tmp_path, only(rate_limited={}))["rate_limited"]
    assert "its first day with 429s in 90 days" in alert.message
    assert check(tmp_path, only(rate_limited={"rate": 0.05})) == {}


def test_new_spike_on_the_last_day(tmp_path: Path) -> None:
    days = [r for r in quiet_days(LAST) if r["clientName"] != "Acme Sync"]
    days += [row(LAST - timedelta(days=n), "Acme Sync", 1000, s429=n % 3) for n in range(1, 9)]
    days.append(row(LAST, "Acme Sync", 1000, s429=200))
    store(tmp_path, days)
    (alert,) = check(tmp_path, only(spike={}))["spike"]
    assert alert.key == f"spike:id-acme sync:{LAST}"
    assert alert.message.startswith(f"Acme Sync (id-acme sync): new 429 spike on {LAST}: 200 ")
    assert check(tmp_path, only(spike={"min_value": 201})) == {}


def licences(folder: Path, users: int) -> str:
    """A licences file of ``users`` Communicate users (10,000 requests a month each)."""
    path = folder / f"licences-{users}.toml"
    path.write_text(f"[licences]\nCommunicate = {{ named = {users} }}\n")
    return str(path)


CONTRIBUTORS = "top contributors: Acme Sync (id-acme sync) 67%, Wallboard (id-wallboard) 33%"


def test_fair_use_projection_over_a_share_of_the_allowance(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store(data, quiet_days(LAST, days=LAST.day))  # 1,500 a day since the 1st
    rules = only(fair_use={"licences": licences(tmp_path, 4), "share": 0.9})
    (alert,) = check(data, rules)["fair_use"]
    assert alert.key == "fair_use:2026-11"
    assert alert.message == ("November 2026 month-end projection 45,000 requests (45,000 to "
                             "45,000) is 112% of the fair-use allowance 40,000 (28,500 to "
                             "2026-11-19); runs out 2026-11-27 (projected); " + CONTRIBUTORS
                             + "; licences Communicate 4 named x 10,000, alert at 90%")
    assert check(data, only(fair_use={"licences": licences(tmp_path, 6)})) == {}
    # the command line's --licences replaces the rules file's
    assert check(data, only(fair_use={"licences": licences(tmp_path, 4)}).with_licences(
        licences(tmp_path, 6))) == {}


def test_a_rules_file_names_the_licences_beside_it(tmp_path: Path) -> None:
    store(tmp_path / "data", quiet_days(LAST, days=LAST.day))
    licences(tmp_path, 4)
    rules = tmp_path / "rules.toml"
    rules.write_text("[fair_use]\nlicences = 'licences-4.toml'\n")
    loaded = load_rules(rules)
    assert loaded["fair_use"]["licences"] == str(tmp_path / "licences-4.toml")
    with DuckDBEngine(str(tmp_path / "data")) as engine:
        result = evaluate(engine, loaded, today=TODAY)
    assert [a.key for a in result.alerts if a.rule == "fair_use"] == ["fair_use:2026-11"]


def test_fair_use_without_licences_never_fires(tmp_path: Path) -> None:
    store(tmp_path, quiet_days(LAST, days=LAST.day))
    with DuckDBEngine(str(tmp_path)) as engine:
        result = evaluate(engine, only(fair_use={"share": 0.01}), today=TODAY)
    assert result.alerts == ()
    assert "the fair-use allowance is unknown" in result.skipped["fair_use"]
    assert "--licences FILE" in result.skipped["fair_use"]


def test_endpoint_error_rate_with_a_minimum_of_requests(tmp_path: Path) -> None:
    failing = row(LAST, "Acme Sync", 200, s5xx=100, uri="/api/v2/analytics", method="POST")
    store(tmp_path, [*quiet_days(LAST), failing])
    (alert,) = check(tmp_path, only(endpoint_errors={}))["endpoint_errors"]
    assert alert.message == (f"POST /api/v2/analytics: 50.0% errors on {LAST} "
                             "(100 of 200 requests, 0 of them 429s)")
    assert check(tmp_path, only(endpoint_errors={"min_requests": 201})) == {}
    assert check(tmp_path, only(endpoint_errors={"rate": 0.6})) == {}


def test_client_appeared_surged_vanished(tmp_path: Path) -> None:
    week, before = date(2026, 11, 9), date(2026, 11, 2)  # the last complete week, the one before
    days = quiet_days(LAST, days=LAST.day)
    weeks = [r for r in week_rows(days) if r["date"][:10] in (str(week), str(before))]
    weeks = [r for r in weeks if not (r["clientName"] == "Wallboard"
                                      and r["date"].startswith(str(week)))]
    weeks += [row(week, "Wallboard", 10_000), row(week, "Newcomer", 2_000),
              row(before, "Gone", 5_000)]
    store(tmp_path, days, weeks)
    alerts = check(tmp_path, only(client_changes={}))["client_changes"]
    assert sorted(a.message for a in alerts) == sorted([
        "Wallboard (id-wallboard) surged in the week from 2026-11-09: 10,000 requests "
        "against 3,500 the week before",
        "Newcomer (id-newcomer) appeared in the week from 2026-11-09: 2,000 requests "
        "against 0 the week before",
        "Gone (id-gone) vanished in the week from 2026-11-09: 0 requests against 5,000 the "
        "week before"])
    kinds = only(client_changes={"kinds": ["vanished"]})
    assert [a.key for a in check(tmp_path, kinds)["client_changes"]] == [
        "client_changes:id-gone:vanished:2026-11-09"]
    assert check(tmp_path, only(client_changes={"factor": 3.0, "min_requests": 5_001,
                                                "kinds": ["surged"]})) == {}


def test_stale_data(tmp_path: Path) -> None:
    store(tmp_path, quiet_days(LAST))
    assert check(tmp_path, only(stale={})) == {}
    later = TODAY + timedelta(days=4)
    (alert,) = check(tmp_path, only(stale={}), today=later)["stale"]
    assert alert.message == (f"the newest stored day is {LAST}, 5 days before "
                             f"today ({later}; expected at most 2): is the sync running?")
    assert check(tmp_path, only(stale={"max_age_days": 5}), today=later) == {}


def test_an_empty_dataset_is_stale(tmp_path: Path) -> None:
    with DuckDBEngine(str(tmp_path)) as engine:
        result = evaluate(engine, today=TODAY)
    assert [a.key for a in result.alerts] == ["stale"]
    assert set(result.skipped) == {"rate_limited", "spike", "fair_use", "endpoint_errors",
                                   "client_changes"}


@pytest.mark.parametrize(("text", "message"), [
    ("[rate_limit]\ncount = 1", r"unknown rule \[rate_limit\]; valid rules: rate_limited, "),
    ("[rate_limited]\ncounts = 1", "unknown option 'counts' in \\[rate_limited\\]; valid: "
                                   "enabled, count, rate"),
    ("[rate_limited]\nrate = 1.5", r"invalid \[rate_limited\] rate = 1.5: out of range, "
                                   r"expected 0 < rate <= 1"),
    ("[spike]\nwindow = 1", r"invalid \[spike\] window = 1: out of range, expected 2 <= "),
    ("[stale]\nmax_age_days = 'two'", r"invalid \[stale\] max_age_days = 'two': expected int"),
    ("[fair_use]\nlicences = 3", r"invalid \[fair_use\] licences = 3: expected a file name"),
    ("[client_changes]\nkinds = ['grew']", r"expected a non-empty list of appeared, "),
    ("rate_limited = 3", r"rate_limited must be a table"),
    ("[stale", r"is not valid TOML"),
])
def test_bad_rules_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_rules(path)


def test_rules_file_defaults_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[rate_limited]\ncount = 5\n\n[stale]\nenabled = false\n")
    rules = load_rules(path)
    assert rules["rate_limited"] == {"enabled": True, "count": 5, "rate": 0.02}
    assert not rules.enabled("stale") and rules.enabled("spike")
    assert rules["spike"] == Rules()["spike"]


# --- the command line ------------------------------------------------------------------------
def real_last_day() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def test_check_exit_status_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    last = real_last_day()
    data = tmp_path / "data"
    store(data, quiet_days(last))
    rules = tmp_path / "rules.toml"
    rules.write_text("[fair_use]\nenabled = false\n[client_changes]\nenabled = false\n"
                     "[spike]\nenabled = false\n")
    assert main(["check", "--dataset", str(data), "--rules", str(rules)]) == 0
    assert capsys.readouterr().out.startswith(f"{ORG.label}: 0 alert(s) firing")

    store(data, limited(last, "Wallboard", s429=200))
    assert main(["check", "--dataset", str(data), "--rules", str(rules), "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["firing"] == 1 and body["last_day"] == str(last)
    assert body["org"] == {"id": ORG.id, "name": ORG.name, "region": ORG.region,
                           "fictional": False}
    assert body["alerts"][0]["key"] == "rate_limited:id-wallboard"

    assert main(["check", "--dataset", str(data), "--rules", str(rules)]) == 1
    out = capsys.readouterr().out
    assert f"- rate_limited: Wallboard (id-wallboard) got 200 429s on {last}" in out


def test_check_bad_input_exits_2_and_keeps_state(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    store(data, quiet_days(real_last_day()))
    state = data / "_usagekit.alerts.json"
    state.write_text('{"version": 1, "destinations": {"x": {"notified": {}}}}\n')
    before = state.read_bytes()
    rules = tmp_path / "rules.toml"
    rules.write_text("[spike]\nk = -1\n")
    assert main(["check", "--dataset", str(data), "--rules", str(rules),
                 "--notify", "http://127.0.0.1:9/hook"]) == 2
    assert "invalid [spike] k = -1: out of range" in capsys.readouterr().err
    assert main(["check", "--dataset", str(data), "--rules", str(tmp_path / "none.toml")]) == 2
    assert "cannot read rules file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["check", "--dataset", str(data), "--notify-format", "xml"])
    assert exc.value.code == 2
    assert state.read_bytes() == before


def test_rate_limited_over_the_whole_history_says_at_least(tmp_path: Path) -> None:
    days = [r for r in quiet_days(LAST) if r["clientName"] != "Wallboard"]
    store(tmp_path, days + [row(LAST - timedelta(days=n), "Wallboard", 500, s429=150)
                            for n in range(14)])
    (alert,) = check(tmp_path, only(rate_limited={}))["rate_limited"]
    assert alert.message.endswith(f"rate-limited every day since at least "
                                  f"{LAST - timedelta(days=13)} (14 days: all looked at)")


def test_fair_use_of_a_complete_month(tmp_path: Path) -> None:
    end = date(2026, 11, 30)
    data = tmp_path / "data"
    store(data, quiet_days(end, days=30))
    rules = only(fair_use={"licences": licences(tmp_path, 4), "share": 1.0})
    (alert,) = check(data, rules, today=date(2026, 12, 1))["fair_use"]
    assert alert.message == ("November 2026 used 45,000 requests, 112% of the fair-use "
                             "allowance 40,000; runs out 2026-11-27; " + CONTRIBUTORS
                             + "; licences Communicate 4 named x 10,000, alert at 100%")
    assert alert.details["top_contributors"][0]["share"] == pytest.approx(2 / 3)


def test_check_fair_use_needs_licences_from_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    last = real_last_day()
    data = tmp_path / "data"
    store(data, quiet_days(last, days=last.day))  # 1,500 a day since the 1st
    rules = tmp_path / "rules.toml"
    rules.write_text("".join(f"[{r}]\nenabled = false\n" for r in (
        "rate_limited", "spike", "endpoint_errors", "client_changes", "stale")))
    assert main(["check", "--dataset", str(data), "--rules", str(rules)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{ORG.label}: 0 alert(s) firing")
    assert "rule fair_use skipped: no licences, so the fair-use allowance is unknown: give " \
           "the org's licences file with --licences FILE" in captured.err
    assert main(["check", "--dataset", str(data), "--rules", str(rules), "--licences",
                 licences(tmp_path, 1)]) == 1  # 10,000 a month: over by the 7th day
    assert "- fair_use: " in capsys.readouterr().out
    assert main(["check", "--dataset", str(data), "--licences", str(tmp_path / "no.toml")]) == 2
    assert "cannot read licences file" in capsys.readouterr().err
