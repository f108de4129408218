"""The CloudFormation stack: cfn-lint, checkov, the Glue table against the kit, a moto deploy.

What is verified where:

- cfn-lint (offline resource specs): every resource, property, intrinsic and condition.
- checkov (its own venv, ``.venv-checkov``, through ``cloudformation/scan.sh``): the
  security checks, in both shapes of the template (checkov only scans resources whose
  Condition holds for the parameter defaults, so scan.sh also scans a copy with
  CreateCrawler=true, which covers the crawler and its role).
- The Glue table is compared with what the kit writes (``usagekit.dataset`` schema,
  ``usagekit.query.usage_query.grouping_key``), then created in moto's Glue exactly as the template
  defines it and written to with ``usagekit.dataset``: the writer accepts the table and
  every file lands where the partition projection looks for it.
- moto 5.2.5 deploys the S3 buckets (names, default encryption, Retain on delete), the
  crawler role (trust and inline policies) and the Outputs built from them. It silently
  skips ``AWS::Glue::Database``, ``AWS::Glue::Table``, ``AWS::Glue::Crawler``,
  ``AWS::Athena::WorkGroup`` and ``AWS::S3::BucketPolicy``, drops the Outputs that reference
  them, and ignores bucket versioning, public-access block, ownership controls, logging and
  lifecycle. None of those is verified by moto; cfn-lint and checkov cover them statically,
  and only a real AWS deploy proves them.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.orgs import ORG

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cloudformation" / "usage-api.template.yaml"
SCAN = ROOT / "cloudformation" / "scan.sh"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

#: Suppressions the template carries, each with its justification in the template.
EXPECTED_SKIPS = {("CKV_AWS_18", "AccessLogBucket"), ("CKV_AWS_195", "Crawler")}
#: The types moto 5.2.5's CloudFormation does not implement (skipped, outputs dropped).
MOTO_SKIPPED_TYPES = {
    "AWS::Glue::Database", "AWS::Glue::Table", "AWS::Glue::Crawler",
    "AWS::Athena::WorkGroup", "AWS::S3::BucketPolicy",
}
NO_VALUE = object()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """The template as a dict, intrinsics in their long form (``{"Ref": ...}``)."""
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.loads(TEMPLATE.read_text())


# --------------------------------------------------------------------------- a tiny resolver
class Resolver:
    """Evaluate the intrinsics this template uses (Ref, Sub, If, Join, GetAtt Arn).

    Only for tests: it lets the Glue table and workgroup, which moto's CloudFormation
    skips, be created in moto's Glue/Athena exactly as the template defines them.
    """

    NAME_PROPERTY: ClassVar[dict[str, tuple[str, ...]]] = {
        "AWS::S3::Bucket": ("BucketName",),
        "AWS::Glue::Database": ("DatabaseInput", "Name"),
        "AWS::Glue::Table": ("TableInput", "Name"),
        "AWS::Athena::WorkGroup": ("Name",),
        "AWS::Glue::Crawler": ("Name",),
    }

    def __init__(self, template: Mapping[str, Any], params: Mapping[str, str], *,
                 stack: str, account: str, region: str) -> None:
        self.t = template
        self.values = {k: str(p.get("Default")) for k, p in template["Parameters"].items()}
        self.values.update(params)
        self.values.update({"AWS::StackName": stack, "AWS::AccountId": account,
                            "AWS::Region": region, "AWS::Partition": "aws"})

    def condition(self, name: str) -> bool:
        (ref, literal), = self.t["Conditions"][name].values()
        return self.resolve(ref) == literal

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.values:
            return self.values[name]
        resource = self.t["Resources"][name]
        node: Any = resource["Properties"]
        for key in self.NAME_PROPERTY[resource["Type"]]:
            node = node[key]
        return self.resolve(node)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                return re.sub(r"\$\{(!?)([^}]+)\}", self._sub, arg)
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Join":
                return arg[0].join(self.resolve(arg[1]))
            if key == "Fn::GetAtt":
                assert arg[1] == "Arn"
                return f"arn:aws:s3:::{self.ref(arg[0])}"
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _sub(self, match: re.Match[str]) -> str:
        if match.group(1):  # ${!literal}
            return "${" + match.group(2) + "}"
        name, _, attr = match.group(2).partition(".")
        return self.resolve({"Fn::GetAtt": [name, attr]}) if attr else self.ref(name)

    def outputs(self) -> dict[str, str]:
        return {k: self.resolve(o["Value"]) for k, o in self.t["Outputs"].items()
                if "Condition" not in o or self.condition(o["Condition"])}


# --------------------------------------------------------------------------- cfn-lint
def test_cfn_lint_is_clean() -> None:
    exe = Path(sys.executable).with_name("cfn-lint")
    assert exe.exists(), f"cfn-lint not installed next to {sys.executable}"
    result = subprocess.run([str(exe), str(TEMPLATE)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"cfn-lint:\n{result.stdout}{result.stderr}"


# --------------------------------------------------------------------------- checkov
def _require_checkov() -> None:
    if not CHECKOV.exists():
        message = (f"checkov venv missing ({CHECKOV}); create it with "
                   "`make .venv-checkov/.installed`")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def checkov_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """``cloudformation/scan.sh -o json``: checkov on the template as is and with the crawler."""
    _require_checkov()
    return subprocess.run(["bash", str(SCAN), "--output", "json"], capture_output=True,
                          text=True, cwd=tmp_path_factory.mktemp("checkov"), timeout=300)


@pytest.fixture(scope="module")
def checkov_reports(checkov_run: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """checkov's JSON report per shape: ``default`` and ``crawler`` (CreateCrawler=true)."""
    decoder, text, reports = json.JSONDecoder(), checkov_run.stdout, []
    position = 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        report, position = decoder.raw_decode(text, position)
        reports.append(report)
    assert len(reports) == 2, f"scan.sh output:\n{text[-2000:]}{checkov_run.stderr[-2000:]}"
    return dict(zip(["default", "crawler"], reports, strict=True))


