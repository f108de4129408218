"""Licence counts from Genesys Cloud itself: the billing API's billable-usage report.

``GET /api/v2/billing/reports/billableusage?startDate=&endDate=`` (the SDK's
``BillingApi.get_billing_reports_billableusage``) answers a ``BillingUsageReport``: a
``status`` (``InProgress`` while Genesys generates it: ask again; then ``Complete``) and one
``BillingUsage`` per licence, its ``name`` and ``totalUsage`` (a decimal number as a
string). The OAuth client needs a role that may read billing data; without it Genesys
answers 403 and :func:`billable_usage` raises :class:`~usagekit.exceptions.ApiError` with
that status.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from usagekit.exceptions import ApiError

if TYPE_CHECKING:
    from usagekit.fetch.client import UsageClient

_logger = logging.getLogger(__name__)
PATH = "/api/v2/billing/reports/billableusage"


class _Usage(msgspec.Struct):
    name: str
    totalUsage: str = "0"


class _Report(msgspec.Struct):
    status: str = ""
    usages: list[_Usage] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class BillableUsage:
    """What Genesys billed for a period: (licence name as billed, count) pairs."""

    start: datetime
    end: datetime
    usages: tuple[tuple[str, float], ...]


def _instant(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def billable_usage(client: UsageClient, start: datetime, end: datetime) -> BillableUsage:
    """The billable-usage report of ``[start, end)``, asked again while ``InProgress``.

    Raises
    ------
    ApiError
        Genesys refused (403: the OAuth client may not read billing data) or failed.
        Also when the report is still in progress at the client's poll deadline.
    """
    policy = client.poll
    deadline = time.monotonic() + policy.deadline
    delay = policy.initial
    params = {"startDate": _instant(start), "endDate": _instant(end)}
    decode = msgspec.json.Decoder(_Report).decode
    while True:
        report = client.transport.call("GET", PATH, params=params, decode=decode).data
        if report.status == "Complete":
            break
        if report.status != "InProgress":
            raise ApiError(f"GET {PATH}: unexpected report status {report.status!r}; "
                           "expected InProgress or Complete")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ApiError(f"GET {PATH}: the billable-usage report was still in progress "
                           f"after {policy.deadline:.0f} s; ask again later")
        time.sleep(min(delay, remaining))
        delay = min(delay * policy.factor, policy.maximum)
    usages = []
    for usage in report.usages:
        try:
            usages.append((usage.name, float(usage.totalUsage)))
        except ValueError:
            raise ApiError(f"GET {PATH}: licence {usage.name!r} has totalUsage "
                           f"{usage.totalUsage!r}, not a number") from None
    _logger.info("billable usage %s to %s: %d licences", params["startDate"],
                 params["endDate"], len(usages))
    return BillableUsage(start=start, end=end, usages=tuple(usages))
