"""Notebook parameter validation: good values resolved, bad ones named with the valid ones."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest

from usagekit.config.settings import (
    DEFAULT_DATASET,
    ENV_CLIENT_SECRET,
    ENV_DATASET,
    PROJECT_ROOT,
    REPORTS_DIR,
)
from usagekit.exceptions import ConfigError
from usagekit.report.cells import parameters
from usagekit.report.params import default_interval, parse_value, validate

NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)


def test_defaults_are_offline_and_absolute() -> None:
    p = validate("usage-report", env={}, now=NOW)
    assert p.interval.text == "2026-08-29T00:00:00Z/2026-11-27T00:00:00Z"
    assert p.interval.days == 90
    assert (p.granularity, p.engine, p.partition_granularity) == ("Day", "local", "day")
    assert p.dataset == str(DEFAULT_DATASET)
    assert p.output_dir == REPORTS_DIR / "latest"


def test_values_are_canonicalised_and_paths_resolved_from_the_project_root(
        tmp_path: Path) -> None:
    licences = tmp_path / "licences.toml"
    licences.write_text("[licences]\nCX3 = { named = 250 }\n")
    p = validate("usage-report", env={}, interval="2026-11-01/2026-11-22", granularity="week",
                 engine="ATHENA", output_dir="reports/x", dataset="s3://b/p/", top_n=3,
                 licences=f" {licences} ", refresh=False)
    assert p.interval.days == 21
    assert (p.granularity, p.engine, p.licences) == ("Week", "athena", str(licences))
    assert p.output_dir == PROJECT_ROOT / "reports" / "x"
    assert p.dataset == "s3://b/p/"
    assert validate("usage-report", env={}).licences == ""  # the allowance is unknown
    described = p.describe()
    assert list(described) == list(parameters("usage-report"))
    assert described["interval"] == "2026-11-01T00:00:00Z/2026-11-22T00:00:00Z"


def test_dataset_defaults_to_the_environment_variable(tmp_path: Path) -> None:
    p = validate("explore-usage", env={ENV_DATASET: str(tmp_path)}, dataset="")
    assert p.dataset == str(tmp_path)
    assert validate("explore-usage", env={ENV_DATASET: "rel/data"}).dataset == str(
        PROJECT_ROOT / "rel" / "data")


def test_fetch_group_by_is_canonical_in_grouping_order() -> None:
    p = validate("fetch-usage", group_by="httpmethod, OAuthClientId,TemplateUri")
    assert p.group_by == ("OAuthClientId", "TemplateUri", "HttpMethod")
    assert p.grouping == "oauthclientid-templateuri-httpmethod"


@pytest.mark.parametrize(("values", "message"), [
    ({"granularity": "Fortnight"}, r"invalid granularity 'Fortnight': use one of Day, Week, "
                                   r"Month"),
    ({"engine": "spark"}, r"invalid engine 'spark': use one of local, athena"),
    ({"top_n": 0}, r"invalid top_n 0: use an integer from 1 to 20"),
    ({"top_n": "3"}, r"invalid top_n '3': expected an integer, got str"),
    ({"top_n": True}, r"invalid top_n True: expected an integer, got bool"),
    ({"licences": "/no/such/licences.toml"}, r"cannot read licences file /no/such/"),
    ({"interval": "last week"}, r"invalid interval 'last week'.*2021-01/2021-02"),
    ({"interval": "2026-11-10/2026-11-01"}, r"start .* must be before its end"),
    ({"output_dir": " "}, r"invalid output_dir"),
    ({"granularty": "Day"}, r"unknown parameter 'granularty' for the usage-report notebook: "
                            r"valid names are interval, granularity, engine"),
])
def test_bad_values_name_the_valid_ones(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate("usage-report", env={}, **values)


def test_notebook_specific_names() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'top_n' for the fetch-usage notebook"):
        validate("fetch-usage", top_n=3)
    with pytest.raises(ConfigError, match=r"invalid group_by 'Colour'.*OAuthClientId"):
        validate("fetch-usage", group_by="Colour")
    with pytest.raises(ConfigError, match=r"invalid http_method 'FETCH'.*GET, POST"):
        validate("explore-usage", http_method="FETCH")
    with pytest.raises(ConfigError, match=r"unknown notebook 'nb': use one of fetch-usage, "
                                          r"explore-usage, usage-report, explore-interactive"):
        validate("nb")
    assert validate("explore-usage", http_method="post").http_method == "POST"


@pytest.mark.parametrize("name", ["client_secret", "access_token", "aws_secret_access_key",
                                  "password", "api_key", "GENESYSCLOUD_OAUTHCLIENT_SECRET"])
def test_credentials_are_never_parameters(name: str) -> None:
    with pytest.raises(ConfigError, match="looks like a credential") as info:
        validate("usage-report", **{name: "canary-value-123"})
    assert "canary-value-123" not in str(info.value)


def test_a_secret_from_the_environment_is_refused_as_a_value() -> None:
    env = {ENV_CLIENT_SECRET: "canary-s3cr3t-xyz"}
    with pytest.raises(ConfigError, match="'dataset' holds a credential") as info:
        validate("usage-report", env=env, dataset="s3://bucket/canary-s3cr3t-xyz/")
    assert "canary-s3cr3t-xyz" not in str(info.value)


def test_default_interval_never_includes_today() -> None:
    iv = default_interval(NOW, days=21)
    assert iv.end == datetime(2026, 11, 27, tzinfo=UTC)
    assert iv.days == 21


def test_command_line_values_take_the_declared_type() -> None:
    assert parse_value("usage-report", "top_n", "5") == 5
    assert parse_value("usage-report", "refresh", "false") is False
    assert parse_value("usage-report", "interval", "2026-11-01/P7D") == "2026-11-01/P7D"
    with pytest.raises(ConfigError, match="invalid top_n 'five': expected an integer"):
        parse_value("usage-report", "top_n", "five")
    with pytest.raises(ConfigError, match="invalid refresh 'maybe': use true or false"):
        parse_value("usage-report", "refresh", "maybe")
    with pytest.raises(ConfigError, match="looks like a credential"):
        parse_value("usage-report", "access_token", "x")


def test_the_fetch_default_interval_is_whole_buckets() -> None:
    """Re-running the fetch notebook on another day must not cut a stored week or month."""
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
    week = validate("fetch-usage", granularity="Week", now=now).interval
    assert week.start.weekday() == 0 and week.end == datetime(2026, 11, 27, tzinfo=UTC)
    month = validate("fetch-usage", granularity="Month", now=now).interval
    assert month.start.day == 1
    explicit = validate("fetch-usage", interval="2026-11-04/2026-11-12", granularity="Week",
                        now=now)
    assert explicit.interval.text == "2026-11-04T00:00:00Z/2026-11-12T00:00:00Z"


def test_refused_http_methods_are_the_usage_apis() -> None:
    from usagekit.row import HTTP_METHODS

    for name in ("explore-usage", "explore-interactive"):
        assert [validate(name, http_method=m.lower()).http_method for m in HTTP_METHODS] == \
            list(HTTP_METHODS)
        with pytest.raises(ConfigError, match=r"invalid http_method 'OPTIONS': use one of "
                                              + ", ".join(HTTP_METHODS) + "$"):
            validate(name, http_method="OPTIONS")


def test_a_parameter_the_notebook_does_not_declare_is_no_attribute() -> None:
    p = validate("fetch-usage")
    with pytest.raises(AttributeError, match=r"the fetch-usage notebook has no parameter "
                                             r"'top_n': its parameters are interval, "):
        _ = p.top_n
    assert not hasattr(p, "metric") and p["api"] == "legacy"
    with pytest.raises(KeyError, match="fetch-usage notebook has no parameter 'licences'"):
        _ = p["licences"]


def _write_notebook(path: Path, cell: str) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    parameters_cell = nbformat.v4.new_code_cell(cell)
    parameters_cell.metadata["tags"] = ["parameters"]
    nb.cells = [parameters_cell, nbformat.v4.new_code_cell("p = 1")]
    nbformat.write(nb, path)
    return path


def test_a_parameter_added_to_the_cell_is_read_with_its_type_and_default(
        tmp_path: Path) -> None:
    """No code change: the notebook's cell is the declaration, papermill reads it."""
    path = tmp_path / "07-custom-view.ipynb"
    lines = ['interval: str = "2026-11-01/2026-11-08"  # ISO-8601',
             'top_n: int = 5  # rows named']
    _write_notebook(path, "\n".join(lines))
    assert validate(path).values.keys() == {"interval", "top_n"}
    lines += ['colour: str = "teal"  # the chart colour',
              "threshold: float = 0.25  # share that counts as busy",
              "rounds: int = 3  # how many passes",
              "dry_run: bool = False  # only show what would run"]
    _write_notebook(path, "\n".join(lines))

    declared = parameters(path)
    assert [(p.name, p.type, p.default) for p in declared.values()][2:] == [
        ("colour", str, "teal"), ("threshold", float, 0.25), ("rounds", int, 3),
        ("dry_run", bool, False)]
    assert declared["colour"].help == "the chart colour"
    p = validate(path, env={})
    assert p.notebook == "custom-view"
    assert (p.colour, p.threshold, p.rounds, p.dry_run, p.top_n) == ("teal", 0.25, 3, False, 5)
    p = validate(path, env={}, colour="navy", threshold=1, rounds=9, dry_run=True)
    assert (p.colour, p.threshold, p.rounds, p.dry_run) == ("navy", 1.0, 9, True)
    assert type(p.threshold) is float
    assert (parse_value(path, "threshold", "0.5"), parse_value(path, "rounds", "4"),
            parse_value(path, "dry_run", "yes"), parse_value(path, "colour", "red")) == (
        0.5, 4, True, "red")
    with pytest.raises(ConfigError, match=r"invalid rounds '9': expected an integer, got str"):
        validate(path, rounds="9")
    with pytest.raises(ConfigError, match=r"invalid threshold 'x': expected a number"):
        parse_value(path, "threshold", "x")
    with pytest.raises(ConfigError, match=r"invalid top_n 0: use an integer from 1 to 20"):
        validate(path, top_n=0)  # a known name keeps its rule in any notebook
    with pytest.raises(ConfigError, match=r"unknown parameter 'engine' for the custom-view "
                                          r"notebook: valid names are interval, top_n, colour, "
                                          r"threshold, rounds, dry_run$"):
        validate(path, engine="local")


