"""The project's shape: the data flow's import direction, and dependency files in sync."""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "usagekit"

# Stage of every top-level module or package, in the order of the data flow. A module may
# import modules of its own or an earlier stage only. Base modules sit below every stage.
STAGES: dict[str, int] = {
    "config": 0, "exceptions": 0, "lazy": 0, "row": 0, "display": 0,
    "query": 1,
    "fetch": 2, "embedded": 2,
    "frame": 3,
    "dataset": 4,
    "engine": 5,
    "analyses": 6,
    "watch": 7,
    "charts": 8,
    "report": 9, "explore": 9,
    "cli": 10, "__main__": 10,
}
SANDBOX_IMPORTERS = {"embedded", "cli", "__main__"}
#: The stages that are packages: one folder each, as the README's table lists them.
STAGE_PACKAGES = {"config", "query", "fetch", "dataset", "engine", "analyses", "watch", "charts",
                  "report", "explore", "cli", "sandbox"}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def _usagekit_imports(path: Path) -> set[str]:
    """Every ``usagekit`` module ``path`` imports, at module level or inside functions.

    ``from usagekit.x import y`` counts as importing ``usagekit.x.y`` when that is a module,
    else ``usagekit.x``; relative imports are resolved against the importing module.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "usagekit"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] != "usagekit":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if _is_module(sub) else module)
    return found - {me}


def _top(module: str) -> str:
    """`usagekit.cli.fetch` -> `cli`; `usagekit.fetch` -> `fetch`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_follow_the_data_flow(path: Path) -> None:
    me = _top(_module_name(path))
    for target in sorted(_usagekit_imports(path)):
        other = _top(target)
        if other == "__init__":
            continue
        if me == "sandbox":  # its package exports through usagekit.lazy, as every package does
            assert other in {"sandbox", "lazy"}, f"the sandbox must not import {target}"
            continue
        if other == "sandbox":
            assert me in SANDBOX_IMPORTERS, f"{_module_name(path)} must not import the sandbox"
            continue
        if me == "__init__":
            continue
        assert me in STAGES, f"classify module {me!r} in STAGES"
        assert other in STAGES, f"classify module {other!r} in STAGES"
        assert STAGES[other] <= STAGES[me], (
            f"{_module_name(path)} (stage {STAGES[me]}) imports {target} "
            f"(stage {STAGES[other]}): data flows one way"
        )


def test_every_module_is_classified() -> None:
    tops = {_top(_module_name(p)) for p in MODULES} - {"__init__", "sandbox"}
    assert tops <= set(STAGES), f"unclassified modules: {sorted(tops - set(STAGES))}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``graph`` (as the list of modules around it), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circle_anywhere() -> None:
    """No module reaches itself through imports, at module level or inside functions.

    A package's ``__init__`` imports its modules; a module of the package importing the
    package itself (instead of the sibling it needs) closes a circle and fails here too.
    """
    graph = {_module_name(p): _usagekit_imports(p) for p in MODULES}
    circle = _cycle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_cycle_check_finds_circles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    assert _cycle({"a": {"a"}}) == ["a", "a"]


def test_stages_with_several_modules_are_packages() -> None:
    """The tree reads like the flow: multi-module stages are folders, no ``_private`` files."""
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == STAGE_PACKAGES
    private = [str(p.relative_to(ROOT)) for p in MODULES
               if p.name.startswith("_") and p.name not in {"__init__.py", "__main__.py"}]
    assert private == [], f"name these modules for what they do: {private}"


#: Packages that export names (``cli`` is the command line: ``usagekit.cli.main``).
EXPORTING = sorted(STAGE_PACKAGES - {"cli"})
#: The row's vocabulary, declared by ``usagekit.row``, that stage packages still re-export
#: under their own spellings while they move to ``usagekit.row`` (issue 20).
ROW_VOCABULARY = {name for name in vars(importlib.import_module("usagekit.row"))
                  if name.isupper()} | {"LEGACY_FIELDS", "SOURCE_COLUMNS", "TABLE_COLUMNS"}


