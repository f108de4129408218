"""An offline stand-in for Genesys Cloud's OAuth, Usage and billable-usage APIs, on 127.0.0.1.

A real HTTP/1.1 server (cheroot; independent of the rest of usagekit, but for its exports
through :mod:`usagekit.lazy`) serving deterministic synthetic API usage of a fictional
organisation, with a rate limit and injectable faults. ``Sandbox(orgs=N)`` serves several
fictional organisations (``tenants.OrgSpec``), each with its own client credentials.
Chunked request bodies, keep-alive, ``Connection: close``, HEAD and gzip answers behave as
they do against Genesys Cloud, so its own CLI ``gc`` and SDKs work against it unchanged.
``Sandbox(rows_per_day=N)`` serves a large organisation instead (``large_org``), its legacy
results streamed (``legacy_stream``).

>>> from usagekit.sandbox import Sandbox        # doctest: +SKIP
>>> with Sandbox(seed=7) as sandbox:
...     print(sandbox.url, sandbox.client_id)
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "faults": ("Fault",),
    "server": ("Sandbox",),
})
