"""Several organisations synced into one dataset over real HTTP: the sandbox serving two
fictional orgs, each on its own credentials; one ``sync`` run for several gc profiles, and the
same dataset on S3 (moto's server) with the variables of each org in turn."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from usagekit.cli import main
from usagekit.dataset import open_dataset
from usagekit.embedded import GENESYS_VARS
from usagekit.engine import DuckDBEngine
from usagekit.fetch import UsageClient
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

SANDBOX = {"orgs": 2, "query_seconds": 0.05}
SINCE = date.today() - timedelta(days=10)
SYNC = ["sync", "--granularity", "day", "--group-by", "OAuthClientId", "--since",
        SINCE.isoformat(), "--no-progress"]


def profile(name: str, sandbox: Sandbox, index: int, secret: str | None = None) -> str:
    org = sandbox.orgs[index]
    return (f'[{name}]\nenvironment = "mypurecloud.com"\n'
            f'client_credentials = "{org.client_id}"\n'
            f'client_secret = "{secret or org.client_secret}"\n'
            f'gateway_protocol = "http"\ngateway_host = "127.0.0.1"\n'
            f'gateway_port = "{sandbox.port}"\n')


def oracle(sandbox: Sandbox, index: int) -> tuple[int, int]:
    """Rows and requests of one org's days since SINCE, fetched straight from the sandbox."""
    org = sandbox.orgs[index]
    query = UsageQuery.build(f"{SINCE}/{date.today()}", "Day", ["OAuthClientId"])
    with UsageClient(sandbox.url, client_id=org.client_id,
                     client_secret=org.client_secret) as client:
        rows = client.fetch(query).rows
    return len(rows), sum(int(r["requests"]) for r in rows)


def per_org(location: str) -> dict[str, tuple[int, int]]:
    with DuckDBEngine(location) as engine:
        frame = engine.sql(f"SELECT org, count(*) AS n, sum(requests) AS r FROM {engine.source} "
                           "WHERE granularity = 'day' GROUP BY org")
    return {o: (int(n), int(r)) for o, n, r in frame.itertuples(index=False)}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in GENESYS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_one_sync_run_brings_several_profiles_orgs_up_to_date(
        sandbox: Sandbox, home: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = home / ".gc" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(profile("prod", sandbox, 0) + profile("broken", sandbox, 1, "canary-s3cr3t")
                      + profile("test", sandbox, 1))
    root = tmp_path / "ds"
    status = main([*SYNC, "--dataset", str(root), "--profile", "prod", "--profile", "broken",
                   "--profile", "test"])
    err = capsys.readouterr().err
    assert status == 1  # one org failed ...
    assert "error: profile 'broken'" in err and "canary-s3cr3t" not in err
    # ... and the others were brought up to date, each as its own org
    first, second = sandbox.orgs[0], sandbox.orgs[1]
    assert {o.id: o.name for o in open_dataset(root).orgs()} == {first.id: first.name,
                                                                 second.id: second.name}
    assert per_org(str(root)) == {first.id: oracle(sandbox, 0), second.id: oracle(sandbox, 1)}
    assert f"syncing {first.name}" in err and f"syncing {second.name}" in err
    # again: only the trailing days, and still each org's own rows
    assert main([*SYNC, "--dataset", str(root), "--profile", "prod", "--profile", "test"]) == 0
    assert per_org(str(root)) == {first.id: oracle(sandbox, 0), second.id: oracle(sandbox, 1)}


@pytest.mark.aws
@pytest.mark.filterwarnings("ignore::DeprecationWarning:awswrangler")
def test_two_orgs_into_one_s3_dataset(sandbox: Sandbox, home: Path, aws: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket="orgs")
    location = "s3://orgs/usage/"
    monkeypatch.setenv("GENESYSCLOUD_REGION", sandbox.url)
    for org in sandbox.orgs:  # a cron job per org, with that org's variables
        monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_ID", org.client_id)
        monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_SECRET", org.client_secret)
        assert main([*SYNC, "--dataset", location]) == 0
    assert per_org(location) == {sandbox.orgs[0].id: oracle(sandbox, 0),
                                 sandbox.orgs[1].id: oracle(sandbox, 1)}
    parts = boto3.client("glue").get_partitions(DatabaseName="genesysclouddb",
                                                TableName="gc_usage_api_source")["Partitions"]
    assert {p["Values"][0] for p in parts} == {o.id for o in sandbox.orgs}


def test_sync_org_must_be_the_one_the_credentials_reach(
        sandbox: Sandbox, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GENESYSCLOUD_REGION", sandbox.url)
    monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_ID", sandbox.orgs[1].client_id)
    monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_SECRET", sandbox.orgs[1].client_secret)
    root = tmp_path / "ds"
    assert main([*SYNC, "--dataset", str(root), "--org", sandbox.orgs[0].name]) == 2
    assert f"but the credentials connect to {sandbox.orgs[1].name}" in capsys.readouterr().err
    assert not root.exists()
    assert main([*SYNC, "--dataset", str(root), "--org", sandbox.orgs[1].id[:8]]) == 0
    assert [o.id for o in open_dataset(root).orgs()] == [sandbox.orgs[1].id]
