"""The benchmark harness cannot rot: a tiny smoke run of every case, plus its building blocks.

No timing is asserted here (performance numbers live in benchmarks/README.md only).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a top-level folder, not part of the package
    sys.path.insert(0, str(ROOT))

from benchmarks import generate  # noqa: E402
from benchmarks._common import label, parse_size  # noqa: E402
from benchmarks._measure import GNU_TIME  # noqa: E402
from benchmarks._queries import QUERIES, same_answer, same_frame  # noqa: E402
from benchmarks.cases.scan import columns_read  # noqa: E402
from benchmarks.run import DEFAULT_CASES, main  # noqa: E402

TINY = generate.GeneratorSpec(rows=900, seed=3, clients=12, templates=15, users=40, days=30)
COLUMNS = ["clientId", "clientName", "status429", "requests", "date"]


def _bytes(spec: generate.GeneratorSpec, granularity: str = "day", fmt: str = "ndjson") -> bytes:
    buf = io.BytesIO()
    generate.write(generate.aggregate(generate.generate(spec), granularity), buf, fmt)
    return buf.getvalue()


def test_generator_is_deterministic_and_keeps_the_api_semantics() -> None:
    data = _bytes(TINY)
    assert data == _bytes(TINY)
    assert data != _bytes(generate.GeneratorSpec(**{**TINY.__dict__, "seed": 4}))
    rows = [json.loads(line) for line in data.splitlines()]
    assert len(rows) == TINY.rows
    assert list(rows[0]) == ["clientId", "clientName", "organizationId", "userId", "templateUri",
                             "httpMethod", "status200", "status300", "status400", "status500",
                             "status429", "requests", "date"]
    for r in rows:
        assert 0 <= r["status429"] <= r["status400"]
        assert r["requests"] == r["status200"] + r["status300"] + r["status400"] + r["status500"]
    keys = {(r["clientId"], r["userId"], r["templateUri"], r["httpMethod"], r["date"])
            for r in rows}
    assert len(keys) == len(rows)  # one row per stream and day, as the API groups them
    assert len({r["date"] for r in rows}) == TINY.days


def test_week_and_month_rows_sum_the_day_rows() -> None:
    day = pd.read_json(io.BytesIO(_bytes(TINY)), lines=True)
    for gran in ("week", "month"):
        rolled = pd.read_json(io.BytesIO(_bytes(TINY, gran)), lines=True)
        assert rolled["requests"].sum() == day["requests"].sum()
        periods = pd.to_datetime(rolled["date"]).dt.tz_localize(None)
        if gran == "week":  # buckets start on Monday
            assert (periods.dt.day_of_week == 0).all()
        else:
            assert (periods.dt.day == 1).all()
        assert len(rolled) < len(day)
        per_client = rolled.groupby("clientId")["status429"].sum()
        assert per_client.equals(day.groupby("clientId")["status429"].sum())


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed")
def test_generated_ndjson_equals_jq_on_the_generated_response(tmp_path: Path) -> None:
    response = tmp_path / "response.json"
    response.write_bytes(_bytes(TINY, fmt="response"))
    jq = subprocess.run(["jq", "-c", ".results[]", response], capture_output=True, check=True)
    assert jq.stdout == _bytes(TINY)


def test_streamed_files_equal_the_in_memory_ones() -> None:
    files = {g: io.BytesIO() for g in generate.GRANULARITIES}
    assert generate.write_ndjson_files(TINY, files) == TINY.rows
    for granularity, buf in files.items():
        assert buf.getvalue() == _bytes(TINY, granularity), granularity


def test_months_spec_keeps_the_rows_a_day() -> None:
    year = generate.GeneratorSpec(rows=365 * 40 + 100, seed=3, clients=12, templates=15,
                                  users=40)
    short = generate.months_spec(year, 3)
    assert (short.days, short.start) == (31 + 28 + 31, year.start)
    assert generate.months_spec(year, 12) == year
    per_day = [len(day.stream) for day in generate.day_blocks(year)]
    assert [len(day.stream) for day in generate.day_blocks(short)] == per_day[:short.days]
    with pytest.raises(ValueError, match="months must be >= 1, got 0"):
        generate.months_spec(year, 0)


def test_sizes_parse_and_print() -> None:
    assert [parse_size(s) for s in ("100k", "1M", "5m", "2500", "1.5M")] == [
        100_000, 1_000_000, 5_000_000, 2500, 1_500_000]
    assert [label(n) for n in (100_000, 1_000_000, 5_000_000, 2000)] == ["100k", "1M", "5M",
                                                                       "2k"]
    with pytest.raises(ValueError, match="bad size"):
        parse_size("lots")


def test_the_generated_rows_grouping_is_the_kits_key() -> None:
    from benchmarks import _queries, tasks
    from usagekit.query.usage_query import grouping_key

    key = grouping_key(["OAuthClientId", "OrganizationId", "UserId", "TemplateUri", "HttpMethod"])
    assert _queries.GROUPING == tasks.GROUPING == key


def test_same_answer_notices_a_different_value() -> None:
    a = pd.DataFrame({"clientId": ["a", "b"], "status429": [5, 3], "rate429": [0.5, 0.25]})
    assert same_answer(a, a.copy())
    assert not same_answer(a, a.assign(rate429=[0.5, 0.26]))
    assert not same_answer(a, a.assign(clientId=["a", "c"]))
    assert not same_answer(a, a.iloc[:1])


def test_same_frame_needs_the_same_dtypes_and_exact_counts() -> None:
    a = pd.DataFrame({"clientId": pd.array(["a", "b"], dtype="string"),
                      "status429": [2**62, 3], "rate429": [0.5, 0.25]})
    assert same_frame(a, a.copy())
    assert same_frame(a, a.assign(rate429=[0.5 * (1 + 1e-10), 0.25]))
    assert not same_frame(a, a.assign(status429=[2**62 + 1, 3]))
    assert not same_frame(a, a.astype({"status429": "Int64"}))
    assert not same_frame(a, a.astype({"clientId": object}))
    assert not same_frame(a, a[["status429", "clientId", "rate429"]])


def test_columns_read_counts_star_only_in_the_select_list() -> None:
    star = 'SELECT * FROM "db"."t" WHERE granularity = \'month\' ORDER BY status429 DESC LIMIT 10'
    assert columns_read(star, COLUMNS) == COLUMNS
    counted = 'SELECT clientId, count(*) AS n, sum(status429) FROM "db"."t" GROUP BY clientId'
    assert columns_read(counted, COLUMNS) == ["clientId", "status429"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("jq") is None or not Path(GNU_TIME).exists(),
                    reason="the harness needs jq and GNU time (apt-get install jq time)")
def test_quick_run_measures_every_case_and_outputs_agree(tmp_path: Path) -> None:
    code = main(["--quick", "--data-dir", str(tmp_path / "data"),
                 "--results-dir", str(tmp_path / "results")])
    assert code == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    table = (run_dir / "results.md").read_text()
    assert list(results["cases"]) == list(DEFAULT_CASES)
    for name in DEFAULT_CASES:
        rows = results["cases"][name]["rows"]
        assert rows, f"case {name} measured nothing"
        for row in rows:
            assert row["equal"] is not False, f"{name}: {row['variant']} differs"
            assert f"| {row['variant']} |" in table
    variants = {r["variant"] for r in results["cases"]["transform"]["rows"]}
    assert {"kit: UsageResult.write_ndjson", "kit: response → typed DataFrame"} <= variants
    checked = [r for r in results["cases"]["query"]["rows"] if r["equal"] is not None]
    assert len(checked) >= 2 * 7  # both kit engines vs pandas on every pandas-checked query
    fetch = {r["variant"].split(":")[0]: r["metrics"] for r in results["cases"]["fetch"]["rows"]}
    assert fetch["kit"]["reached_caller"] == 0 and fetch["kit"]["rows"] > 0
    assert results["cases"]["report"]["rows"][0]["equal"] is True
    assert not (run_dir / "work").exists()  # generated datasets are cleaned up


@pytest.mark.slow
@pytest.mark.skipif(not Path(GNU_TIME).exists(),
                    reason="the harness needs GNU time (apt-get install time)")
def test_scale_case_measures_each_step_and_cleans_up(tmp_path: Path) -> None:
    code = main(["--cases", "scale", "--sizes", "2000", "--repeat", "1",
                 "--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")])
    assert code == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    rows = json.loads((run_dir / "results.json").read_text())["cases"]["scale"]["rows"]
    table = (run_dir / "results.md").read_text()
    by_variant = {r["variant"]: r for r in rows}
    for months in (3, 12):
        for fmt in ("parquet", "ndjson"):
            for source in ("FILE", "FOLDER"):
                name = next(v for v in by_variant
                            if v.startswith(f"usagekit import {source} --format {fmt}")
                            and v.endswith(f", {months} months"))
                assert by_variant[name]["peak_rss_bytes"] > 0 and by_variant[name]["seconds"] > 0
    ratios = [r for r in rows if r["variant"].startswith("peak RSS 12 vs 3 months")]
    assert len(ratios) >= 4 and all(r["metrics"]["ratio"] > 0 for r in ratios)
    analyses = [r for r in rows if r["variant"].startswith("analysis: ")]
    assert len(analyses) == len(QUERIES)
    for r in rows:  # every step measured (a ratio row compares two of them)
        assert r["equal"] is not False, r["variant"]
        assert r["seconds"] is not None or r["vs_baseline"]
        assert f"| {r['variant']} |" in table
    assert "### Targets" in table  # 12-vs-3 targets at the run's largest size
    assert not (run_dir / "work").exists()
