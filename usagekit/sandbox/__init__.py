"""An offline stand-in for Genesys Cloud's OAuth and Usage APIs, on 127.0.0.1.

A real HTTP/1.1 server (cheroot; independent of the rest of usagekit) serving deterministic
synthetic API usage of a fictional organisation, with a rate limit and injectable faults.
Chunked request bodies, keep-alive, ``Connection: close``, HEAD and gzip answers behave as
they do against Genesys Cloud, so its own CLI ``gc`` and SDKs work against it unchanged.
``Sandbox(rows_per_day=N)`` serves a large organisation instead (``large_org``), its legacy
results streamed (``legacy_stream``).

>>> from usagekit.sandbox import Sandbox        # doctest: +SKIP
>>> with Sandbox(seed=7) as sandbox:
...     print(sandbox.url, sandbox.client_id)
"""

from __future__ import annotations

from .app import RequestRecord
from .faults import FAULT_KINDS, Fault
from .large_org import (
    MAX_ROWS_PER_DAY,
    MIN_ROWS_PER_DAY,
    LargeClient,
    LargeOrganization,
    check_rows_per_day,
)
from .org import GROWING_429_CLIENT, Client, Organization
from .server import Sandbox

__all__ = ["FAULT_KINDS", "GROWING_429_CLIENT", "MAX_ROWS_PER_DAY", "MIN_ROWS_PER_DAY", "Client",
           "Fault", "LargeClient", "LargeOrganization", "Organization", "RequestRecord",
           "Sandbox", "check_rows_per_day"]
