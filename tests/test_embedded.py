"""embedded.connect: the sandbox by default, Genesys Cloud when configured, errors in between."""

from __future__ import annotations

import socket

import pytest

from usagekit.embedded import connect, missing_settings
from usagekit.exceptions import ConfigError
from usagekit.fetch import PollPolicy
from usagekit.query import UsageQuery
from usagekit.sandbox import Sandbox

FAST = {"poll": PollPolicy(initial=0.01), "progress": False}
QUERY = UsageQuery.build("2026-10-01/2026-10-03", "Day", ["OAuthClientId"])


def test_no_settings_start_the_embedded_sandbox() -> None:
    with connect({}, sandbox_options={"query_seconds": 0.01}, **FAST) as client:
        assert client.source == "sandbox"
        assert client.base_url.startswith("http://127.0.0.1:")
        assert client.fetch(QUERY).rows
        port = int(client.base_url.rsplit(":", 1)[1])
    with pytest.raises(OSError):  # the sandbox stopped with the context
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


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
