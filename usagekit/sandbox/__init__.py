"""An offline stand-in for Genesys Cloud's OAuth and Usage APIs, on 127.0.0.1.

A real HTTP/1.1 server (cheroot; independent of the rest of usagekit) serving deterministic
synthetic API usage of a fictional organisation, with a rate limit and injectable faults.
Chunked request bodies, keep-alive, ``Connection: close``, HEAD and gzip answers behave as
they do against Genesys Cloud, so its own CLI ``gc`` and SDKs work against it unchanged.

>>> from usagekit.sandbox import Sandbox        # doctest: +SKIP
>>> with Sandbox(seed=7) as sandbox:
...     print(sandbox.url, sandbox.client_id)
"""

from __future__ import annotations

from .app import RequestRecord
from .faults import FAULT_KINDS, Fault
from .org import GROWING_429_CLIENT, Client, Organization
from .server import Sandbox

__all__ = ["FAULT_KINDS", "GROWING_429_CLIENT", "Client", "Fault", "Organization",
           "RequestRecord", "Sandbox"]
