"""usagekit.config.stack: configuring the kit from a CloudFormation stack's Outputs.

Unit tests feed explicit output dicts to :func:`config_from_outputs`. The moto tests read
real ``describe_stacks`` answers from moto's server. moto's CloudFormation drops the
Outputs of the Glue and Athena resources it does not implement (see
test_cloudformation.py), so the happy path here deploys a small stack whose bucket
resources are real in moto and whose Database/Table/WorkGroup outputs are literals:
it verifies the reading and mapping, not that those resources exist.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from usagekit.config import AthenaSettings, athena_settings
from usagekit.config.settings import (
    ENV_ATHENA_DATABASE,
    ENV_ATHENA_OUTPUT,
    ENV_ATHENA_TABLE,
    ENV_ATHENA_WORKGROUP,
    ENV_DATASET,
    ENV_STACK,
)
from usagekit.config.stack import (
    REQUIRED_OUTPUTS,
    config_from_outputs,
    load_stack,
    stack_from_env,
)
from usagekit.exceptions import ConfigError

OUTPUTS = {
    "SourceBucket": "uk-source-1-us-east-1",
    "DataLocation": "s3://uk-source-1-us-east-1/genesys/usage/",
    "ResultsBucket": "uk-results-1-us-east-1",
    "AthenaOutputLocation": "s3://uk-results-1-us-east-1/athena/",
    "Database": "genesysclouddb_dev",
    "Table": "gc_usage_api_source",
    "WorkGroup": "uk-usage",
    "DataFormat": "ndjson",
    "AccessLogBucket": "uk-logs-1-us-east-1",
}


# --------------------------------------------------------------------------- explicit outputs
def test_outputs_become_dataset_location_and_athena_settings() -> None:
    config = config_from_outputs("uk", OUTPUTS, region="us-east-1")
    assert config.data_location == OUTPUTS["DataLocation"]
    assert config.source_bucket == OUTPUTS["SourceBucket"]
    assert config.results_bucket == OUTPUTS["ResultsBucket"]
    assert config.athena == AthenaSettings(
        database="genesysclouddb_dev", table="gc_usage_api_source", workgroup="uk-usage",
        output_location="s3://uk-results-1-us-east-1/athena/")
    assert (config.data_format, config.crawler_name, config.region) == (
        "ndjson", None, "us-east-1")
    assert config.env() == {
        ENV_DATASET: OUTPUTS["DataLocation"],
        ENV_ATHENA_DATABASE: "genesysclouddb_dev",
        ENV_ATHENA_TABLE: "gc_usage_api_source",
        ENV_ATHENA_WORKGROUP: "uk-usage",
        ENV_ATHENA_OUTPUT: "s3://uk-results-1-us-east-1/athena/",
    }
    # The env round-trips through the kit's own settings reader.
    assert athena_settings(config.env()) == config.athena


def test_crawler_output_is_read_when_present_and_locations_get_a_trailing_slash() -> None:
    outputs = {**OUTPUTS, "CrawlerName": "uk-usage-crawler",
               "DataLocation": "s3://uk-source-1-us-east-1/usage"}
    config = config_from_outputs("uk", outputs)
    assert config.crawler_name == "uk-usage-crawler"
    assert config.data_location == "s3://uk-source-1-us-east-1/usage/"


def test_missing_outputs_are_all_named() -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k not in {"Table", "WorkGroup"}}
    outputs["Database"] = ""
    with pytest.raises(ConfigError) as err:
        config_from_outputs("uk", outputs)
    message = str(err.value)
    assert "stack 'uk' lacks the output(s) Database, Table, WorkGroup" in message
    assert "it has: AccessLogBucket, AthenaOutputLocation" in message
    assert ", ".join(REQUIRED_OUTPUTS) in message


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("DataLocation", "s3://someone-else/usage/", "s3://uk-source-1-us-east-1/"),
    ("AthenaOutputLocation", "/tmp/results/", "s3://uk-results-1-us-east-1/"),
    ("DataFormat", "csv", "ndjson, parquet"),
    ("Database", "Genesys-DB", "lower-case letters, digits or '_'"),
])
def test_inconsistent_outputs_are_rejected_naming_value_and_valid_ones(
    key: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_outputs("uk", {**OUTPUTS, key: value})
    assert repr(value) in str(err.value) and expected in str(err.value)


def test_no_stack_name_is_a_clear_error_and_unset_env_means_no_stack() -> None:
    assert stack_from_env({}) is None
    assert stack_from_env({ENV_STACK: "  "}) is None
    with pytest.raises(ConfigError, match=ENV_STACK):
        load_stack(env={})


# --------------------------------------------------------------------------- moto
def _small_stack(name: str, *, outputs: bool = True) -> str:
    """Deploy two buckets with the kit's outputs (names of Glue/Athena as literals)."""
    import boto3

    template: dict[str, Any] = {"Resources": {"Data": {"Type": "AWS::S3::Bucket"},
                                              "Results": {"Type": "AWS::S3::Bucket"}}}
    if outputs:
        template["Outputs"] = {
            "SourceBucket": {"Value": {"Ref": "Data"}},
            "DataLocation": {"Value": {"Fn::Sub": "s3://${Data}/usage/"}},
            "ResultsBucket": {"Value": {"Ref": "Results"}},
            "AthenaOutputLocation": {"Value": {"Fn::Sub": "s3://${Results}/athena/"}},
            "Database": {"Value": "genesysclouddb_dev"},
            "Table": {"Value": "gc_usage_api_source"},
            "WorkGroup": {"Value": "ukdev-usage"},
            "DataFormat": {"Value": "parquet"},
        }
    cf = boto3.client("cloudformation")
    return cf.create_stack(StackName=name, TemplateBody=json.dumps(template))["StackId"]


