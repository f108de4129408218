"""Usage rows built by hand for the watch tests, written into a real dataset."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.orgs import ORG
from usagekit.config.settings import REPORT_GROUP_BY
from usagekit.dataset import open_dataset
from usagekit.query import Interval
from usagekit.query.interval import midnight
from usagekit.row import Org

URI = "/api/v2/users/{userId}"
#: A second real-looking org, for datasets holding two.
OTHER_ORG = Org("7e3b9c2d-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "Other Org", "usw2.pure.cloud")


def row(day: date, client: str, requests: int, *, s429: int = 0, s5xx: int = 0,
        uri: str = URI, method: str = "GET") -> dict[str, Any]:
    """One API row (grouped by client, template URI and method) for ``day``."""
    return {"clientId": f"id-{client.lower()}", "clientName": client, "organizationId": "",
            "userId": "", "templateUri": uri, "httpMethod": method,
            "status200": requests - s429 - s5xx, "status300": 0, "status400": s429,
            "status500": s5xx, "status429": s429, "requests": requests,
            "date": f"{day:%Y-%m-%d}T00:00:00Z"}


def quiet_days(last: date, days: int = 14) -> list[dict[str, Any]]:
    """Two clients with steady traffic and no errors, for ``days`` days up to ``last``."""
    out = []
    for n in range(days):
        day = last - timedelta(days=n)
        out += [row(day, "Acme Sync", 1000), row(day, "Wallboard", 500)]
    return out


def week_rows(day_rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The day rows summed per Monday-started week (what the API answers for Week)."""
    weeks: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in day_rows:
        day = date.fromisoformat(r["date"][:10])
        monday = day - timedelta(days=day.weekday())
        key = (r["clientId"], r["templateUri"], r["httpMethod"], str(monday))
        slot = weeks.setdefault(key, {**r, **{c: 0 for c in (
            "status200", "status300", "status400", "status500", "status429", "requests")},
            "date": f"{monday}T00:00:00Z"})
        for c in ("status200", "status300", "status400", "status500", "status429",
                  "requests"):
            slot[c] += r[c]
    return list(weeks.values())


def store(location: Path, days: list[dict[str, Any]],
          weeks: list[dict[str, Any]] | None = None, org: Org = ORG) -> None:
    """Replace ``org``'s day (and week) rows with these, over the span they cover."""
    dataset = open_dataset(str(location), org=org)
    for gran, rows in (("day", days), ("week", week_rows(days) if weeks is None else weeks)):
        dates = sorted(date.fromisoformat(r["date"][:10]) for r in rows)
        if gran == "week":
            span = Interval(midnight(dates[0]), midnight(dates[-1] + timedelta(days=7)))
        else:
            span = Interval(midnight(dates[0]), midnight(dates[-1] + timedelta(days=1)))
        dataset.write(rows, granularity=gran, grouping=REPORT_GROUP_BY, interval=span)


def limited(last: date, *clients: str, s429: int = 300) -> list[dict[str, Any]]:
    """Quiet days up to ``last``, with ``clients`` rate-limited on ``last``."""
    days = [r for r in quiet_days(last) if not (r["clientName"] in clients
                                               and r["date"].startswith(str(last)))]
    return days + [row(last, name, 500, s429=s429) for name in clients]
