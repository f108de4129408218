"""A damaged data file is a clear failure that names it, never an alert nor a silent loss.

Each test damages one stored file the way a crash or a bad copy does (a truncated or garbled
Parquet file, a truncated or non-JSON NDJSON line), then runs the kit's real commands.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from watch_data import quiet_days

from tests.orgs import ORG
from usagekit.cli import main
from usagekit.dataset import open_dataset
from usagekit.exceptions import DamagedFileError, EngineError
from usagekit.report.gather import collect, refresh
from usagekit.report.params import validate
from usagekit.sandbox import Sandbox

GROUPING = ["OAuthClientId", "TemplateUri", "HttpMethod"]
TABLE = '"genesysclouddb"."gc_usage_api_source"'


def truncate(path: Path) -> None:
    """Cut the file in the middle (an NDJSON file inside a line, as a crash does)."""
    data = path.read_bytes()
    half = len(data) // 2
    path.write_bytes(data[: data.index(b"\n", half) - 3 if path.suffix == ".json" else half])


def garble(path: Path) -> None:
    """Keep the Parquet magic bytes at both ends; scramble everything between."""
    data = path.read_bytes()
    path.write_bytes(data[:4] + bytes((b * 7 + 3) % 256 for b in data[4:-4]) + data[-4:])


def garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 20)


def cut_line(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b'{"clientId": "x", "dat\n')


def not_json(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"hello\n")


DAMAGE: dict[str, tuple[str, Callable[[Path], None]]] = {
    "truncated parquet": ("parquet", truncate),
    "garbled parquet": ("parquet", garble),
    "parquet of garbage": ("parquet", garbage),
    "truncated ndjson line": ("ndjson", cut_line),
    "non-json ndjson line": ("ndjson", not_json),
}


@pytest.fixture(params=list(DAMAGE))
def damaged(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A dataset of October and November days whose October file is damaged."""
    fmt, damage = DAMAGE[request.param]
    location = tmp_path / "data"
    dataset = open_dataset(str(location), format=fmt, org=ORG)
    dataset.write(quiet_days(date(2026, 11, 30), 60), granularity="day", grouping=GROUPING)
    october = next(location.rglob("period=2026-10/usage.*"))
    damage(october)
    yield location, october


def test_check_cannot_evaluate_and_names_the_file(
        damaged: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    location, october = damaged
    assert main(["check", "--dataset", str(location)]) == 2  # not 1: no alert fired
    err = capsys.readouterr().err
    assert str(october) in err and "damaged" in err and "Move" in err


@pytest.mark.parametrize("command", [
    ["sql", f"SELECT sum(requests) AS n FROM {TABLE}"],
    ["analyze", "requests_over_time"],
])
def test_queries_name_the_file(damaged: tuple[Path, Path], command: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    location, october = damaged
    assert main([*command, "--dataset", str(location)]) == 1
    assert str(october) in capsys.readouterr().err


def test_a_write_refuses_the_damaged_partition_and_keeps_the_others(
        damaged: tuple[Path, Path]) -> None:
    location, october = damaged
    before = october.read_bytes()
    dataset = open_dataset(str(location), org=ORG)
    with pytest.raises(DamagedFileError, match="nothing was written") as info:
        dataset.write(quiet_days(date(2026, 11, 2), 5), granularity="day", grouping=GROUPING)
    assert info.value.files == (str(october),)
    assert str(october) in str(info.value)
    assert october.read_bytes() == before  # never replaced by a partial one
    with pytest.raises(DamagedFileError, match="nothing was read"):
        dataset.read("day")
    summary = dataset.write(quiet_days(date(2026, 11, 20), 3), granularity="day",
                            grouping=GROUPING)
    assert [p.period for p in summary.written] == ["2026-11"]
    assert len(dataset.read("day", start="2026-11-01")) == 60
    october.rename(location / "october.bad")  # the documented repair
    assert len(open_dataset(str(location), org=ORG).read("day")) == 60


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with Sandbox(port=0, seed=7, query_seconds=0.05) as sb:
        monkeypatch.setenv("GENESYSCLOUD_REGION", sb.url)
        monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_ID", sb.client_id)
        monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_SECRET", sb.client_secret)
        yield sb


def sync(location: Path) -> int:
    return main(["sync", "--dataset", str(location), "--granularity", "day,week",
                 "--group-by", "OAuthClientId", "--no-progress"])


def stamps(location: Path, gran: str) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns
            for p in location.glob(f"org=*/granularity={gran}/*/*/usage.json")}


@pytest.mark.parametrize("damage", [truncate, not_json], ids=["truncated", "not json"])
def test_sync_stores_what_it_can_and_names_the_damaged_file(
        sandbox: Sandbox, tmp_path: Path, damage: Callable[[Path], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    location = tmp_path / "data"
    assert sync(location) == 0
    capsys.readouterr()
    days = sorted(location.glob("org=*/granularity=day/*/*/usage.json"))
    oldest, newest = days[0], days[-1]

    damage(oldest)  # a month no sync touches again: no reason to stop
    weeks = stamps(location, "week")
    assert sync(location) == 0
    assert stamps(location, "week") != weeks
    capsys.readouterr()

    damage(newest)  # the month the trailing days are stored in
    broken, weeks = newest.read_bytes(), stamps(location, "week")
    assert sync(location) == 1
    out, err = capsys.readouterr()
    assert [line.split(":")[0] for line in out.splitlines()] == ["day", "week"]
    assert str(newest) in err and "damaged" in err
    assert newest.read_bytes() == broken
    assert stamps(location, "week") != weeks  # the sound granularity was stored
    today = datetime.now(UTC).date()
    stored = open_dataset(str(location)).read("week", "oauthclientid")
    assert stored["date"].max().date() > today - timedelta(days=8)
    assert os.path.exists(newest)


def test_the_report_names_the_damaged_file(sandbox: Sandbox, tmp_path: Path) -> None:
    location = tmp_path / "data"
    today = datetime.now(UTC).date()
    params = validate("usage-report", dataset=str(location), refresh=True,
                      interval=f"{today - timedelta(days=14)}/{today}")
    refresh(params)
    newest = sorted(location.glob("org=*/granularity=day/*/*/usage.json"))[-1]
    truncate(newest)
    broken = newest.read_bytes()
    with pytest.raises(DamagedFileError) as info:
        refresh(params)  # stores what it can, then names the file it could not update
    assert str(newest) in str(info.value)
    assert newest.read_bytes() == broken
    with pytest.raises((DamagedFileError, EngineError)) as failed:  # not "unavailable"
        collect(validate("usage-report", dataset=str(location), refresh=False,
                         interval=f"{today - timedelta(days=14)}/{today}"))
    assert str(newest) in str(failed.value)
