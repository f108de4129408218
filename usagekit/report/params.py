"""Validate the parameters of the kit's notebooks (papermill only warns on unknown names).

Each notebook declares its parameters once, in its first code cell, tagged ``parameters``
(plain typed literals, see :mod:`usagekit.report.cells`); the next cell calls
:func:`validate` with them. Each parameter is checked and resolved by what it is, the same
in every notebook (the interval parsed, the dataset location and output folder made
absolute, names and choices canonical); a parameter the kit has no rule for keeps its
value once its type is checked. :func:`validate` returns a frozen :class:`NotebookParams`,
or raises :class:`~usagekit.exceptions.ConfigError` naming the bad value and the valid ones.

Credentials are never parameters: a parameter name that looks like a secret, or a value
equal to a secret in the environment, is refused. Notebooks get credentials from the
environment through :func:`usagekit.embedded.connect`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from usagekit import config
from usagekit.analyses.library import VIEW_METRICS
from usagekit.analyses.licences import load_licences
from usagekit.config.settings import (
    ENGINES,
    ENV_ACCESS_TOKEN,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_REGION,
    PROJECT_ROOT,
    SECRET_ENV_VARS,
    is_s3,
)
from usagekit.exceptions import ConfigError, QueryError
from usagekit.query import Interval, parse_interval
from usagekit.query.usage_query import grouping_key, split_names
from usagekit.report.cells import Parameter, notebook_name, parameters
from usagekit.row import APIS, GRANULARITIES, GROUP_BY, HTTP_METHODS, ORG, Org

_logger = logging.getLogger(__name__)

#: Default interval length when ``interval`` is "": the last N complete UTC days.
DEFAULT_DAYS = 90
MAX_TOP_N = 20
_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "True or False"}
_SECRET_NAME = re.compile(
    r"secret|token|passw|pwd|credential|api_?key|access_?key|private_?key|auth",
    re.IGNORECASE,
)
_MIN_SECRET_LENGTH = 6
_PROFILE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class NotebookParams:
    """A notebook's parameters, checked and resolved: ``p.top_n`` (or ``p["top_n"]``).

    Every parameter the notebook's cell declares is an attribute, resolved by what it is:
    ``interval`` an :class:`~usagekit.query.Interval` (half-open, UTC; "" = the last
    :data:`DEFAULT_DAYS` complete days, widened to whole ``granularity`` buckets);
    ``granularity`` the API spelling (``Day``, ``Week``, ``Month``); ``dataset`` an
    absolute folder or ``s3://`` URL; ``output_dir`` an absolute :class:`~pathlib.Path`
    (relative values are taken from the project root, never from the working directory);
    ``group_by`` canonical groupBy names in grouping order; ``engine``, ``api``,
    ``http_method``, ``metric`` their canonical spelling; ``licences`` an absolute path to
    a valid licences file (or ""); ``client``, ``template_uri`` and ``profile`` stripped;
    ``org`` the :class:`~usagekit.row.Org` of the dataset it names (its name, id or short
    id; "" = None, the default org: see :func:`usagekit.report.gather.report_org`); any
    other as given.

    Attributes
    ----------
    notebook : str
        The notebook's name (``usage-report``).
    values : Mapping
        The resolved parameters, in the cell's order.
    """

    notebook: str
    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(self._missing(name))

    def __getitem__(self, name: str) -> Any:
        if name not in self.values:
            raise KeyError(self._missing(name))
        return self.values[name]

    @property
    def partition_granularity(self) -> str:
        """The dataset's spelling of ``granularity``: ``day``, ``week`` or ``month``."""
        return str(self["granularity"]).lower()

    @property
    def grouping(self) -> str:
        """The dataset grouping key of ``group_by``."""
        return grouping_key(self["group_by"])

    def describe(self) -> dict[str, Any]:
        """The parameters as JSON-ready values (for ``summary.json``; no secret)."""
        return {name: _json_ready(value) for name, value in self.values.items()}

    def _missing(self, name: str) -> str:
        return (f"the {self.__dict__.get('notebook')} notebook has no parameter {name!r}: "
                f"its parameters are {', '.join(self.__dict__.get('values', {}))}")


