"""Every stored row belongs to an organisation: the org partition, the sandbox guard,
``usagekit remove`` and ``usagekit migrate`` (idempotent, safe to kill, checked by totals)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.orgs import ORG, ORG_DIR
from usagekit.cli import main
from usagekit.dataset import open_dataset
from usagekit.dataset.local import LocalStorage
from usagekit.dataset.migrate import migrate
from usagekit.engine import DuckDBEngine
from usagekit.exceptions import ConfigError, DatasetError, EngineError, FictionalDataError
from usagekit.row import Org

OTHER = Org("7e1f0c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b", "Other Org", "mypurecloud.de")
FAKE = Org("99999999-aaaa-4bbb-8ccc-dddddddddddd", "Demo (fictional)", "sandbox", fictional=True)
FLAGS = {"granularity": "day", "grouping": ["OAuthClientId"]}
DATA = ("usage.json", "usage.parquet")  # a data file's name, either format


def rows(client: str, requests: int, days: int = 3) -> list[dict[str, Any]]:
    return [{"clientId": client, "clientName": f"{client} name", "organizationId": "",
             "userId": "", "templateUri": "", "httpMethod": "", "status200": requests,
             "status300": 0, "status400": 0, "status500": 0, "status429": 0,
             "requests": requests, "date": f"2026-10-{day:02d}T00:00:00Z"}
            for day in range(1, days + 1)]


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def totals(root: Path) -> dict[str, int]:
    """Rows and requests per org, as DuckDB reads the dataset."""
    with DuckDBEngine(str(root)) as engine:
        frame = engine.sql(f"SELECT org, count(*) AS n, sum(requests) AS r "
                           f"FROM {engine.source} GROUP BY org ORDER BY org")
    return {f"{o}:{k}": int(v) for o, n, r in frame.itertuples(index=False)
            for k, v in (("rows", n), ("requests", r))}


def test_orgs_are_kept_apart_and_one_table_holds_them(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    open_dataset(root, org=ORG).write(rows("a", 5), **FLAGS)
    open_dataset(root, org=OTHER).write(rows("a", 7), **FLAGS)  # same client, same days
    assert [o.id for o in open_dataset(root).orgs()] == [OTHER.id, ORG.id]  # by name
    assert json.loads((root / ORG_DIR / "_org.json").read_bytes()) == {
        "id": ORG.id, "name": ORG.name, "region": ORG.region, "fictional": False}
    assert totals(root) == {f"{OTHER.id}:rows": 3, f"{OTHER.id}:requests": 21,
                            f"{ORG.id}:rows": 3, f"{ORG.id}:requests": 15}
    # one org's write replaces its own rows only
    open_dataset(root, org=ORG).write(rows("a", 1), **FLAGS)
    assert totals(root)[f"{OTHER.id}:requests"] == 21
    assert totals(root)[f"{ORG.id}:requests"] == 3
    assert set(open_dataset(root, org=OTHER).read()["org"]) == {OTHER.id}
    assert set(open_dataset(root).read()["org"]) == {ORG.id, OTHER.id}
    # the stored rows stay the API's bytes: the org is a folder, never a field
    stored = (root / ORG_DIR / "granularity=day/grouping=oauthclientid/period=2026-10"
              / "usage.json").read_bytes()
    assert b'"org"' not in stored and stored.count(b"\n") == 3


def test_a_write_needs_an_org(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs the organisation"):
        open_dataset(tmp_path / "ds").write(rows("a", 1), **FLAGS)
    assert not (tmp_path / "ds").exists()


def test_sandbox_rows_are_refused_beside_a_real_orgs(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    open_dataset(root, org=ORG).write(rows("a", 5), **FLAGS)
    before = files(root)
    with pytest.raises(FictionalDataError, match=rf"holds Test Org \({ORG.short_id}.*"
                       r"GENESYSCLOUD_REGION.*--allow-sandbox"):
        open_dataset(root, org=FAKE)
    assert files(root) == before  # nothing written
    open_dataset(root, org=FAKE, allow_fictional=True).write(rows("z", 9), **FLAGS)
    assert {o.id: o.fictional for o in open_dataset(root).orgs()} == {ORG.id: False,
                                                                        FAKE.id: True}
    # a real org beside fictional rows is stored (and a warning names `usagekit remove`)
    open_dataset(root, org=OTHER).write(rows("b", 1), **FLAGS)
    assert len(open_dataset(root).orgs()) == 3


def test_remove_takes_out_one_org_or_the_fictional_ones(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    root = tmp_path / "ds"
    open_dataset(root, org=ORG).write(rows("a", 5), **FLAGS)
    open_dataset(root, org=FAKE, allow_fictional=True).write(rows("z", 9), **FLAGS)
    open_dataset(root, org=OTHER).write(rows("b", 2), **FLAGS)
    kept = {k: v for k, v in files(root).items() if k.startswith(ORG_DIR)}
    assert main(["remove", "--dataset", str(root), "--fictional"]) == 0
    assert "removed 1 partition(s) of Demo (fictional)" in capsys.readouterr().err
    assert [o.id for o in open_dataset(root).orgs()] == [OTHER.id, ORG.id]
    assert not (root / f"org={FAKE.id}").exists()  # no empty folders left
    assert main(["remove", "--dataset", str(root), "--org", "other org"]) == 0  # by name
    assert [o.id for o in open_dataset(root).orgs()] == [ORG.id]
    assert {k: v for k, v in files(root).items() if k.startswith(ORG_DIR)} == kept
    assert main(["remove", "--dataset", str(root), "--org", "nobody"]) == 2
    assert f"it holds: Test Org ({ORG.short_id}, mypurecloud.ie)" in capsys.readouterr().err
    assert main(["remove", "--dataset", str(root), "--fictional"]) == 0  # nothing left to do
    assert "holds no fictional org's rows" in capsys.readouterr().err


@pytest.mark.usefixtures("no_genesys")
def test_sync_without_settings_stops_before_fetching_into_a_real_dataset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The cron job whose secrets failed to load: no fictional row reaches the real org's."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no gc profile either
    root = tmp_path / "ds"
    open_dataset(root, org=ORG).write(rows("a", 5), **FLAGS)
    before = files(root)
    status = main(["sync", "--dataset", str(root), "--granularity", "day",
                   "--group-by", "OAuthClientId", "--since", "2026-10-01", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.splitlines()[0].startswith("usagekit: embedded sandbox")  # the source, first
    assert f"holds Test Org ({ORG.short_id}, mypurecloud.ie)" in err
    assert "GENESYSCLOUD_REGION" in err and "GENESYSCLOUD_OAUTHCLIENT_ID" in err
    assert files(root) == before
    # stated on purpose, the sandbox's rows go in as their own org
    assert main(["sync", "--dataset", str(root), "--granularity", "day", "--group-by",
                 "OAuthClientId", "--since", "2026-10-01", "--no-progress",
                 "--allow-sandbox"]) == 0
    held = {o.id: o for o in open_dataset(root).orgs()}
    assert held[ORG.id].fictional is False
    assert [o.fictional for i, o in held.items() if i != ORG.id] == [True]
    assert {k: v for k, v in files(root).items() if k.startswith(ORG_DIR)} == {
        k: v for k, v in before.items() if k.startswith(ORG_DIR)}


@pytest.mark.usefixtures("no_genesys")
def test_fetch_into_a_real_dataset_without_settings_sends_no_usage_query(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    root = tmp_path / "ds"
    open_dataset(root, org=ORG).write(rows("a", 5), **FLAGS)
    assert main(["fetch", "--interval", "2026-10-01/2026-10-03", "--granularity", "Day",
                 "--group-by", "OAuthClientId", "--dataset", str(root), "--no-progress"]) == 2
    assert "refusing to store the fictional rows" in capsys.readouterr().err
    assert (root / ORG_DIR).is_dir() and len(open_dataset(root).orgs()) == 1


# -- migrate ----------------------------------------------------------------------------------

LEGACY_ROWS = (rows("a", 5, days=20), [*rows("b", 3), *rows("c", 4)])
LEGACY_TOTALS = {f"{ORG.id}:rows": sum(map(len, LEGACY_ROWS)),
                 f"{ORG.id}:requests": sum(r["requests"] for part in LEGACY_ROWS for r in part)}


@pytest.fixture(params=["ndjson", "parquet"])
def legacy(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A dataset as usagekit stored it before organisations (NDJSON or Parquet): two
    partitions of two groupings, manifest version 1."""
    root = tmp_path / "legacy"
    ds = open_dataset(root, org=ORG, format=request.param)
    ds.write(LEGACY_ROWS[0], **FLAGS)
    ds.write(LEGACY_ROWS[1], granularity="day", grouping=["OAuthClientId", "TemplateUri"])
    for folder in (root / ORG_DIR).iterdir():
        if folder.is_dir():
            shutil.move(folder, root / folder.name)
    shutil.rmtree(root / ORG_DIR)
    (root / "_usagekit.manifest").write_text(
        json.dumps({"format": request.param, "layout": "granularity/grouping/period",
                    "version": 1}) + "\n")
    yield root


