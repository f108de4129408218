"""Licences and the fair-use allowance, by Genesys Cloud's rules (the table, written once).

Genesys Cloud allows each licence a number of API requests a month (its fair-use policy and
API on-demand charge articles). The month's allowance is the sum over the month's licences
of users x requests per user, where a licence counts at the greater of its commitment and
its actual use, and an add-on's allowance is added to its base licence's. Requests over the
allowance are billed monthly in arrears, per request (the "overage").

A licences file (TOML) says what an organisation holds::

    [licences]                        # the organisation's licences
    CX3 = { named = 800, concurrent = 20 }
    CX2_Digital = { named = 50, commit = 60 }        # counts max(commit, named) users
    Communicate = { named = 200 }
    Digital_Addon = { base = "CX1", named = 40, per_user = 5000 }  # an add-on

    [licences_from."2026-11"]         # from November 2026 on, these replace [licences]
    CX3 = { named = 850, concurrent = 20 }

    [fair_use]                        # optional, file-wide
    genesys_clients = "exclude"       # Genesys's own clients: "exclude" (default) or "include"
    price_per_request = 0.0008        # an estimated cost only when given
    currency = "USD"

    [teams]                           # optional: OAuth client id -> team
    "8f2c...-client-id" = "Contact centre apps"

With several organisations in one dataset, one section per organisation:
``[orgs."<org id>".licences]`` and ``[orgs."<org id>".licences_from."YYYY-MM"]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from usagekit.config.files import read_toml
from usagekit.exceptions import ConfigError

#: Requests per user per month by licence, (named, concurrent); None where Genesys has no
#: concurrent licence (Genesys Cloud fair-use policy, API on demand).
ALLOWANCES: dict[str, tuple[int, int | None]] = {
    "CX1": (75_000, 97_500),
    "CX2": (110_000, 143_000),
    "CX2 Digital": (110_000, 143_000),
    "CX3": (140_000, 182_000),
    "CX3 Digital": (140_000, 182_000),
    "Communicate": (10_000, None),
    "EX": (75_000, None),
}
#: Names of Genesys's own OAuth clients (their owner as the aggregates API reports it).
GENESYS_OWNERS: tuple[str, ...] = ("purecloud", "purecloud-builtin")
#: How Genesys's own clients count toward the fair-use figure.
GENESYS_RULES: tuple[str, ...] = ("exclude", "include")
#: What a licence entry may say.
_ENTRY_KEYS = ("named", "concurrent", "commit", "concurrent_commit", "base", "per_user",
               "per_concurrent_user")
_FILE_KEYS = ("licences", "licences_from", "orgs", "fair_use", "teams")
_FAIR_USE_KEYS = ("genesys_clients", "price_per_request", "currency")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_GENESYS_NAME = re.compile(r"(^|\()\s*(" + "|".join(map(re.escape, GENESYS_OWNERS))
                           + r")\s*(\)|$)", re.IGNORECASE)


def canonical_licence(name: str) -> str:
    """The table's spelling of ``name`` (``cx2_digital``, ``CX 2 Digital`` → ``CX2 Digital``).

    Raises
    ------
    ConfigError
        ``name`` is no licence of :data:`ALLOWANCES`, naming the valid ones.
    """
    key = re.sub(r"[\s_\-]+", "", str(name)).upper().removeprefix("GENESYSCLOUD")
    for known in ALLOWANCES:
        if key == known.replace(" ", "").upper():
            return known
    raise ConfigError(f"unknown licence {name!r}; valid: {', '.join(ALLOWANCES)} (an add-on: "
                      "any name with base = one of them and per_user = its requests per user)")


def is_genesys_client(name: Any) -> bool:
    """Whether an OAuth client named ``name`` is Genesys's own: its name is, or ends in
    parentheses with, an owner of :data:`GENESYS_OWNERS` (``purecloud-builtin``,
    ``Genesys Cloud Data Actions (purecloud-builtin)``)."""
    return isinstance(name, str) and bool(_GENESYS_NAME.search(name.strip()))


@dataclass(frozen=True)
class Licence:
    """One line of a licences file: a licence (or an add-on) and how many users it counts.

    Attributes
    ----------
    name : str
        The table's licence name, or the add-on's name as written.
    named, concurrent : int
        Users actually licensed (named users; concurrent licences).
    commit, concurrent_commit : int
        The committed counts; each type counts at ``max(commit, actual)``.
    base : str or None
        For an add-on: the base licence its allowance is added to.
    per_user, per_concurrent_user : int
        Requests per user a month (the table's for a licence; given for an add-on).
    """

    name: str
    named: int = 0
    concurrent: int = 0
    commit: int = 0
    concurrent_commit: int = 0
    base: str | None = None
    per_user: int = 0
    per_concurrent_user: int = 0

    @property
    def counted_named(self) -> int:
        """Named users as billed: the greater of commitment and actual."""
        return max(self.named, self.commit)

    @property
    def counted_concurrent(self) -> int:
        """Concurrent licences as billed: the greater of commitment and actual."""
        return max(self.concurrent, self.concurrent_commit)

    @property
    def allowance(self) -> int:
        """Requests a month this line allows."""
        return (self.counted_named * self.per_user
                + self.counted_concurrent * self.per_concurrent_user)

    @property
    def group(self) -> str:
        """The licence this line's allowance belongs to (an add-on's base)."""
        return self.base or self.name

    def describe(self) -> str:
        """``CX3 800 named x 140,000 + 20 concurrent x 182,000``."""
        parts = []
        if self.counted_named:
            parts.append(f"{self.counted_named:,} named x {self.per_user:,}")
        if self.counted_concurrent:
            parts.append(f"{self.counted_concurrent:,} concurrent x "
                         f"{self.per_concurrent_user:,}")
        label = f"{self.name} (add-on to {self.base})" if self.base else self.name
        return f"{label} {' + '.join(parts) or '0 users'}"


def parse_entry(name: str, value: Any, where: str) -> Licence:
    """One licence entry (``CX3 = { named = 800 }``) as a :class:`Licence`.

    Raises
    ------
    ConfigError
        Naming the bad key or value and the valid ones.
    """
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {name} must be a table such as {{ named = 100 }}, got "
                          f"{value!r}")
    unknown = sorted(set(value) - set(_ENTRY_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} in {name}; valid: "
                          f"{', '.join(_ENTRY_KEYS)}")
    counts: dict[str, int] = {}
    for key in ("named", "concurrent", "commit", "concurrent_commit", "per_user",
                "per_concurrent_user"):
        number = value.get(key, 0)
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ConfigError(f"{where}: invalid {name}.{key} = {number!r}: expected a "
                              "whole number >= 0")
        counts[key] = number
    if "base" in value:
        base = canonical_licence(value["base"]) if isinstance(value["base"], str) else None
        if base is None:
            raise ConfigError(f"{where}: invalid {name}.base = {value['base']!r}: expected a "
                              f"licence name, one of {', '.join(ALLOWANCES)}")
        for count, commit, rate in (("named", "commit", "per_user"),
                                    ("concurrent", "concurrent_commit", "per_concurrent_user")):
            if max(counts[count], counts[commit]) and not counts[rate]:
                raise ConfigError(f"{where}: add-on {name} counts {count} users but has no "
                                  f"{rate}: give its requests per user a month")
        return Licence(name=str(name), base=base, **counts)
    canonical = canonical_licence(name)
    rates = [k for k in ("per_user", "per_concurrent_user") if k in value]
    if rates:
        raise ConfigError(f"{where}: {name} takes Genesys's allowance per user; "
                          f"{', '.join(rates)} is for add-ons (with base = ...)")
    per_named, per_concurrent = ALLOWANCES[canonical]
    if per_concurrent is None and (counts["concurrent"] or counts["concurrent_commit"]):
        raise ConfigError(f"{where}: {name} has no concurrent licence; give named (and "
                          "commit) only")
    return Licence(name=canonical, per_user=per_named, per_concurrent_user=per_concurrent or 0,
                   **{k: v for k, v in counts.items() if not k.startswith("per_")})


def _entries(table: Any, where: str) -> tuple[Licence, ...]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of licences, got {table!r}")
    lines = tuple(parse_entry(name, value, where) for name, value in table.items())
    names = [line.name for line in lines]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: {', '.join(twice)} given twice (spelled two ways)")
    return lines


@dataclass(frozen=True)
class OrgLicences:
    """One organisation's licences: those of ``[licences]``, changed from given months.

    Attributes
    ----------
    base : tuple of Licence
        The licences of every month before the first change.
    changes : dict
        ``YYYY-MM`` → the licences from that month on (each replaces the whole set).
    """

    base: tuple[Licence, ...]
    changes: dict[str, tuple[Licence, ...]] = field(default_factory=dict)

    def lines(self, month: str) -> tuple[Licence, ...]:
        """The licences billed for ``month`` (``YYYY-MM``)."""
        current = self.base
        for start in sorted(self.changes):
            if start <= month[:7]:
                current = self.changes[start]
        return current

    def allowance(self, month: str) -> int:
        """Requests the licences of ``month`` allow (every line summed)."""
        return sum(line.allowance for line in self.lines(month))

    def describe(self, month: str) -> str:
        """One line: ``CX3 800 named x 140,000; Communicate 200 named x 10,000``."""
        return "; ".join(line.describe() for line in self.lines(month)) or "no licences"


@dataclass(frozen=True)
class LicenceBook:
    """A licences file: each organisation's licences and the file-wide fair-use settings.

    Attributes
    ----------
    orgs : dict
        Org id → :class:`OrgLicences`; the key ``""`` for a file's single ``[licences]``
        (it applies to whichever organisation is analysed).
    genesys_clients : str
        ``exclude`` (default) or ``include``: whether Genesys's own clients count.
    price_per_request : float or None
        The price of one request over the allowance, when given.
    currency : str
        The price's currency (as the user wrote it).
    teams : dict
        OAuth client id → team.
    source : str
        Where it came from (a file name).
    """

    orgs: dict[str, OrgLicences]
    genesys_clients: str = "exclude"
    price_per_request: float | None = None
    currency: str = ""
    teams: dict[str, str] = field(default_factory=dict)
    source: str = "licences"

    def for_org(self, org: str | None = None) -> OrgLicences:
        """The licences of ``org`` (an org id; None: the file's only organisation).

        Raises
        ------
        ConfigError
            The file has no section for ``org``, or several and none was picked.
        """
        if "" in self.orgs:
            return self.orgs[""]
        if org is None:
            if len(self.orgs) == 1:
                return next(iter(self.orgs.values()))
            raise ConfigError(f"{self.source} holds licences of several orgs "
                              f"({', '.join(self.orgs)}): pick one with --org")
        try:
            return self.orgs[org]
        except KeyError:
            raise ConfigError(f"{self.source} has no licences for org {org!r}; it has: "
                              f"{', '.join(self.orgs)}") from None

    @property
    def counts_genesys(self) -> bool:
        """Whether Genesys's own clients count toward the fair-use figure."""
        return self.genesys_clients == "include"


def _org_licences(table: Mapping[str, Any], where: str) -> OrgLicences:
    if "licences" not in table:
        raise ConfigError(f"{where} has no [licences] table; e.g. [licences] CX3 = "
                          "{ named = 100 }")
    changes = table.get("licences_from", {})
    if not isinstance(changes, Mapping):
        raise ConfigError(f"{where}: licences_from must be a table of months, got "
                          f"{changes!r}")
    bad = [m for m in changes if not _MONTH.match(str(m))]
    if bad:
        raise ConfigError(f"{where}: invalid month(s) {', '.join(map(repr, bad))} in "
                          "licences_from: expected YYYY-MM, e.g. \"2026-11\"")
    return OrgLicences(
        base=_entries(table["licences"], f"{where} [licences]"),
        changes={m: _entries(v, f"{where} [licences_from.\"{m}\"]")
                 for m, v in changes.items()})


def parse_licences(data: Mapping[str, Any], source: str = "licences") -> LicenceBook:
    """A :class:`LicenceBook` from a decoded licences document (see the module docstring).

    Raises
    ------
    ConfigError
        An unknown table, key or licence, a bad count or month: named, with the valid ones.
    """
    if isinstance(data, LicenceBook):
        return data
    unknown = sorted(set(data) - set(_FILE_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown table(s) {', '.join(unknown)}; valid: "
                          f"{', '.join(_FILE_KEYS)}")
    orgs: dict[str, OrgLicences] = {}
    if "orgs" in data:
        if "licences" in data or "licences_from" in data:
            raise ConfigError(f"{source}: give either [licences] (one org) or "
                              "[orgs.\"<org id>\".licences] (one section per org), not both")
        if not isinstance(data["orgs"], Mapping) or not data["orgs"]:
            raise ConfigError(f"{source}: [orgs] must hold one table per org id, e.g. "
                              "[orgs.\"<org id>\".licences]")
        for org, table in data["orgs"].items():
            extra = sorted(set(table) - {"licences", "licences_from"}) if isinstance(
                table, Mapping) else ["(not a table)"]
            if extra:
                raise ConfigError(f"{source}: unknown key(s) {', '.join(extra)} in "
                                  f"[orgs.\"{org}\"]; valid: licences, licences_from")
            orgs[str(org)] = _org_licences(table, f"{source} [orgs.\"{org}\"]")
    else:
        orgs[""] = _org_licences(data, source)
    settings = data.get("fair_use", {})
    if not isinstance(settings, Mapping) or set(settings) - set(_FAIR_USE_KEYS):
        raise ConfigError(f"{source}: invalid [fair_use] {settings!r}; valid keys: "
                          f"{', '.join(_FAIR_USE_KEYS)}")
    rule = settings.get("genesys_clients", "exclude")
    if rule not in GENESYS_RULES:
        raise ConfigError(f"{source}: invalid [fair_use] genesys_clients = {rule!r}; valid: "
                          f"{', '.join(GENESYS_RULES)}")
    price = settings.get("price_per_request")
    if price is not None and (isinstance(price, bool) or not isinstance(price, int | float)
                              or price < 0):
        raise ConfigError(f"{source}: invalid [fair_use] price_per_request = {price!r}: "
                          "expected a number >= 0")
    teams = data.get("teams", {})
    if not isinstance(teams, Mapping) or not all(isinstance(v, str) and v.strip()
                                                 for v in teams.values()):
        raise ConfigError(f"{source}: invalid [teams]: expected \"<client id>\" = "
                          "\"<team name>\" lines")
    return LicenceBook(orgs=orgs, genesys_clients=rule,
                       price_per_request=None if price is None else float(price),
                       currency=str(settings.get("currency", "")),
                       teams={str(k): v.strip() for k, v in teams.items()}, source=source)


def billed_licences(usages: Iterable[tuple[str, float]], source: str
                    ) -> tuple[LicenceBook | None, tuple[str, ...]]:
    """Licences from Genesys's billable-usage report: (licence name as billed, count) pairs.

    A name is matched as :func:`canonical_licence` matches it (``Genesys Cloud CX 3`` is
    CX3); one that says ``Concurrent`` counts concurrent licences, any other named users.
    The report has no commitments: each licence counts at its billed use.

    Returns
    -------
    tuple
        The book (None when no billed licence is in the table) and the names it left out
        (add-ons and products without an API allowance).
    """
    counts: dict[str, dict[str, int]] = {}
    left_out = []
    for name, total in usages:
        kind = "concurrent" if re.search(r"concurrent", name, re.IGNORECASE) else "named"
        try:
            canonical = canonical_licence(re.sub(r"concurrent", "", name, flags=re.IGNORECASE))
        except ConfigError:
            left_out.append(name)
            continue
        entry = counts.setdefault(canonical, {})
        entry[kind] = entry.get(kind, 0) + round(total)
    if not counts:
        return None, tuple(left_out)
    return parse_licences({"licences": counts}, source), tuple(left_out)


def load_licences(path: str | Path) -> LicenceBook:
    """The licences file at ``path`` (TOML).

    Raises
    ------
    ConfigError
        The file is missing or not TOML, or holds a bad table, key or value (named).
    """
    return parse_licences(read_toml(path, "licences file"), str(Path(path)))
