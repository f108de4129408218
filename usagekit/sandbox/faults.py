"""Faults injected on demand, consumed by the next matching requests in order."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

# kind -> {option: default}
FAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "rate_limit": {"retry_after": 1},
    "server_error": {"status": 503},
    "drop": {},
    "slow": {"seconds": 1.0},
    "truncate": {},
    "fail_query": {"message": "The usage query failed to complete."},
    "cancel_query": {},
    "expire_token": {},
}
FAULT_KINDS = tuple(FAULT_OPTIONS)
SERVER_ERROR_STATUSES = (500, 501, 502, 503, 504)
QUERY_FAULTS = ("fail_query", "cancel_query")  # consumed by query/job submissions only


@dataclass
class Fault:
    """One injected fault with ``remaining`` uses left."""

    kind: str
    remaining: int
    route: str | None
    options: dict[str, Any] = field(default_factory=dict)


def make_fault(kind: str, count: int, route: str | None, options: dict[str, Any]) -> Fault:
    """Validate an ``inject`` call and build the fault (``ValueError`` names valid values)."""
    if kind not in FAULT_OPTIONS:
        raise ValueError(f"unknown fault kind {kind!r}; valid kinds: {', '.join(FAULT_KINDS)}")
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if route is not None and not route.startswith("/"):
        raise ValueError(f"route must be a path prefix starting with '/', got {route!r}")
    valid = FAULT_OPTIONS[kind]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for fault {kind!r}; valid options: "
                         f"{', '.join(valid) or 'none'}")
    merged = {**valid, **options}
    if kind == "server_error" and merged["status"] not in SERVER_ERROR_STATUSES:
        raise ValueError(f"server_error status must be one of {SERVER_ERROR_STATUSES}, "
                         f"got {merged['status']!r}")
    if kind == "rate_limit" and (not isinstance(merged["retry_after"], int)
                                 or merged["retry_after"] < 0):
        raise ValueError(f"retry_after must be a non-negative integer (seconds), "
                         f"got {merged['retry_after']!r}")
    if kind == "slow" and not (isinstance(merged["seconds"], int | float)
                               and merged["seconds"] >= 0):
        raise ValueError(f"slow seconds must be a non-negative number, got {merged['seconds']!r}")
    return Fault(kind, count, route, merged)


class FaultPlan:
    """The queue of pending faults (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` behind the ones already pending."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        """A copy of the pending faults."""
        with self._lock:
            return [Fault(f.kind, f.remaining, f.route, dict(f.options)) for f in self._faults]

    def take(self, path: str, kinds: tuple[str, ...]) -> Fault | None:
        """Consume one use of the first pending fault of ``kinds`` whose route matches."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and (fault.route is None or path.startswith(fault.route)):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None
