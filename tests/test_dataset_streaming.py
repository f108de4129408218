"""Writes a month at a time: streamed input spooled by month, partitions staged, then switched."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

import usagekit.dataset.spool
from tests.orgs import ORG
from tests.test_dataset_local import make_rows
from usagekit.dataset import open_dataset
from usagekit.dataset.formats import Batch
from usagekit.exceptions import InvalidRowsError

GROUPING = "oauthclientid-templateuri"
INTERVAL = "2026-07-01/2026-10-01"


def ndjson(rows: list[dict[str, Any]], *, separators: tuple[str, str] = (",", ":")) -> bytes:
    return b"".join(json.dumps(r, separators=separators).encode() + b"\n" for r in rows)


def shuffled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = list(rows)
    random.Random(3).shuffle(rows)  # months interleaved: every block holds every month
    return rows


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 1,000 bytes: lines cross block ends, months cross blocks."""
    monkeypatch.setattr(usagekit.dataset.spool, "BLOCK_BYTES", 1000)


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_a_streamed_write_stores_what_an_in_memory_write_stores(
        tmp_path: Path, fmt: str, small_blocks: None) -> None:
    rows = shuffled(make_rows("2026-07-01", "2026-10-01", grouping=GROUPING))
    held = open_dataset(tmp_path / "held", format=fmt, org=ORG)
    held.write(ndjson(rows), granularity="day", grouping=GROUPING, interval=INTERVAL)
    source = tmp_path / "rows.json"
    source.write_bytes(ndjson(rows))
    streamed = open_dataset(tmp_path / "streamed", format=fmt, org=ORG)
    summary = streamed.write(source, granularity="day", grouping=GROUPING, interval=INTERVAL)
    assert summary.rows == len(rows) and len(summary.written) == 3
    assert tree(tmp_path / "streamed") == tree(tmp_path / "held")
    # a stream (stdin's kind) and a path give the same files too
    third = open_dataset(tmp_path / "third", format=fmt, org=ORG)
    third.write(io.BufferedReader(io.BytesIO(ndjson(rows))), granularity="day",
                grouping=GROUPING, interval=INTERVAL)
    assert tree(tmp_path / "third") == tree(tmp_path / "held")


def test_each_month_is_parsed_on_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         small_blocks: None) -> None:
    parsed: list[set[str]] = []
    of = Batch.of.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Batch], data: Any, *args: Any, **kwargs: Any) -> Batch:
        batch = of(cls, data, *args, **kwargs)
        parsed.append(set(batch.frame["date"].dt.strftime("%Y-%m")))
        return batch

    monkeypatch.setattr(Batch, "of", classmethod(spy))
    rows = shuffled(make_rows("2026-07-01", "2026-10-01", grouping=GROUPING))
    dataset = open_dataset(tmp_path / "ds", format="parquet", org=ORG)
    dataset.write(io.BytesIO(ndjson(rows)), granularity="day", grouping=GROUPING,
                  interval=INTERVAL)
    assert parsed == [{"2026-07"}, {"2026-08"}, {"2026-09"}]
    assert len(dataset.read()) == len(rows)


def test_lines_in_any_json_spelling_are_filed_by_their_date(tmp_path: Path,
                                                            small_blocks: None) -> None:
    rows = make_rows("2026-07-01", "2026-10-01", grouping=GROUPING)
    compact = open_dataset(tmp_path / "compact", org=ORG)
    compact.write(ndjson(rows), granularity="day", grouping=GROUPING, interval=INTERVAL)
    # spaces after separators, a date not last, CRLF line ends, blank lines
    spaced = [json.dumps({"date": r["date"], **r}, separators=(", ", ": ")).encode()
              for r in shuffled(rows)]
    data = b"\r\n\r\n".join(spaced) + b"\r\n"
    loose = open_dataset(tmp_path / "loose", org=ORG)
    loose.write(io.BytesIO(data), granularity="day", grouping=GROUPING, interval=INTERVAL)
    assert sorted(loose.read().to_dict("records"), key=str) == sorted(
        compact.read().to_dict("records"), key=str)


def test_a_refused_row_in_a_later_month_leaves_every_partition_as_it_was(
        tmp_path: Path, small_blocks: None) -> None:
    dataset = open_dataset(tmp_path / "ds", format="parquet", org=ORG)
    dataset.write(make_rows("2026-07-01", "2026-10-01", grouping=GROUPING), granularity="day",
                  grouping=GROUPING, interval=INTERVAL)
    before = tree(tmp_path / "ds")
    rows = make_rows("2026-07-01", "2026-10-01", grouping=GROUPING, version=1)
    rows.append(dict(rows[-1]))  # a September row twice: found when September is parsed
    with pytest.raises(InvalidRowsError, match=rf"^line {len(rows)}: date='2026-09-30T00:00:00Z': "
                                               "another row has the same date"):
        dataset.write(io.BytesIO(ndjson(rows)), granularity="day", grouping=GROUPING,
                      interval=INTERVAL)
    assert tree(tmp_path / "ds") == before  # July and August were built, never switched in


def test_errors_name_the_row_of_the_whole_input(tmp_path: Path, small_blocks: None) -> None:
    rows = make_rows("2026-07-01", "2026-10-01", grouping=GROUPING)
    dataset = open_dataset(tmp_path / "ds", org=ORG)
    late = [*rows[:50], {**rows[50], "date": "2026-10-03T00:00:00Z"}, *rows[51:]]
    with pytest.raises(InvalidRowsError, match=r"^line 51: date='2026-10-03T00:00:00Z' is "
                                               r"outside the interval"):
        dataset.write(io.BytesIO(ndjson(late)), granularity="day", grouping=GROUPING,
                      interval=INTERVAL)
    bad = ndjson(rows[:70]) + b'{"clientId": "x", "date": 7}\n' + ndjson(rows[70:])
    with pytest.raises(InvalidRowsError, match=r"^line 71: malformed usage NDJSON"):
        dataset.write(io.BytesIO(bad), granularity="day", grouping=GROUPING,
                      interval=INTERVAL)
    negative = [*rows[:90], {**rows[90], "status500": -1}, *rows[91:]]
    with pytest.raises(InvalidRowsError, match=r"^line 91: status500=-1"):
        dataset.write(io.BytesIO(ndjson(negative)), granularity="day", grouping=GROUPING,
                      interval=INTERVAL)
    assert not (tmp_path / "ds").exists()


def test_without_an_interval_the_rows_whole_buckets_are_replaced(tmp_path: Path) -> None:
    dataset = open_dataset(tmp_path / "ds", org=ORG)
    rows = make_rows("2026-07-06", "2026-09-14", granularity="week", grouping=GROUPING)
    summary = dataset.write(io.BytesIO(ndjson(shuffled(rows))), granularity="week",
                            grouping=GROUPING)
    assert summary.interval is not None
    assert summary.interval.text == "2026-07-06T00:00:00Z/2026-09-14T00:00:00Z"
    assert summary.rows == len(rows) == len(dataset.read())
    with pytest.raises(InvalidRowsError, match="no rows to derive the interval from"):
        dataset.write(io.BytesIO(b"\n\n"), granularity="week", grouping=GROUPING)
