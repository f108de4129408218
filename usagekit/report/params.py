"""Validate the parameters of the kit's notebooks (papermill only warns on unknown names).

Each notebook's first code cell, tagged ``parameters``, holds plain typed literals;
the next cell calls :func:`validate` with them. It returns a frozen
:class:`NotebookParams` with every value checked and resolved (the interval parsed, the
dataset location and output folder made absolute, the fair-use allowance computed), or
raises :class:`~usagekit.exceptions.ConfigError` naming the bad value and the valid ones.

Credentials are never parameters: a parameter name that looks like a secret, or a value
equal to a secret in the environment, is refused. Notebooks get credentials from the
environment through :func:`usagekit.embedded.connect`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from usagekit import config
from usagekit.analyses import FAIR_USE_ALLOWANCES
from usagekit.analyses.library import VIEW_METRICS
from usagekit.config.settings import (
    ENGINES,
    ENV_ACCESS_TOKEN,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_REGION,
    PROJECT_ROOT,
    REPORTS_DIR,
    SECRET_ENV_VARS,
    is_s3,
)
from usagekit.exceptions import ConfigError, QueryError
from usagekit.query import GRANULARITIES, GROUP_BY, Interval, parse_interval
from usagekit.query.usage_query import grouping_key, split_names

_logger = logging.getLogger(__name__)

#: Default interval length when ``interval`` is "": the last N complete UTC days.
DEFAULT_DAYS = 90
MAX_TOP_N = 20
#: Parameter names each notebook accepts (its ``parameters`` cell), by notebook key.
NOTEBOOK_PARAMETERS: dict[str, tuple[str, ...]] = {
    "fetch": ("interval", "granularity", "group_by", "api", "dataset", "engine",
              "output_dir", "profile"),
    "explore": ("interval", "granularity", "dataset", "client", "template_uri",
                "http_method", "top_n", "refresh", "output_dir", "profile"),
    "report": ("interval", "granularity", "engine", "dataset", "output_dir", "top_n",
               "licence_tier", "licensed_users", "refresh", "profile"),
    "explorer": ("interval", "granularity", "engine", "dataset", "client", "template_uri",
                 "http_method", "metric", "top_n", "refresh", "profile", "output_dir"),
}
_TYPES: dict[str, type] = {
    "interval": str, "granularity": str, "group_by": str, "api": str, "dataset": str,
    "output_dir": str, "engine": str, "client": str, "template_uri": str,
    "http_method": str, "top_n": int, "licence_tier": str, "licensed_users": int,
    "refresh": bool, "profile": str, "metric": str,
}
_TYPE_WORDS = {str: "a string", int: "an integer", bool: "True or False"}
_SECRET_NAME = re.compile(
    r"secret|token|passw|pwd|credential|api_?key|access_?key|private_?key|auth",
    re.IGNORECASE,
)
_MIN_SECRET_LENGTH = 6
_PROFILE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class NotebookParams:
    """A notebook's parameters, checked and resolved.

    Attributes
    ----------
    notebook : str
        Which notebook's set (``fetch``, ``explore``, ``report``, ``explorer``).
    interval : Interval
        Half-open UTC interval.
    granularity : str
        API spelling: ``Day``, ``Week`` or ``Month``.
    engine : str
        ``local`` (DuckDB) or ``athena``.
    dataset : str
        Absolute local folder or ``s3://`` URL.
    output_dir : Path
        Absolute folder for the notebook's artefacts (relative values are taken from the
        project root, never from the working directory).
    top_n : int
        Clients / endpoints named in charts and tables; the rest are "other".
    licence_tier, licensed_users, monthly_allowance
        Fair-use settings: allowance = the tier's per-user monthly allowance
        (:data:`usagekit.analyses.FAIR_USE_ALLOWANCES`) times the number of users.
    refresh : bool
        Sync the dataset (fetch what is missing for the interval) before analysing it.
    group_by : tuple of str
        Canonical groupBy names to fetch (the fetch notebook).
    api : str
        ``legacy`` or ``aggregates`` (the fetch notebook).
    client, template_uri, http_method : str
        Filters of the explore notebook ("" = all).
    profile : str
        A Genesys Cloud CLI profile name ("" = the environment, else the sandbox).
    metric : str
        What the interactive explorer shows first (:data:`usagekit.analyses.library.VIEW_METRICS`).
    """

    notebook: str
    interval: Interval
    granularity: str = "Day"
    engine: str = "local"
    dataset: str = ""
    output_dir: Path = field(default_factory=lambda: REPORTS_DIR / "latest")
    top_n: int = 10
    licence_tier: str = "CX2"
    licensed_users: int = 100
    refresh: bool = True
    group_by: tuple[str, ...] = ()
    api: str = "legacy"
    client: str = ""
    template_uri: str = ""
    http_method: str = ""
    profile: str = ""
    metric: str = "requests"

    @property
    def partition_granularity(self) -> str:
        """The dataset's spelling: ``day``, ``week`` or ``month``."""
        return self.granularity.lower()

    @property
    def grouping(self) -> str:
        """The dataset grouping key of :attr:`group_by`."""
        return grouping_key(self.group_by)

    @property
    def monthly_allowance(self) -> int:
        """Requests per month the fair-use policy allows for this licence."""
        return FAIR_USE_ALLOWANCES[self.licence_tier] * self.licensed_users

    def describe(self) -> dict[str, Any]:
        """The notebook's parameters as JSON-ready values (for ``summary.json``; no secret)."""
        values = asdict(self)
        values |= {"interval": self.interval.text, "output_dir": str(self.output_dir),
                   "group_by": ",".join(self.group_by)}
        described = {name: values[name] for name in NOTEBOOK_PARAMETERS[self.notebook]}
        if self.notebook == "report":
            described["monthly_allowance"] = self.monthly_allowance
        return described


