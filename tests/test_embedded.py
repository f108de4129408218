"""embedded.connect: credentials in gc's order, the sandbox last, errors in between.

The order, as gc resolves them: the ``GENESYSCLOUD_*`` variables, ``--profile``, gc's
``DEFAULT`` profile (any case) when ``$HOME/.gc/config.toml`` has one, the embedded sandbox.
gc (config/config.go, release 166.0.0) lets each variable override the matching field of the
profile in use, ``--profile`` or not, while a profile's gateway still replaces the host; each
source below is reached over real HTTP and named by ``client.source_line``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from usagekit.embedded import connect, missing_settings
from usagekit.exceptions import AuthError, ConfigError
from usagekit.fetch import PollPolicy, UsageClient
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

FAST = {"poll": PollPolicy(initial=0.01), "progress": False}
QUERY = UsageQuery.build("2026-10-01/2026-10-03", "Day", ["OAuthClientId"])
SECRET = "embedded-test-secret-5c1f0a"  # accepted by the sandboxes below: a leak is visible


@pytest.fixture(scope="module")
def one() -> Iterator[Sandbox]:
    """The org the variables point at."""
    with Sandbox(port=0, seed=7, client_id="env-client", client_secret=SECRET,
                 query_seconds=0.01) as sb:
        yield sb


@pytest.fixture(scope="module")
def other() -> Iterator[Sandbox]:
    """Another org (another seed and client), reached through gc profiles."""
    with Sandbox(port=0, seed=11, client_id="gc-client", client_secret=SECRET,
                 query_seconds=0.01) as sb:
        yield sb


def variables(sb: Sandbox, home: Path, **more: str) -> dict[str, str]:
    """An environment whose ``GENESYSCLOUD_*`` variables point at ``sb``; HOME is ``home``."""
    return {"HOME": str(home), "GENESYSCLOUD_REGION": sb.url,
            "GENESYSCLOUD_OAUTHCLIENT_ID": sb.client_id,
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": SECRET, **more}


def gc_file(home: Path, sb: Sandbox, name: str = "default", secret: str = SECRET) -> None:
    """``home/.gc/config.toml`` with profile ``name`` reaching ``sb`` through a gateway."""
    (home / ".gc").mkdir(exist_ok=True)
    (home / ".gc" / "config.toml").write_text(
        f'[{name}]\nenvironment = "mypurecloud.com"\nclient_credentials = "{sb.client_id}"\n'
        f'client_secret = "{secret}"\ngateway_protocol = "http"\n'
        f'gateway_host = "127.0.0.1"\ngateway_port = "{sb.port}"\n')


def org_label(sb: Sandbox) -> str:
    """How the source line names ``sb``'s org (asked of it directly)."""
    with UsageClient(sb.url, client_id=sb.client_id, client_secret=SECRET, **FAST) as direct:
        return direct.organization().label


def test_no_settings_start_the_embedded_sandbox(tmp_path: Path) -> None:
    with connect({"HOME": str(tmp_path)}, sandbox_options={"query_seconds": 0.01},
                 **FAST) as client:
        assert client.source == "sandbox" and client.fictional
        assert client.base_url.startswith("http://127.0.0.1:")
        assert client.fetch(QUERY).rows
        assert client.source_line == (
            f"embedded sandbox at {client.base_url} (fictional data; set GENESYSCLOUD_* or "
            f"--profile for a real org): {client.organization().label}")
        assert client.organization().region == "sandbox"
        port = int(client.base_url.rsplit(":", 1)[1])
    with pytest.raises(OSError):  # the sandbox stopped with the context
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_the_variables_come_first(one: Sandbox, tmp_path: Path) -> None:
    with connect(variables(one, tmp_path), **FAST) as client:
        assert client.base_url == one.url and client.fetch(QUERY).rows
        assert client.source_line == (f"Genesys Cloud 127.0.0.1:{one.port} via "
                                      f"GENESYSCLOUD_* variables: {org_label(one)}")
        assert SECRET not in client.source_line


def test_the_variables_win_over_a_given_profile(one: Sandbox, other: Sandbox,
                                                tmp_path: Path) -> None:
    # gc lets each GENESYSCLOUD_* variable override that field of the profile in use,
    # --profile or not (config.go: applyEnvironmentVariableOverrides, ClientID(), ...).
    (tmp_path / ".gc").mkdir()
    (tmp_path / ".gc" / "config.toml").write_text(
        f'[prod]\nenvironment = "eu-west-1"\nclient_credentials = "{other.client_id}"\n'
        'client_secret = "stale-profile-secret"\n')
    label = org_label(one)
    one.clear_requests()
    other.clear_requests()
    with connect(variables(one, tmp_path), profile="PROD", **FAST) as client:
        assert client.base_url == one.url and client.fetch(QUERY).rows
        assert client.source_line == (
            f"Genesys Cloud 127.0.0.1:{one.port} via GENESYSCLOUD_* variables over gc "
            f"profile 'prod' (~/.gc/config.toml): {label}")
    assert [r.status for r in one.requests if r.path == "/oauth/token"] == [200]
    assert other.requests == []


def test_a_profile_gateway_stays_under_the_variables_as_in_gc(one: Sandbox, other: Sandbox,
                                                                tmp_path: Path) -> None:
    # gc builds the URL from the profile's gateway whatever GENESYSCLOUD_REGION says
    # (restclient.go), and sends the variables' client there; so does the kit.
    gc_file(tmp_path, other, name="lab")
    env = variables(one, tmp_path, GENESYSCLOUD_OAUTHCLIENT_ID=other.client_id)
    with connect(env, profile="lab", **FAST) as client:
        assert client.base_url == other.url
        assert client.source_line.startswith(f"Genesys Cloud 127.0.0.1:{other.port} via "
                                             "GENESYSCLOUD_* variables over gc profile 'lab'")


