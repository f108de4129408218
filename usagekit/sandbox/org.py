"""A fictional Genesys Cloud organisation and its deterministic daily API usage.

Everything is derived from ``(seed, day)`` by hashing, so any UTC day can be computed on
demand, in any order, with the same result: no state, no stored data.
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

# Growing-429 story: the wallboard's demand outgrows its rate limit from this day on.
_SATURATION_START = date(2025, 6, 1)
_SATURATION_GROWTH = 1.35  # demand factor per year after _SATURATION_START
_GROWTH_EPOCH = date(2024, 1, 1)
GROWING_429_CLIENT = "Wallboard Realtime Poller"

_THEMES: dict[str, tuple[tuple[str, str], ...]] = {
    "cti": (
        ("api/v2/users/{userId}", "GET"),
        ("api/v2/conversations/calls/{conversationId}", "GET"),
        ("api/v2/conversations/calls/{conversationId}/participants/{participantId}", "PATCH"),
        ("api/v2/users/{userId}/presences/purecloud", "GET"),
        ("api/v2/notifications/channels", "POST"),
    ),
    "wfm": (
        ("api/v2/workforcemanagement/managementunits/{managementUnitId}/users", "GET"),
        ("api/v2/workforcemanagement/businessunits/{businessUnitId}/weeks/{weekDateId}/schedules",
         "GET"),
        ("api/v2/workforcemanagement/adherence", "POST"),
        ("api/v2/users", "GET"),
    ),
    "analytics": (
        ("api/v2/analytics/conversations/details/query", "POST"),
        ("api/v2/analytics/conversations/aggregates/query", "POST"),
        ("api/v2/analytics/queues/observations/query", "POST"),
        ("api/v2/routing/queues", "GET"),
    ),
    "routing": (
        ("api/v2/routing/queues/{queueId}/members", "GET"),
        ("api/v2/routing/queues/{queueId}", "GET"),
        ("api/v2/users/{userId}/routingstatus", "PUT"),
        ("api/v2/routing/skills", "GET"),
    ),
    "quality": (
        ("api/v2/quality/conversations/{conversationId}/surveys", "GET"),
        ("api/v2/quality/surveys/scorable", "PUT"),
        ("api/v2/conversations/{conversationId}", "GET"),
        ("api/v2/quality/evaluations/query", "GET"),
    ),
    "crm": (
        ("api/v2/externalcontacts/contacts", "POST"),
        ("api/v2/externalcontacts/contacts/{contactId}", "PUT"),
        ("api/v2/externalcontacts/contacts", "GET"),
        ("api/v2/conversations/{conversationId}", "GET"),
    ),
    "messaging": (
        ("api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages",
         "POST"),
        ("api/v2/conversations/messages", "GET"),
        ("api/v2/conversations/messaging/integrations", "GET"),
    ),
    "admin": (
        ("api/v2/users", "GET"),
        ("api/v2/users/{userId}", "PATCH"),
        ("api/v2/authorization/roles", "GET"),
        ("api/v2/groups/{groupId}/members", "POST"),
        ("api/v2/users/{userId}", "DELETE"),
    ),
    "outbound": (
        ("api/v2/outbound/campaigns/{campaignId}", "GET"),
        ("api/v2/outbound/contactlists/{contactListId}/contacts", "POST"),
        ("api/v2/outbound/campaigns/{campaignId}/progress", "GET"),
        ("api/v2/outbound/contactlists/{contactListId}/contacts/{contactId}", "DELETE"),
    ),
    "recording": (
        ("api/v2/conversations/{conversationId}/recordings", "GET"),
        ("api/v2/recording/jobs", "POST"),
        ("api/v2/recording/jobs/{jobId}", "GET"),
        ("api/v2/conversations/{conversationId}/recordings/{recordingId}", "GET"),
    ),
    "architect": (
        ("api/v2/flows", "GET"),
        ("api/v2/flows/datatables/{datatableId}/rows", "GET"),
        ("api/v2/flows/datatables/{datatableId}/rows/{rowId}", "PUT"),
        ("api/v2/flows/datatables/{datatableId}/rows/{rowId}", "HEAD"),
    ),
    "presence": (
        ("api/v2/users/{userId}/presences/purecloud", "PATCH"),
        ("api/v2/users/{userId}/presences/purecloud", "GET"),
        ("api/v2/presencedefinitions", "GET"),
    ),
    "realtime": (
        ("api/v2/analytics/queues/observations/query", "POST"),
        ("api/v2/routing/queues/{queueId}/members", "GET"),
        ("api/v2/analytics/users/details/query", "POST"),
        ("api/v2/users/{userId}/routingstatus", "GET"),
    ),
    "builtin": (
        ("api/v2/users/{userId}", "GET"),
        ("api/v2/conversations/{conversationId}", "GET"),
        ("api/v2/integrations/actions/{actionId}/execute", "POST"),
    ),
}

CLIENT_CREDENTIALS = "client_credentials"
CODE = "code"
PLATFORM_CUSTOM = "PureCloud"
PLATFORM_APPFOUNDRY = "AppFoundry"
PLATFORM_BUILTIN = "PureCloudBuiltIn"

# (name, theme, grant, platform)
_CLIENTS: tuple[tuple[str, str, str, str], ...] = (
    ("Salesforce CTI Connector", "cti", CODE, PLATFORM_APPFOUNDRY),
    ("Zendesk Ticket Bridge", "crm", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    ("WFM Schedule Sync", "wfm", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Power BI Export", "analytics", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Quality Survey Bot", "quality", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Tableau Nightly Extract", "analytics", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("ServiceNow Incident Sync", "crm", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    ("Microsoft Dynamics Connector", "cti", CODE, PLATFORM_APPFOUNDRY),
    ("HubSpot Contact Sync", "crm", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Verint WFO Adapter", "wfm", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    ("NICE WFM Integration", "wfm", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    ("Calabrio Recording Export", "recording", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    (GROWING_429_CLIENT, "realtime", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Snowflake Data Loader", "analytics", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Splunk Audit Forwarder", "admin", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Okta User Provisioning", "admin", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    ("Azure AD SCIM Bridge", "admin", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Architect Flow Backup", "architect", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Data Table Updater", "architect", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Outbound List Loader", "outbound", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Campaign Progress Monitor", "outbound", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Twilio SMS Relay", "messaging", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("WhatsApp Message Router", "messaging", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Agent Desktop Extension", "presence", CODE, PLATFORM_CUSTOM),
    ("Supervisor Dashboard", "realtime", CODE, PLATFORM_CUSTOM),
    ("Queue Member Manager", "routing", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Skills Sync Job", "routing", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Teams Presence Sync", "presence", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    ("Slack Status Bridge", "presence", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Medallia Survey Connector", "quality", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    ("Qualtrics Feedback Loader", "quality", CLIENT_CREDENTIALS, PLATFORM_APPFOUNDRY),
    ("Speech Analytics Export", "recording", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Legal Hold Recording Archiver", "recording", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Customer Journey Tracker", "analytics", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Chatbot Escalation Service", "messaging", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Nightly Users Report", "admin", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("IVR Data Dip Service", "architect", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Callback Scheduler", "outbound", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("SAP Interaction Sync", "crm", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Jira Service Desk Link", "crm", CLIENT_CREDENTIALS, PLATFORM_CUSTOM),
    ("Agent Scorecard Builder", "quality", CODE, PLATFORM_CUSTOM),
    ("Reporting Sandbox Script", "analytics", CODE, PLATFORM_CUSTOM),
)
_BUILTIN_CLIENTS: tuple[str, ...] = (
    "Genesys Cloud Data Actions (purecloud-builtin)",
    "Genesys Cloud Integrations Runtime (purecloud)",
)
_USER_COUNT = 9
#: The OAuth clients an organisation may have (built-in ones aside), by name.
CLIENT_NAMES: tuple[str, ...] = tuple(spec[0] for spec in _CLIENTS)


class Usage(NamedTuple):
    """One day's counts for one (client, user, template URI, method, platform)."""

    client_id: str
    user_id: str
    template_uri: str
    http_method: str
    platform: str
    status200: int
    status300: int
    status400: int
    status500: int
    status429: int

    @property
    def requests(self) -> int:
        """Total requests: 2xx + 3xx + 4xx + 5xx (429s are part of 4xx)."""
        return self.status200 + self.status300 + self.status400 + self.status500