def default_interval(now: datetime | None = None, days: int = DEFAULT_DAYS) -> Interval:
    """The last ``days`` complete UTC days before ``now`` (today is never included)."""
    now = now or datetime.now(UTC)
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Interval(end - timedelta(days=days), end)


def check_names(notebook: str, names: Mapping[str, Any] | list[str]) -> None:
    """Refuse secret-looking and unknown parameter names for ``notebook``.

    Raises
    ------
    ConfigError
        For a name that looks like a credential (never a parameter), or one the
        notebook does not declare (naming the valid ones).
    """
    valid = _valid_names(notebook)
    for name in names:
        if _SECRET_NAME.search(name):
            raise ConfigError(
                f"parameter {name!r} looks like a credential; credentials are never notebook "
                f"parameters: set {ENV_CLIENT_ID}/{ENV_CLIENT_SECRET} "
                f"(or {ENV_ACCESS_TOKEN}) and {ENV_REGION} in the environment"
            )
        if name not in valid:
            raise ConfigError(
                f"unknown parameter {name!r} for the {notebook} notebook: "
                f"valid names are {', '.join(valid)}"
            )


def validate(notebook: str = "report", /, env: Mapping[str, str] | None = None,
             now: datetime | None = None, **values: Any) -> NotebookParams:
    """Check and resolve a notebook's parameters.

    Parameters
    ----------
    notebook : str
        ``fetch``, ``explore``, ``report`` or ``explorer``: which parameter set applies.
    env : Mapping, optional
        Environment for ``USAGEKIT_DATASET`` and the secret check (default ``os.environ``).
    now : datetime, optional
        The current time, for the default interval (tests).
    **values
        The parameters cell's names and values; omitted ones take their defaults.

    Returns
    -------
    NotebookParams

    Raises
    ------
    ConfigError
        Naming the bad parameter, its value and the valid values.

    Examples
    --------
    >>> p = validate("report", interval="2026-11-01/2026-11-22", granularity="week")
    >>> p.granularity, p.interval.days
    ('Week', 21)
    """
    env = os.environ if env is None else env
    check_names(notebook, values)
    _refuse_secret_values(values, env)
    for name, value in values.items():
        expected = _TYPES[name]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(
                f"invalid {name} {value!r}: expected {_TYPE_WORDS[expected]}, "
                f"got {type(value).__name__}"
            )
    resolved: dict[str, Any] = {"notebook": notebook}
    resolved["interval"] = _interval(values.get("interval", ""), now)
    resolved["granularity"] = _choice("granularity", values.get("granularity", "Day"),
                                      GRANULARITIES)
    if notebook == "fetch" and not values.get("interval", "").strip():
        # The default moves with the date: whole weeks/months keep re-runs storable.
        today = (now or datetime.now(UTC)).astimezone(UTC).date()
        resolved["interval"] = resolved["interval"].aligned(resolved["granularity"], today)
    if "engine" in values:
        resolved["engine"] = _choice("engine", values["engine"], ENGINES)
    resolved["dataset"] = _dataset(values.get("dataset", ""), env)
    if "output_dir" in values:
        resolved["output_dir"] = _output_dir(values["output_dir"])
    if "top_n" in values:
        resolved["top_n"] = _int_range("top_n", values["top_n"], 1, MAX_TOP_N)
    if "licence_tier" in values:
        resolved["licence_tier"] = _choice("licence_tier",
                                           values["licence_tier"].replace(" ", ""),
                                           tuple(FAIR_USE_ALLOWANCES))
    if "licensed_users" in values:
        resolved["licensed_users"] = _int_range("licensed_users", values["licensed_users"],
                                                1, 10_000_000)
    if "group_by" in values:
        resolved["group_by"] = _group_by(values["group_by"])
    if "api" in values:
        resolved["api"] = _choice("api", values["api"], ("legacy", "aggregates"))
    if values.get("http_method"):
        resolved["http_method"] = _choice(
            "http_method", values["http_method"],
            ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
    if "metric" in values:
        resolved["metric"] = _choice("metric", values["metric"], tuple(VIEW_METRICS))
    if "refresh" in values:
        resolved["refresh"] = values["refresh"]
    if values.get("profile", "").strip():
        resolved["profile"] = _profile(values["profile"])
    for name in ("client", "template_uri"):
        if name in values:
            resolved[name] = values[name].strip()
    params = NotebookParams(**resolved)
    _logger.info("parameters: %s", params.describe())
    return params


def parse_value(notebook: str, name: str, text: str) -> Any:
    """Convert a command-line value (``-p NAME VALUE``) to the parameter's type.

    Raises
    ------
    ConfigError
        For an unknown or secret-looking name, or text that is not of the right type.
    """
    check_names(notebook, [name])
    kind = _TYPES[name]
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in {"true", "yes", "1"}:
            return True
        if lowered in {"false", "no", "0"}:
            return False
        raise ConfigError(f"invalid {name} {text!r}: use true or false")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"invalid {name} {text!r}: expected an integer") from None
    return text