def test_a_legacy_dataset_is_refused_until_migrated(legacy: Path) -> None:
    with pytest.raises(DatasetError, match=r"laid out as before organisations.*usagekit migrate"):
        open_dataset(legacy, org=ORG)
    with pytest.raises(DatasetError, match="usagekit migrate"):
        open_dataset(legacy).read()
    with pytest.raises(EngineError, match="usagekit migrate"), DuckDBEngine(str(legacy)) as e:
        e.sql(f"SELECT count(*) FROM {e.source}")


def test_migrate_moves_every_partition_once_and_again_changes_nothing(
        legacy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = files(legacy)
    data = {k: v for k, v in old.items() if k.endswith(DATA)}
    assert main(["migrate", "--dataset", str(legacy), "--org", ORG.id, "--org-name", ORG.name,
                 "--region", ORG.region]) == 0
    err = capsys.readouterr().err
    assert "moved 2 partition(s) under Test Org" in err
    n, r = LEGACY_TOTALS.values()
    assert f"{n} rows and {r} requests, as before ({n} rows, {r} requests)" in err
    new = files(legacy)
    assert {k: v for k, v in new.items() if k.endswith(DATA)} == {
        f"{ORG_DIR}/{k}": v for k, v in data.items()}  # the same bytes, under the org
    assert json.loads(new["_usagekit.manifest"])["version"] == 2
    assert open_dataset(legacy).orgs() == [ORG]
    assert totals(legacy) == LEGACY_TOTALS
    assert main(["migrate", "--dataset", str(legacy), "--org", ORG.id]) == 0
    assert "nothing to migrate" in capsys.readouterr().err
    assert files(legacy) == new


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs, no handler sees it."""


@pytest.mark.parametrize("steps", range(8))
def test_migrate_killed_at_any_step_leaves_each_partition_whole(
        legacy: Path, monkeypatch: pytest.MonkeyPatch, steps: int) -> None:
    """Killed after ``steps`` storage writes/deletes: each partition stays old, new or both
    (same bytes), never neither; the next run completes the move with the same totals."""
    data = {k: v for k, v in files(legacy).items() if k.endswith(DATA)}
    done = 0

    def counted(method: Any) -> Any:
        def step(self: LocalStorage, *args: Any) -> Any:
            nonlocal done
            if done == steps:
                raise Killed
            done += 1
            return method(self, *args)
        return step

    monkeypatch.setattr(LocalStorage, "replace", counted(LocalStorage.replace))
    monkeypatch.setattr(LocalStorage, "delete", counted(LocalStorage.delete))
    killed = True
    try:
        migrate(open_dataset(legacy), ORG)
        killed = False
    except Killed:
        pass
    monkeypatch.undo()
    now = files(legacy)
    for rel, content in data.items():
        assert content in (now.get(rel), now.get(f"{ORG_DIR}/{rel}")), rel
        assert now.get(rel, content) == content and now.get(f"{ORG_DIR}/{rel}", content) == content
    if killed:
        summary = migrate(open_dataset(legacy), ORG)
        assert summary.before == summary.after
    assert {k: v for k, v in files(legacy).items() if k.endswith(DATA)} == {
        f"{ORG_DIR}/{k}": v for k, v in data.items()}
    assert totals(legacy) == LEGACY_TOTALS


def test_migrate_refuses_two_different_copies_of_a_partition(legacy: Path) -> None:
    rel = next(k for k in files(legacy) if k.endswith(DATA))
    copy = legacy / ORG_DIR / rel
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b'{"clientId":"x"}\n')
    with pytest.raises(DatasetError, match=r"both hold rows of .* they differ"):
        migrate(open_dataset(legacy), ORG)
    assert (legacy / rel).exists() and copy.read_bytes() == b'{"clientId":"x"}\n'


@pytest.mark.usefixtures("no_genesys")
def test_migrate_asks_whose_rows_and_takes_the_sandboxs(
        legacy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert main(["migrate", "--dataset", str(legacy)]) == 2
    assert "which organisation were the rows fetched from?" in capsys.readouterr().err
    assert main(["migrate", "--dataset", str(legacy), "--org", "acme"]) == 2
    assert "invalid --org 'acme'" in capsys.readouterr().err
    assert main(["migrate", "--dataset", str(legacy), "--sandbox"]) == 0
    (org,) = open_dataset(legacy).orgs()
    assert org.fictional and "fictional" in org.name


def test_the_reports_refresh_stops_before_fetching_into_a_real_dataset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's refresh (on by default) with no Genesys settings: nothing fetched."""
    from usagekit.report.gather import refresh
    from usagekit.report.params import validate

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no gc profile
    root = tmp_path / "ds"
    open_dataset(root, org=ORG).write(rows("a", 5), **FLAGS)
    before = files(root)
    params = validate("usage-report", interval="2026-10-01/2026-11-01", dataset=str(root),
                      refresh=True, output_dir=str(tmp_path / "out"))
    with pytest.raises(FictionalDataError, match="GENESYSCLOUD_REGION"):
        refresh(params, env={})
    assert files(root) == before


def test_migrate_survives_kill_9(tmp_path: Path) -> None:
    """``usagekit migrate`` SIGKILLed at random moments: after each kill every partition is
    whole (old, new or both, the same bytes), and a last run completes the move."""
    import random
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "legacy"
    ds = open_dataset(root, org=ORG)
    months = [f"{year}-{month:02d}" for year in (2024, 2025) for month in range(1, 13)]
    written = [[{**r, "date": f"{month}-{r['date'][8:]}"} for r in rows("a", 3, days=5)]
               for month in months]
    for month, part in zip(months, written, strict=True):  # 24 partitions
        ds.write(part, **FLAGS, interval=f"{month}-01/{month}-06")
    for folder in (root / ORG_DIR).iterdir():
        if folder.is_dir():
            shutil.move(folder, root / folder.name)
    shutil.rmtree(root / ORG_DIR)
    data = {k: v for k, v in files(root).items() if k.endswith(DATA)}
    assert len(data) == len(months)
    command = [sys.executable, "-m", "usagekit", "migrate", "--dataset", str(root),
               "--org", ORG.id]
    randomly = random.Random(7)
    for _ in range(4):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(randomly.uniform(0.3, 1.5))  # imports take about half a second
        process.send_signal(signal.SIGKILL)
        process.wait()
        now = files(root)
        for rel, content in data.items():
            assert content in (now.get(rel), now.get(f"{ORG_DIR}/{rel}")), rel
            assert now.get(f"{ORG_DIR}/{rel}", content) == content, rel
    assert subprocess.run(command, capture_output=True, check=False).returncode == 0
    assert {k: v for k, v in files(root).items() if k.endswith(DATA)} == {
        f"{ORG_DIR}/{k}": v for k, v in data.items()}
    assert totals(root) == {f"{ORG.id}:rows": sum(map(len, written)),
                            f"{ORG.id}:requests": sum(r["requests"] for p in written for r in p)}
