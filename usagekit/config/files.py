"""Settings files: a TOML file read whole, its faults named with the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from usagekit.exceptions import ConfigError


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The TOML file at ``path``; ``what`` names it in errors (``"rules file"``).

    Raises
    ------
    ConfigError
        The file cannot be read or is not TOML, naming it.
    """
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {target}: {exc.strerror}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {target} is not valid TOML: {exc}") from exc
