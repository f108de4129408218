"""Usage queries, validated before any request is sent.

A :class:`UsageQuery` describes what to fetch from either Genesys Cloud usage API:

- ``api="legacy"``: ``POST /api/v2/usage/query`` (or the per-client
  ``/api/v2/oauth/clients/{clientId}/usage/query``), half-open ISO-8601 interval;
- ``api="aggregates"``: ``POST /api/v2/usage/aggregates/query/jobs`` (or
  ``/api/v2/usage/client/{clientId}/aggregates/query/jobs``), whole UTC days with both
  ends inclusive, start at most a year back, at most :data:`usage_query.MAX_JOB_DAYS` days
  per job. Longer windows are split into compliant jobs by :meth:`UsageQuery.split`.

Names are matched case-insensitively and canonicalised; the kit spells groupBy values
as the legacy API does (``OAuthClientId``) and sends ``OauthClientId`` to the
aggregates API. Every :class:`~usagekit.exceptions.QueryError` names the bad value and
the valid ones.

Split points (aggregates) fall on bucket boundaries: any day for ``Day``, a Monday for
``Week``, the 1st of a month for ``Month``. So no week or month bucket is cut in two by
a seam, and no bucket is reported by two jobs. Without a granularity each job returns
one bucket; the client sums those per group (labelled with the interval start).
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "interval": ("Interval", "parse_interval"),
    "usage_query": ("UsageQuery",),
})