@pytest.mark.parametrize("shape", ["default", "crawler"])
def test_checkov_finds_no_failed_checks(checkov_reports: dict[str, Any], shape: str) -> None:
    report = checkov_reports[shape]
    failed = [(c["check_id"], c["resource"], c["check_name"])
              for c in report["results"]["failed_checks"]]
    assert failed == [], f"checkov failed checks ({shape}): {failed}"
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 20


def test_checkov_scans_the_optional_crawler_and_its_role(checkov_reports: dict[str, Any]) -> None:
    def scanned(shape: str) -> set[str]:
        results = checkov_reports[shape]["results"]
        return {c["resource"] for kind in ("passed_checks", "failed_checks", "skipped_checks")
                for c in results[kind]}

    assert "AWS::IAM::Role.CrawlerRole" not in scanned("default")
    assert {"AWS::IAM::Role.CrawlerRole", "AWS::Glue::Crawler.Crawler"} <= scanned("crawler")


def test_every_checkov_suppression_is_expected_and_justified(
    checkov_reports: dict[str, Any],
) -> None:
    skipped = {
        (c["check_id"], c["resource"].split(".", 1)[1]): c["check_result"].get("suppress_comment")
        for c in checkov_reports["crawler"]["results"]["skipped_checks"]
    }
    assert set(skipped) == EXPECTED_SKIPS
    for key, comment in skipped.items():
        assert comment and len(comment.split()) >= 10, f"{key} needs a real justification"


def test_scan_script_exits_zero(checkov_run: subprocess.CompletedProcess[str]) -> None:
    assert checkov_run.returncode == 0, checkov_run.stderr[-3000:]
    assert checkov_run.stderr.count("== checkov: ") == 2


# --------------------------------------------------------------------------- the Glue table
def _table_input(template: Mapping[str, Any], **params: str) -> dict[str, Any]:
    resolver = Resolver(template, params, stack="s", account="123456789012", region="us-east-1")
    return resolver.resolve(template["Resources"]["UsageTable"]["Properties"]["TableInput"])