def test_without_variables_gc_default_profile_is_used(other: Sandbox, tmp_path: Path) -> None:
    gc_file(tmp_path, other)  # [default]: how gc saves DEFAULT
    with connect({"HOME": str(tmp_path)}, **FAST) as client:
        assert client.base_url == other.url and not client.fictional
        assert client.fetch(QUERY).rows
        assert client.source_line == (f"Genesys Cloud 127.0.0.1:{other.port} via gc profile "
                                      f"'default' (~/.gc/config.toml): {org_label(other)}")


def test_some_variables_override_gc_default_profile(other: Sandbox, tmp_path: Path) -> None:
    gc_file(tmp_path, other, name="DEFAULT", secret="stale-profile-secret")
    env = {"HOME": str(tmp_path), "GENESYSCLOUD_OAUTHCLIENT_SECRET": SECRET}
    with connect(env, **FAST) as client:
        assert client.base_url == other.url and client.fetch(QUERY).rows
        assert client.source_line.startswith(
            f"Genesys Cloud 127.0.0.1:{other.port} via GENESYSCLOUD_* variables over gc "
            "profile 'DEFAULT' (~/.gc/config.toml): ")


def test_a_gc_file_without_default_profile_leaves_the_sandbox(other: Sandbox,
                                                             tmp_path: Path) -> None:
    gc_file(tmp_path, other, name="staging")
    with connect({"HOME": str(tmp_path)}, sandbox_options={"query_seconds": 0.01},
                 **FAST) as client:
        assert client.source == "sandbox"
        assert client.source_line.startswith("embedded sandbox at ")


def test_refused_credentials_name_their_source(other: Sandbox, tmp_path: Path) -> None:
    wrong = "wrong-secret-7d2e"
    gc_file(tmp_path, other, secret=wrong)
    with pytest.raises(AuthError) as info, connect({"HOME": str(tmp_path)}, **FAST):
        pytest.fail("must not connect")
    message = str(info.value)
    assert "via gc profile 'default' (~/.gc/config.toml)" in message and wrong not in message


def test_a_server_without_the_organisation_route_is_named_without_org(
        one: Sandbox, tmp_path: Path) -> None:
    one.inject("server_error", status=501, route="/api/v2/organizations/me")  # an older server
    with connect(variables(one, tmp_path), **FAST) as client:
        assert client.source_line == (f"Genesys Cloud 127.0.0.1:{one.port} via "
                                      "GENESYSCLOUD_* variables")
        assert client.fetch(QUERY).rows


def test_complete_settings_reach_that_service() -> None:
    with Sandbox(port=0, seed=7, query_seconds=0.01) as sb:
        env = {"GENESYSCLOUD_REGION": sb.url, "GENESYSCLOUD_OAUTHCLIENT_ID": sb.client_id,
               "GENESYSCLOUD_OAUTHCLIENT_SECRET": sb.client_secret}
        with connect(env, **FAST) as client:
            assert client.source == "genesys:127.0.0.1"
            assert client.base_url == sb.url
            assert client.fetch(QUERY).rows
        assert any(r.path == "/oauth/token" for r in sb.requests)


@pytest.mark.parametrize(("env", "missing"), [
    ({"GENESYSCLOUD_REGION": "eu-west-1"},
     ["GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET"]),
    ({"GENESYSCLOUD_REGION": "eu-west-1", "GENESYSCLOUD_OAUTHCLIENT_ID": "x"},
     ["GENESYSCLOUD_OAUTHCLIENT_SECRET"]),
    ({"GENESYSCLOUD_OAUTHCLIENT_ID": "x", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y"},
     ["GENESYSCLOUD_REGION"]),
    ({"GENESYSCLOUD_ACCESS_TOKEN": "t"}, ["GENESYSCLOUD_REGION"]),
])
def test_partial_settings_are_an_error_naming_what_is_missing(env: dict[str, str],
                                                               missing: list[str]) -> None:
    assert missing_settings(env) == missing
    with pytest.raises(ConfigError) as info, connect(env, **FAST):
        pytest.fail("must not connect")
    for name in missing:
        assert name in str(info.value)
    assert "sandbox" in str(info.value)  # says how to get the embedded default


def test_settings_classification() -> None:
    assert missing_settings({}) is None
    assert missing_settings({"GENESYSCLOUD_REGION": " "}) is None
    assert missing_settings({"GENESYSCLOUD_REGION": "ie", "GENESYSCLOUD_ACCESS_TOKEN": "t"}) == []


def test_unknown_region_lists_the_valid_ones() -> None:
    env = {"GENESYSCLOUD_REGION": "moon-1", "GENESYSCLOUD_ACCESS_TOKEN": "t"}
    with pytest.raises(ConfigError, match=r"'moon-1'.*eu-west-1 \(mypurecloud.ie\)"), \
            connect(env, **FAST):
        pytest.fail("must not connect")


def test_a_broken_gc_file_is_an_error_not_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / ".gc").mkdir()
    (tmp_path / ".gc" / "config.toml").write_text('[default]\nclient_secret = "unterminated\n')
    with pytest.raises(ConfigError, match="not valid TOML") as info, \
            connect({"HOME": str(tmp_path)}, **FAST):
        pytest.fail("must not connect")
    assert "unterminated" not in str(info.value)
