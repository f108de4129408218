"""A large paged aggregates fetch from the sandbox under an enforced rate limit.

Run inside a task process: a fresh :class:`usagekit.sandbox.Sandbox` with ``rate_limit``
requests per ``rate_window`` seconds, then either the kit's ``UsageClient`` or a naive client
(a plain ``requests`` loop that, like the official Python SDK's urllib3 ``Retry``, sleeps
``Retry-After`` on a 429 and tries again, up to 10 times per request).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import requests

GROUP_BY = ("OAuthClientId", "UserId", "TemplateUri", "HttpMethod")
_AGGREGATES_GROUP_BY = ["OauthClientId", "UserId", "TemplateUri", "HttpMethod"]
_RETRIES = 10


class NaiveClient:
    """Token, submit, poll and page with plain ``requests``; 429 → sleep Retry-After, retry."""

    def __init__(self, url: str, client_id: str, client_secret: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.slept_s = 0.0
        self.gave_up = 0
        token = self._call("POST", "/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, client_secret)).json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        for attempt in range(_RETRIES + 1):
            reply = self.session.request(method, self.url + path, timeout=30, **kw)
            if reply.status_code == 429 and attempt < _RETRIES:
                wait = float(reply.headers.get("Retry-After", "1"))
                self.slept_s += wait
                time.sleep(wait)
                continue
            if reply.status_code == 429:
                self.gave_up += 1
            reply.raise_for_status()
            return reply
        raise AssertionError("unreachable")

    def fetch(self, first: dt.date, last: dt.date, page_size: int) -> int:
        """Rows of one aggregates job over [first, last] (both inclusive), all pages."""
        body = {"interval": f"{first}/{last}", "granularity": "Day",
                "groupBy": _AGGREGATES_GROUP_BY}
        base = "/api/v2/usage/aggregates/query/jobs"
        job = self._call("POST", base, json=body).json()["id"]
        while True:
            page = self._call("GET", f"{base}/{job}", params={"pageSize": page_size}).json()
            if page["queryStatus"] == "Succeeded":
                break
            time.sleep(0.5)
        rows = len(page.get("entities") or [])
        while page.get("nextUri"):
            page = self._call("GET", page["nextUri"]).json()
            rows += len(page.get("entities") or [])
        return rows


def run(client: str, config: dict[str, Any]) -> dict[str, Any]:
    """Fetch ``config["days"]`` days with ``client`` (``kit`` or ``naive``); report the budget."""
    from usagekit.sandbox import Sandbox

    limit, window = int(config["rate_limit"]), float(config["rate_window"])
    page_size = int(config["page_size"])
    with Sandbox(seed=7, rate_limit=limit, rate_window=window, query_seconds=0.2) as sandbox:
        last = sandbox.today() - dt.timedelta(days=1)
        first = last - dt.timedelta(days=int(config["days"]) - 1)
        reached_caller = 0
        slept: float | None = None
        start = time.perf_counter()
        try:
            if client == "kit":
                from usagekit.fetch import UsageClient
                from usagekit.query import UsageQuery, parse_interval

                kit = UsageClient(sandbox.url, client_id=sandbox.client_id,
                                  client_secret=sandbox.client_secret, progress=False)
                query = UsageQuery.build(
                    parse_interval(f"{first}/{last + dt.timedelta(days=1)}"),
                    granularity="Day", group_by=GROUP_BY, api="aggregates",
                    page_size=page_size)
                rows = len(kit.fetch(query))
            else:
                naive = NaiveClient(sandbox.url, sandbox.client_id, sandbox.client_secret)
                rows = naive.fetch(first, last, page_size)
                slept, reached_caller = naive.slept_s, naive.gave_up
        except Exception as exc:  # a 429 (or anything) reaching the caller is a result here
            rows, reached_caller = -1, reached_caller + 1
            error = f"{type(exc).__name__}: {exc}"[:300]
        else:
            error = ""
        elapsed = time.perf_counter() - start
        log = [r for r in sandbox.requests if r.path != "/oauth/token"]
    ok = sum(1 for r in log if r.status < 400)
    budget = limit * elapsed / window
    return {
        "elapsed_s": elapsed, "rows": rows, "requests": len(log), "ok_requests": ok,
        "status429": sum(1 for r in log if r.status == 429), "reached_caller": reached_caller,
        "budget_requests": budget, "budget_used": ok / budget,
        "windows": math.ceil(elapsed / window),
        "window_budget_used": ok / (limit * math.ceil(elapsed / window)),
        "rows_share": rows / (budget * page_size),
        "lost_s": elapsed - ok * window / limit, "slept_s": slept, "error": error,
        "rate_limit": limit, "rate_window": window, "page_size": page_size,
    }
