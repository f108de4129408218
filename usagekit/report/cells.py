"""The kit's notebooks by name, and the parameters each declares in its ``parameters`` cell.

A notebook's name is its file name without the number and extension:
``notebooks/03-usage-report.ipynb`` is ``usage-report``. Its parameters are declared
there and nowhere else: the first cell tagged ``parameters`` holds one typed literal per
line, its comment the help::

    top_n: int = 10  # clients named in charts and tables; the rest are "other"

papermill reads them (:func:`papermill.inspect_notebook`: the name, the annotation's type,
the default and the comment). :func:`parameters` returns them typed, reading each
notebook file once (again when the file changes). papermill loads only then, so that
``usagekit report --help`` stays fast.
"""

from __future__ import annotations

import ast
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from usagekit.config.settings import NOTEBOOKS_DIR
from usagekit.exceptions import ConfigError

#: The annotations a parameters cell may use, and the types they stand for.
TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}
_NUMBER = re.compile(r"^\d+-")


@dataclass(frozen=True)
class Parameter:
    """One line of a parameters cell.

    Attributes
    ----------
    name : str
        The variable: ``top_n``.
    type : type
        Its annotation's type (one of :data:`TYPES`): ``int``.
    default : Any
        Its literal value: ``10``.
    help : str
        Its trailing comment.
    """

    name: str
    type: type
    default: Any
    help: str


def notebooks() -> dict[str, Path]:
    """The kit's notebooks (``notebooks/*.ipynb``) by name, in file order."""
    return {notebook_name(path): path for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb"))}


def notebook_name(notebook: str | os.PathLike[str]) -> str:
    """A notebook's name: a kit notebook's name as given, a file's name without its number.

    Examples
    --------
    >>> notebook_name(Path("notebooks/03-usage-report.ipynb"))
    'usage-report'
    """
    return notebook if isinstance(notebook, str) else _NUMBER.sub("", Path(notebook).stem)


def notebook_path(notebook: str | os.PathLike[str]) -> Path:
    """The file of ``notebook``: the name of one of :func:`notebooks`, or a path.

    Raises
    ------
    ConfigError
        For a name that is none of the kit's notebooks (naming them).
    """
    if not isinstance(notebook, str):
        return Path(notebook)
    found = notebooks()
    if notebook not in found:
        raise ConfigError(f"unknown notebook {notebook!r}: use one of {', '.join(found)}")
    return found[notebook]


def parameters(notebook: str | os.PathLike[str]) -> dict[str, Parameter]:
    """The parameters ``notebook`` declares, in its cell's order.

    Parameters
    ----------
    notebook : str or path
        A kit notebook's name (``usage-report``) or a notebook file.

    Raises
    ------
    ConfigError
        For an unknown notebook, an unreadable file, or a parameter that is not a typed
        literal (``name: str = "text"``) of one of :data:`TYPES`.
    """
    path = notebook_path(notebook)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read notebook {str(path)!r}: {exc.strerror}") from exc
    return {p.name: p for p in _read(path.resolve(), stat.st_mtime_ns, stat.st_size)}


@functools.cache
def _read(path: Path, mtime_ns: int, size: int) -> tuple[Parameter, ...]:
    """The parameters cell of ``path`` as it is at ``mtime_ns`` and ``size`` (the cache key)."""
    import papermill

    try:
        declared = papermill.inspect_notebook(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the parameters of {str(path)!r}: {exc}") from exc
    return tuple(_parameter(path, line) for line in declared.values())


def _parameter(path: Path, line: dict[str, Any]) -> Parameter:
    name, type_name, text = line["name"], line["inferred_type_name"], line["default"]
    where = f"parameter {name!r} of {path.name}"
    kind = TYPES.get(type_name)
    if kind is None:
        raise ConfigError(f"{where}: annotate it with one of {', '.join(TYPES)}, not "
                          f"{type_name!r}")
    try:
        default = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ConfigError(f"{where}: its default {text} is not a literal") from None
    if kind is float and type(default) is int:
        default = float(default)
    if type(default) is not kind:
        raise ConfigError(f"{where}: its default {text} is not {type_name}")
    return Parameter(name, kind, default, line["help"])
