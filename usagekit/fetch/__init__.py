"""Fetch API usage from Genesys Cloud (or the sandbox): OAuth, submit, poll, page, normalise.

``client`` holds :class:`UsageClient`; ``result`` the rows of a fetch; ``auth`` OAuth client
credentials and tokens; ``profiles`` the Genesys Cloud CLI's profiles; ``regions`` the region
table; ``http`` the transport (retries,
``Retry-After``, pacing by the ``inin-ratelimit-*`` headers).
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
#: ``UsageResult`` on a saved response (``usagekit.fetch.result``) loads neither
#: requests nor tqdm.
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "client": ("PollPolicy", "UsageClient"),
    "http": ("RetryPolicy",),
    "result": ("UsageResult",),
})
