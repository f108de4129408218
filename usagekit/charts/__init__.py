"""Charts of the analyses' frames, readable by someone who did not make them.

Every function takes a tidy frame as :mod:`usagekit.analyses` returns it and returns a
matplotlib :class:`~matplotlib.figure.Figure` (made without pyplot, so nothing leaks
into global state; Jupyter displays it when it is a cell's last expression). Conventions:

- titles say what is counted and per what period; axes carry units;
- time axes are UTC, labelled so, with concise date labels that never overlap;
- clients keep one colour across every chart of a report (:class:`Palette`), and only
  the top N are named: the rest are summed as ``"other"`` (grey), so a chart of one
  client or of 500 reads the same.
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "figures": ("plot_error_rate_by_endpoint", "plot_fair_use", "plot_fair_use_daily",
                "plot_rate_limited_over_time",
                "plot_requests_over_time", "plot_status_mix", "plot_top_clients",
                "plot_traffic_by_method"),
    "metrics": ("plot_metric_over_time", "plot_ranked_bars"),
    "palette": ("Palette",),
})
