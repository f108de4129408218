"""A large synthetic organisation: tens of thousands of day rows, generated with numpy.

The organisation is a fixed pool of *streams*, each an indexed (client, user, template URI,
method) tuple, built once per ``(seed, rows_per_day)``. A day's usage is the streams active
that day and their counts, drawn vectorised from a generator seeded by ``(seed, day)``: any
day can be computed on demand, in any order, with the same result. A few recent days are
cached (at most ``CACHED_DAYS``); nothing else is kept.

Shape: Zipf client and template volumes, hundreds of template URIs, thousands of users (only
on authorization-code clients; client-credentials streams have user ``""``), quieter weekends,
yearly growth, 429 clusters (weekly incident episodes on the busiest clients plus one client
throttled every weekday), org-wide 5xx incident days and single clients' bad days.

Codes follow string order (clients by name, users by id with ``""`` first, template URIs,
methods), so sorting by codes sorts rows the way the legacy API answers them.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from .org import (
    CLIENT_CREDENTIALS,
    CODE,
    PLATFORM_APPFOUNDRY,
    PLATFORM_BUILTIN,
    PLATFORM_CUSTOM,
    Organization,
    Usage,
)

MIN_ROWS_PER_DAY = 1
MAX_ROWS_PER_DAY = 200_000  # a month of it is ~6M rows, a ~2 GB legacy body
CACHED_DAYS = 16
WEEKDAY_SHARE, WEEKEND_SHARE = 1.1, 0.75  # rows per day as a share of N; a week averages N
METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")  # string order
COUNT_COLUMNS = ("status200", "status300", "status400", "status500", "status429")

_GROWTH_EPOCH = date(2024, 1, 1)
_POOL_FACTOR = 2.5  # streams in the pool per row of an average day
_RESOURCES = (
    "users", "routing/queues", "conversations", "conversations/calls", "analytics/conversations",
    "analytics/users", "analytics/queues", "routing/skills", "routing/wrapupcodes", "groups",
    "presencedefinitions", "externalcontacts/contacts", "externalcontacts/organizations",
    "outbound/campaigns", "outbound/contactlists", "outbound/dnclists", "flows",
    "flows/datatables", "recording/jobs", "quality/evaluations", "quality/surveys",
    "workforcemanagement/managementunits", "workforcemanagement/businessunits",
    "telephony/providers/edges", "authorization/roles", "authorization/divisions",
    "notifications/channels", "locations", "knowledge/knowledgebases", "journey/sessions",
    "integrations/actions", "scripts", "speechandtextanalytics/conversations", "oauth/clients",
    "conversations/messages", "conversations/emails", "conversations/chats", "stations",
    "gdpr/requests", "responsemanagement/responses", "learning/modules", "teams",
)
# (suffix, allowed methods with their weights within a template)
_SHAPES: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = (
    ("", (("GET", 1.4), ("POST", 0.9))),
    ("/{id}", (("GET", 1.4), ("PUT", 0.5), ("PATCH", 0.2), ("DELETE", 0.3))),
    ("/query", (("POST", 1.0),)),
    ("/{id}/members", (("GET", 1.4), ("POST", 0.9))),
    ("/search", (("POST", 1.0),)),
    ("/{id}/details", (("GET", 1.0),)),
    ("/bulk", (("POST", 1.0),)),
    ("/{id}/{subId}", (("GET", 1.4), ("HEAD", 0.1), ("DELETE", 0.3))),
    ("/{id}/history", (("GET", 1.0),)),
    ("/{id}/jobs", (("GET", 1.0), ("POST", 0.6))),
    ("/observations/query", (("POST", 1.0),)),
    ("/{id}/settings", (("GET", 1.0), ("PUT", 0.4))),
)
_VENDORS = ("Salesforce", "Zendesk", "ServiceNow", "HubSpot", "Verint", "NICE", "Calabrio",
            "Snowflake", "Splunk", "Okta", "Azure AD", "Tableau", "Power BI", "Twilio",
            "Medallia", "Qualtrics", "SAP", "Jira", "Slack", "Teams", "Workday", "Oracle",
            "Freshdesk", "Pega", "Dynamics", "Looker", "Databricks", "Genesys PS", "Intercom",
            "Kustomer")
_PURPOSES = ("Connector", "Sync", "Export", "Bridge", "Dashboard", "Adapter", "Loader",
             "Archiver", "Monitor", "Poller", "Provisioning", "Reporting", "Bot", "Router",
             "Scheduler", "Extension")
_BUILTIN_NAMES = ("Genesys Cloud Data Actions (purecloud-builtin)",
                  "Genesys Cloud Integrations Runtime (purecloud)")
_BUILTIN_STREAMS = 6  # templates each built-in client calls every day


@dataclass(frozen=True)
class LargeClient:
    """An OAuth client of the large organisation."""

    id: str
    name: str
    grant: str
    platform: str
    builtin: bool


@dataclass(frozen=True)
class DayUsage:
    """One day: the active streams (ascending indices) and their counts.

    ``counts`` has one row per stream and the columns of ``COUNT_COLUMNS``.
    """

    streams: np.ndarray
    counts: np.ndarray


def check_rows_per_day(value: object) -> int:
    """``value`` as the number of day rows, or ``ValueError`` naming it and the valid range."""
    if (isinstance(value, bool) or not isinstance(value, int | np.integer)
            or not MIN_ROWS_PER_DAY <= value <= MAX_ROWS_PER_DAY):
        raise ValueError(f"invalid rows_per_day {value!r}; valid: an integer from "
                         f"{MIN_ROWS_PER_DAY} to {MAX_ROWS_PER_DAY:,} (or None for the small "
                         "default organisation)")
    return int(value)


def _entropy(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big")


def _zipf(n: int, s: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** s
    return weights / weights.sum()


class LargeOrganization:
    """The large synthetic organisation for one seed and size.

    Parameters
    ----------
    seed
        Any integer; the same seed and size always give the same clients, streams and counts.
    rows_per_day
        N: legacy day rows at full grouping (OAuthClientId, UserId, TemplateUri, HttpMethod).
        Weekdays have ``round(1.1 N)`` rows and weekend days ``round(0.75 N)``, so every whole
        week averages N to within one row and a year of 365 days to within 0.3 %. Built-in
        clients add a dozen rows a day that only the aggregates API shows.
    """

    def __init__(self, seed: int, rows_per_day: int) -> None:
        self.seed = seed
        self.rows_per_day = check_rows_per_day(rows_per_day)
        n = self.rows_per_day
        self.id = self._uuid("organization")
        self.short_name = f"sandbox-{seed}"
        self.name = f"Sandbox Contact Centre {seed} (fictional)"
        self._rng = np.random.default_rng(_entropy(seed, n, "large-organization"))
        clients = int(np.clip(np.sqrt(n), 12, 300))
        templates = int(np.clip(2 * np.sqrt(n), 40, len(_RESOURCES) * len(_SHAPES)))
        users = int(np.clip(n // 10, 20, 20_000))
        self.clients = self._make_clients(clients)
        self._by_id = {client.id: client for client in self.clients}
        self.user_ids = ("", *sorted(self._uuid(f"user/{i}") for i in range(users)))
        self._make_templates(templates)
        self._make_streams(n)
        self._cache: OrderedDict[date, DayUsage] = OrderedDict()
        self._lock = threading.Lock()

    def _uuid(self, name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL,
                              f"usagekit-sandbox-large:{self.seed}:{self.rows_per_day}:{name}"))

    # ------------------------------------------------------------ construction

    def _make_clients(self, count: int) -> tuple[LargeClient, ...]:
        rng = self._rng
        combos = [f"{vendor} {purpose}" for vendor in _VENDORS for purpose in _PURPOSES]
        names = [combos[i] for i in rng.permutation(len(combos))[:count]]
        grants = np.where(rng.random(count) < 0.35, CODE, CLIENT_CREDENTIALS)
        grants[0] = CODE  # at least one client with users
        platforms = np.where(rng.random(count) < 0.4, PLATFORM_APPFOUNDRY, PLATFORM_CUSTOM)
        specs = [(name, str(grant), str(platform), False)
                 for name, grant, platform in zip(names, grants, platforms, strict=True)]
        specs += [(name, CLIENT_CREDENTIALS, PLATFORM_BUILTIN, True) for name in _BUILTIN_NAMES]
        return tuple(LargeClient(self._uuid(f"client/{name}"), name, grant, platform, builtin)
                     for name, grant, platform, builtin in sorted(specs))

    def _make_templates(self, count: int) -> None:
        rng = self._rng
        hot = [(r, s) for r in range(8) for s in range(3)]  # well-known templates are hot
        rest = [(r, s) for s in range(len(_SHAPES)) for r in range(len(_RESOURCES))
                if (r, s) not in hot]
        picked = hot + [rest[i] for i in rng.permutation(len(rest))]
        picked = picked[:count]
        uris = [f"api/v2/{_RESOURCES[r]}{_SHAPES[s][0]}" for r, s in picked]
        order = sorted(range(count), key=uris.__getitem__)
        self.template_uris = tuple(uris[i] for i in order)
        heat = np.empty(count)
        heat[order] = _zipf(count, 1.1)  # hotness by position in ``picked``
        self._template_w = heat / heat.sum()
        # Per template: method codes and cumulative weights, padded to four methods.
        self._template_methods = np.zeros((count, 4), dtype=np.int64)
        self._template_cum = np.full((count, 4), np.inf)
        self._template_total = np.empty(count)
        for code, i in enumerate(order):
            shape = _SHAPES[picked[i][1]][1]
            self._template_methods[code, :len(shape)] = [METHODS.index(m) for m, _ in shape]
            self._template_cum[code, :len(shape)] = np.cumsum([w for _, w in shape])
            self._template_total[code] = sum(w for _, w in shape)

    def _make_streams(self, n: int) -> None:
        """The stream pool, sorted by (client, user, template, method) code, and its traits."""
        rng = self._rng
        clients = [c for c in self.clients if not c.builtin]
        codes = np.array([self.clients.index(c) for c in clients])
        n_users, n_templates = len(self.user_ids) - 1, len(self.template_uris)
        rank = rng.permutation(len(clients))
        client_w = np.zeros(len(self.clients))
        client_w[codes] = _zipf(len(clients), 1.05)[rank]
        code_grant = np.array([c.grant == CODE for c in self.clients])
        # Each code-grant client calls as a Zipf-sized pool of users (big clients: many users).
        user_pool = np.maximum(1, (n_users * 0.5 * client_w / client_w.max()).astype(np.int64))
        user_base = rng.integers(0, n_users, len(self.clients))
        pick_c = client_w ** 0.5 / (client_w ** 0.5).sum()
        pick_t = self._template_w ** 0.6 / (self._template_w ** 0.6).sum()
        radix = np.array([len(self.user_ids), n_templates, len(METHODS)])
        target = max(int(np.ceil(_POOL_FACTOR * n)), round(WEEKDAY_SHARE * n) + 1)
        keys = np.empty(0, dtype=np.int64)
        while len(keys) < target:
            m = 2 * (target - len(keys)) + 64
            c = rng.choice(len(self.clients), m, p=pick_c)
            t = rng.choice(n_templates, m, p=pick_t)
            draw = rng.random(m) * self._template_total[t]
            method = self._template_methods[t, (self._template_cum[t] <= draw[:, None]).sum(1)]
            user = np.where(code_grant[c],
                            1 + (user_base[c] + (rng.zipf(1.3, m) - 1) % user_pool[c]) % n_users,
                            0)
            new = ((c * radix[0] + user) * radix[1] + t) * radix[2] + method
            keys = np.concatenate([keys, new])
            _, first = np.unique(keys, return_index=True)
            keys = keys[np.sort(first)][:target]
        builtin = np.array([i for i, c in enumerate(self.clients) if c.builtin])
        b_templates = rng.choice(n_templates, (len(builtin), _BUILTIN_STREAMS), replace=True)
        b_keys = (((builtin[:, None] * radix[0]) * radix[1] + b_templates) * radix[2]
                  + METHODS.index("GET"))
        keys = np.unique(np.concatenate([keys, b_keys.ravel()]))  # sorted: the code order
        self.stream_method = keys % radix[2]
        self.stream_template = keys // radix[2] % radix[1]
        self.stream_user = keys // (radix[2] * radix[1]) % radix[0]
        self.stream_client = keys // (radix[2] * radix[1] * radix[0])
        self.stream_builtin = np.array([c.builtin for c in self.clients])[self.stream_client]
        cw, tw = client_w[self.stream_client], self._template_w[self.stream_template]
        cw[self.stream_builtin] = client_w.max()
        log_w = 0.5 * np.log(cw * tw) + rng.normal(0, 1.0, len(keys))
        self._log_w = np.where(self.stream_builtin, np.inf, log_w)  # built-in: always active
        finite = log_w[~self.stream_builtin]
        self._base = rng.lognormal(3.0, 1.2, len(keys)) * np.exp(0.6 * (log_w - finite.mean()))
        self._is_get = self.stream_method == METHODS.index("GET")
        r4xx = rng.beta(1.0, 30.0, n_templates)
        heavy = rng.random(n_templates) < 0.05  # templates that mostly answer 404
        r4xx[heavy] = rng.beta(5.0, 5.0, int(heavy.sum()))
        sloppy = rng.lognormal(0.0, 0.5, len(self.clients))
        self._p4xx = np.minimum(r4xx[self.stream_template] * sloppy[self.stream_client], 0.9)
        self._growth = rng.uniform(-0.05, 0.3, len(self.clients))
        self._top = codes[np.argsort(rank)[:12]]  # the busiest clients
        self._chronic = int(self._top[rng.integers(0, min(5, len(self._top)))])

    # ------------------------------------------------------------ lookups

    def client(self, client_id: str) -> LargeClient | None:
        """The client with this id, or None."""
        return self._by_id.get(client_id)

    def rows_on(self, day: date) -> int:
        """How many legacy day rows (built-in clients excluded) ``day`` has."""
        share = WEEKDAY_SHARE if day.weekday() < 5 else WEEKEND_SHARE
        return max(1, round(self.rows_per_day * share))

    # ------------------------------------------------------------ days

    def day(self, day: date) -> DayUsage:
        """The active streams of ``day`` and their counts (cached for ``CACHED_DAYS`` days)."""
        with self._lock:
            cached = self._cache.get(day)
            if cached is not None:
                self._cache.move_to_end(day)
                return cached
        usage = self._generate(day)
        with self._lock:
            self._cache[day] = usage
            while len(self._cache) > CACHED_DAYS:
                self._cache.popitem(last=False)
        return usage

    def _generate(self, day: date) -> DayUsage:
        rng = np.random.default_rng(_entropy(self.seed, self.rows_per_day, day.isoformat()))
        k = self.rows_on(day) + int(self.stream_builtin.sum())
        keys = self._log_w + rng.gumbel(size=len(self._log_w))  # weighted top-k sampling
        streams = np.sort(np.argpartition(-keys, k - 1)[:k])
        client = self.stream_client[streams]
        years = (day - _GROWTH_EPOCH).days / 365.25
        volume = (1.0 if day.weekday() < 5 else 0.35) * (1 + self._growth[client]) ** years
        requests = np.maximum(1, np.rint(self._base[streams] * volume
                                         * rng.lognormal(0, 0.3, k))).astype(np.int64)
        p500 = np.full(k, 0.0005)
        if rng.random() < 0.015:  # an org-wide platform incident on some templates
            hit = rng.random(len(self.template_uris)) < 0.3
            p500[hit[self.stream_template[streams]]] = 0.15
        bad = rng.random(len(self.clients)) < 0.02  # single clients' bad days
        p500 = np.where(bad[client], rng.uniform(0.03, 0.15, len(self.clients))[client], p500)
        n429 = rng.binomial(requests, self._rate429(day)[client])
        n500 = rng.binomial(requests - n429, p500)
        n4xx = rng.binomial(requests - n429 - n500, self._p4xx[streams])
        n300 = np.where(self._is_get[streams],
                        rng.binomial(requests - n429 - n500 - n4xx, 0.02), 0)
        n200 = requests - n429 - n500 - n4xx - n300
        counts = np.stack([n200, n300, n4xx + n429, n500, n429], axis=1)
        return DayUsage(streams, counts)

    def _rate429(self, day: date) -> np.ndarray:
        """Each client's 429 share on ``day``: a trickle, the chronic client, episodes."""
        rate = np.full(len(self.clients), 0.00005)
        if day.weekday() < 5:
            rate[self._chronic] = 0.005
        monday = day - timedelta(day.weekday())
        for week in (monday - timedelta(7), monday):  # an episode may spill into next week
            rng = np.random.default_rng(_entropy(self.seed, self.rows_per_day, "429",
                                                 week.isoformat()))
            if rng.random() >= 0.3:
                continue
            first = week + timedelta(int(rng.integers(0, 7)))
            length = int(rng.integers(1, 6))
            hit = rng.choice(self._top, int(rng.integers(1, len(self._top) + 1)), replace=False)
            share = rng.uniform(0.02, 0.35, len(hit))
            if first <= day < first + timedelta(length):
                rate[hit] = np.maximum(rate[hit], share)
        return rate

    def usage(self, day: date) -> tuple[Usage, ...]:
        """``day`` as ``Usage`` rows (built-in clients included): the generic, slower path.

        The aggregates API reads days this way and holds a job's entities in memory: on a
        large organisation keep its jobs to short windows or coarse groupings.
        """
        usage = self.day(day)
        clients = [self.clients[i] for i in self.stream_client[usage.streams].tolist()]
        return tuple(
            Usage(client.id, self.user_ids[u], self.template_uris[t], METHODS[m],
                  client.platform, s200, s300, s400, s500, s429)
            for client, u, t, m, (s200, s300, s400, s500, s429) in zip(
                clients, self.stream_user[usage.streams].tolist(),
                self.stream_template[usage.streams].tolist(),
                self.stream_method[usage.streams].tolist(), usage.counts.tolist(), strict=True))


AnyOrganization = Organization | LargeOrganization
