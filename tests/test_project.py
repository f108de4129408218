"""The project's shape: the data flow's import direction, and dependency files in sync."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "usagekit"

# Stage of every module, in the order of the data flow. A module may import modules of
# its own or an earlier stage only. Base modules sit below every stage.
STAGES: dict[str, int] = {
    "config": 0, "exceptions": 0, "stack": 0,
    "query": 1,
    "regions": 2, "auth": 2, "_http": 2, "fetch": 2,
    "frame": 3,
    "dataset": 4, "_local": 4, "_s3": 4,
    "engine": 5, "_duckdb": 5, "_athena": 5, "_sqlglot": 5,
    "analyses": 6,
    "charts": 7,
    "params": 8, "report": 8, "embedded": 8,
    "cli": 9, "__main__": 9,
}
SANDBOX_IMPORTERS = {"embedded", "cli", "__main__"}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _usagekit_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "usagekit"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "usagekit":
                found |= {
                    f"usagekit.{a.name}"
                    for a in node.names
                    if (PACKAGE / f"{a.name}.py").exists() or (PACKAGE / a.name).is_dir()
                }
            elif node.module.startswith("usagekit."):
                found.add(node.module)
    return found


def _top(module: str) -> str:
    """`usagekit.cli._fetch` -> `cli`; `usagekit.fetch` -> `fetch`."""
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
        if me == "sandbox":
            assert other == "sandbox", f"the sandbox must not import {target}"
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
