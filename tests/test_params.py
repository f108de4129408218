"""Notebook parameter validation: good values resolved, bad ones named with the valid ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from usagekit.analyses import FAIR_USE_ALLOWANCES
from usagekit.config.settings import (
    DEFAULT_DATASET,
    ENV_CLIENT_SECRET,
    ENV_DATASET,
    PROJECT_ROOT,
    REPORTS_DIR,
)
from usagekit.exceptions import ConfigError
from usagekit.report.params import NOTEBOOK_PARAMETERS, default_interval, validate

NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)


def test_defaults_are_offline_and_absolute() -> None:
    p = validate("report", env={}, now=NOW)
    assert p.interval.text == "2026-08-29T00:00:00Z/2026-11-27T00:00:00Z"
    assert p.interval.days == 90
    assert (p.granularity, p.engine, p.partition_granularity) == ("Day", "local", "day")
    assert p.dataset == str(DEFAULT_DATASET)
    assert p.output_dir == REPORTS_DIR / "latest"


def test_values_are_canonicalised_and_paths_resolved_from_the_project_root() -> None:
    p = validate("report", env={}, interval="2026-11-01/2026-11-22", granularity="week",
                 engine="ATHENA", output_dir="reports/x", dataset="s3://b/p/", top_n=3,
                 licence_tier="cx 3", licensed_users=250, refresh=False)
    assert p.interval.days == 21
    assert (p.granularity, p.engine, p.licence_tier) == ("Week", "athena", "CX3")
    assert p.output_dir == PROJECT_ROOT / "reports" / "x"
    assert p.dataset == "s3://b/p/"
    assert p.monthly_allowance == FAIR_USE_ALLOWANCES["CX3"] * 250 == 35_000_000
    described = p.describe()
    assert list(described) == [*NOTEBOOK_PARAMETERS["report"], "monthly_allowance"]
    assert described["interval"] == "2026-11-01T00:00:00Z/2026-11-22T00:00:00Z"


def test_dataset_defaults_to_the_environment_variable(tmp_path: Path) -> None:
    p = validate("explore", env={ENV_DATASET: str(tmp_path)}, dataset="")
    assert p.dataset == str(tmp_path)
    assert validate("explore", env={ENV_DATASET: "rel/data"}).dataset == str(
        PROJECT_ROOT / "rel" / "data")


def test_fetch_group_by_is_canonical_in_grouping_order() -> None:
    p = validate("fetch", group_by="httpmethod, OAuthClientId,TemplateUri")
    assert p.group_by == ("OAuthClientId", "TemplateUri", "HttpMethod")
    assert p.grouping == "oauthclientid-templateuri-httpmethod"


@pytest.mark.parametrize(("values", "message"), [
    ({"granularity": "Fortnight"}, r"invalid granularity 'Fortnight': use one of Day, Week, "
                                   r"Month"),
    ({"engine": "spark"}, r"invalid engine 'spark': use one of local, athena"),
    ({"top_n": 0}, r"invalid top_n 0: use an integer from 1 to 20"),
    ({"top_n": "3"}, r"invalid top_n '3': expected an integer, got str"),
    ({"top_n": True}, r"invalid top_n True: expected an integer, got bool"),
    ({"licence_tier": "Gold"}, r"invalid licence_tier 'Gold': use one of CX1, CX2, CX3"),
    ({"licensed_users": -1}, r"invalid licensed_users -1"),
    ({"interval": "last week"}, r"invalid interval 'last week'.*2021-01/2021-02"),
    ({"interval": "2026-11-10/2026-11-01"}, r"start .* must be before its end"),
    ({"output_dir": " "}, r"invalid output_dir"),
    ({"granularty": "Day"}, r"unknown parameter 'granularty' for the report notebook: "
                            r"valid names are interval, granularity, engine"),
])
def test_bad_values_name_the_valid_ones(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate("report", env={}, **values)


def test_notebook_specific_names() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'top_n' for the fetch notebook"):
        validate("fetch", top_n=3)
    with pytest.raises(ConfigError, match=r"invalid group_by 'Colour'.*OAuthClientId"):
        validate("fetch", group_by="Colour")
    with pytest.raises(ConfigError, match=r"invalid http_method 'FETCH'.*GET, POST"):
        validate("explore", http_method="FETCH")
    with pytest.raises(ConfigError, match=r"unknown notebook 'nb'.*fetch, explore, report"):
        validate("nb")
    assert validate("explore", http_method="post").http_method == "POST"


@pytest.mark.parametrize("name", ["client_secret", "access_token", "aws_secret_access_key",
                                  "password", "api_key", "GENESYSCLOUD_OAUTHCLIENT_SECRET"])
def test_credentials_are_never_parameters(name: str) -> None:
    with pytest.raises(ConfigError, match="looks like a credential") as info:
        validate("report", **{name: "canary-value-123"})
    assert "canary-value-123" not in str(info.value)


def test_a_secret_from_the_environment_is_refused_as_a_value() -> None:
    env = {ENV_CLIENT_SECRET: "canary-s3cr3t-xyz"}
    with pytest.raises(ConfigError, match="'dataset' holds a credential") as info:
        validate("report", env=env, dataset="s3://bucket/canary-s3cr3t-xyz/")
    assert "canary-s3cr3t-xyz" not in str(info.value)


def test_default_interval_never_includes_today() -> None:
    iv = default_interval(NOW, days=21)
    assert iv.end == datetime(2026, 11, 27, tzinfo=UTC)
    assert iv.days == 21


def test_command_line_values_take_the_declared_type() -> None:
    from usagekit.report.params import parse_value

    assert parse_value("report", "top_n", "5") == 5
    assert parse_value("report", "refresh", "false") is False
    assert parse_value("report", "interval", "2026-11-01/P7D") == "2026-11-01/P7D"
    with pytest.raises(ConfigError, match="invalid top_n 'five': expected an integer"):
        parse_value("report", "top_n", "five")
    with pytest.raises(ConfigError, match="invalid refresh 'maybe': use true or false"):
        parse_value("report", "refresh", "maybe")
    with pytest.raises(ConfigError, match="looks like a credential"):
        parse_value("report", "access_token", "x")


def test_the_fetch_default_interval_is_whole_buckets() -> None:
    """Re-running the fetch notebook on another day must not cut a stored week or month."""
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
    week = validate("fetch", granularity="Week", now=now).interval
    assert week.start.weekday() == 0 and week.end == datetime(2026, 11, 27, tzinfo=UTC)
    month = validate("fetch", granularity="Month", now=now).interval
    assert month.start.day == 1
    explicit = validate("fetch", interval="2026-11-04/2026-11-12", granularity="Week", now=now)
    assert explicit.interval.text == "2026-11-04T00:00:00Z/2026-11-12T00:00:00Z"