def _lazy_exports(package: str) -> dict[str, tuple[str, ...]]:
    """The package's exports by module, as its ``__init__`` hands them to ``lazy_exports``."""
    tree = ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8"))
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    shape = [ast.dump(node) for node in body[:2]]
    assert shape == [ast.dump(ast.parse("from __future__ import annotations").body[0]),
                     ast.dump(ast.parse("from usagekit.lazy import lazy_exports").body[0])], (
        f"usagekit.{package}: its __init__ imports only usagekit.lazy's lazy_exports")
    assert len(body) == 3, f"usagekit.{package}: its __init__ holds its exports and nothing else"
    node = body[2]
    assert (isinstance(node, ast.Assign) and ast.unparse(node.targets[0])
            == "(__all__, __getattr__, __dir__)" and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func) == "lazy_exports"
            and ast.unparse(node.value.args[0]) == "__name__"), (
        f"usagekit.{package}: __all__, __getattr__, __dir__ = lazy_exports(__name__, {{...}})")
    return ast.literal_eval(node.value.args[1])


@pytest.mark.parametrize("package", EXPORTING)
def test_every_package_exports_one_way(package: str) -> None:
    """Every package exports through ``usagekit.lazy`` (PEP 562): names load on first use,
    so a light import (``usagekit --help``, ``usagekit.report.params``) stays light."""
    exports = _lazy_exports(package)
    module = importlib.import_module(f"usagekit.{package}")
    modules = {p.stem for p in (PACKAGE / package).iterdir() if p.suffix == ".py" or p.is_dir()}
    for name, owner in ((n, m) for m, names in exports.items() for n in names):
        assert (PACKAGE / package / f"{owner}.py").is_file(), f"usagekit.{package}.{owner}?"
        # importing a submodule sets it on the package, hiding an export of the same name
        assert name not in modules, f"usagekit.{package}.{name} is a module and an export"
        assert hasattr(importlib.import_module(f"usagekit.{package}.{owner}"), name), (
            f"usagekit.{package}.{owner} has no {name}")
        assert getattr(module, name) is getattr(
            importlib.import_module(f"usagekit.{package}.{owner}"), name)


def test_the_command_line_package_exports_nothing() -> None:
    tree = ast.parse((PACKAGE / "cli" / "__init__.py").read_text(encoding="utf-8"))
    assigned = {ast.unparse(t) for node in tree.body if isinstance(node, ast.Assign)
                for t in node.targets}
    assert "__all__" not in assigned


def test_no_name_is_exported_by_two_packages() -> None:
    """A name means one thing: ``charts.plot_fair_use`` draws what ``analyses.fair_use``
    returns; no two packages export one name (with one meaning or two)."""
    owners: dict[str, list[str]] = {}
    for package in EXPORTING:
        for name in importlib.import_module(f"usagekit.{package}").__all__:
            owners.setdefault(name, []).append(package)
    twice = {name: where for name, where in owners.items()
             if len(where) > 1 and name not in ROW_VOCABULARY}
    assert twice == {}


def test_the_readme_lists_each_stages_exports() -> None:
    """The stage table of README.md ("How it works") names what each package exports."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()
            if line.startswith("| ") and line.count("|") >= 4}
    for package in EXPORTING:
        names = set(importlib.import_module(f"usagekit.{package}").__all__) - ROW_VOCABULARY
        assert package in rows, f"README's stage table has no row for {package}"
        listed = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", rows[package].split("|")[-2]))
        assert listed == names, f"{package}: README lists {sorted(listed)}, exports {sorted(names)}"


def _requirement(text: str) -> tuple[str, str]:
    """Split a requirement into a normalised name (with extras) and its specifier."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*?)\s*", text)
    assert match, f"unparsable requirement {text!r}"
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    return name + (match.group(2) or "").lower(), match.group(3).replace(" ", "")


CONDA_NAMES = {"python-duckdb": "duckdb"}


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_requirement(r) for r in project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= dict(_requirement(r) for r in extra if not r.startswith("usagekit"))

    listed: dict[str, str] = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        item = re.fullmatch(r"\s+- (.+?)\s*(#.*)?", line)
        if not item or item.group(1) in {"pip", "pip:"} or item.group(1).startswith(
            ("python=", "--")
        ):
            continue
        name, spec = _requirement(item.group(1))
        listed[CONDA_NAMES.get(name, name)] = spec
    assert listed == wanted


# -- the row's vocabulary is spelt in usagekit/row.py only ----------------------------------

