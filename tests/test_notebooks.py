"""Each notebook, run with papermill on small parameters; asserts on the files it wrote.

The notebooks run on the embedded sandbox (no Genesys variables in the environment) into a
dataset under ``tmp_path``. Expected values are derived independently: from a sandbox
fetch made by the test itself (same seed, same data) and from the stored rows with pandas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest

from usagekit.analyses.licences import is_genesys_client
from usagekit.config.settings import PROJECT_ROOT
from usagekit.dataset import open_dataset
from usagekit.embedded import GENESYS_VARS
from usagekit.fetch import UsageClient
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

pytestmark = pytest.mark.notebooks

NOTEBOOKS = PROJECT_ROOT / "notebooks"
#: Three complete weeks (Monday to Monday), in the past: the sandbox serves them forever.
INTERVAL = "2026-10-26/2026-11-16"
FULL = "oauthclientid-templateuri-httpmethod"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GENESYS_VARS:
        monkeypatch.delenv(name, raising=False)


def execute(name: str, tmp: Path, **parameters: Any) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>`` with papermill in ``tmp``; return the executed notebook."""
    import papermill

    return papermill.execute_notebook(
        str(NOTEBOOKS / name), str(tmp / f"executed-{name}"), parameters=parameters,
        kernel_name="python3", progress_bar=False, cwd=str(tmp))


