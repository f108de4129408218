"""Alert state beside the dataset: what each webhook has been told.

One JSON object, :data:`~usagekit.config.settings.ALERT_STATE` at the dataset's root (a local
file or an S3 object), replaced whole on every save (a rename on disk, one put on S3), so a
crash leaves the previous state. Per organisation (by its id: an alert for one org never
stands for another's), per webhook (by a hash of its URL, never the URL: it may carry a
token) it keeps the alerts whose *firing* notice was delivered. An alert goes out when it
is not in that set (new, or its earlier delivery failed) and goes out once more, as
*resolved*, when it stops firing; a failed delivery leaves the set as it was, so the next
run sends it again. A state saved before organisations (version 1) belongs to the first org
checked after it (such a dataset held one org).

One ``check --notify`` at a time reads, sends and saves: :meth:`StateStore.locked` holds
:data:`~usagekit.config.settings.ALERT_LOCK` beside the state (``flock`` locally, a leased
object on S3, as the dataset's write lock), so runs that overlap send each notice once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from usagekit.config.settings import ALERT_LOCK, ALERT_STATE, LOCK_TIMEOUT, is_s3
from usagekit.exceptions import DatasetError
from usagekit.row import Org
from usagekit.watch.check import Alert, org_dict

_VERSION = 2
#: The state before organisations: one set of destinations, for the dataset's one org.
_VERSION_BEFORE_ORGS = 1
#: Where a version 1 state waits for the first org checked (and rows of no named org stay).
_NO_ORG = ""


@dataclass
class AlertState:
    """The decoded state: ``orgs[org id]["destinations"][id]["notified"][key]`` per
    delivered alert."""

    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def destinations(self, org: Org | None = None) -> dict[str, dict[str, Any]]:
        """``org``'s destinations (taking over a state saved before organisations)."""
        key = org.id if org is not None else _NO_ORG
        if key not in self.orgs and _NO_ORG in self.orgs and key != _NO_ORG:
            self.orgs[key] = self.orgs.pop(_NO_ORG)
        slot = self.orgs.setdefault(key, {"destinations": {}})
        if org is not None:
            slot["org"] = org_dict(org)
        return slot["destinations"]

    def pending(self, destination: str, alerts: Sequence[Alert], now: datetime | None = None,
                org: Org | None = None) -> list[tuple[str, dict[str, Any]]]:
        """The notices ``destination`` still needs about ``org``: ``(event, entry)`` pairs.

        ``firing`` for each alert it was not told about, then ``resolved`` for each alert
        it was told about that no longer fires. Each entry names the org (``org``).
        """
        told = self.destinations(org).get(destination, {}).get("notified", {})
        stamp = _iso(now)
        keys = {a.key for a in alerts}
        named = {"org": org_dict(org)}
        out = [("firing", {**a.to_dict(), **named, "since": stamp}) for a in alerts
               if a.key not in told]
        out += [("resolved", {**entry, **named, "resolved": stamp})
                for key, entry in told.items() if key not in keys]
        return out

    def delivered(self, destination: str, label: str, event: str, entry: dict[str, Any],
                  org: Org | None = None) -> None:
        """Record that ``destination`` accepted the ``event`` notice for ``entry``."""
        slot = self.destinations(org).setdefault(destination,
                                                 {"webhook": label, "notified": {}})
        if event == "firing":
            slot["notified"][entry["key"]] = {k: v for k, v in entry.items()
                                              if k != "resolved"}
        else:
            slot["notified"].pop(entry["key"], None)

    def to_json(self) -> bytes:
        """The stored form."""
        body = {"version": _VERSION, "updated": _iso(None), "orgs": self.orgs}
        return json.dumps(body, indent=1, sort_keys=True).encode() + b"\n"


class StateStore:
    """Reads and atomically replaces the alert state beside the dataset at ``location``."""

    def __init__(self, location: str) -> None:
        if is_s3(location):
            from usagekit.dataset.s3 import S3Storage

            self._storage: Any = S3Storage(location)
        else:
            from usagekit.dataset.local import LocalStorage

            self._storage = LocalStorage(location)

    @property
    def url(self) -> str:
        """Where the state lives."""
        return str(self._storage.url(ALERT_STATE))

    @contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the alert lock while the block reads, sends and saves.

        Raises
        ------
        DatasetError
            Another run held it longer than ``timeout`` s (naming it); nothing was sent.
        """
        with self._storage.lock(timeout, ALERT_LOCK):
            yield

    def load(self) -> AlertState:
        """The stored state (empty when there is none).

        Raises
        ------
        DatasetError
            The stored state is unreadable (it is left as it is).
        """
        data = self._storage.read(ALERT_STATE)
        if data is None:
            return AlertState()
        try:
            body = json.loads(data)
            if body.get("version") == _VERSION_BEFORE_ORGS:
                body = {"orgs": {_NO_ORG: {"destinations": body["destinations"]}}}
            elif body.get("version") != _VERSION:
                raise ValueError(body.get("version"))
            orgs = body["orgs"]
            if not isinstance(orgs, dict) or not all(
                    isinstance(slot, dict) and isinstance(slot.get("destinations"), dict)
                    for slot in orgs.values()):
                raise ValueError(orgs)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DatasetError(
                f"unreadable alert state {self.url}: expected JSON version {_VERSION} with "
                "'orgs' (or version 1 with 'destinations'); move it away to start afresh "
                "(every alert is then sent again)") from exc
        return AlertState(orgs)

    def save(self, state: AlertState) -> None:
        """Replace the stored state whole."""
        self._storage.replace(ALERT_STATE, state.to_json())


def _iso(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
