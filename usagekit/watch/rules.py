"""Alert rules: which run and their thresholds, from a small TOML file with defaults.

Every rule runs with the defaults below unless the file says otherwise. A file holds one
table per rule, each key optional::

    [rate_limited]        # a client's 429s on the last complete day
    count = 100           # fires at this many 429s ...
    rate = 0.02           # ... or at this share of its requests (0 < rate <= 1)

    [spike]               # a new 429 spike (the spikes analysis) on the last complete day
    window = 7            # baseline: the previous N days
    k = 3.0               # fires above mean + k * sd of the baseline
    min_value = 10        # and at least this many 429s

    [fair_use]            # the month-end projection against the licences' allowance
    share = 0.9           # fires when the projection reaches this share of the allowance
    top = 3               # names this many top contributors (overage_by_client)
    licences = "licences.toml"  # the org's licences file, relative to this file (or
                          # `check --licences FILE`, which takes precedence);
                          # without one the allowance is unknown and the rule never fires

    [endpoint_errors]     # an endpoint's error rate (4xx + 5xx) on the last complete day
    rate = 0.2
    min_requests = 100

    [client_changes]      # a client appeared, vanished, surged or dropped, week over week
    factor = 2.0          # surge/drop: requests changed by this factor or more
    min_requests = 100
    kinds = ["appeared", "vanished", "surged", "dropped"]

    [stale]               # the newest stored day is older than expected (sync not running)
    max_age_days = 2      # fires when the newest day is more than this many days before today

Any table may say ``enabled = false``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from usagekit.analyses import LicenceBook
from usagekit.config.files import read_toml
from usagekit.exceptions import ConfigError

CHANGE_KINDS: tuple[str, ...] = ("appeared", "vanished", "surged", "dropped")


@dataclass(frozen=True)
class _Spec:
    """One option: its type and valid range (``low < value`` when ``open_low``)."""

    type: type
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    choices: tuple[str, ...] = ()

    def check(self, rule: str, name: str, value: Any) -> Any:
        what = f"[{rule}] {name} = {value!r}"
        if self.type is list:
            if not isinstance(value, list) or not value or any(
                    v not in self.choices for v in value):
                raise ConfigError(f"invalid {what}: expected a non-empty list of "
                                  f"{', '.join(self.choices)}")
            return tuple(dict.fromkeys(value))
        if self.type is Path:
            if not isinstance(value, str):
                raise ConfigError(f"invalid {what}: expected a file name (a string)")
            return value
        if self.type is str:
            if not isinstance(value, str) or value.upper() not in self.choices:
                raise ConfigError(f"invalid {what}: valid values are {', '.join(self.choices)}")
            return value.upper()
        ok = isinstance(value, self.type) and not isinstance(value, bool)
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if self.type is bool:
            ok = isinstance(value, bool)
        if not ok:
            raise ConfigError(f"invalid {what}: expected {self.type.__name__}")
        below = self.low is not None and (value <= self.low if self.open_low
                                          else value < self.low)
        if below or (self.high is not None and value > self.high):
            low = "" if self.low is None else f"{self.low} {'<' if self.open_low else '<='} "
            high = "" if self.high is None else f" <= {self.high}"
            raise ConfigError(f"invalid {what}: out of range, expected {low}{name}{high}")
        return value


#: Every rule's options with their defaults and ranges (``enabled`` is added to each).
RULES: dict[str, dict[str, tuple[Any, _Spec]]] = {
    "rate_limited": {"count": (100, _Spec(int, 1)),
                     "rate": (0.02, _Spec(float, 0, 1, open_low=True))},
    "spike": {"window": (7, _Spec(int, 2, 90)), "k": (3.0, _Spec(float, 0)),
              "min_value": (10, _Spec(int, 1))},
    "fair_use": {"share": (0.9, _Spec(float, 0, 10, open_low=True)),
                 "top": (3, _Spec(int, 1, 100)),
                 "licences": ("", _Spec(Path))},
    "endpoint_errors": {"rate": (0.2, _Spec(float, 0, 1, open_low=True)),
                        "min_requests": (100, _Spec(int, 1))},
    "client_changes": {"factor": (2.0, _Spec(float, 1, open_low=True)),
                       "min_requests": (100, _Spec(int, 1)),
                       "kinds": (CHANGE_KINDS, _Spec(list, choices=CHANGE_KINDS))},
    "stale": {"max_age_days": (2, _Spec(int, 1, 366))},
}


@dataclass(frozen=True)
class Rules:
    """The rules to evaluate: ``options[rule]`` holds every option, defaults filled in."""

    options: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        rule: {"enabled": True, **{k: v for k, (v, _) in spec.items()}}
        for rule, spec in RULES.items()})
    source: str = "defaults"

    def enabled(self, rule: str) -> bool:
        """Whether ``rule`` runs."""
        return bool(self.options[rule]["enabled"])

    def __getitem__(self, rule: str) -> dict[str, Any]:
        return self.options[rule]

    def with_licences(self, licences: str | Path | LicenceBook | None) -> Rules:
        """These rules with the fair-use rule's licences replaced (``--licences``; a file
        name or a parsed book; None keeps the rules file's)."""
        if licences is None or licences == "":
            return self
        value = licences if isinstance(licences, LicenceBook) else str(licences)
        options = {**self.options, "fair_use": {**self.options["fair_use"], "licences": value}}
        return replace(self, options=options)


def parse_rules(data: dict[str, Any], source: str = "rules") -> Rules:
    """Rules from a decoded TOML document: defaults for what it leaves out.

    Raises
    ------
    ConfigError
        An unknown rule or option, a value of the wrong type or out of range.
    """
    options = Rules().options
    for rule, table in data.items():
        if rule not in RULES:
            raise ConfigError(f"{source}: unknown rule [{rule}]; valid rules: "
                              f"{', '.join(RULES)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {rule} must be a table ([{rule}]), got {table!r}")
        specs = {"enabled": (True, _Spec(bool)), **RULES[rule]}
        for name, value in table.items():
            if name not in specs:
                raise ConfigError(f"{source}: unknown option {name!r} in [{rule}]; valid: "
                                  f"{', '.join(specs)}")
            options[rule][name] = specs[name][1].check(rule, name, value)
    return Rules(options=options, source=source)


def load_rules(path: str | Path | None = None) -> Rules:
    """The rules in the TOML file ``path``, or the defaults when None.

    Raises
    ------
    ConfigError
        The file is missing or not TOML, or holds an unknown rule or option or a bad value.
    """
    if path is None:
        return Rules()
    target = Path(path)
    rules = parse_rules(read_toml(target, "rules file"), str(target))
    licences = rules["fair_use"]["licences"]
    if licences and not Path(licences).expanduser().is_absolute():  # beside the rules file
        rules = rules.with_licences(target.parent / licences)
    return rules