def assert_no_errors(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output.get("evalue")
            assert "Traceback" not in json.dumps(output)


@pytest.fixture(scope="module")
def sandbox_rows() -> list[dict[str, Any]]:
    """The interval's Day rows as the sandbox serves them, fetched by the test itself."""
    with Sandbox() as sandbox, UsageClient(sandbox.url, client_id=sandbox.client_id,
                                           client_secret=sandbox.client_secret) as client:
        query = UsageQuery.build(INTERVAL, granularity="Day",
                                 group_by=["OAuthClientId", "TemplateUri", "HttpMethod"])
        return client.fetch(query).rows


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("dataset")


def test_fetch_notebook_stores_the_blueprint_steps(
        tmp_path: Path, dataset: Path, sandbox_rows: list[dict[str, Any]]) -> None:
    out = tmp_path / "out"
    nb = execute("01-fetch-usage.ipynb", tmp_path, interval=INTERVAL, dataset=str(dataset),
                 output_dir=str(out))
    assert_no_errors(nb)
    summary = json.loads((out / "fetch-summary.json").read_text())
    assert summary["source"] == "sandbox"
    assert summary["grouping"] == FULL
    assert summary["rows"] == summary["written"] == len(sandbox_rows)
    assert summary["requests"] == sum(r["requests"] for r in sandbox_rows)
    assert summary["top_row_status429"] == max(r["status429"] for r in sandbox_rows)
    lines = (out / "usage.ndjson").read_bytes().splitlines()
    assert [json.loads(line) for line in lines] == sandbox_rows
    stored = open_dataset(str(dataset)).read(granularity="day", grouping=FULL)
    assert int(stored["requests"].sum()) == summary["requests"]
    assert summary["org"] == Sandbox().org.id  # stored as the embedded sandbox's org
    assert stored["org"].unique().tolist() == [summary["org"]]
    assert sorted(summary["files"]) == ["fetch-summary.json"]


def test_explore_notebook_filters_by_client(
        tmp_path: Path, dataset: Path, sandbox_rows: list[dict[str, Any]]) -> None:
    out = tmp_path / "out"
    nb = execute("02-explore-usage.ipynb", tmp_path, interval=INTERVAL, dataset=str(dataset),
                 output_dir=str(out), client="wallboard", http_method="GET", top_n=3)
    assert_no_errors(nb)
    expected = pd.DataFrame(sandbox_rows)
    expected = expected[expected["clientName"].str.lower().str.contains("wallboard")
                        & (expected["httpMethod"] == "GET")]
    assert not expected.empty
    summary = json.loads((out / "explore.json").read_text())
    assert summary["parameters"]["client"] == "wallboard"
    assert summary["rows"] == len(expected)
    assert summary["requests"] == int(expected["requests"].sum())
    assert summary["clients"] == expected["clientId"].nunique()
    by_endpoint = pd.read_csv(out / "by-endpoint.csv")
    assert int(by_endpoint["requests"].sum()) == int(expected["requests"].sum())
    assert len(by_endpoint) <= 4  # top 3 + other
    for name in ("requests-over-time", "rate-limited-over-time", "traffic-by-method"):
        assert (out / f"{name}.png").read_bytes().startswith(PNG)


def test_report_notebook_summary_matches_the_data(
        tmp_path: Path, dataset: Path, sandbox_rows: list[dict[str, Any]]) -> None:
    out = tmp_path / "out"
    licences = tmp_path / "licences.toml"
    licences.write_text("[licences]\nCX3 = { named = 40 }\n")
    nb = execute("03-usage-report.ipynb", tmp_path, interval=INTERVAL, dataset=str(dataset),
                 output_dir=str(out), top_n=5, licences=str(licences))
    assert_no_errors(nb)
    s = json.loads((out / "summary.json").read_text())
    rows = pd.DataFrame(sandbox_rows)
    assert s["interval"] == "2026-10-26T00:00:00Z/2026-11-16T00:00:00Z"
    assert s["source"] == {"api": "sandbox", "dataset": f"local {dataset}",
                           "engine": "DuckDB", "connection": s["source"]["connection"]}
    assert s["source"]["connection"].startswith("embedded sandbox at http://127.0.0.1:")
    for count in ("requests", "status200", "status400", "status429", "status500"):
        assert s["totals"][count] == int(rows[count].sum()), count
    assert s["totals"]["periods"] == 21

    by_client = rows.groupby("clientId").agg(status429=("status429", "sum"),
                                             name=("clientName", "first"))
    top = by_client.sort_values("status429", ascending=False).head(5)
    assert [r["clientId"] for r in s["rate_limited"]] == list(top.index)
    assert [r["status429"] for r in s["rate_limited"]] == list(top["status429"])
    worst = s["rate_limited"][0]
    hit = rows[(rows["clientId"] == worst["clientId"]) & (rows["status429"] > 0)]
    assert worst["first429"] == hit["date"].min()
    assert worst["periods429"] == hit["date"].nunique()

    naive = pd.to_datetime(rows["date"]).dt.tz_localize(None)
    weekly = rows.assign(week=naive.dt.to_period("W-SUN"))
    per_week = weekly.groupby("week")["requests"].sum()
    assert s["trend"]["requests"] == int(per_week.iloc[-1])
    assert s["trend"]["previous_requests"] == int(per_week.iloc[-2])

    # Fair use: November so far (1st to 15th), from the stored day rows.
    stored = open_dataset(str(dataset)).read(granularity="day", grouping=FULL,
                                             start="2026-11-01", end="2026-11-16")
    genesys = stored["clientName"].map(is_genesys_client).astype(bool)
    assert s["fair_use"]["month"] == "2026-11-01T00:00:00Z"
    assert s["fair_use"]["requests"] == int(stored.loc[~genesys, "requests"].sum())
    assert s["fair_use"]["genesys_requests"] == int(stored.loc[genesys, "requests"].sum())
    assert s["fair_use"]["allowance"] == 140_000 * 40
    assert s["fair_use"]["licences"] == "CX3 40 named x 140,000"
    mine = stored[~genesys].groupby("clientId")["requests"].sum().nlargest(3)
    top = s["fair_use"]["top_contributors"]
    assert [c["clientId"] for c in top] == list(mine.index)
    assert [c["share"] for c in top] == pytest.approx(list(mine / s["fair_use"]["requests"]))
    assert s["fair_use"]["complete"] is False
    assert s["fair_use"]["projected_requests"] > s["fair_use"]["requests"]

    failing = s["failing_endpoints"]
    assert 0 < len(failing) <= 5
    first = failing[0]
    ep = rows[(rows["templateUri"] == first["templateUri"])
              & (rows["httpMethod"] == first["httpMethod"])]
    assert first["error_rate"] == pytest.approx(
        (ep["status400"].sum() + ep["status500"].sum()) / ep["requests"].sum())
    assert s["unavailable"] == {}

    pngs = {"requests-over-time", "rate-limited-over-time", "top-clients-429", "status-mix",
            "failing-endpoints", "traffic-by-method", "fair-use", "fair-use-daily"}
    for name in pngs:
        assert (out / f"{name}.png").read_bytes().startswith(PNG), name
    assert {f"{n}.png" for n in pngs} <= set(s["files"])
    shown = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get(
        "data", {})]
    assert len(shown) == len(pngs)