@pytest.mark.parametrize(("line", "message"), [
    ("items: list = []  # a list", r"parameter 'items' of bad.ipynb: annotate it with one of "
                                   r"str, int, float, bool, not 'list'"),
    ("count = 3  # no annotation", r"parameter 'count' of bad.ipynb: annotate it"),
    ('top_n: int = "10"  # a string', r"parameter 'top_n' of bad.ipynb: its default \"10\" "
                                      r"is not int"),
])
def test_a_parameter_must_be_a_typed_literal(tmp_path: Path, line: str, message: str) -> None:
    path = _write_notebook(tmp_path / "bad.ipynb", line)
    with pytest.raises(ConfigError, match=message):
        validate(path)


def _values_to_try(kind: type) -> list[Any]:
    """Good and bad values of each type, for every rule."""
    if kind is bool:
        return [True, False, 1]
    if kind is int:
        return [0, 1, 7, 20, 21, 250, 20_000_000, True, "3"]
    return ["", " ", "week", "Month", "ATHENA", "trino", "spark", "post", "OPTIONS", "cx 3",
            "Gold", "status429", "hits", "aggregates", "httpmethod, OAuthClientId",
            "Colour", "reports/x", "s3://b/p/", "2026-11-01/2026-11-22", "last week",
            " wallboard ", "not a/name", "blueprint", 5]


