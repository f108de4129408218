"""usagekit.frame: the typed usage frame, the NDJSON reader, normalize and the row checks."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from usagekit.exceptions import InvalidRowsError
from usagekit.frame import (
    check_rows,
    read_ndjson,
    to_frame,
)
from usagekit.frame import normalize as normalize_frame
from usagekit.row import API_FIELDS, COUNT_FIELDS, ID_FIELDS, pandas_dtypes

COLUMNS = pandas_dtypes()


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "clientId": "c-1", "clientName": "Café / Sync", "organizationId": "", "userId": "",
        "templateUri": "", "httpMethod": "", "status200": 7, "status300": 1, "status400": 3,
        "status500": 1, "status429": 2, "requests": 12, "date": "2026-11-02T00:00:00Z",
    }
    row.update(changes)
    return row


ROWS = [
    _row(),
    _row(clientId="c-2", clientName="", status200=0, requests=5,
         date="2026-11-03T00:00:00.000Z"),
    _row(clientId="", date="2026-11-04"),
]


def _ndjson(rows: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
                    for r in rows)


def test_to_frame_types_every_column() -> None:
    frame = to_frame(ROWS, granularity="Day", grouping="oauthclientid")
    assert list(frame.columns) == [*API_FIELDS, "granularity", "grouping"]
    for name in frame.columns:
        assert frame[name].dtype == COLUMNS[name], name
    assert str(frame["date"].dtype) == "datetime64[us, UTC]"
    assert frame["clientName"].tolist() == ["Café / Sync", "", "Café / Sync"]
    assert not frame[list(ID_FIELDS)].isna().any().any()
    assert frame["granularity"].unique().tolist() == ["day"]
    # plain, millisecond and date-only ISO forms parse to the same kind of instant
    assert frame["date"].tolist() == [
        pd.Timestamp(f"2026-11-0{d}", tz="UTC") for d in (2, 3, 4)
    ]
    assert frame["requests"].sum() == 12 + 5 + 12


def test_to_frame_accepts_groupby_names() -> None:
    frame = to_frame(ROWS[:1], granularity="week", grouping=["TemplateUri", "OAuthClientId"])
    assert frame["grouping"].iloc[0] == "oauthclientid-templateuri"


def test_read_ndjson_matches_to_frame_for_path_bytes_and_file(tmp_path) -> None:
    data = _ndjson(ROWS)
    path = tmp_path / "rows.json"
    path.write_bytes(data)
    expected = to_frame(ROWS, granularity="day", grouping="oauthclientid")
    for src in (data, path, str(path), io.BytesIO(data)):
        got = read_ndjson(src, granularity="day", grouping="oauthclientid")
        pd.testing.assert_frame_equal(got, expected)


def test_read_ndjson_in_several_blocks_matches_to_frame(monkeypatch) -> None:
    monkeypatch.setattr("usagekit.frame._BLOCK", 1)  # the 1 MiB floor: blocks of 1 MiB
    rows = [_row(clientId=f"c-{i}", status200=i, requests=i + 5) for i in range(10_000)]
    data = _ndjson(rows)
    assert len(data) > 2 << 20
    got = read_ndjson(data, granularity="day", grouping="oauthclientid")
    pd.testing.assert_frame_equal(got, to_frame(rows, granularity="day",
                                                grouping="oauthclientid"))


def test_read_ndjson_empty_input_gives_typed_empty_frame() -> None:
    frame = read_ndjson(b"\n", granularity="month", grouping="none")
    assert len(frame) == 0
    assert frame["status429"].dtype == np.dtype("int64")
    assert str(frame["date"].dtype) == "datetime64[us, UTC]"


def test_metrics_subset_keeps_only_present_counts() -> None:
    rows = [{k: v for k, v in _row().items() if k not in ("status300", "requests")}]
    for frame in (to_frame(rows, granularity="day", grouping="oauthclientid"),
                  read_ndjson(_ndjson(rows), granularity="day", grouping="oauthclientid")):
        assert "status300" not in frame.columns and "requests" not in frame.columns
        assert frame["status429"].tolist() == [2]
        check_rows(frame, granularity="day", grouping="oauthclientid")  # missing, storable
    with pytest.raises(InvalidRowsError, match="none of the counts"):
        check_rows(frame.drop(columns=["status200", "status400", "status500", "status429"]),
                   granularity="day", grouping="oauthclientid")


def test_a_count_some_rows_lack_is_missing_there_never_zero() -> None:
    rows = [_row(), {k: v for k, v in _row().items() if k != "status200"}]
    for frame in (to_frame(rows, granularity="day", grouping="oauthclientid"),
                  read_ndjson(_ndjson(rows), granularity="day", grouping="oauthclientid")):
        assert str(frame["status200"].dtype) == "Int64"
        assert frame["status200"].isna().tolist() == [False, True]
        assert frame["status429"].dtype == "int64"


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([_row(), {**_row(), "extra": 1}], "unknown field"),
        ([_row(date="12/11/2026")], "invalid date '12/11/2026'"),
    ],
)
def test_bad_rows_are_refused_by_both_readers(bad, match) -> None:
    with pytest.raises(InvalidRowsError, match=match):
        to_frame(bad, granularity="day", grouping="oauthclientid")
    with pytest.raises(InvalidRowsError):
        read_ndjson(_ndjson(bad), granularity="day", grouping="oauthclientid")


def test_malformed_json_and_bad_keys_are_refused() -> None:
    with pytest.raises(InvalidRowsError, match="malformed"):
        read_ndjson(b'{"clientId": "x"\n', granularity="day", grouping="none")
    with pytest.raises(InvalidRowsError, match="grouping key 'templateuri-oauthclientid'"):
        to_frame([], granularity="day", grouping="templateuri-oauthclientid")
    with pytest.raises(InvalidRowsError, match=r"granularity 'hour'.*day, week, month"):
        to_frame([], granularity="hour", grouping="none")


def test_normalize_coerces_engine_output() -> None:
    raw = pd.DataFrame({
        "clientid": pd.Categorical(["a", None]),
        "TEMPLATEURI": pd.array(["/x", pd.NA], dtype="object"),
        "status429": pd.array([1, 2], dtype="Int64"),
        "requests": pd.array([3, None], dtype="Int64"),
        "date": pd.to_datetime(["2026-11-02", "2026-11-03"]).tz_localize("Etc/UTC"),
        "granularity": pd.Categorical(["day", "day"]),
        "share": [0.5, 0.25],
    })
    out = normalize_frame(raw)
    assert list(out.columns) == [
        "clientId", "templateUri", "status429", "requests", "date", "granularity", "share"]
    assert out["clientId"].tolist() == ["a", ""]
    assert out["clientId"].dtype == COLUMNS["clientId"]
    assert out["templateUri"].tolist() == ["/x", ""]
    assert out["status429"].dtype == np.dtype("int64")
    assert str(out["requests"].dtype) == "Int64"  # NA cannot be int64: kept nullable
    assert str(out["date"].dtype) == "datetime64[us, UTC]"
    assert out["granularity"].dtype == COLUMNS["granularity"]
    assert out["share"].dtype == np.dtype("float64")


def test_normalize_naive_and_second_unit_dates_are_utc() -> None:
    naive = pd.DataFrame({"date": np.array(["2026-11-02T05:00"], dtype="datetime64[s]")})
    text = pd.DataFrame({"date": ["2026-11-02T07:00:00+02:00"]})
    for frame in (naive, text):
        out = normalize_frame(frame)
        assert str(out["date"].dtype) == "datetime64[us, UTC]"
        assert out["date"].iloc[0] == pd.Timestamp("2026-11-02T05:00Z")


def _typed(rows: list[dict[str, object]], grouping: str = "oauthclientid",
           granularity: str = "day") -> pd.DataFrame:
    return to_frame(rows, granularity=granularity, grouping=grouping)


def test_check_rows_accepts_consistent_rows() -> None:
    check_rows(_typed(ROWS), granularity="day", grouping="oauthclientid")
    rows = [_row(templateUri="/api/v2/users/{userId}", httpMethod="GET",
                 date="2026-11-02T00:00:00Z")]
    check_rows(_typed(rows, "oauthclientid-templateuri-httpmethod", "week"),
               granularity="week", grouping="oauthclientid-templateuri-httpmethod")


@pytest.mark.parametrize(
    ("rows", "grouping", "granularity", "match"),
    [
        ([_row(), _row(clientId="c-9", templateUri="/api/v2/users")], "oauthclientid", "day",
         r"row 2: templateUri='/api/v2/users'.*not grouped by 'templateuri'"),
        ([_row()], "none", "day", r"row 1: clientId='c-1'.*'oauthclientid'"),
        ([_row(date="2026-11-03T00:00:00Z")], "oauthclientid", "week",
         r"row 1: date='2026-11-03T00:00:00Z': .*Monday"),
        ([_row(date="2026-11-02T00:00:00Z")], "oauthclientid", "month", "the 1st of a month"),
        ([_row(date="2026-11-02T06:00:00Z")], "oauthclientid", "day",
         r"date='2026-11-02T06:00:00Z'.*midnight"),
        ([_row(), _row()], "oauthclientid", "day", "row 2: .*same date"),
        ([_row(status400=-1)], "oauthclientid", "day", "row 1: status400=-1"),
    ],
)
def test_check_rows_names_the_offending_row(rows, grouping, granularity, match) -> None:
    frame = _typed(rows, grouping, granularity)
    with pytest.raises(InvalidRowsError, match=match):
        check_rows(frame, granularity=granularity, grouping=grouping)


def test_check_rows_refuses_granularity_less_rows() -> None:
    frame = to_frame(ROWS, granularity=None, grouping="oauthclientid")
    assert frame["granularity"].tolist() == ["", "", ""]
    with pytest.raises(InvalidRowsError, match="granularity-less"):
        check_rows(frame, granularity=None, grouping="oauthclientid")


def test_platform_only_when_grouped_by_it() -> None:
    rows = [_row(platform="PureCloud", date="2026-11-02")]
    frame = to_frame(rows, granularity="day", grouping="oauthclientid-platform")
    assert frame["platform"].tolist() == ["PureCloud"]
    check_rows(frame, granularity="day", grouping="oauthclientid-platform")
    with pytest.raises(InvalidRowsError, match="platform='PureCloud'"):
        check_rows(frame, granularity="day", grouping="oauthclientid")


def test_counts_are_int64_even_for_large_values() -> None:
    frame = to_frame([_row(status200=2**40, requests=2**40 + 5)], granularity="day",
                     grouping="oauthclientid")
    assert frame[list(COUNT_FIELDS)].dtypes.eq(np.dtype("int64")).all()
    assert frame["requests"].iloc[0] == 2**40 + 5
