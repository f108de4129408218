"""``usagekit sql`` and ``usagekit analyze`` run in-process through ``usagekit.cli.main``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests

from tests.orgs import ORG
from usagekit.analyses import ANALYSES
from usagekit.cli import main
from usagekit.dataset import open_dataset
from usagekit.row import Org

BLUEPRINT = ('SELECT * FROM "genesysclouddb"."gc_usage_api_source" '
             "WHERE granularity='month' ORDER BY status429 DESC limit 10")


def _row(client: str, day: str, requests_: int, s429: int) -> dict:
    return {"clientId": client, "clientName": f"Client {client}", "organizationId": "",
            "userId": "", "templateUri": "", "httpMethod": "", "status200": requests_ - s429,
            "status300": 0, "status400": s429, "status500": 0, "status429": s429,
            "requests": requests_, "date": f"{day}T00:00:00Z"}


ROWS = [_row("a", "2026-10-01", 100, 9), _row("b", "2026-10-01", 80, 20),
        _row("c", "2026-10-01", 10, 0), _row("a", "2026-11-01", 50, 1)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli-usage")
    open_dataset(str(root), org=ORG).write(ROWS, granularity="month", grouping="oauthclientid",
                                  interval="2026-10-01/2026-12-01")
    return str(root)


def test_sql_prints_a_table(dataset: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", BLUEPRINT, "--dataset", dataset]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["clientId", "clientName", "organizationId"]
    # ordered by status429: b (20), a (9), a (1), c (0)
    assert [line.split()[0] for line in lines[1:5]] == ["b", "a", "a", "c"]
    assert lines[-1] == "(4 rows)"


def test_sql_params_are_bound(dataset: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("SELECT clientid, sum(requests) AS r FROM genesysclouddb.gc_usage_api_source "
            "WHERE clientid = ? AND requests >= ? GROUP BY clientid")
    assert main(["sql", text, "--param", "a", "--param", "60", "--dataset", dataset]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["a", "100"]
    assert main(["sql", text, "--param", "a' OR 1=1 --", "--param", "0",
                 "--dataset", dataset]) == 0
    assert capsys.readouterr().out.startswith("(no rows; columns: clientId, r)")


def test_sql_to_csv_and_json(dataset: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    csv_file, json_file = tmp_path / "out" / "top.csv", tmp_path / "top.json"
    assert main(["sql", BLUEPRINT, "--dataset", dataset, "--output", str(csv_file)]) == 0
    assert main(["sql", BLUEPRINT, "--dataset", dataset, "--output", str(json_file)]) == 0
    assert "wrote 4 rows" in capsys.readouterr().out
    frame = pd.read_csv(csv_file, keep_default_na=False)
    assert frame["clientId"].tolist() == ["b", "a", "a", "c"]
    assert frame["date"].tolist()[:2] == ["2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z"]
    records = json.loads(json_file.read_text())
    assert records[0]["clientId"] == "b" and records[0]["status429"] == 20
    assert records[0]["date"] == "2026-10-01T00:00:00Z" and records[0]["userId"] == ""


def test_bad_output_suffix_is_exit_2(dataset: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", BLUEPRINT, "--dataset", dataset, "--output", "x.xlsx"]) == 2
    assert ".csv or .json" in capsys.readouterr().err


def test_bad_sql_is_exit_1(dataset: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "SELEC garbage FROM nowhere", "--dataset", dataset]) == 1
    assert "not valid Athena" in capsys.readouterr().err


def test_native_dialect(dataset: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "SELECT list_sum([1, 2]) AS s", "--dialect", "duckdb",
                 "--dataset", dataset]) == 0
    assert capsys.readouterr().out.splitlines()[1].strip() == "3"


def test_analyze_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ANALYSES:
        assert f"{name}: " in out
    assert "--licences" in out and "--limit" in out


def test_analyze_top_clients(dataset: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", "top_clients_429", "--granularity", "month", "--limit", "1",
                 "--dataset", dataset])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:2] == ["1", "b"] and lines[-1] == "(1 row)"


def test_analyze_fair_use_to_json(dataset: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    # month data has no day granularity: fair_use refuses it clearly
    assert main(["analyze", "fair_use", "--granularity", "month", "--dataset", dataset]) == 2
    assert "valid: day" in capsys.readouterr().err
    out = tmp_path / "fair.json"
    licences = tmp_path / "licences.toml"
    licences.write_text("[licences]\nCX1 = { named = 2 }\n")
    assert main(["analyze", "fair_use", "--licences", str(licences), "--dataset", dataset,
                 "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == []  # no day data stored


@pytest.mark.parametrize(("argv", "message"), [
    (["analyze", "top_clients_429", "--limit", "0"], "must be >= 1"),
    (["analyze", "top_clients_429", "--licences", "x.toml"], "unknown option"),
    (["analyze", "fair_use", "--licences", "/no/such.toml"], "cannot read licences file"),
    (["analyze", "overage_by_client", "--per", "squad"], "valid: client, team"),
    (["analyze", "top_clients_429", "--grouping", "httpmethod"], "lacks oauthclientid"),
])
def test_analyze_bad_options_exit_2(dataset: str, argv: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--dataset", dataset]) == 2
    assert message in capsys.readouterr().err


def test_unknown_analysis_and_engine_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "nope"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["sql", "SELECT 1", "--engine", "spark"])
    assert "invalid choice" in capsys.readouterr().err


def test_missing_dataset_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", BLUEPRINT, "--dataset", str(tmp_path / "none")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.aws
def test_sql_on_athena(aws: str, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket="results")
    monkeypatch.setenv("USAGEKIT_ATHENA_OUTPUT", "s3://results/q/")
    monkeypatch.setenv("USAGEKIT_ATHENA_WORKGROUP", "primary")
    body = {"results": [{"rows": [{"Data": [{"VarCharValue": "clientid"},
                                            {"VarCharValue": "n"}]},
                                  {"Data": [{"VarCharValue": "b"}, {"VarCharValue": "20"}]}],
                         "column_info": [{"Name": "clientid", "Type": "varchar"},
                                         {"Name": "n", "Type": "bigint"}]}]}
    requests.post(f"{aws}/moto-api/static/athena/query-results", json=body,
                  timeout=10).raise_for_status()
    text = "SELECT clientid, status429 AS n FROM genesysclouddb.gc_usage_api_source WHERE x = ?"
    assert main(["sql", text, "--engine", "athena", "--param", "b"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["b", "20"]
    athena = boto3.client("athena")
    [execution_id] = athena.list_query_executions()["QueryExecutionIds"]
    execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["Query"] == text and execution["ExecutionParameters"] == ["'b'"]


def _imported_modules(*argv: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level modules a fresh ``python -X importtime -m usagekit ARGV`` imports."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "usagekit", *argv],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})})
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in done.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("argv", [["--help"], ["analyze", "--list"], ["report", "--help"],
                                  ["sync", "--help"], ["check", "--help"]])
def test_help_and_list_import_no_heavy_module(argv: list[str]) -> None:
    heavy = {"pandas", "matplotlib", "duckdb", "sqlglot", "pyarrow", "awswrangler",
             "boto3", "papermill"}
    assert _imported_modules(*argv) & heavy == set()


def test_help_never_reads_the_stack() -> None:
    """Building the parser must not resolve the dataset (a CloudFormation call)."""
    env = {"USAGEKIT_STACK": "no-such-stack", "AWS_CONFIG_FILE": os.devnull,
           "AWS_REGION": "", "AWS_DEFAULT_REGION": ""}
    for argv in (["--help"], ["sql", "--help"], ["analyze", "--help"]):
        done = subprocess.run([sys.executable, "-m", "usagekit", *argv], capture_output=True,
                              text=True, env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
        assert "USAGEKIT_STACK" in done.stdout or argv == ["--help"]


OTHER_ORG = Org("3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d", "Other Org", "usw2.pure.cloud")
OTHER_ROWS = [_row("z", "2026-10-01", 1000, 400), _row("b", "2026-11-01", 30, 3)]


@pytest.fixture(scope="module")
def two_orgs(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli-two-orgs")
    for org, rows in ((ORG, ROWS), (OTHER_ORG, OTHER_ROWS)):
        open_dataset(str(root), org=org).write(rows, granularity="month",
                                               grouping="oauthclientid",
                                               interval="2026-10-01/2026-12-01")
    return str(root)


@pytest.mark.parametrize(("org", "rows"), [(ORG.name, ROWS), ("other org", OTHER_ROWS),
                                           (OTHER_ORG.short_id, OTHER_ROWS),
                                           (ORG.id, ROWS), (None, ROWS + OTHER_ROWS)])
def test_analyze_and_sql_read_the_org_named(two_orgs: str, org: str | None, rows: list,
                                            tmp_path: Path) -> None:
    chosen = ["--org", org] if org else []
    out = tmp_path / "top.json"
    assert main(["analyze", "top_clients_429", "--granularity", "month", "--dataset",
                 two_orgs, "--output", str(out), *chosen]) == 0
    frame = pd.DataFrame(rows).groupby("clientId")[["status429", "requests"]].sum()
    frame = frame[frame["status429"] > 0].sort_values(["status429"], ascending=False)
    got = json.loads(out.read_text())
    assert [(r["clientId"], r["status429"], r["requests"]) for r in got] == [
        (i, int(r.status429), int(r.requests)) for i, r in frame.iterrows()]
    if org:
        assert main(["sql", "SELECT sum(requests) AS r, count(DISTINCT org) AS n FROM "
                     '"genesysclouddb"."gc_usage_api_source" WHERE org = ? AND requests > ?',
                     "--org", org, "--param", "0", "--dataset", two_orgs,
                     "--output", str(out)]) == 0
        assert json.loads(out.read_text()) == [{"r": sum(r["requests"] for r in rows),
                                                "n": 1}]


def test_an_org_the_dataset_lacks_is_exit_2(two_orgs: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "method_mix", "--org", "Acme", "--dataset", two_orgs]) == 2
    err = capsys.readouterr().err
    assert "no org of the dataset" in err and "'Acme'" in err
    assert ORG.label in err and OTHER_ORG.label in err
    assert main(["sql", "SELECT 1", "--org", "Acme", "--dataset", two_orgs]) == 2
