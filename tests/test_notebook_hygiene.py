"""Committed notebooks: no outputs, typed parameters validated next, python3, ruff clean."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from usagekit.report.cells import notebooks, parameters

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
BIN = Path(sys.executable).parent
#: Metadata that executions add and nbstripout keeps unless told (notebook-stack.md §5.3).
EXTRA_KEYS = ("metadata.papermill cell.metadata.papermill cell.metadata.execution "
              "metadata.language_info.version metadata.widgets")
#: The name each numbered notebook goes by (its file name without the number).
KINDS = {"01-fetch-usage.ipynb": "fetch-usage", "02-explore-usage.ipynb": "explore-usage",
         "03-usage-report.ipynb": "usage-report",
         "04-explore-interactive.ipynb": "explore-interactive"}


def test_the_numbered_notebooks_exist() -> None:
    assert set(KINDS) <= {p.name for p in NOTEBOOKS}
    assert {name: path.name for name, path in notebooks().items()} == {
        name: file for file, name in KINDS.items()}


def test_a_parameter_name_has_one_type_in_every_notebook() -> None:
    """Rules go by name (usagekit.report.params), so a name means the same everywhere."""
    types: dict[str, set[type]] = {}
    for name in KINDS.values():
        for parameter in parameters(name).values():
            types.setdefault(parameter.name, set()).add(parameter.type)
    assert {name: kinds for name, kinds in types.items() if len(kinds) > 1} == {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "papermill" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has a count"
        assert not {"papermill", "execution"} & set(cell.metadata)


def test_nbstripout_verify_passes() -> None:
    tool = BIN / "nbstripout"
    if not tool.exists():
        pytest.skip(f"nbstripout is not installed in {BIN}")
    done = subprocess.run([str(tool), "--verify", "--extra-keys", EXTRA_KEYS,
                           *map(str, NOTEBOOKS)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_nbstripout_verify_catches_an_executed_notebook(tmp_path: Path) -> None:
    tool = BIN / "nbstripout"
    if not tool.exists():
        pytest.skip(f"nbstripout is not installed in {BIN}")
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.execution_count = 1
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    dirty = tmp_path / "dirty.ipynb"
    nbformat.write(nb, dirty)
    done = subprocess.run([str(tool), "--verify", "--extra-keys", EXTRA_KEYS, str(dirty)],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0


def test_ruff_is_clean_on_notebooks() -> None:
    tool = BIN / "ruff"
    if not tool.exists():
        pytest.skip(f"ruff is not installed in {BIN}")
    done = subprocess.run([str(tool), "check", str(ROOT / "notebooks")], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(KINDS))
def test_parameters_cell_is_first_typed_commented_and_validated_next(name: str) -> None:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    tree = ast.parse(code[0].source)
    names = []
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), ast.unparse(node)
        assert isinstance(node.value, ast.Constant), "parameters are plain literals"
        names.append(node.target.id)  # type: ignore[attr-defined]
    assert names == list(parameters(KINDS[name]))
    for line in code[0].source.splitlines():
        comment = re.search(r"#\s*(.+)$", line)
        assert comment, f"no comment on {line!r}"
        assert "=" not in comment.group(1), f"papermill cannot parse '=' in {line!r}"
    validate = ast.parse(code[1].source)
    calls = [n for n in ast.walk(validate) if isinstance(n, ast.Call)
             and ast.unparse(n.func) == "report.validate"]
    assert calls, "the cell after the parameters calls report.validate"
    call = calls[0]
    assert ast.literal_eval(call.args[0]) == KINDS[name]
    assert sorted(k.arg for k in call.keywords) == sorted(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_hold_calls_not_logic(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            declared = "parameters" in cell.metadata.get("tags", [])  # one literal a line
            assert len(cell.source.splitlines()) <= (16 if declared else 12), (
                f"long cell in {path.name}")
            tree = ast.parse(cell.source)
            assert not [n for n in ast.walk(tree) if isinstance(
                n, ast.FunctionDef | ast.ClassDef | ast.For | ast.While)], (
                f"{path.name}: move functions and loops into usagekit")