def test_table_columns_and_partition_keys_match_the_dataset(template: dict[str, Any]) -> None:
    from usagekit.row import API_FIELDS, PARTITION_KEYS, STORED_COLUMNS

    table = _table_input(template)
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    # Glue keeps names lower-case; the files' camelCase keys match case-insensitively.
    assert columns == [(name.lower(), kind) for name, kind in STORED_COLUMNS.items()]
    assert [name for name, _ in columns][: len(API_FIELDS)] == [f.lower() for f in API_FIELDS]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == list(PARTITION_KEYS.items())


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_one_schema_three_definitions_glue_template_and_trino(template: dict[str, Any],
                                                              fmt: str) -> None:
    """The template's Glue table and the Trino DDL the kit prints list the same columns,
    types and partition keys, in the same order (Trino's varchar is Glue's string)."""
    import sqlglot
    from sqlglot import exp

    from usagekit.engine.trino import table_ddl

    table = _table_input(template)
    glue = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    glue += [(k["Name"], k["Type"]) for k in table["PartitionKeys"]]
    create = sqlglot.parse_one(table_ddl("s3://b/usage/", fmt)[1], read="trino")
    trino = [(c.name, c.args["kind"].sql("trino").lower()) for c in create.find_all(exp.ColumnDef)]
    assert trino == [(name, {"string": "varchar"}.get(kind, kind)) for name, kind in glue]
    partitioned = create.find(exp.PartitionedByProperty)
    assert partitioned is not None
    assert [e.name for e in partitioned.find_all(exp.Literal)] == [
        k["Name"] for k in table["PartitionKeys"]]
    file_format = create.find(exp.FileFormatProperty)
    assert file_format is not None and file_format.name == {"ndjson": "OPENX_JSON",
                                                             "parquet": "PARQUET"}[fmt]


def test_partition_projection_covers_every_value_the_kit_writes(template: dict[str, Any]) -> None:
    from usagekit.query.usage_query import GROUP_BY_BY_ROUTE, grouping_key
    from usagekit.row import GRANULARITY_VALUES, GROUP_BY, PARTITION_KEYS

    params = _table_input(template, FirstPeriod="2021-03")["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.granularity.type"] == "enum"
    assert params["projection.granularity.values"].split(",") == list(GRANULARITY_VALUES)
    every_key = {grouping_key(c) for r in range(len(GROUP_BY) + 1)
                 for c in itertools.combinations(GROUP_BY, r)}
    reachable = {grouping_key(c) for fields in GROUP_BY_BY_ROUTE.values()
                 for r in range(len(fields) + 1) for c in itertools.combinations(fields, r)}
    grouping = params["projection.grouping.values"].split(",")
    assert params["projection.grouping.type"] == "enum"
    assert len(grouping) == len(set(grouping)) == 2 ** len(GROUP_BY)
    assert set(grouping) == every_key and reachable <= every_key
    assert {k: params[f"projection.period.{k}"] for k in
            ("type", "format", "range", "interval", "interval.unit")} == {
        "type": "date", "format": "yyyy-MM", "range": "2021-03,NOW",
        "interval": "1", "interval.unit": "MONTHS"}
    location = table_location = _table_input(template)["StorageDescriptor"]["Location"]
    assert table_location == "s3://usagekit-source-123456789012-us-east-1/usage/"
    location += "/".join(f"{k}=${{{k}}}" for k in PARTITION_KEYS) + "/"
    assert _table_input(template)["Parameters"]["storage.location.template"] == location


@pytest.mark.parametrize(("fmt", "serde", "input_format"), [
    ("ndjson", "org.openx.data.jsonserde.JsonSerDe", "org.apache.hadoop.mapred.TextInputFormat"),
    ("parquet", "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
     "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"),
])
def test_table_format_follows_the_data_format_parameter(
    template: dict[str, Any], fmt: str, serde: str, input_format: str
) -> None:
    storage = _table_input(template, DataFormat=fmt)["StorageDescriptor"]
    assert storage["SerdeInfo"]["SerializationLibrary"] == serde
    assert storage["InputFormat"] == input_format
    if fmt == "ndjson":
        assert storage["SerdeInfo"]["Parameters"]["case.insensitive"] == "TRUE"


