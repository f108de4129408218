"""The billable-usage report of a fictional organisation's licences (``BillingUsageReport``).

``GET /api/v2/billing/reports/billableusage?startDate=&endDate=`` (the SDK's
``BillingApi.get_billing_reports_billableusage``) answers a ``BillingUsageReport``: the
period, a ``status`` (``InProgress`` while the report is generated, then ``Complete``: the
SDK tells its users to ask again) and, once complete, one ``BillingUsage`` per licence: its
name, ``totalUsage`` (a decimal number as a string) and the licensed resources (users) first
observed in the period, each with the date it was. Deterministic: same organisation and
period, same report.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import bad_request

#: Licence names the fictional organisations hold (Genesys Cloud's product names).
CX1 = "Genesys Cloud CX 1"
CX2 = "Genesys Cloud CX 2"
CX3 = "Genesys Cloud CX 3"
COMMUNICATE = "Genesys Cloud Communicate"
#: How many days into a period a licensed user is first seen, at most.
_FIRST_SEEN_DAYS = 5


def report_period(query: dict[str, list[str]]) -> tuple[datetime, datetime]:
    """The ``startDate`` and ``endDate`` query parameters, as UTC instants.

    Raises
    ------
    HttpFailure
        400 naming the missing or bad parameter and the form it takes.
    """
    found = []
    for name in ("startDate", "endDate"):
        text = query.get(name, [""])[-1]
        if not text:
            raise bad_request(f"{name} is required: an ISO-8601 date-time such as "
                              "2026-10-01T00:00:00.000Z.", **{name: text})
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise bad_request(f"Invalid {name} {text!r}: expected an ISO-8601 date-time "
                              "such as 2026-10-01T00:00:00.000Z.", **{name: text}) from None
        found.append(moment.replace(tzinfo=UTC) if moment.tzinfo is None
                     else moment.astimezone(UTC))
    start, end = found
    if start >= end:
        raise bad_request(f"Invalid period {start:%Y-%m-%dT%H:%M:%SZ} to "
                          f"{end:%Y-%m-%dT%H:%M:%SZ}: startDate must be before endDate.")
    return start, end


def _instant(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ss.mmmZ``, the form the SDK documents."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def billable_usage(org_id: str, licences: tuple[tuple[str, int], ...], start: datetime,
                   end: datetime, *, complete: bool) -> dict[str, Any]:
    """The ``BillingUsageReport`` of ``org_id``'s ``licences`` (name, count) for a period."""
    key = f"{org_id}:{_instant(start)}:{_instant(end)}"
    report: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"usagekit-sandbox-billing:{key}")),
        "name": f"Billable usage {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        "startDate": _instant(start), "endDate": _instant(end),
        "status": "Complete" if complete else "InProgress",
        "selfUri": "/api/v2/billing/reports/billableusage",
    }
    if not complete:
        return report
    window = max(1, int(min(end - start, timedelta(_FIRST_SEEN_DAYS)).total_seconds()))
    usages = []
    for name, count in licences:
        resources = []
        for i in range(count):
            user = str(uuid.uuid5(uuid.NAMESPACE_URL, f"usagekit-sandbox:{org_id}:{name}:{i}"))
            digest = hashlib.blake2b(f"{key}:{user}".encode(), digest_size=4).digest()
            seen = start + timedelta(seconds=int.from_bytes(digest, "big") % window)
            resources.append({"name": user, "date": _instant(seen)})
        usages.append({"name": name, "totalUsage": str(count), "resources": resources})
    report["usages"] = usages
    return report
