"""gc CLI profiles as credentials: ``$HOME/.gc/config.toml`` read as ``gc`` reads it.

Every connecting test points a gateway profile at a real sandbox on 127.0.0.1; the
canary secret in the file is the one the sandbox accepts, so it really travels.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from usagekit.cli import main
from usagekit.embedded import connect
from usagekit.exceptions import AuthError, ConfigError
from usagekit.fetch import PollPolicy, UsageClient
from usagekit.fetch.profiles import config_path, load_profile
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

GENESYS_VARS = ("GENESYSCLOUD_REGION", "GENESYSCLOUD_OAUTHCLIENT_ID",
                "GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYSCLOUD_ACCESS_TOKEN")
CANARY = "canary-profile-secret-4e91d2"
FAST = {"poll": PollPolicy(initial=0.01), "progress": False}
INTERVAL = "2026-10-01/2026-10-04"
QUERY = UsageQuery.build(INTERVAL, "Day", ["OAuthClientId"])


def write_config(home: Path, text: str) -> Path:
    path = home / ".gc" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def gateway_profile(name: str, sb: Sandbox, secret: str = CANARY, extra: str = "") -> str:
    port = sb.url.rsplit(":", 1)[1]
    return (f'[{name}]\nenvironment = "mypurecloud.com"\n'
            f'client_credentials = "{sb.client_id}"\nclient_secret = "{secret}"\n'
            f'gateway_protocol = "http"\ngateway_host = "127.0.0.1"\n'
            f'gateway_port = "{port}"\n{extra}\n')


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME without GENESYSCLOUD_* variables."""
    for name in GENESYS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


SANDBOX = {"client_id": "gc-client", "client_secret": CANARY, "query_seconds": 0.05}
SANDBOX_PER_TEST = True