def test_no_global_name_is_hard_coded(template: dict[str, Any]) -> None:
    names = {}
    for logical, resource in template["Resources"].items():
        path = Resolver.NAME_PROPERTY.get(resource["Type"])
        if path:
            node = resource["Properties"]
            for key in path:
                node = node[key]
            names[logical] = node
    for logical in ("SourceBucket", "ResultsBucket", "AccessLogBucket"):
        sub = names[logical]["Fn::Sub"]
        assert all(p in sub for p in ("${NamePrefix}", "${AWS::AccountId}", "${AWS::Region}"))
    assert names["AthenaWorkGroup"]["Fn::Sub"].startswith("${NamePrefix}-")
    assert names["Crawler"]["Fn::Sub"].startswith("${NamePrefix}-")
    assert names["GlueDatabase"] == {"Ref": "DatabaseName"}
    assert names["UsageTable"] == {"Ref": "TableName"}


def test_buckets_are_private_encrypted_versioned_and_tls_only(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    buckets = [k for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket"]
    assert sorted(buckets) == ["AccessLogBucket", "ResultsBucket", "SourceBucket"]
    policies = {r["Properties"]["Bucket"]["Ref"]: r["Properties"]["PolicyDocument"]
                for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"}
    for name in buckets:
        props = resources[name]["Properties"]
        rule, = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(props["PublicAccessBlockConfiguration"]) == 4
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        deny = [s for s in policies[name]["Statement"] if s["Effect"] == "Deny"]
        assert deny == [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
            "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": [name, "Arn"]}, {"Fn::Sub": f"${{{name}.Arn}}/*"}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }], name
    results_rule = resources["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0]
    assert results_rule["ExpirationInDays"] == {"Ref": "ResultsRetentionDays"}
    assert resources["SourceBucket"]["DeletionPolicy"] == "Retain"


def test_workgroup_enforces_output_encryption_and_scan_cutoff(template: dict[str, Any]) -> None:
    resolver = Resolver(template, {"BytesScannedCutoffPerQuery": "20000000"},
                        stack="s", account="123456789012", region="eu-west-1")
    config = resolver.resolve(
        template["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"])
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == "20000000"
    assert config["EngineVersion"] == {"SelectedEngineVersion": "AUTO"}
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert result["OutputLocation"] == resolver.outputs()["AthenaOutputLocation"]
    assert result["OutputLocation"].startswith(f"s3://{resolver.outputs()['ResultsBucket']}/")


def test_outputs_cover_the_kit_and_are_exported_under_the_stack_name(
    template: dict[str, Any],
) -> None:
    from usagekit.config.stack import OPTIONAL_OUTPUTS, REQUIRED_OUTPUTS

    outputs = template["Outputs"]
    assert set(outputs) == {*REQUIRED_OUTPUTS, *OPTIONAL_OUTPUTS}
    for key, output in outputs.items():
        assert output["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{key}"}
    assert outputs["CrawlerName"]["Condition"] == "WithCrawler"


# --------------------------------------------------------------------------- moto
@pytest.mark.aws
@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")  # asserted inside
def test_moto_deploys_buckets_role_and_bucket_outputs(aws: str, template: dict[str, Any]) -> None:
    """Deploy to moto; verify what it implements, and that the kit reports what it skips.

    Verified by moto: bucket names from NamePrefix/account/region, default encryption,
    the crawler role's trust and inline policies (as resolved by CloudFormation), the
    Outputs built from buckets and parameters, Retain of the source bucket on delete.
    Not verified (moto skips them): Glue database/table/crawler, Athena workgroup, bucket
    policies, versioning, public-access block, ownership, logging, lifecycle.
    """
    import boto3

    from usagekit.config.stack import REQUIRED_OUTPUTS, load_stack
    from usagekit.exceptions import ConfigError

    region = os.environ["AWS_DEFAULT_REGION"]
    account = boto3.client("sts").get_caller_identity()["Account"]
    params = {"NamePrefix": "ukdev", "CreateCrawler": "true", "DataPrefix": "genesys/usage",
              "OrgIds": ORG.id}
    cf = boto3.client("cloudformation")
    with pytest.warns(UserWarning, match="not supported by moto") as warned:
        cf.create_stack(StackName="uk-dev", TemplateBody=TEMPLATE.read_text(),
                        Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                    for k, v in params.items()])
    skipped = {m[1] for w in warned
               if (m := re.match(r"Tried to parse (\S+) but", str(w.message)))}
    assert skipped == MOTO_SKIPPED_TYPES, "moto's CloudFormation coverage changed"
    stack, = cf.describe_stacks(StackName="uk-dev")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"

    expected = Resolver(template, params, stack="uk-dev", account=account,
                        region=region).outputs()
    got = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    # moto returns exactly the outputs that do not reference a skipped resource ...
    assert got == {k: v for k, v in expected.items()
                   if k not in {"Database", "Table", "WorkGroup", "CrawlerName"}}
    assert got["SourceBucket"] == f"ukdev-source-{account}-{region}"
    assert got["DataLocation"] == f"s3://ukdev-source-{account}-{region}/genesys/usage/"
    # ... and creates none of the skipped resources.
    assert boto3.client("glue").get_databases()["DatabaseList"] == []
    assert [w["Name"] for w in boto3.client("athena").list_work_groups()["WorkGroups"]] == [
        "primary"]

    s3 = boto3.client("s3")
    for key in ("SourceBucket", "ResultsBucket", "AccessLogBucket"):
        encryption = s3.get_bucket_encryption(Bucket=got[key])["ServerSideEncryptionConfiguration"]
        assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "AES256"}

    iam = boto3.client("iam")
    role_name = next(r["PhysicalResourceId"] for r in cf.describe_stack_resources(
        StackName="uk-dev")["StackResources"] if r.get("LogicalResourceId") == "CrawlerRole")
    role = iam.get_role(RoleName=role_name)["Role"]
    trust, = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    read = iam.get_role_policy(RoleName=role_name, PolicyName="read-dataset-prefix")
    statements = {s["Sid"]: s for s in _policy(read["PolicyDocument"])["Statement"]}
    assert statements["ReadDatasetFiles"]["Resource"] == (
        f"arn:aws:s3:::{got['SourceBucket']}/genesys/usage/*")
    assert statements["ListDatasetPrefix"]["Condition"] == {
        "StringLike": {"s3:prefix": ["genesys/usage", "genesys/usage/*"]}}

    # usagekit.config.stack reads moto's describe_stacks and names what moto dropped.
    with pytest.raises(ConfigError) as err:
        load_stack("uk-dev")
    message = str(err.value)
    assert "lacks the output(s) Database, Table, WorkGroup" in message
    assert all(k in message for k in REQUIRED_OUTPUTS)  # names the valid set too

    cf.delete_stack(StackName="uk-dev")
    left = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert left == {got["SourceBucket"]}, "only the dataset bucket is retained"