@dataclass(frozen=True)
class _Given:
    """What a parameter's rule may look at besides its value."""

    env: Mapping[str, str]
    now: datetime | None
    values: Mapping[str, Any]


def default_interval(now: datetime | None = None, days: int = DEFAULT_DAYS) -> Interval:
    """The last ``days`` complete UTC days before ``now`` (today is never included)."""
    now = now or datetime.now(UTC)
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Interval(end - timedelta(days=days), end)


def validate(notebook: str | os.PathLike[str], /, env: Mapping[str, str] | None = None,
             now: datetime | None = None, **values: Any) -> NotebookParams:
    """Check and resolve a notebook's parameters.

    Parameters
    ----------
    notebook : str or path
        Whose parameters cell applies: a kit notebook's name (``fetch-usage``,
        ``explore-usage``, ``usage-report``, ``explore-interactive``; see
        :func:`usagekit.report.cells.notebooks`) or a notebook file.
    env : Mapping, optional
        Environment for ``USAGEKIT_DATASET`` and the secret check (default ``os.environ``).
    now : datetime, optional
        The current time, for the default interval (tests).
    **values
        The parameters cell's names and values; omitted ones take the cell's defaults.

    Returns
    -------
    NotebookParams

    Raises
    ------
    ConfigError
        Naming the bad parameter, its value and the valid values.

    Examples
    --------
    >>> p = validate("usage-report", interval="2026-11-01/2026-11-22", granularity="week")
    >>> p.granularity, p.interval.days
    ('Week', 21)
    """
    env = os.environ if env is None else env
    declared = _declared(notebook, values)
    _refuse_secret_values(values, env)
    for name, value in values.items():
        values[name] = _typed(name, value, declared[name].type)
    given = _Given(env, now, {name: values.get(name, p.default) for name, p in declared.items()})
    resolved = {name: _RULES.get(name, _as_given)(value, given)
                for name, value in given.values.items()}
    params = NotebookParams(notebook_name(notebook), MappingProxyType(resolved))
    _logger.info("parameters: %s", params.describe())
    return params


def parse_value(notebook: str | os.PathLike[str], name: str, text: str) -> Any:
    """Convert a command-line value (``-p NAME VALUE``) to the parameter's declared type.

    Raises
    ------
    ConfigError
        For an unknown or secret-looking name, or text that is not of the right type.
    """
    kind = _declared(notebook, [name])[name].type
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in {"true", "yes", "1"}:
            return True
        if lowered in {"false", "no", "0"}:
            return False
        raise ConfigError(f"invalid {name} {text!r}: use true or false")
    if kind is str:
        return text
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"invalid {name} {text!r}: expected {_TYPE_WORDS[kind]}") from None


def _declared(notebook: str | os.PathLike[str], names: Mapping[str, Any] | list[str]
              ) -> dict[str, Parameter]:
    """The parameters ``notebook`` declares, once ``names`` are known to be among them.

    Raises
    ------
    ConfigError
        For a name that looks like a credential (never a parameter), one the notebook
        does not declare (naming the valid ones), or an unknown notebook.
    """
    valid = parameters(notebook)
    for name in names:
        if _SECRET_NAME.search(name):
            raise ConfigError(
                f"parameter {name!r} looks like a credential; credentials are never notebook "
                f"parameters: set {ENV_CLIENT_ID}/{ENV_CLIENT_SECRET} "
                f"(or {ENV_ACCESS_TOKEN}) and {ENV_REGION} in the environment"
            )
        if name not in valid:
            raise ConfigError(
                f"unknown parameter {name!r} for the {notebook_name(notebook)} notebook: "
                f"valid names are {', '.join(valid)}"
            )
    return valid


