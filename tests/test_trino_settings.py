"""The Trino engine's configuration and its errors, without a Trino server.

The engine against a real Trino 476 is in ``tests/test_trino.py``.
"""

from __future__ import annotations

import socket

import pytest

from usagekit.cli import main
from usagekit.config import TrinoSettings, trino_settings
from usagekit.engine import TrinoEngine, open_engine
from usagekit.engine.trino import table_ddl
from usagekit.exceptions import ConfigError, EngineError

PASSWORD = "Pw-canary-7c1e9a"
TOKEN = "eyJ-canary-token-55aa"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_url_gives_user_host_port_catalog_and_schema() -> None:
    s = trino_settings({"USAGEKIT_TRINO_URL": "https://ana@trino.example:8443/hive/usage"})
    assert (s.scheme, s.user, s.host, s.port, s.catalog, s.schema) == (
        "https", "ana", "trino.example", 8443, "hive", "usage")
    plain = TrinoSettings("http://127.0.0.1/hive")
    assert (plain.user, plain.port, plain.schema) == ("usagekit", 8080, "genesysclouddb")
    assert plain.display == "http://usagekit@127.0.0.1:8080/hive/genesysclouddb"


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://h/hive", "expected http[s]://user@host:port/catalog/schema"),
    ("http://h", "must name a catalog"),
    ("http://h/a/b/c", "must name a catalog"),
    ("http://h/Hive", "invalid Trino catalog name 'Hive'"),
    ("http://h/hive/bad-schema", "invalid Trino schema name 'bad-schema'"),
    ("http://h:notaport/hive", "invalid port"),
    ("http://h/hive?x=1", "no query or fragment"),
])
def test_bad_urls_name_the_url_and_the_form(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrinoSettings(url)
    assert message in str(info.value)


def test_missing_url_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match="USAGEKIT_TRINO_URL=http"):
        trino_settings({})


def test_a_password_in_the_url_is_refused_and_never_shown() -> None:
    with pytest.raises(ConfigError) as info:
        TrinoSettings(f"https://ana:{PASSWORD}@h/hive")
    assert PASSWORD not in str(info.value) and "USAGEKIT_TRINO_PASSWORD" in str(info.value)


def test_credentials_need_https_and_one_kind_only() -> None:
    with pytest.raises(ConfigError, match="need https"):
        TrinoSettings("http://h/hive", password=PASSWORD)
    with pytest.raises(ConfigError, match="not both"):
        TrinoSettings("https://h/hive", password=PASSWORD, token=TOKEN)


def test_secrets_stay_out_of_repr_and_display() -> None:
    s = trino_settings({"USAGEKIT_TRINO_URL": "https://ana@h/hive",
                        "USAGEKIT_TRINO_TOKEN": TOKEN})
    assert s.token == TOKEN
    for text in (repr(s), s.display, repr(TrinoEngine(s))):
        assert TOKEN not in text


def test_an_unreachable_trino_names_the_url_catalog_and_schema(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    port = _closed_port()
    monkeypatch.setenv("USAGEKIT_TRINO_URL", f"http://ana@127.0.0.1:{port}/hive/usage")
    engine = open_engine("trino")
    assert isinstance(engine, TrinoEngine) and engine.source == '"usage"."gc_usage_api_source"'
    with pytest.raises(EngineError) as info:
        engine.sql("SELECT 1")
    assert str(info.value).startswith(
        f"cannot reach Trino at http://ana@127.0.0.1:{port}/hive/usage (catalog 'hive', "
        "schema 'usage')")
    assert main(["sql", "SELECT 1", "--engine", "trino"]) == 1
    assert "cannot reach Trino at" in capsys.readouterr().err


def test_bad_sql_and_parameters_fail_before_any_request() -> None:
    engine = TrinoEngine(TrinoSettings(f"http://127.0.0.1:{_closed_port()}/hive"))
    with pytest.raises(EngineError, match="Athena"):
        engine.sql("SELECT (1")
    with pytest.raises(ConfigError, match="unsupported query parameter"):
        engine.sql("SELECT ?", [object()])


def test_trino_table_prints_the_ddl_for_the_configured_catalog(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("USAGEKIT_TRINO_URL", "http://127.0.0.1:1/lake/usage")
    assert main(["trino-table", "--location", "s3://bucket/usage/", "--format", "parquet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{s};" for s in table_ddl("s3://bucket/usage/", "parquet", catalog="lake",
                                                schema="usage")] + [
        "CALL lake.system.sync_partition_metadata(schema_name => 'usage', "
        "table_name => 'gc_usage_api_source', mode => 'FULL');"]
    assert "CREATE TABLE lake.usage.gc_usage_api_source (" in lines[1]


@pytest.mark.parametrize(("location", "fmt"), [("/tmp/usage", "ndjson"),
                                               ("s3://b/it's", "ndjson"),
                                               ("s3://b/u/", "orc")])
def test_trino_table_refuses_bad_locations_and_formats(location: str, fmt: str) -> None:
    with pytest.raises(ConfigError) as info:
        table_ddl(location, fmt)
    assert repr(location if fmt != "orc" else fmt) in str(info.value)
