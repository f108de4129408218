"""Fetch API usage from Genesys Cloud (or the sandbox): OAuth, submit, poll, page, normalise.

``client`` holds :class:`UsageClient`; ``result`` the rows of a fetch; ``auth`` OAuth client
credentials and tokens; ``profiles`` the Genesys Cloud CLI's profiles; ``regions`` the region
table; ``http`` the transport (retries,
``Retry-After``, pacing by the ``inin-ratelimit-*`` headers).
"""

from __future__ import annotations

from usagekit.fetch.auth import Credentials, Secret, TokenProvider
from usagekit.fetch.client import PollPolicy, UsageClient
from usagekit.fetch.http import RetryPolicy, Transport
from usagekit.fetch.profiles import Profile, load_profile
from usagekit.fetch.regions import REGIONS, region_name, resolve
from usagekit.fetch.result import COUNT_FIELDS, LEGACY_FIELDS, UsageResult, normalize_aggregate_row

__all__ = ["COUNT_FIELDS", "LEGACY_FIELDS", "REGIONS", "Credentials", "PollPolicy", "Profile",
           "RetryPolicy", "Secret", "TokenProvider", "Transport", "UsageClient", "UsageResult",
           "load_profile", "normalize_aggregate_row", "region_name", "resolve"]
