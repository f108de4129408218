"""Named analyses, written once in Athena (Trino) SQL, run on any engine.

Each analysis reads one granularity and ONE grouping (which ``groupBy`` set produced the
rows; sums never mix groupings), keeps rows whose bucket starts in ``[start, end)`` and
returns a tidy DataFrame; ``org=`` (an organisation id or :class:`~usagekit.row.Org`) reads
that organisation's rows only, else every org's. Values are bound to ``?`` placeholders
(the org's id too); only the validated ``"database"."table"`` is written into the SQL
text. ``status429`` is a subset of ``status400``: errors are ``status400 + status500``,
never plus ``status429``.

Examples
--------
>>> from usagekit.engine import open_engine  # doctest: +SKIP
>>> from usagekit.analyses import ANALYSES, top_clients_429
>>> top_clients_429(open_engine(), start="2026-10-01", end="2026-11-01", limit=5)
>>> top_clients_429(open_engine(), org="5d1c8f1e-7a2b-4c3d-9e4f-0a1b2c3d4e5f")
>>> ANALYSES["fair_use"](open_engine(), licences="licences.toml")
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "library": ("ANALYSES", "client_changes",
                "error_rate_by_endpoint", "fair_use", "fair_use_daily", "method_mix",
                "overage_by_client", "rate_429_over_time", "requests_over_time", "run",
                "spikes", "status_mix", "top_clients_429"),
    "licences": ("ALLOWANCES", "LicenceBook", "load_licences", "parse_licences"),
})