@dataclass(frozen=True)
class Client:
    """An OAuth client of the organisation and its fixed traffic profile."""

    id: str
    name: str
    grant: str
    platform: str
    builtin: bool
    endpoints: tuple[tuple[str, str, float], ...]  # (templateUri, httpMethod, share)
    users: tuple[tuple[str, float], ...]  # (userId, share); ("", 1.0) for client credentials
    volume: float  # typical weekday requests per day at _GROWTH_EPOCH
    weekend: float  # weekend volume as a share of weekday volume
    growth: float  # yearly volume growth
    error_rate: float  # 4xx share other than 429
    base429: float  # 429 share of all requests


def _rng(*parts: object) -> random.Random:
    """A generator seeded by a stable hash of ``parts`` (not Python's salted ``hash``)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _shares(rng: random.Random, n: int) -> list[float]:
    """``n`` skewed positive shares summing to 1."""
    raw = [rng.paretovariate(1.3) for _ in range(n)]
    total = sum(raw)
    return [value / total for value in raw]


class Organization:
    """The synthetic organisation for one seed (and slot, when a sandbox serves several).

    Parameters
    ----------
    seed
        Any integer; the same seed (and slot and size) always gives the same clients, users
        and counts.
    slot
        Its place among the sandbox's organisations: 0 is the organisation a single-org
        sandbox serves; other slots derive other ids, clients and counts from the same seed.
    name
        Its display name (default ``Sandbox Contact Centre <seed> (fictional)``).
    clients
        How many of the catalogue's OAuth clients it has, 1 to ``len(CLIENT_NAMES)``
        (default all; ``GROWING_429_CLIENT`` always among them), besides the built-in ones.
    volume
        Its traffic as a multiple of the default organisation's.
    saturating
        Whether ``GROWING_429_CLIENT`` (when it has it) outgrows its rate limit from mid-2025.
    """

    def __init__(self, seed: int, slot: int = 0, *, name: str | None = None,
                 clients: int | None = None, volume: float = 1.0,
                 saturating: bool = True) -> None:
        self.seed = seed
        self.slot = slot
        # Slot 0 hashes as a single-org sandbox always did: same seed, same ids and counts.
        self._key = str(seed) if slot == 0 else f"{seed}/{slot}"
        self.id = self._uuid("organization")
        self.short_name = f"sandbox-{seed}" if slot == 0 else f"sandbox-{seed}-{slot + 1}"
        self.name = name or f"Sandbox Contact Centre {seed} (fictional)"
        self.volume = volume
        self.saturating = saturating
        self.users = tuple(self._uuid(f"user/{i}") for i in range(_USER_COUNT))
        self.clients = self._make_clients(len(_CLIENTS) if clients is None else clients)
        self._by_id = {client.id: client for client in self.clients}
        self._cache: dict[date, tuple[Usage, ...]] = {}
        self._lock = threading.Lock()

    def _uuid(self, name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"usagekit-sandbox:{self._key}:{name}"))

    def _make_clients(self, count: int) -> tuple[Client, ...]:
        if not 1 <= count <= len(_CLIENTS):
            raise ValueError(f"invalid clients {count!r}; valid: 1 to {len(_CLIENTS)}")
        picked = list(_CLIENTS)
        if count < len(_CLIENTS):  # a sample that keeps the growing-429 client
            growing = CLIENT_NAMES.index(GROWING_429_CLIENT)
            others = [i for i in range(len(_CLIENTS)) if i != growing]
            chosen = {growing, *_rng(self._key, "pick").sample(others, count - 1)}
            picked = [_CLIENTS[i] for i in sorted(chosen)]
        rng = _rng(self._key, "clients")
        ranks = list(range(1, len(picked) + 1))
        rng.shuffle(ranks)
        growing = next((i for i, spec in enumerate(picked) if spec[0] == GROWING_429_CLIENT),
                       None)
        if growing is not None and len(picked) >= 3:  # the growing-429 client ranks third
            top3 = ranks.index(3)
            ranks[growing], ranks[top3] = 3, ranks[growing]
        specs = [(*spec, rank, False) for spec, rank in zip(picked, ranks, strict=True)]
        specs += [(name, "builtin", CLIENT_CREDENTIALS, PLATFORM_BUILTIN, 8 + i, True)
                  for i, name in enumerate(_BUILTIN_CLIENTS)]
        clients = []
        for name, theme, grant, platform, rank, builtin in specs:
            crng = _rng(self._key, "client", name)
            catalogue = _THEMES[theme]
            count = crng.randint(min(3, len(catalogue)), len(catalogue))
            chosen = sorted(crng.sample(range(len(catalogue)), count))
            shares = _shares(crng, count)
            endpoints = tuple((*catalogue[i], share) for i, share in zip(chosen, shares,
                                                                          strict=True))
            if grant == CODE:
                picked = crng.sample(self.users, crng.randint(2, 4))
                users = tuple(zip(picked, _shares(crng, len(picked)), strict=True))
            else:
                users = (("", 1.0),)
            clients.append(Client(
                id=self._uuid(f"client/{name}"), name=name, grant=grant, platform=platform,
                builtin=builtin, endpoints=endpoints, users=users,
                volume=150_000 / rank ** 1.4 * crng.uniform(0.8, 1.25) * self.volume,
                weekend=crng.uniform(0.15, 0.55), growth=crng.uniform(-0.05, 0.3),
                error_rate=crng.uniform(0.004, 0.04), base429=crng.uniform(0.0, 0.003),
            ))
        return tuple(clients)

    def client(self, client_id: str) -> Client | None:
        """The client with this id, or None."""
        return self._by_id.get(client_id)

    def usage(self, day: date) -> tuple[Usage, ...]:
        """Every non-empty usage row of ``day`` (built-in clients included).

        The caller decides which days exist (today and later have no data).
        """
        with self._lock:
            cached = self._cache.get(day)
        if cached is not None:
            return cached
        rows = tuple(row for client in self.clients for row in self._client_day(client, day))
        with self._lock:
            if len(self._cache) > 1200:
                self._cache.clear()
            self._cache[day] = rows
        return rows

    def _client_day(self, client: Client, day: date) -> list[Usage]:
        rng = _rng(self._key, day.isoformat(), client.id)
        weekday = day.weekday()
        dow = (1.05, 1.0, 1.0, 1.0, 0.92, client.weekend, client.weekend * 0.85)[weekday]
        years = (day - _GROWTH_EPOCH).days / 365.25
        volume = client.volume * dow * (1 + client.growth) ** years * rng.lognormvariate(0, 0.12)
        share429 = client.base429
        if self.saturating and client.name == GROWING_429_CLIENT and day > _SATURATION_START:
            demand = _SATURATION_GROWTH ** ((day - _SATURATION_START).days / 365.25)
            volume *= demand
            share429 = max(share429, 1 - 1 / demand)
        share500 = 0.0005
        if _rng(self._key, day.isoformat(), "incident").random() < 0.015:
            share500 = 0.05  # an org-wide platform incident
        if rng.random() < 0.02:
            share500 = rng.uniform(0.03, 0.15)  # this client's bad day
        rows = []
        for template_uri, method, ep_share in client.endpoints:
            share300 = 0.006 if method == "GET" else 0.0
            for user_id, user_share in client.users:
                n = round(volume * ep_share * user_share * rng.lognormvariate(0, 0.2))
                if n <= 0:
                    continue
                s429 = round(n * share429)
                s500 = min(round(n * share500), n - s429)
                s300 = min(round(n * share300), n - s429 - s500)
                s400 = s429 + min(round(n * client.error_rate), n - s429 - s500 - s300)
                rows.append(Usage(client.id, user_id, template_uri, method, client.platform,
                                  n - s300 - s400 - s500, s300, s400, s500, s429))
        return rows