#: Where the vocabulary may be spelt: the row module, and the sandbox (it plays Genesys
#: Cloud, so it keeps its own lists on purpose).
VOCABULARY_HOMES = {PACKAGE / "row.py", PACKAGE / "sandbox"}


def _vocabulary() -> dict[str, frozenset[str]]:
    """Each kind of vocabulary term -> its terms (in every spelling the kit knows)."""
    from usagekit import row

    return {
        "fields": frozenset({*row.ROW_FIELDS, *row.SORT_FIELDS}),
        "metrics": frozenset(row.METRICS),
        "groupBy names": frozenset({*row.GROUP_BY, *(d.aggregates for d in row.DIMENSIONS)}),
        "filters": frozenset(d.filter for d in row.DIMENSIONS),
        "grouping-key parts": frozenset(row.GROUPING_KEYS),
        "granularities": frozenset({*row.GRANULARITIES, *row.GRANULARITY_VALUES}),
        "partition keys": frozenset(row.PARTITION_KEYS),
        "HTTP methods": frozenset(row.HTTP_METHODS),
        "APIs": frozenset(row.APIS),
    }


def _terms(node: ast.AST) -> set[str]:
    """The vocabulary-like words a literal spells: a string, or a string's listed words.

    A string counts as itself; its words joined by ``|`` or ``,`` (``day|week|month``,
    ``"requests,status429"``) count each, unless the list goes on in prose ("day, week or
    month").
    """
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return set()
    text = node.value
    listed = {word for run in re.finditer(r"\w+(?:[ \t]*[|,][ \t]*\w+)+", text)
              if not re.match(r",?\s+(?:or|and)\b", text[run.end():])
              for word in re.findall(r"\w+", run.group())}
    return {text} | listed


def spelt_vocabulary(source: str) -> list[tuple[int, str, list[str]]]:
    """Where ``source`` spells two or more terms of one kind of the row's vocabulary.

    Looks at literal tuples, lists and sets, dicts (keys and values together), and strings
    that list words with ``|`` or ``,`` (docstrings excepted). Returns (line, kind, terms).
    """
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            words = set().union(set(), *map(_terms, node.elts))
        elif isinstance(node, ast.Dict):
            words = set().union(set(), *map(_terms, [*filter(None, node.keys), *node.values]))
        elif isinstance(node, ast.Constant) and id(node) not in docstrings:
            words = _terms(node) - {node.value}
        else:
            continue
        for kind, terms in _vocabulary().items():
            if len(words & terms) >= 2:
                found.append((node.lineno, kind, sorted(words & terms)))
    return sorted(found)


def test_vocabulary_is_spelt_in_row_only() -> None:
    """Fields, counts, dimensions, granularities, metrics, methods and APIs come from row.

    A module that needs a list of them imports it from ``usagekit.row`` (or names its items
    with row's constants), so adding a metric or a dimension is one change there. SQL files
    may spell columns: that is their language.
    """
    offences: list[str] = []
    for path in MODULES:
        if any(path == home or home in path.parents for home in VOCABULARY_HOMES):
            continue
        spelt = spelt_vocabulary(path.read_text(encoding="utf-8"))
        offences += [f"{path.relative_to(ROOT)}:{line}: {kind} {', '.join(terms)}"
                     for line, kind, terms in spelt]
    assert offences == [], "spell these with usagekit.row's names:\n" + "\n".join(offences)


def test_vocabulary_check_finds_spelt_lists() -> None:
    planted = '''
"""Docstrings may name Day, Week, Month."""
GRANULARITIES = ("day", "week", "month")
fields = frame[["clientId", "clientName"]]
by = {"OAuthClientId": "OauthClientId"}
pattern = "granularity=<day|week|month>/"
prose = "the dataset keeps day, week or month rows"
one = frame["requests"]
mixed = ("month", "requests")
named = (row.CLIENT_ID, row.CLIENT_NAME)
'''
    assert spelt_vocabulary(planted) == [
        (3, "granularities", ["day", "month", "week"]),
        (4, "fields", ["clientId", "clientName"]),
        (5, "groupBy names", ["OAuthClientId", "OauthClientId"]),
        (6, "granularities", ["day", "month", "week"]),
    ]


