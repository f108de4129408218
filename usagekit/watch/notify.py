"""Post alerts to webhooks: Slack-compatible, Microsoft Teams-compatible or plain JSON.

Each new alert is one POST (and one more when it resolves; see :mod:`usagekit.watch.state`).
A webhook URL is checked before anything runs and is named in messages and logs by scheme
and host only (``https://hooks.example.com/…``): its path and query often carry a token.
A POST has a timeout and bounded retries (5xx, 429, no answer); a webhook that still fails
is reported and its alert is sent again on the next run.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from usagekit.config.settings import NOTIFY_FORMATS
from usagekit.exceptions import ConfigError, NotifyError
from usagekit.watch.check import Alert
from usagekit.watch.state import AlertState, StateStore

_logger = logging.getLogger(__name__)

FORMATS = NOTIFY_FORMATS
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
_BACKOFF = 0.5


@dataclass(frozen=True)
class Webhook:
    """A validated webhook; ``repr`` and :attr:`label` hide the URL's path and query."""

    url: str = field(repr=False)
    format: str = "slack"

    @property
    def label(self) -> str:
        """``scheme://host[:port]/…``: safe to print."""
        return redact(self.url)

    @property
    def id(self) -> str:
        """A stable id for the state (a hash: the URL itself is never stored)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Webhook({self.label!r}, format={self.format!r})"


def redact(url: str) -> str:
    """The URL with its path and query replaced by ``…``."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if _port(parts) else ""
    rest = "/…" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def _port(parts: Any) -> int | None:
    try:
        return int(parts.port) if parts.port else None
    except ValueError:
        return None


def webhook(url: str, fmt: str = "slack") -> Webhook:
    """Check a webhook URL and payload format.

    Raises
    ------
    ConfigError
        Not an ``http(s)://host/...`` URL (named without its path), or an unknown format.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"invalid notify format {fmt!r}: valid formats are "
                          f"{', '.join(FORMATS)}")
    parts = urlsplit(url.strip()) if isinstance(url, str) else None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() for c in url.strip()) or parts.username or parts.password):
        shown = redact(url) if isinstance(url, str) and "://" in url else "(not a URL)"
        raise ConfigError(f"invalid webhook URL {shown}: expected http:// or https:// with a "
                          "host and no user:password, e.g. https://hooks.example.com/services/…")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ConfigError(f"invalid webhook URL {redact(url)}: bad port") from None
    return Webhook(url.strip(), fmt)


def payload(event: str, entry: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The POST body for one notice (``event`` ``firing`` or ``resolved``)."""
    title = f"usagekit {'alert' if event == 'firing' else 'resolved'}: {entry['rule']}"
    text = entry["message"] if event == "firing" else (
        f"resolved: {entry['message']} (firing since {entry.get('since', '?')})")
    if fmt == "slack":
        return {"text": f"*{title}*\n{text}"}
    if fmt == "teams":
        return {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard", "version": "1.4", "body": [
                            {"type": "TextBlock", "text": title, "weight": "Bolder",
                             "wrap": True},
                            {"type": "TextBlock", "text": text, "wrap": True}]}}]}
    return {"source": "usagekit", "event": event, "rule": entry["rule"], "key": entry["key"],
            "message": entry["message"], "details": entry.get("details", {}),
            "since": entry.get("since"), "resolved": entry.get("resolved")}


def post(hook: Webhook, body: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT,
         retries: int = DEFAULT_RETRIES, session: requests.Session | None = None) -> None:
    """POST ``body`` as JSON; retry 5xx, 429 and no answer up to ``retries`` times.

    Raises
    ------
    NotifyError
        A 4xx (other than 429), or still failing after the retries.
    """
    http = session or requests.Session()
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(_BACKOFF * 2 ** (attempt - 1))
        try:
            with _quiet_urllib3():
                reply = http.post(hook.url, json=body, timeout=timeout, allow_redirects=False)
        except requests.Timeout:
            problem = f"no answer within {timeout:g} s"
        except requests.RequestException as exc:  # its text holds the URL: name the type only
            problem = f"connection failed ({type(exc).__name__})"
        else:
            if 200 <= reply.status_code < 300:
                return
            problem = f"HTTP {reply.status_code}"
            if 400 <= reply.status_code < 500 and reply.status_code != 429:
                raise NotifyError(f"webhook {hook.label} refused the notification: {problem}; "
                                  "check the URL and format")
        _logger.info("webhook %s: %s (attempt %d of %d)", hook.label, problem, attempt + 1,
                     retries + 1)
    raise NotifyError(f"webhook {hook.label} failed: {problem} after {retries + 1} attempt(s)")


@contextmanager
def _quiet_urllib3() -> Iterator[None]:
    """urllib3 logs request lines (with the URL path) at DEBUG: keep them out of the logs."""
    pool = logging.getLogger("urllib3.connectionpool")
    level = pool.level
    pool.setLevel(max(level, logging.INFO))
    try:
        yield
    finally:
        pool.setLevel(level)


@dataclass
class Delivery:
    """What :func:`deliver` did: notices sent and webhooks that failed."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (webhook, event, key)
    failed: list[str] = field(default_factory=list)  # one message per failed webhook
    pending: int = 0  # notices left for the next run


def deliver(alerts: Sequence[Alert], hooks: Sequence[Webhook], store: StateStore, *,
            timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES) -> Delivery:
    """Send each webhook the notices it still needs, then save the state.

    A webhook that fails gets nothing more this run; its notices stay pending and go out on
    the next run. The state is saved even when some failed (what was delivered is kept).
    """
    state: AlertState = store.load()
    report = Delivery()
    with requests.Session() as session:
        for hook in hooks:
            todo = state.pending(hook.id, alerts)
            for index, (event, entry) in enumerate(todo):
                try:
                    post(hook, payload(event, entry, hook.format), timeout=timeout,
                         retries=retries, session=session)
                except NotifyError as exc:
                    report.failed.append(str(exc))
                    report.pending += len(todo) - index
                    break
                state.delivered(hook.id, hook.label, event, entry)
                report.sent.append((hook.label, event, entry["key"]))
    store.save(state)
    return report