def _outcome(notebook: str, name: str, value: Any) -> Any:
    try:
        return getattr(validate(notebook, env={}, now=NOW, **{name: value}), name)
    except ConfigError as exc:
        return str(exc)


def test_a_parameter_is_validated_the_same_in_every_notebook() -> None:
    """A name's rule does not depend on the notebook that declares it."""
    from usagekit.report.cells import notebooks

    declaring: dict[str, list[str]] = {}
    for notebook in notebooks():
        for name in parameters(notebook):
            declaring.setdefault(name, []).append(notebook)
    shared = {name: books for name, books in declaring.items() if len(books) > 1}
    assert {"interval", "granularity", "dataset", "engine", "http_method", "top_n",
            "refresh", "profile", "output_dir"} <= shared.keys()
    for name, books in shared.items():
        kind = parameters(books[0])[name].type
        for value in _values_to_try(kind):
            outcomes = {_outcome(book, name, value) for book in books}
            assert len(outcomes) == 1, (name, value, outcomes)


@pytest.mark.parametrize("granularity", ["Week", "Month"])
def test_every_default_interval_is_whole_buckets(granularity: str) -> None:
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
    intervals = {validate(name, granularity=granularity, now=now).interval
                 for name in ("fetch-usage", "explore-usage", "usage-report",
                              "explore-interactive")}
    assert intervals == {default_interval(now).aligned(granularity, now.date())}


