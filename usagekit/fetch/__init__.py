"""Fetch API usage from Genesys Cloud (or the sandbox): OAuth, submit, poll, page, normalise.

``client`` holds :class:`UsageClient`; ``result`` the rows of a fetch; ``auth`` OAuth client
credentials and tokens; ``profiles`` the Genesys Cloud CLI's profiles; ``regions`` the region
table; ``http`` the transport (retries,
``Retry-After``, pacing by the ``inin-ratelimit-*`` headers).
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public names by the module that defines them. They load on first use (PEP 562), so that
#: ``UsageResult`` on a saved response (``usagekit.fetch.result``) loads neither requests
#: nor tqdm.
_MODULES: dict[str, tuple[str, ...]] = {
    "auth": ("Credentials", "Secret", "TokenProvider"),
    "client": ("PollPolicy", "UsageClient"),
    "http": ("RetryPolicy", "Transport"),
    "profiles": ("Profile", "load_profile"),
    "regions": ("REGIONS", "region_name", "resolve"),
    "result": ("COUNT_FIELDS", "LEGACY_FIELDS", "UsageResult", "normalize_aggregate_row"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
