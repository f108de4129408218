"""Post alerts to webhooks: Slack-compatible, Microsoft Teams-compatible or plain JSON.

Each new alert is one POST (and one more when it resolves; see :mod:`usagekit.watch.state`).
A webhook URL is checked before anything runs and is named in messages and logs by scheme
and host only (``https://hooks.example.com/…``): its path and query often carry a token.
Each notice has a deadline for the whole request (connect, send, read the full answer, and
its bounded retries after a 5xx, a 429 or no connection); a webhook that misses it or still
fails is reported and its notice is sent again on the next run.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from usagekit.config.settings import NOTIFY_FORMATS
from usagekit.display import slack_text, teams_text
from usagekit.exceptions import ConfigError, NotifyError
from usagekit.row import Org
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
    """The POST body for one notice (``event`` ``firing`` or ``resolved``).

    Its title names the organisation (``Name (short id, region)``) the alert is about, when
    the entry names one. The alert's text and the org's name are escaped as each medium
    documents (:mod:`usagekit.display`): names the organisation chose cannot mention, link
    or format anything in Slack or Teams.
    """
    title = f"usagekit {'alert' if event == 'firing' else 'resolved'}: {entry['rule']}"
    text = entry["message"] if event == "firing" else (
        f"resolved: {entry['message']} (firing since {entry.get('since', '?')})")
    org = Org(**entry["org"]).label if entry.get("org") else None
    if fmt == "slack":
        named = f" · {slack_text(org)}" if org else ""
        return {"text": f"*{title}*{named}\n{slack_text(text)}"}
    if fmt == "teams":
        return {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard", "version": "1.4", "body": [
                            {"type": "TextBlock", "weight": "Bolder", "wrap": True,
                             "text": title + (f" · {teams_text(org)}" if org else "")},
                            {"type": "TextBlock", "text": teams_text(text),
                             "wrap": True}]}}]}
    return {"source": "usagekit", "event": event, "org": entry.get("org"),
            "rule": entry["rule"], "key": entry["key"],
            "message": entry["message"], "details": entry.get("details", {}),
            "since": entry.get("since"), "resolved": entry.get("resolved")}


def post(hook: Webhook, body: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT,
         retries: int = DEFAULT_RETRIES) -> None:
    """POST ``body`` as JSON within ``timeout`` s for the whole notice.

    The deadline covers connecting, sending, reading the full answer and any retries (5xx,
    429, no connection; up to ``retries``), so a receiver that trickles its answer, hangs or
    keeps closing costs at most ``timeout`` s. A missed deadline is not retried.

    Raises
    ------
    NotifyError
        A 4xx (other than 429), the deadline missed, or still failing after the retries.
    """
    _HIDDEN.add(hook.url)
    deadline = time.monotonic() + timeout
    problem, attempts = "", 0
    for attempt in range(retries + 1):
        if attempt:  # back off, leaving most of what is left of the deadline to the retry
            time.sleep(max(0.0, min(_BACKOFF * 2 ** (attempt - 1),
                                    (deadline - time.monotonic()) / 4)))
        attempts += 1
        try:
            status = _exchange(hook.url, body, deadline - time.monotonic())
        except (_Late, requests.Timeout):
            problem = f"no complete answer within {timeout:g} s"
            break
        except requests.RequestException as exc:  # its text holds the URL: name the type only
            problem = f"connection failed ({type(exc).__name__})"
        else:
            if 200 <= status < 300:
                return
            problem = f"HTTP {status}"
            if 400 <= status < 500 and status != 429:
                raise NotifyError(f"webhook {hook.label} refused the notification: {problem}; "
                                  "check the URL and format")
        _logger.info("webhook %s: %s (attempt %d of %d)", hook.label, problem, attempt + 1,
                     retries + 1)
    raise NotifyError(f"webhook {hook.label} failed: {problem} after {attempts} attempt(s)")


class _Late(Exception):
    """The answer was not complete by the deadline."""


def _exchange(url: str, body: dict[str, Any], seconds: float) -> int:
    """One POST whose whole exchange ends within ``seconds``; its status code.

    requests' timeout bounds each socket read, not the exchange, so the POST runs in a
    daemon thread that is left behind (to end with its socket) when the deadline passes.
    """
    if seconds <= 0:
        raise _Late
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            with requests.post(url, json=body, timeout=seconds, allow_redirects=False,
                               stream=True) as reply:
                reply.content  # noqa: B018  (the full answer, within the deadline)
                box["status"] = reply.status_code
        except Exception as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, name="usagekit-webhook", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _Late
    if "error" in box:
        raise box["error"]
    return int(box["status"])


class _HiddenPaths(logging.Filter):
    """Masks webhook URLs' paths and queries in urllib3's records (they carry tokens).

    urllib3 logs request lines at DEBUG, also from a POST left running past its deadline, so
    the filter stays on its loggers for the process's life.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, url: str) -> None:
        parts = urlsplit(url)
        secret = parts.path + (f"?{parts.query}" if parts.query else "")
        if secret not in ("", "/"):
            self._secrets.add(secret)
            self._secrets.add(parts.path)
        for name in list(logging.root.manager.loggerDict):
            if name.split(".")[0] == "urllib3" and self not in logging.getLogger(name).filters:
                logging.getLogger(name).addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        hidden = text
        for secret in sorted(self._secrets, key=len, reverse=True):
            hidden = hidden.replace(secret, "/…")
        if hidden != text:
            record.msg, record.args = hidden, ()
        return True


_HIDDEN = _HiddenPaths()


@dataclass
class Delivery:
    """What :func:`deliver` did: notices sent and webhooks that failed."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (webhook, event, key)
    failed: list[str] = field(default_factory=list)  # one message per failed webhook
    pending: int = 0  # notices left for the next run


def deliver(alerts: Sequence[Alert], hooks: Sequence[Webhook], store: StateStore, *,
            org: Org | None = None, timeout: float = DEFAULT_TIMEOUT,
            retries: int = DEFAULT_RETRIES) -> Delivery:
    """Send each webhook the notices it still needs about ``org``, then save the state.

    ``alerts`` are ``org``'s (what :func:`~usagekit.watch.evaluate` found for it); the state
    is kept per org, so another org's alerts neither stand for nor resolve these.

    The alert lock is held from reading the state to saving it, so runs that overlap send
    each notice once: a second run waits, then finds the first run's deliveries.

    A webhook that fails gets nothing more this run; its notices stay pending and go out on
    the next run. The state is saved even when some failed (what was delivered is kept).
    """
    report = Delivery()
    with store.locked():
        state: AlertState = store.load()
        for hook in hooks:
            todo = state.pending(hook.id, alerts, org=org)
            for index, (event, entry) in enumerate(todo):
                try:
                    post(hook, payload(event, entry, hook.format), timeout=timeout,
                         retries=retries)
                except NotifyError as exc:
                    report.failed.append(str(exc))
                    report.pending += len(todo) - index
                    break
                state.delivered(hook.id, hook.label, event, entry, org=org)
                report.sent.append((hook.label, event, entry["key"]))
        store.save(state)
    return report