def _cell_literals(path: Path) -> dict[str, Any]:
    """The parameters cell read with ast (not papermill): name -> literal value."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.target.id: ast.literal_eval(node.value)  # type: ignore[attr-defined]
            for node in ast.parse(cell.source).body if isinstance(node, ast.AnnAssign)}


def test_defaults_are_the_notebook_cell() -> None:
    from usagekit.report.cells import notebooks

    for name, path in notebooks().items():
        literals = _cell_literals(path)
        declared = parameters(name)
        assert {n: p.default for n, p in declared.items()} == literals
        assert {n: type(v) for n, v in literals.items()} == {
            n: p.type for n, p in declared.items()}
        defaults = validate(name, env={}, now=NOW)
        assert defaults == validate(name, env={}, now=NOW, **literals)
        assert defaults.output_dir == PROJECT_ROOT / literals["output_dir"]
        assert defaults.granularity == literals["granularity"]


def test_org_names_one_of_the_datasets_orgs(tmp_path: Path) -> None:
    """``org`` is resolved among the dataset's orgs (name ignoring case, id or short id)."""
    from tests.orgs import ORG
    from usagekit.dataset import open_dataset
    from usagekit.row import Org

    other = Org("6f5e4d3c-2b1a-4c0d-8e9f-a0b1c2d3e4f5", "Test Org Staging", "usw2.pure.cloud")
    row = {"clientId": "c", "clientName": "C", "organizationId": "", "userId": "",
           "templateUri": "", "httpMethod": "", "status200": 1, "status300": 0,
           "status400": 0, "status500": 0, "status429": 0, "requests": 1,
           "date": "2026-10-01T00:00:00Z"}
    for org in (ORG, other):
        open_dataset(str(tmp_path), org=org).write([row], granularity="day",
                                                   grouping="oauthclientid")
    for notebook in ("usage-report", "explore-usage", "explore-interactive"):
        for text, want in (("test org", ORG), ("TEST ORG STAGING", other), (ORG.id, ORG),
                           (f" {other.short_id} ", other), ("", None)):
            p = validate(notebook, dataset=str(tmp_path), org=text)
            assert p.org == want, (notebook, text)
    described = validate("usage-report", dataset=str(tmp_path), org="test org").describe()
    assert described["org"] == {"id": ORG.id, "name": ORG.name, "region": ORG.region,
                                "fictional": False}
    with pytest.raises(ConfigError) as exc:
        validate("usage-report", dataset=str(tmp_path), org="Test")
    assert "invalid org 'Test'" in str(exc.value)
    assert ORG.label in str(exc.value) and other.label in str(exc.value)