def _valid_names(notebook: str) -> tuple[str, ...]:
    if notebook not in NOTEBOOK_PARAMETERS:
        raise ConfigError(
            f"unknown notebook {notebook!r}: use one of {', '.join(NOTEBOOK_PARAMETERS)}"
        )
    return NOTEBOOK_PARAMETERS[notebook]


def _refuse_secret_values(values: Mapping[str, Any], env: Mapping[str, str]) -> None:
    secrets = {env.get(name, "") for name in SECRET_ENV_VARS}
    secrets = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}
    for name, value in values.items():
        if isinstance(value, str) and any(s in value for s in secrets):
            raise ConfigError(
                f"parameter {name!r} holds a credential from the environment; credentials "
                "are never notebook parameters (the notebook reads them from the environment)"
            )


def _profile(text: str) -> str:
    name = text.strip()
    if not _PROFILE_NAME.fullmatch(name):
        raise ConfigError("invalid profile: give a gc profile name (letters, digits, '.', "
                          "'_' or '-', at most 64), as in ~/.gc/config.toml")
    return name


def _choice(name: str, value: str, valid: tuple[str, ...]) -> str:
    for option in valid:
        if value.strip().lower() == option.lower():
            return option
    raise ConfigError(f"invalid {name} {value!r}: use one of {', '.join(valid)}")


def _int_range(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ConfigError(f"invalid {name} {value!r}: use an integer from {low} to {high}")
    return value


def _interval(text: str, now: datetime | None) -> Interval:
    if not text.strip():
        return default_interval(now)
    try:
        return parse_interval(text.strip())
    except QueryError as exc:
        raise ConfigError(f"invalid interval parameter: {exc}") from None


def _dataset(text: str, env: Mapping[str, str]) -> str:
    location = config.dataset_location(text.strip() or None, env)
    if is_s3(location):
        return location
    path = Path(location).expanduser()
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def _output_dir(text: str) -> Path:
    if not text.strip():
        raise ConfigError("invalid output_dir '': give a folder, e.g. 'reports/latest'")
    path = Path(text.strip()).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _group_by(text: str) -> tuple[str, ...]:
    names = split_names(text)
    canonical = {_choice("group_by", name, GROUP_BY) for name in names}
    return tuple(n for n in GROUP_BY if n in canonical)