def test_gateway_profile_reaches_the_sandbox(home: Path, sandbox: Sandbox,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    write_config(home, '[DEFAULT]\nenvironment = "mypurecloud.ie"\n'
                       'client_credentials = "x"\nclient_secret = "other-secret"\n\n'
                 + gateway_profile("sandboxed", sandbox))
    with connect(profile="sandboxed", **FAST) as client:
        assert client.base_url == sandbox.url
        rows = client.fetch(QUERY).rows
    with UsageClient(sandbox.url, client_id="gc-client", client_secret=CANARY,
                     **FAST) as direct:
        assert rows == direct.fetch(QUERY).rows
    assert any(r.path == "/oauth/token" and r.status == 200 for r in sandbox.requests)
    assert "sandboxed" in caplog.text and CANARY not in caplog.text


def test_cli_fetch_with_profile(home: Path, sandbox: Sandbox, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    write_config(home, gateway_profile("blueprint", sandbox))
    target = tmp_path / "usage.json"
    assert main(["fetch", "--profile", "blueprint", "--interval", INTERVAL, "--group-by",
                 "OAuthClientId", "--no-progress", "-o", str(target)]) == 0
    with UsageClient(sandbox.url, client_id="gc-client", client_secret=CANARY,
                     **FAST) as direct:
        expected = io.BytesIO()
        direct.fetch(QUERY).write_ndjson(expected)
    assert target.read_bytes() == expected.getvalue()
    err = capsys.readouterr().err
    assert "genesys:127.0.0.1" in err and CANARY not in err


def test_cli_sync_with_profile(home: Path, sandbox: Sandbox, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    write_config(home, gateway_profile("blueprint", sandbox))
    dataset = tmp_path / "data"
    assert main(["sync", "--profile", "BluePrint", "--dataset", str(dataset), "--granularity",
                 "day", "--group-by", "OAuthClientId", "--since", "2026-11-20",
                 "--no-progress"]) == 0
    assert any(r.path == "/oauth/token" and r.status == 200 for r in sandbox.requests)
    assert list(dataset.glob("org=*/granularity=day/grouping=oauthclientid/period=2026-11/*"))
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (f"usagekit: Genesys Cloud 127.0.0.1:{sandbox.port} via gc "
                                   f"profile 'blueprint' (~/.gc/config.toml): {label(sandbox)}")
    assert CANARY not in err


def label(sb: Sandbox) -> str:
    """The org label of ``sb``, asked of it directly."""
    with UsageClient(sb.url, client_id="gc-client", client_secret=CANARY, **FAST) as direct:
        return direct.organization().label


@pytest.mark.parametrize("given", ["DEFAULT", "default", "Default", None])
def test_profile_names_match_ignoring_case_as_in_gc(home: Path, sandbox: Sandbox,
                                                    given: str | None) -> None:
    # gc saves DEFAULT as [default] whenever it stores a token; viper ignores case
    path = write_config(home, gateway_profile("default", sandbox))
    profile = load_profile(given)
    assert (profile.name, profile.path, profile.api_url) == ("default", path, sandbox.url)
    with connect(profile=given, **FAST) as client:
        assert client.base_url == sandbox.url and client.fetch(QUERY).rows
        assert "via gc profile 'default' (~/.gc/config.toml): " in client.source_line


def test_cli_fetch_finds_the_profile_gc_renamed(home: Path, sandbox: Sandbox,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    write_config(home, gateway_profile("default", sandbox))
    for args in (["--profile", "DEFAULT"], ["--profile", "default"], []):
        assert main(["fetch", *args, "--interval", INTERVAL, "--group-by", "OAuthClientId",
                     "--no-progress", "-o", "-"]) == 0
        out, err = capsys.readouterr()
        assert len(out.splitlines()) > 10
        assert err.splitlines()[0] == (
            f"usagekit: Genesys Cloud 127.0.0.1:{sandbox.port} via gc profile 'default' "
            f"(~/.gc/config.toml): {label(sandbox)}")


def test_names_differing_only_by_case_are_refused(home: Path) -> None:
    write_config(home, '[DEFAULT]\nenvironment = "eu-west-1"\naccess_token = "t0k3n-a"\n'
                       '[default]\nenvironment = "eu-west-1"\naccess_token = "t0k3n-b"\n')
    assert load_profile("DEFAULT").name == "DEFAULT"  # the exact name is unambiguous
    with pytest.raises(ConfigError, match="profiles DEFAULT, default differ only by case"):
        load_profile("Default")


def test_environment_variables_override_the_profile(home: Path, sandbox: Sandbox,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # the file's environment is a real region; GENESYSCLOUD_REGION points at the sandbox
    write_config(home, '[DEFAULT]\nenvironment = "eu-west-1"\n'
                       'client_credentials = "gc-client"\nclient_secret = "stale-secret"\n')
    monkeypatch.setenv("GENESYSCLOUD_REGION", sandbox.url)
    with pytest.raises(AuthError) as info, connect(profile="DEFAULT", **FAST) as client:
        client.fetch(QUERY)
    assert "stale-secret" not in str(info.value) and "'gc-client'" in str(info.value)
    monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_SECRET", CANARY)
    with connect(profile="DEFAULT", **FAST) as client:
        assert client.base_url == sandbox.url
        assert client.fetch(QUERY).rows
    profile = load_profile("DEFAULT")
    assert profile.client_secret is not None and profile.client_secret.reveal() == CANARY
    assert CANARY not in repr(profile) and "stale-secret" not in repr(profile)


def test_region_id_and_domain_environments(home: Path) -> None:
    for environment, api in (("eu-west-1", "https://api.mypurecloud.ie"),
                             ("mypurecloud.de", "https://api.mypurecloud.de"),
                             ("inindca.com", "https://api.inindca.com")):
        write_config(home, f'[p]\nenvironment = "{environment}"\n'
                           'client_credentials = "id"\nclient_secret = "s3cr3t-x"\n')
        profile = load_profile("p")
        assert profile.api_url == api
        assert profile.login_url == api.replace("://api.", "://login.")
    assert config_path() == home / ".gc" / "config.toml"


def test_missing_file_names_the_file_and_profile(home: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_profile("prod")
    message = str(info.value)
    assert str(home / ".gc" / "config.toml") in message and "'prod'" in message


def test_missing_profile_lists_the_profiles(home: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(home, '[DEFAULT]\nenvironment = "eu-west-1"\n'
                              f'client_credentials = "a"\nclient_secret = "{CANARY}"\n'
                              '[staging]\nenvironment = "eu-west-1"\naccess_token = "t0k3n-x"\n')
    with pytest.raises(ConfigError, match=r"no profile 'prod' in the gc config file") as info:
        load_profile("prod")
    assert str(path) in str(info.value) and "DEFAULT, staging" in str(info.value)
    # a secret given by mistake as the name is not echoed
    with pytest.raises(ConfigError) as info:
        load_profile(CANARY)
    assert CANARY not in str(info.value) and "the given name" in str(info.value)
    # the CLI: exit 2, the message on stderr, before any request
    assert main(["fetch", "--profile", "prod", "--interval", INTERVAL, "-o", "-"]) == 2
    assert "profiles there: DEFAULT, staging" in capsys.readouterr().err


@pytest.mark.parametrize("grant", ["2", "3"])
def test_browser_grant_types_are_refused(home: Path, grant: str) -> None:
    path = write_config(home, f'[web]\nenvironment = "eu-west-1"\n'
                              f'client_credentials = "a"\nclient_secret = "{CANARY}"\n'
                              f'grant_type = "{grant}"\nredirect_uri = "http://localhost:8080"\n')
    with pytest.raises(ConfigError, match="browser") as info:
        load_profile("web")
    assert f"profile 'web' in {path}" in str(info.value) and CANARY not in str(info.value)


@pytest.mark.parametrize(("table", "message"), [
    ('environment = "eu-west-1"\nclient_credentials = "a"\n', "lacks client_secret"),
    (f'client_credentials = "a"\nclient_secret = "{CANARY}"\n', "has no environment"),
    (f'environment = "nowhere"\nclient_credentials = "a"\nclient_secret = "{CANARY}"\n',
     "unknown environment 'nowhere'"),
    (f'environment = "eu-west-1"\nclient_credentials = "a"\nclient_secret = "{CANARY}"\n'
     'gateway_host = "127.0.0.1"\ngateway_port = "99999"\n', "invalid gateway_port"),
    (f'environment = "eu-west-1"\nclient_credentials = "a"\nclient_secret = "{CANARY}"\n'
     'grant_type = "9"\n', "grant_type '9'"),
])
def test_unusable_profiles_are_clear_errors(home: Path, table: str, message: str) -> None:
    write_config(home, "[DEFAULT]\n" + table)
    with pytest.raises(ConfigError, match=message) as info:
        load_profile()
    assert "profile 'DEFAULT'" in str(info.value) and CANARY not in str(info.value)


def test_broken_toml_never_quotes_the_file(home: Path) -> None:
    write_config(home, f'[DEFAULT]\nclient_secret = "{CANARY}\n')  # unterminated string
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_profile()
    assert CANARY not in str(info.value)


def test_profile_is_a_notebook_parameter_name_only(home: Path) -> None:
    from usagekit.report import validate

    assert validate("usage-report", profile="blueprint").profile == "blueprint"
    assert validate("fetch-usage").profile == ""
    with pytest.raises(ConfigError, match="invalid profile") as info:
        validate("usage-report", profile="not a/name")
    assert "not a/name" not in str(info.value)
