"""The input rules (``usagekit.row``): UTF-8 only, errors naming the row and the field, a BOM
skipped everywhere, dates the Usage API can have produced, one date spelling; and
``usagekit repair`` for datasets stored before the rules."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.orgs import ORG, ORG_DIR
from usagekit import row
from usagekit.cli import main
from usagekit.dataset import import_usage, open_dataset
from usagekit.exceptions import InvalidRowsError
from usagekit.watch import plan_sync

ROOT = Path(__file__).resolve().parent.parent
TABLE = "genesysclouddb.gc_usage_api_source"
FLAGS = ["--granularity", "day", "--group-by", "OAuthClientId"]


def api_row(day: date, client: int = 0, **fields: object) -> dict[str, object]:
    """One legacy API row grouped by OAuthClientId, in the API's field order."""
    return {"clientId": f"c-{client}", "clientName": f"Client {client}", "organizationId": "",
            "userId": "", "templateUri": "", "httpMethod": "", "status200": 10 + client,
            "status300": 0, "status400": 2, "status500": 0, "status429": 1,
            "requests": 12 + client, "date": f"{day.isoformat()}T00:00:00Z", **fields}


def lines(rows: list[dict[str, object]]) -> bytes:
    """NDJSON as ``jq -c '.results[]'`` writes it."""
    return b"".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
                    for r in rows)


def days(start: date, count: int, clients: int = 2) -> list[dict[str, object]]:
    return [api_row(start + timedelta(days=d), c) for d in range(count) for c in range(clients)]


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by relative path (what 'unchanged' compares)."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def export(tmp_path: Path, data: bytes, root: Path, *extra: str) -> tuple[int, str]:
    """``usagekit import`` of ``data`` (a file) into ``root``: (status, stderr)."""
    src = tmp_path / "rows.json"
    src.write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-m", "usagekit", "import", "--org", ORG.id,
         str(src), "--dataset", str(root),
         *FLAGS, *extra], capture_output=True, text=True, env={**os.environ}, check=False)
    return proc.returncode, proc.stderr


def partition_file(root: Path, period: str, fmt: str = "ndjson") -> Path:
    return (root / ORG_DIR / "granularity=day" / "grouping=oauthclientid" / f"period={period}"
            / f"usage{'.json' if fmt == 'ndjson' else '.parquet'}")


# -- 1. only valid UTF-8 is stored ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_a_row_that_is_not_utf8_is_refused_by_row(tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "ds"
    good = days(date(2026, 10, 1), 20)  # 40 rows over two months of spool
    assert export(tmp_path, lines(good), root, "--format", fmt)[0] == 0
    before = files(root)
    bad = lines(good[:36]) + lines([api_row(date(2026, 10, 19), 5)]).replace(
        b"Client 5", b"Caf\xe9 5") + lines(good[36:])
    status, err = export(tmp_path, bad, root)
    assert status == 2, err
    assert "line 37: bytes b'\\xe9' are not UTF-8" in err and "Traceback" not in err
    assert files(root) == before  # nothing changed
    with pytest.raises(InvalidRowsError, match=r"^line 37: bytes b'\\xe9' are not UTF-8"):
        open_dataset(root, org=ORG).write(bad, granularity="day", grouping="oauthclientid")
    src = tmp_path / "src" / "granularity=day"
    src.mkdir(parents=True)
    (src / "export.json").write_bytes(bad)
    with pytest.raises(InvalidRowsError, match=r"export.json: .*line 37: bytes b'\\xe9'"):
        import_usage(tmp_path / "src", open_dataset(root, org=ORG))
    assert files(root) == before