_NEW_COUNT = 'Count("status404", "Status404", "notFoundCount"),'
_SCHEMAS = """
import json, re, sys
from datetime import date
from usagekit import row
from usagekit.dataset import open_dataset
from usagekit.engine import DuckDBEngine
from usagekit.engine.trino import table_ddl
from usagekit.engine.duckdb import FILE_COLUMNS
from usagekit.fetch.result import normalize_aggregate_row
from usagekit.frame import read_ndjson
from usagekit.query import UsageQuery

api_row = {**dict.fromkeys(row.ID_FIELDS, ""), **dict.fromkeys(row.COUNT_FIELDS, 1),
           row.DATE: "2026-11-02T00:00:00Z"}
entity = {**{c.aggregates: 1 for c in row.COUNTS}, "date": "2026-11-02"}
dataset = open_dataset(sys.argv[1],
                       org=row.Org("0c0c0c0c-0000-4000-8000-000000000000", "Copy", "sandbox"))
dataset.write([api_row], granularity="day", grouping=row.NO_GROUPING)
with DuckDBEngine(dataset) as engine:
    stored = engine.sql("SELECT * FROM " + engine.source)
query = UsageQuery.build("2026-11-02/2026-11-03", metrics=["status404"], api="aggregates",
                         sort_by=["status404:desc"], today=date(2026, 11, 27))
print(json.dumps({
    "stored columns": list(row.STORED_COLUMNS),
    "Arrow schema": row.arrow_schema().names,
    "frame dtypes": list(row.pandas_dtypes()),
    "SQL columns": list(row.SQL_COLUMNS),
    "DuckDB file columns": list(FILE_COLUMNS),
    "Trino DDL": re.findall(r'"(\\w+)" \\w+', table_ddl("local:///usage")[1]),
    "typed frame": list(read_ndjson(json.dumps(api_row).encode(), granularity="day",
                                    grouping=row.NO_GROUPING).columns),
    "aggregates row": list(normalize_aggregate_row(entity)),
    "DuckDB table": list(stored.columns),
    "stored value": int(stored["status404"].iloc[0]),
    "aggregates body": [query.aggregates_body()["metrics"], query.aggregates_body()["sortBy"]],
}))
"""


def test_adding_a_metric_is_one_change(tmp_path: Path) -> None:
    """One more ``Count`` in row's ``COUNTS`` reaches every schema the stages derive.

    A copy of the package gets a new count (``status404``) in ``usagekit/row.py`` and
    nothing else; the frame's dtypes and Arrow schema, the SQL and DuckDB columns, the Trino
    DDL, the normalised aggregates row, a written and queried dataset and the aggregates
    request all carry it. (The CloudFormation Glue table is YAML: test_cloudformation checks
    it lists row's columns.)
    """
    copy = tmp_path / "copy"
    shutil.copytree(PACKAGE, copy / "usagekit",
                    ignore=shutil.ignore_patterns("__pycache__", "sandbox"))
    source = (copy / "usagekit" / "row.py").read_text(encoding="utf-8")
    last = '    Count(REQUESTS, "Requests", "requestCount"),\n'
    assert source.count(last) == 1
    (copy / "usagekit" / "row.py").write_text(
        source.replace(last, f"{last}    {_NEW_COUNT}\n"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    done = subprocess.run([sys.executable, "-c", _SCHEMAS, str(tmp_path / "usage")],
                          capture_output=True, text=True, env=env, cwd=copy, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)

    from usagekit import row

    counts = [*row.COUNT_FIELDS, "status404"]
    fields = [*row.ID_FIELDS, *counts, row.DATE]
    stored = [*fields, *row.OPTIONAL_FIELDS]
    partitions = list(row.PARTITION_KEYS)
    assert found.pop("stored value") == 1
    assert found.pop("aggregates body") == [
        ["Status404"], [{"fieldName": "notFoundCount", "order": "Desc"}]]
    assert found == {
        "stored columns": stored,
        "Arrow schema": stored,
        "frame dtypes": [*stored, *partitions],
        "SQL columns": [*stored, *partitions],
        "DuckDB file columns": stored,
        "Trino DDL": [name.lower() for name in (*stored, *partitions)],
        "typed frame": [*fields, "granularity", "grouping"],
        "aggregates row": fields,
        "DuckDB table": [*stored, *partitions],
    }
