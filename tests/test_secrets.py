"""Secrets stay out of notebooks, reports and logs.

The report runs against a sandbox the test starts itself, configured as if it were Genesys
Cloud (``GENESYSCLOUD_REGION`` = its URL): the canary client secret is the one the sandbox
accepts, and a canary access token is tried first (the sandbox rejects it with 401 and the
client falls back to the client credentials). So both canaries really travel through the
kit, offline. A canary AWS secret sits in the environment too.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from usagekit.config.settings import ENV_ACCESS_TOKEN, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REGION
from usagekit.exceptions import ConfigError
from usagekit.report import run_report
from usagekit.sandbox import Sandbox

pytestmark = pytest.mark.notebooks

CANARIES = {
    ENV_CLIENT_SECRET: "canary-client-secret-7f3a9c",
    ENV_ACCESS_TOKEN: "canary-access-token-52be10",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-c0ffee",
}


def test_canary_secrets_reach_no_notebook_report_or_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    with Sandbox(client_id="canary-client",
                 client_secret=CANARIES[ENV_CLIENT_SECRET]) as sandbox:
        monkeypatch.setenv(ENV_REGION, sandbox.url)
        monkeypatch.setenv(ENV_CLIENT_ID, "canary-client")
        for name, value in CANARIES.items():
            monkeypatch.setenv(name, value)
        result = run_report({"interval": "2026-11-02/2026-11-16",
                             "dataset": str(tmp_path / "data")}, tmp_path / "reports")
        calls = sandbox.requests
    # the run really went through the credentials: token rejected, then client credentials
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["source"]["api"].startswith("genesys:")
    assert any(c.path == "/oauth/token" and c.status == 200 for c in calls)
    assert any(c.status == 401 for c in calls), "the canary token was never sent"

    captured = capfd.readouterr()
    places = {
        "logs": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        **{f.name: f.read_text(encoding="utf-8", errors="replace")
           for f in sorted(result.run_dir.rglob("*")) if f.is_file()
           and f.suffix in {".ipynb", ".html", ".json", ".csv"}},
    }
    assert {"usage-report.ipynb", "usage-report.html", "summary.json"} <= set(places)
    for where, text in places.items():
        for name, canary in CANARIES.items():
            assert canary not in text, f"{name} leaked into {where}"


def test_a_secret_is_never_a_parameter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CLIENT_SECRET, CANARIES[ENV_CLIENT_SECRET])
    for parameters in ({"client_secret": "x"}, {"access_token": "x"},
                       {"dataset": f"/tmp/{CANARIES[ENV_CLIENT_SECRET]}"}):
        with pytest.raises(ConfigError, match="credential") as info:
            run_report(parameters, tmp_path / "reports")
        assert CANARIES[ENV_CLIENT_SECRET] not in str(info.value)
    assert not (tmp_path / "reports").exists()


def test_profile_secrets_reach_no_notebook_report_or_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    """A gc profile (``$HOME/.gc/config.toml``) with a gateway to the sandbox: the report
    names the profile; the file's secret travels to the sandbox and nowhere else."""
    caplog.set_level(logging.DEBUG)
    secret = "canary-profile-secret-91b7e3"
    cached = "canary-cached-token-data-0d4a"  # gc writes its token back into the file
    for name in (ENV_REGION, ENV_CLIENT_ID, ENV_CLIENT_SECRET,
                 ENV_ACCESS_TOKEN):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with Sandbox(client_id="gc-client", client_secret=secret) as sandbox:
        gc = tmp_path / "home" / ".gc"
        gc.mkdir(parents=True)
        (gc / "config.toml").write_text(
            f'[blueprint]\nenvironment = "mypurecloud.com"\nclient_credentials = "gc-client"\n'
            f'client_secret = "{secret}"\noauth_token_data = "{cached}"\n'
            f'gateway_protocol = "http"\ngateway_host = "127.0.0.1"\n'
            f'gateway_port = "{sandbox.url.rsplit(":", 1)[1]}"\n', encoding="utf-8")
        result = run_report({"interval": "2026-11-02/2026-11-16", "profile": "blueprint",
                             "dataset": str(tmp_path / "data")}, tmp_path / "reports")
        calls = sandbox.requests
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["source"]["api"] == "genesys:127.0.0.1"  # through the profile's gateway
    assert any(c.path == "/oauth/token" and c.status == 200 for c in calls)
    captured = capfd.readouterr()
    places = {
        "logs": caplog.text, "stdout": captured.out, "stderr": captured.err,
        **{f.name: f.read_text(encoding="utf-8", errors="replace")
           for f in sorted(result.run_dir.rglob("*")) if f.is_file()
           and f.suffix in {".ipynb", ".html", ".json", ".csv"}},
    }
    assert "blueprint" in places["usage-report.ipynb"]  # the name is a parameter
    for where, text in places.items():
        assert secret not in text, f"the profile's secret leaked into {where}"
        assert cached not in text, f"the profile's cached token leaked into {where}"