def _physical(stack: str, logical: str) -> str:
    import boto3

    resources = boto3.client("cloudformation").describe_stack_resources(StackName=stack)
    return next(r["PhysicalResourceId"] for r in resources["StackResources"]
                if r.get("LogicalResourceId") == logical)


@pytest.mark.aws
def test_usagekit_stack_env_configures_the_kit_from_describe_stacks(aws: str) -> None:
    _small_stack("uk-dev")
    data, results = _physical("uk-dev", "Data"), _physical("uk-dev", "Results")
    config = stack_from_env({ENV_STACK: "uk-dev"})
    assert config is not None
    assert (config.stack_name, config.region) == ("uk-dev", os.environ["AWS_DEFAULT_REGION"])
    assert config.source_bucket == data and config.results_bucket == results
    assert config.data_location == f"s3://{data}/usage/"
    assert config.athena == AthenaSettings("genesysclouddb_dev", "gc_usage_api_source",
                                           "ukdev-usage", f"s3://{results}/athena/")
    assert config.data_format == "parquet"
    assert load_stack("uk-dev") == config


@pytest.mark.aws
def test_missing_stack_names_region_and_the_usagekit_stacks_there(aws: str) -> None:
    _small_stack("uk-dev")
    _small_stack("unrelated", outputs=False)
    with pytest.raises(ConfigError) as err:
        load_stack("uk-prod")
    message = str(err.value)
    assert "stack 'uk-prod' does not exist in us-east-1" in message
    assert "usagekit stacks there: uk-dev (" in message


@pytest.mark.aws
def test_the_session_decides_the_region(aws: str) -> None:
    import boto3

    _small_stack("uk-dev")
    assert load_stack("uk-dev", session=boto3.Session(region_name="us-east-1")).region == (
        "us-east-1")
    with pytest.raises(ConfigError, match="'uk-dev' does not exist in eu-west-1; usagekit "
                                          "stacks there: none"):
        load_stack("uk-dev", session=boto3.Session(region_name="eu-west-1"))


@pytest.mark.aws
def test_deleted_stack_is_unusable(aws: str) -> None:
    import boto3

    stack_id = _small_stack("uk-dev")
    boto3.client("cloudformation").delete_stack(StackName="uk-dev")
    # A deleted stack is still described by its id, as DELETE_COMPLETE.
    with pytest.raises(ConfigError, match="is DELETE_COMPLETE; usable stacks are in a"):
        load_stack(stack_id)


@pytest.mark.aws
def test_no_region_is_a_clear_error(aws: str, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Any) -> None:
    import boto3

    for var in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="no AWS region for the stack: set AWS_REGION"):
        load_stack("uk-dev", session=boto3.Session())


@pytest.mark.aws
def test_module_prints_exports_a_shell_can_eval(aws: str) -> None:
    import subprocess
    import sys

    _small_stack("uk-dev")
    data = _physical("uk-dev", "Data")
    script = (f'eval "$("{sys.executable}" -m usagekit.config.stack uk-dev)" && '
              'echo "$USAGEKIT_DATASET|$USAGEKIT_ATHENA_WORKGROUP|$AWS_REGION"')
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"s3://{data}/usage/|ukdev-usage|us-east-1"


@pytest.mark.aws
def test_module_reports_an_unusable_stack_on_stderr(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from usagekit.config.stack import main

    assert main(["uk-prod", "--region", "eu-west-1"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "usagekit.config.stack: stack 'uk-prod' does not exist in eu-west-1" in err


@pytest.mark.aws
def test_usagekit_stack_is_the_default_for_dataset_and_athena_settings(aws: str) -> None:
    """The one place for configuration consults the stack; explicit variables still win."""
    from usagekit.config import dataset_location

    _small_stack("uk-dev")
    data, results = _physical("uk-dev", "Data"), _physical("uk-dev", "Results")
    env = {ENV_STACK: "uk-dev"}
    assert dataset_location(env=env) == f"s3://{data}/usage/"
    assert dataset_location("elsewhere/", env=env) == "elsewhere/"
    assert dataset_location(env={**env, ENV_DATASET: "s3://mine/x/"}) == "s3://mine/x/"
    assert athena_settings(env) == AthenaSettings(
        "genesysclouddb_dev", "gc_usage_api_source", "ukdev-usage", f"s3://{results}/athena/")
    overridden = athena_settings({**env, ENV_ATHENA_WORKGROUP: "other",
                                          ENV_ATHENA_TABLE: "t2"})
    assert (overridden.workgroup, overridden.table, overridden.database) == (
        "other", "t2", "genesysclouddb_dev")
    with pytest.raises(ConfigError, match="nope"):
        dataset_location(env={ENV_STACK: "nope"})


@pytest.mark.aws
def test_athena_settings_read_the_stack_with_the_given_session(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller's session decides where the stack is looked up (here: its region)."""
    import boto3

    _small_stack("uk-dev")
    session = boto3.Session(region_name="eu-west-1")
    with pytest.raises(ConfigError, match="eu-west-1"):
        athena_settings({ENV_STACK: "uk-dev"}, session=session)
    home = boto3.Session(region_name=os.environ["AWS_DEFAULT_REGION"])
    assert athena_settings({ENV_STACK: "uk-dev"}, session=home).workgroup == "ukdev-usage"