def test_valid_ndjson_is_stored_byte_for_byte(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rows = days(date(2026, 10, 1), 3)
    rows[0]["clientName"] = "Zoë's café ☕"
    assert export(tmp_path, lines(rows), root)[0] == 0
    assert partition_file(root, "2026-10").read_bytes() == lines(rows)


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_a_dataset_holding_bad_bytes_is_read_and_repaired(
        tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "ds"
    rows = days(date(2026, 10, 1), 3) + days(date(2026, 11, 1), 2)
    assert export(tmp_path, lines(rows), root, "--format", fmt)[0] == 0
    october, november = partition_file(root, "2026-10", fmt), partition_file(root, "2026-11", fmt)
    untouched = november.read_bytes()
    # an older usagekit stored a name with a Latin-1 byte
    if fmt == "ndjson":
        october.write_bytes(october.read_bytes().replace(b"Client 1", b"Caf\xe9 1", 1))
    else:
        table = pq.read_table(october)
        names = [n.encode() for n in table.column("clientName").to_pylist()]
        names[1] = b"Caf\xe9 1"
        broken = pa.array(names, type=pa.binary()).view(pa.string())
        pq.write_table(table.set_column(1, "clientName", broken), october)
        with pytest.raises(pa.ArrowInvalid):
            pq.read_table(october).column("clientName").validate(full=True)
    frame = open_dataset(root, org=ORG).read()
    assert "Caf\ufffd 1" in set(frame["clientName"])  # readable, the bad byte shown
    stored = files(root)
    query = f"SELECT clientName, sum(requests) AS n FROM {TABLE} GROUP BY 1 ORDER BY 1"
    assert main(["sql", "--dataset", str(root), query]) == 0  # readable in place by SQL too
    assert "Caf\ufffd 1" in capsys.readouterr().out
    assert october.relative_to(root).as_posix() in caplog.text  # the file is named
    assert "not UTF-8" in caplog.text and "usagekit repair" in caplog.text
    assert files(root) == stored  # reading changed nothing
    assert main(["repair", "--dataset", str(root)]) == 0
    assert "repaired 1 partition(s)" in capsys.readouterr().err
    assert november.read_bytes() == untouched
    if fmt == "ndjson":
        assert october.read_bytes() == lines(rows[:6]).replace(
            b"Client 1", "Caf\ufffd 1".encode(), 1)
    else:
        pq.read_table(october).column("clientName").validate(full=True)
    repaired = files(root)
    assert main(["repair", "--dataset", str(root)]) == 0  # idempotent
    assert "nothing to repair" in capsys.readouterr().err
    assert files(root) == repaired
    assert main(["sql", "--dataset", str(root), f"SELECT clientName, sum(requests) AS n "
                 f"FROM {TABLE} GROUP BY 1 ORDER BY 1"]) == 0
    assert "Caf\ufffd 1" in capsys.readouterr().out


# -- 2. errors name the row in the whole input, and the field --------------------------------


def test_a_type_error_names_the_input_row_and_field(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rows = days(date(2026, 9, 1), 75)  # 150 rows, three months
    rows[149]["requests"] = "12"
    status, err = export(tmp_path, lines(rows), root)
    assert status == 2 and "line 150: field 'requests': expected int | null, got str" in err
    rows[149]["requests"] = 12
    rows[120]["clientname"] = "typo"
    status, err = export(tmp_path, lines(rows), root)
    assert status == 2 and "line 121: unexpected field 'clientname'" in err
    assert not root.exists() or not files(root)


@pytest.mark.parametrize("how", ["file", "bytes", "import"])
@pytest.mark.parametrize("fault", ["type", "date", "json"])
def test_blank_lines_count_in_the_line_named(tmp_path: Path, how: str, fault: str) -> None:
    rows = days(date(2026, 9, 1), 40)  # 80 rows over two months, every 10th line blank
    bad = {"type": {"requests": "12"}, "date": {"date": "2100-01-01T00:00:00Z"}}.get(fault, {})
    rows[63].update(bad)
    text = lines(rows).splitlines(keepends=True)
    if fault == "json":
        text[63] = text[63][:40] + b"\n"
    data = row.BOM + b"".join((b"\n" if i % 10 == 0 else b"") + line + (b"  \r\n" if i == 7
                              else b"") for i, line in enumerate(text))
    line = 63 + 63 // 10 + 1 + 2  # row 64, 7 blank lines before it, 1 blank-looking line
    expected = f"line {line}: " if fault != "json" else f"line {line}: malformed"
    root = tmp_path / "ds"
    with pytest.raises(InvalidRowsError) as info:
        if how == "file":
            src = tmp_path / "rows.json"
            src.write_bytes(data)
            open_dataset(root, org=ORG).write(src, granularity="day", grouping="oauthclientid")
        elif how == "bytes":
            open_dataset(root, org=ORG).write(data, granularity="day", grouping="oauthclientid")
        else:
            src = tmp_path / "src" / "granularity=day"
            src.mkdir(parents=True)
            (src / "rows.json").write_bytes(data)
            import_usage(tmp_path / "src", open_dataset(root, org=ORG))
    assert expected in str(info.value)
    assert not root.exists() or not files(root)


@pytest.mark.parametrize("how", ["file", "stdin", "bytes", "import"])
def test_a_leading_bom_is_skipped_on_every_path(tmp_path: Path, how: str) -> None:
    root = tmp_path / "ds"
    rows = days(date(2026, 10, 1), 2)
    data = row.BOM + lines(rows)
    if how == "file":
        assert export(tmp_path, data, root)[0] == 0
    elif how == "stdin":
        proc = subprocess.run([sys.executable, "-m", "usagekit", "import", "--org", ORG.id,
                               "-", "--dataset",
                               str(root), *FLAGS], input=data, capture_output=True, check=False)
        assert proc.returncode == 0, proc.stderr
    elif how == "bytes":
        open_dataset(root, org=ORG).write(data, granularity="day", grouping="oauthclientid")
    else:
        src = tmp_path / "src" / "granularity=day"
        src.mkdir(parents=True)
        (src / "bom.json").write_bytes(data)
        import_usage(tmp_path / "src", open_dataset(root, org=ORG))
    assert len(open_dataset(root, org=ORG).read()) == len(rows)
    assert not partition_file(root, "2026-10").read_bytes().startswith(row.BOM)


def test_an_oversized_line_is_named_with_the_limit(tmp_path: Path) -> None:
    rows = days(date(2026, 10, 1), 2)
    rows[2]["clientName"] = "x" * (40 << 20)
    status, err = export(tmp_path, lines(rows), tmp_path / "ds")
    assert status == 2, err
    assert "line 3: a line of 41,943," in err and "longer than the limit of 16,777,216 bytes" in err
    assert "straddling" not in err and "Traceback" not in err


def test_a_full_temporary_disk_is_a_clear_error(tmp_path: Path) -> None:
    """The spool cannot grow past 256 KiB (RLIMIT_FSIZE: EFBIG, as a full disk fails)."""
    src = tmp_path / "rows.json"
    src.write_bytes(lines(days(date(2026, 1, 1), 31, clients=40)))  # ~500 kB, one month
    spool = tmp_path / "tmp"
    spool.mkdir()

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))

    proc = subprocess.run(
        [sys.executable, "-m", "usagekit", "import", "--org", ORG.id,
         "-", "--dataset", str(tmp_path / "ds"),
         *FLAGS], stdin=src.open("rb"), capture_output=True, text=True, preexec_fn=limit,
        env={**os.environ, "TMPDIR": str(spool)}, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "cannot write the rows being stored to the temporary folder " + str(spool) \
        in proc.stderr
    assert f"TMPDIR={spool}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ds").exists() or not files(tmp_path / "ds")


# -- 3. dates the Usage API can have produced -------------------------------------------------


@pytest.mark.parametrize("day", [date(2100, 1, 1), date(1970, 1, 1), date(2016, 12, 31)])
@pytest.mark.parametrize("how", ["file", "stdin", "import"])
def test_dates_the_api_cannot_have_produced_are_refused(tmp_path: Path, day: date,
                                                         how: str) -> None:
    root = tmp_path / "ds"
    rows = days(date(2026, 10, 1), 5)
    rows.insert(7, api_row(day, 3))
    if how == "import":
        src = tmp_path / "src" / "granularity=day"
        src.mkdir(parents=True)
        (src / "odd.json").write_bytes(lines(rows))
        with pytest.raises(InvalidRowsError, match=rf"odd.json: line 8: date='{day}T00:00:00Z' "
                                                    "is not a date the Usage API"):
            import_usage(tmp_path / "src", open_dataset(root, org=ORG))
    else:
        data = lines(rows)
        proc = subprocess.run(
            [sys.executable, "-m", "usagekit", "import", "--org", ORG.id, "-" if how == "stdin" else
             str(tmp_path / "rows.json"), "--dataset", str(root), *FLAGS],
            input=data, capture_output=True, check=False) if how == "stdin" else None
        status, err = (proc.returncode, proc.stderr.decode()) if proc else export(
            tmp_path, data, root)
        assert status == 2, err
        assert f"line 8: date='{day}T00:00:00Z' is not a date the Usage API" in err
        assert "from 2017-01-01 to tomorrow" in err
    assert not root.exists() or not files(root)


def test_sync_plans_from_the_dates_it_can_trust(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "ds"
    today = datetime.now(UTC).date()
    start = today - timedelta(days=10)
    open_dataset(root, org=ORG).write(days(start, 5), granularity="day", grouping="oauthclientid")
    dataset = open_dataset(root, org=ORG)
    expected = plan_sync(dataset, granularities=["Day"], group_by=["OAuthClientId"],
                         trailing_days=0, today=today)[0]
    assert expected.interval is not None
    assert expected.interval.start.date() == start + timedelta(days=5)
    # rows stored before the kit refused such dates: one in 2100, one in 1970
    for day in (date(2100, 1, 1), date(1970, 1, 1)):
        path = partition_file(root, f"{day:%Y-%m}")
        path.parent.mkdir(parents=True)
        path.write_bytes(lines([api_row(day)]))
    caplog.set_level("WARNING")
    step = plan_sync(open_dataset(root, org=ORG), granularities=["Day"], group_by=["OAuthClientId"],
                     trailing_days=0, since=start - timedelta(days=3), today=today)[0]
    assert step.interval == plan_sync(
        dataset, granularities=["Day"], group_by=["OAuthClientId"], trailing_days=0,
        since=start - timedelta(days=3), today=today)[0].interval
    assert step.interval is not None and step.interval.start.date() == start - timedelta(days=3)
    assert "ignoring stored dates the Usage API cannot have produced" in caplog.text
    assert "1970-01" in caplog.text and "2100-01" in caplog.text
    plain = plan_sync(open_dataset(root, org=ORG), granularities=["Day"],
                      group_by=["OAuthClientId"], trailing_days=0, today=today)[0]
    assert plain.interval == expected.interval  # the gap after the last trusted day


# -- 4. one date spelling -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["file", "dicts", "folder"])
def test_dates_are_stored_in_one_spelling(tmp_path: Path, how: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ds"
    rows = days(date(2026, 10, 1), 2)  # two clients a day; the second's date spelt otherwise
    canonical = [dict(r) for r in rows]
    rows[1]["date"] = "2026-10-01"
    rows[3]["date"] = "2026-10-02T02:00:00+02:00"
    if how == "file":
        assert export(tmp_path, lines(rows), root)[0] == 0
    elif how == "dicts":
        open_dataset(root, org=ORG).write(rows, granularity="day", grouping="oauthclientid")
    else:
        src = tmp_path / "src" / "granularity=day"
        src.mkdir(parents=True)
        (src / "spelt.json").write_bytes(lines(rows))
        import_usage(tmp_path / "src", open_dataset(root, org=ORG))
    assert partition_file(root, "2026-10").read_bytes() == lines(canonical)
    capsys.readouterr()
    assert main(["sql", "--dataset", str(root),  # the blueprint's GROUP BY date: a day is one
                 f"SELECT date, count(*) AS n FROM {TABLE} GROUP BY date ORDER BY date"]) == 0
    out = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [line[-1] for line in out[1:-1]] == ["2", "2"] and out[-1] == ["(2", "rows)"]


def test_repair_respells_dates_stored_otherwise(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rows = days(date(2026, 10, 1), 2, clients=1)
    assert export(tmp_path, lines(rows), root)[0] == 0
    path = partition_file(root, "2026-10")
    path.write_bytes(path.read_bytes().replace(b'"2026-10-02T00:00:00Z"', b'"2026-10-02"'))
    assert [p.period for p in open_dataset(root, org=ORG).repair()] == ["2026-10"]
    assert path.read_bytes() == lines(rows)
    assert open_dataset(root, org=ORG).repair() == []