def _typed(name: str, value: Any, kind: type) -> Any:
    """``value`` as a ``kind`` (an int is a float; True is never an int to a notebook)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is float and number:
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"invalid {name} {value!r}: expected {_TYPE_WORDS[kind]}, "
                          f"got {type(value).__name__}")
    return value


def _refuse_secret_values(values: Mapping[str, Any], env: Mapping[str, str]) -> None:
    secrets = {env.get(name, "") for name in SECRET_ENV_VARS}
    secrets = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}
    for name, value in values.items():
        if isinstance(value, str) and any(s in value for s in secrets):
            raise ConfigError(
                f"parameter {name!r} holds a credential from the environment; credentials "
                "are never notebook parameters (the notebook reads them from the environment)"
            )


def _json_ready(value: Any) -> Any:
    if isinstance(value, Org):
        return {"id": value.id, "name": value.name, "region": value.region,
                "fictional": value.fictional}
    if isinstance(value, Interval):
        return value.text
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return ",".join(value)
    return value


def _as_given(value: Any, given: _Given) -> Any:
    return value


def _interval(text: str, given: _Given) -> Interval:
    if text.strip():
        try:
            return parse_interval(text.strip())
        except QueryError as exc:
            raise ConfigError(f"invalid interval parameter: {exc}") from exc
    # The default moves with the date: whole weeks/months keep re-runs storable.
    granularity = (_granularity(given.values["granularity"], given)
                   if "granularity" in given.values else None)
    today = (given.now or datetime.now(UTC)).astimezone(UTC).date()
    return default_interval(given.now).aligned(granularity, today)


def _granularity(text: str, given: _Given) -> str:
    return _choice("granularity", text, GRANULARITIES)


def _dataset(text: str, given: _Given) -> str:
    location = config.dataset_location(text.strip() or None, given.env)
    if is_s3(location):
        return location
    path = Path(location).expanduser()
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def _output_dir(text: str, given: _Given) -> Path:
    if not text.strip():
        raise ConfigError("invalid output_dir '': give a folder, e.g. 'reports/latest'")
    path = Path(text.strip()).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _group_by(text: str, given: _Given) -> tuple[str, ...]:
    names = split_names(text)
    canonical = {_choice("group_by", name, GROUP_BY) for name in names}
    return tuple(n for n in GROUP_BY if n in canonical)


def _http_method(text: str, given: _Given) -> str:
    return _choice("http_method", text, HTTP_METHODS) if text.strip() else ""


def _profile(text: str, given: _Given) -> str:
    name = text.strip()
    if name and not _PROFILE_NAME.fullmatch(name):
        raise ConfigError("invalid profile: give a gc profile name (letters, digits, '.', "
                          "'_' or '-', at most 64), as in ~/.gc/config.toml")
    return name


def _org(text: str, given: _Given) -> Org | None:
    """The org of the dataset ``text`` names (:meth:`~usagekit.dataset.Dataset.org_named`,
    as ``--org`` resolves), or None for ""."""
    if not text.strip():
        return None
    from usagekit.dataset import open_dataset

    dataset = open_dataset(_dataset(str(given.values.get("dataset", "")), given))
    return dataset.org_named(text)


def _licences(text: str, given: _Given) -> str:
    """"" (the allowance is unknown) or the absolute path of a valid licences file."""
    if not text.strip():
        return ""
    path = Path(text.strip()).expanduser()
    path = path if path.is_absolute() else PROJECT_ROOT / path
    load_licences(path)  # a bad file fails here, naming the bad key or value
    return str(path)


def _stripped(text: str, given: _Given) -> str:
    return text.strip()


def _choice(name: str, value: str, valid: tuple[str, ...]) -> str:
    for option in valid:
        if value.strip().lower() == option.lower():
            return option
    raise ConfigError(f"invalid {name} {value!r}: use one of {', '.join(valid)}")


def _int_range(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ConfigError(f"invalid {name} {value!r}: use an integer from {low} to {high}")
    return value


#: How each parameter is checked and resolved, by name: the same in every notebook. A
#: parameter without a rule keeps its value (once its declared type is checked).
_RULES: dict[str, Callable[[Any, _Given], Any]] = {
    "interval": _interval,
    "granularity": _granularity,
    "group_by": _group_by,
    "api": lambda text, _: _choice("api", text, APIS),
    "dataset": _dataset,
    "engine": lambda text, _: _choice("engine", text, ENGINES),
    "output_dir": _output_dir,
    "top_n": lambda n, _: _int_range("top_n", n, 1, MAX_TOP_N),
    "licences": _licences,
    "http_method": _http_method,
    "metric": lambda text, _: _choice("metric", text, tuple(VIEW_METRICS)),
    "profile": _profile,
    ORG: _org,
    "client": _stripped,
    "template_uri": _stripped,
}
