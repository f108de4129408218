"""The fictional organisations one sandbox serves, each with its own client credentials.

``Sandbox(orgs=N)`` serves the first N of :data:`FICTIONAL_ORGS`; ``Sandbox(orgs=(spec, ...))``
serves the given :class:`OrgSpec` s. The access token decides which organisation a request
sees: the one whose client credentials obtained it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .billing import COMMUNICATE, CX1, CX2, CX3
from .large_org import AnyOrganization
from .org import CLIENT_NAMES, Organization


@dataclass(frozen=True)
class OrgSpec:
    """One fictional organisation: who it is, how big, and how its OAuth client logs in.

    Attributes
    ----------
    name
        Its display name; it must say it is fictional (contain "fictional").
    region
        The Genesys Cloud region it stands in for, a label only (``eu-west-1``): every
        organisation is served on the sandbox's one URL.
    clients
        How many of the catalogue's OAuth clients it has (1 to ``len(CLIENT_NAMES)``; None:
        all of them); the built-in ones come on top.
    volume
        Its traffic as a multiple of the default organisation's (> 0).
    saturating
        Whether its "Wallboard Realtime Poller" (when it has one) outgrows its rate limit
        from mid-2025: a growing 429 share for ``check`` to alert on.
    client_id, client_secret
        The credentials ``POST /oauth/token`` accepts for it; None derives them from the
        sandbox's own: the first organisation takes them as they are, organisation number
        n (from 2) appends ``-n`` to both.
    licences
        The licences it holds, as (name, named users) pairs: what its billable-usage report
        (``GET /api/v2/billing/reports/billableusage``) counts, e.g. ``((CX3, 180),
        (COMMUNICATE, 40))`` with the names of :mod:`usagekit.sandbox.billing`.
    """

    name: str
    region: str
    clients: int | None = None
    volume: float = 1.0
    saturating: bool = True
    client_id: str | None = None
    client_secret: str | None = None
    licences: tuple[tuple[str, int], ...] = ()


#: The organisations ``Sandbox(orgs=N)`` serves, first N of them. The first is the one a
#: single-org sandbox always served (its name is filled in with the seed).
FICTIONAL_ORGS: tuple[OrgSpec, ...] = (
    OrgSpec("Sandbox Contact Centre {seed} (fictional)", "us-east-1",
            licences=((CX3, 180), (CX1, 45), (COMMUNICATE, 30))),
    OrgSpec("Harbourview Insurance (fictional)", "eu-west-1", clients=18, volume=0.4,
            saturating=False, licences=((CX2, 85), (COMMUNICATE, 12))),
    OrgSpec("Bluefin Travel Test Org (fictional)", "ap-southeast-2", clients=7, volume=0.05,
            saturating=False, licences=((CX2, 6),)),
    OrgSpec("Larkspur Retail Group (fictional)", "eu-central-1", clients=30, volume=2.5,
            licences=((CX3, 420), (CX2, 160), (CX1, 75), (COMMUNICATE, 110))),
    OrgSpec("Mosswood Utilities Dev Org (fictional)", "ca-central-1", clients=4, volume=0.01,
            saturating=False, licences=((CX1, 3),)),
)


@dataclass(frozen=True)
class SandboxOrg:
    """An organisation a running sandbox serves: its spec, credentials and usage.

    ``id`` and ``name`` are what ``GET /api/v2/organizations/me`` answers for its token.
    """

    spec: OrgSpec
    org: AnyOrganization
    client_id: str
    client_secret: str

    @property
    def id(self) -> str:
        """The organisation id (a UUID)."""
        return self.org.id

    @property
    def name(self) -> str:
        """The display name (says it is fictional)."""
        return self.org.name

    @property
    def region(self) -> str:
        """The region label of its spec."""
        return self.spec.region

    def __repr__(self) -> str:  # the secret stays out
        return (f"SandboxOrg({self.name!r}, id={self.id!r}, region={self.region!r}, "
                f"client_id={self.client_id!r})")


def org_specs(orgs: int | Sequence[OrgSpec]) -> tuple[OrgSpec, ...]:
    """The specs ``orgs`` stands for: the first N of :data:`FICTIONAL_ORGS`, or the given ones.

    Raises
    ------
    ValueError
        For a count out of range or a spec that is not valid, naming it and what is valid.
    """
    if isinstance(orgs, bool) or not isinstance(orgs, int | Sequence) or isinstance(orgs, str):
        raise ValueError(f"invalid orgs {orgs!r}; valid: a count from 1 to "
                         f"{len(FICTIONAL_ORGS)} or a sequence of OrgSpec")
    if isinstance(orgs, int):
        if not 1 <= orgs <= len(FICTIONAL_ORGS):
            raise ValueError(f"invalid orgs {orgs!r}; valid: 1 to {len(FICTIONAL_ORGS)} "
                             "(or a sequence of OrgSpec)")
        return FICTIONAL_ORGS[:orgs]
    specs = tuple(orgs)
    if not specs or not all(isinstance(spec, OrgSpec) for spec in specs):
        raise ValueError(f"invalid orgs {orgs!r}; valid: one or more OrgSpec")
    for spec in specs:
        if "fictional" not in spec.name.lower():
            raise ValueError(f"invalid org name {spec.name!r}: it must say it is fictional "
                             "(contain 'fictional')")
        if spec.clients is not None and not 1 <= spec.clients <= len(CLIENT_NAMES):
            raise ValueError(f"invalid clients {spec.clients!r} for {spec.name!r}; valid: 1 "
                             f"to {len(CLIENT_NAMES)} or None (all)")
        if not spec.volume > 0:
            raise ValueError(f"invalid volume {spec.volume!r} for {spec.name!r}; valid: > 0")
        bad = [pair for pair in spec.licences if not (
            isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
            and pair[0] and isinstance(pair[1], int) and pair[1] >= 0)]
        if bad:
            raise ValueError(f"invalid licences {bad!r} for {spec.name!r}; valid: (name, "
                             "count) pairs, a non-empty name and a count >= 0")
    return specs


def build_orgs(specs: Sequence[OrgSpec], *, seed: int, client_id: str,
               client_secret: str) -> tuple[SandboxOrg, ...]:
    """Each spec's organisation (slot = its place) with its credentials filled in.

    Raises
    ------
    ValueError
        When two organisations would share a name or a client id.
    """
    built = []
    for slot, spec in enumerate(specs):
        suffix = "" if slot == 0 else f"-{slot + 1}"
        spec = replace(spec, name=spec.name.replace("{seed}", str(seed)))
        org = Organization(seed, slot, name=spec.name, clients=spec.clients,
                           volume=spec.volume, saturating=spec.saturating)
        built.append(SandboxOrg(spec, org,
                                spec.client_id if spec.client_id is not None
                                else client_id + suffix,
                                spec.client_secret if spec.client_secret is not None
                                else client_secret + suffix))
    for what, values in (("name", [b.name for b in built]),
                         ("client id", [b.client_id for b in built])):
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"each organisation needs its own {what}; repeated: {repeated}")
    return tuple(built)