def _policy(document: Any) -> dict[str, Any]:
    """moto returns CloudFormation-created inline policies as a Python-literal string."""
    if isinstance(document, str):
        import ast

        return ast.literal_eval(document)
    return document


@pytest.mark.aws
@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_the_kit_writes_where_the_projection_reads(
    aws: str, template: dict[str, Any], fmt: str, tmp_path: Path
) -> None:
    """Glue table and workgroup created in moto as the template defines them, then written.

    moto's CloudFormation skips the Glue and Athena resources, so the test resolves the
    template's TableInput/WorkGroupConfiguration (Resolver) and creates them through
    moto's Glue and Athena APIs. Then ``usagekit.dataset`` writes through that table:
    it must accept the table (partition keys, location, format) and put every file at a
    location the projection generates from values inside its enums and date range. Not
    verified: that Athena reads the files (moto executes no SQL).
    """
    import boto3

    from usagekit.config.stack import config_from_outputs
    from usagekit.dataset import open_dataset

    region = os.environ["AWS_DEFAULT_REGION"]
    account = boto3.client("sts").get_caller_identity()["Account"]
    listed = "0f0f0f0f-1111-4222-8333-444444444444"  # the stack lists another org only
    resolver = Resolver(template, {"DataFormat": fmt, "FirstPeriod": "2026-01",
                                   "OrgIds": listed},
                        stack="uk", account=account, region=region)
    outputs = resolver.outputs()
    config = config_from_outputs("uk", outputs, region=region)
    resources = template["Resources"]
    boto3.client("s3").create_bucket(Bucket=config.source_bucket)
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput=resolver.resolve(
        resources["GlueDatabase"]["Properties"]["DatabaseInput"]))
    glue.create_table(DatabaseName=config.athena.database, TableInput=resolver.resolve(
        resources["UsageTable"]["Properties"]["TableInput"]))
    boto3.client("athena").create_work_group(
        Name=config.athena.workgroup,
        Configuration=_athena_config(resolver.resolve(
            resources["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"])))

    dataset = open_dataset(config.data_location, format=config.data_format,
                           database=config.athena.database, table=config.athena.table, org=ORG)
    rows = [_row("c1", "2026-09-30T00:00:00Z", 3), _row("c1", "2026-10-01T00:00:00Z", 5)]
    summary = dataset.write(rows, granularity="day", grouping=["OAuthClientId"],
                            interval="2026-09-30/2026-10-02")
    assert {p.period for p in summary.written} == {"2026-09", "2026-10"}

    table = glue.get_table(DatabaseName=config.athena.database, Name=config.athena.table)
    params = table["Table"]["Parameters"]
    assert params["projection.enabled"] == "true", "the writer must not replace the table"
    # Projection computes the partitions: the writer adds none to the catalog.
    assert glue.get_partitions(DatabaseName=config.athena.database,
                               TableName=config.athena.table)["Partitions"] == []
    allowed = {k: set(params[f"projection.{k}.values"].split(","))
               for k in ("org", "granularity", "grouping")}
    assert params["projection.org.values"] == f"{listed},{ORG.id}"  # the kit added its org
    first = params["projection.period.range"].split(",")[0]
    now = datetime.now(UTC).strftime("%Y-%m")
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(
        Bucket=config.source_bucket)["Contents"]]
    data = [k for k in keys if k.endswith(".json" if fmt == "ndjson" else ".parquet")
            and not k.endswith("/_org.json")]
    assert len(data) == 2
    pattern = re.escape(params["storage.location.template"]).replace(
        r"\$\{org\}", "(?P<org>[^/]+)").replace(
        r"\$\{granularity\}", "(?P<granularity>[^/]+)").replace(
        r"\$\{grouping\}", "(?P<grouping>[^/]+)").replace(r"\$\{period\}", "(?P<period>[^/]+)")
    for key in data:
        match = re.fullmatch(pattern + r"[^/]+", f"s3://{config.source_bucket}/{key}")
        assert match, f"{key} is not under {params['storage.location.template']}"
        assert match["org"] in allowed["org"]
        assert match["granularity"] in allowed["granularity"]
        assert match["grouping"] in allowed["grouping"]
        assert re.fullmatch(r"\d{4}-\d{2}", match["period"]) and first <= match["period"] <= now


def _athena_config(config: dict[str, Any]) -> dict[str, Any]:
    config = dict(config)
    config["BytesScannedCutoffPerQuery"] = int(config["BytesScannedCutoffPerQuery"])
    return config


def _row(client: str, date: str, requests: int) -> dict[str, Any]:
    return {"clientId": client, "clientName": f"name {client}", "organizationId": "",
            "userId": "", "templateUri": "", "httpMethod": "", "status200": requests,
            "status300": 0, "status400": 0, "status500": 0, "status429": 0,
            "requests": requests, "date": date}
