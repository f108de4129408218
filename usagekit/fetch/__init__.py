"""Fetch API usage from Genesys Cloud (or the sandbox): OAuth, submit, poll, page, normalise.

``client`` holds :class:`UsageClient`; ``result`` the rows of a fetch; ``auth`` OAuth client
credentials and tokens; ``profiles`` the Genesys Cloud CLI's profiles; ``regions`` the region
table; ``http`` the transport (retries,
``Retry-After``, pacing by the ``inin-ratelimit-*`` headers).
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: Public names by the module that defines them. They load on first use (PEP 562), so that
#: ``UsageResult`` on a saved response (``usagekit.fetch.result``) loads neither requests
#: nor tqdm.
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "auth": ("Credentials", "Secret", "TokenProvider"),
    "client": ("PollPolicy", "UsageClient"),
    "http": ("RetryPolicy", "Transport"),
    "profiles": ("Profile", "load_profile"),
    "regions": ("REGIONS", "region_name", "resolve"),
    "result": ("UsageResult", "normalize_aggregate_row"),
})
