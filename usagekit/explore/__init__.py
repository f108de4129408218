"""The interactive explorer: pick, drill down and export views of the stored usage.

In JupyterLab, ``notebooks/04-explore-interactive.ipynb`` calls :func:`open_explorer`,
which returns an :class:`ExplorerApp`: ipywidgets for the interval, granularity, clients,
endpoint, method and metric, whose charts and tables update in place. Picking a client in
"Drill into" shows its endpoints; picking an endpoint shows its clients. "Export" writes
the current view's CSV and PNG files (:data:`view.EXPORT_FILES`) to the output folder.

The data comes through any engine (DuckDB over the local or S3 dataset by default,
Athena, or any other :func:`usagekit.engine.open_engine` accepts) with the explorer's own
Athena-dialect SQL in ``explore/sql/``, every value bound to a ``?``:
:class:`Explorer` answers a :class:`Selection` with a :class:`View`, asking the engine at
most twice per change and never twice the same question (:class:`queries.Queries`).
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "notebook": ("open_explorer",),
    "view": ("Explorer", "METRICS", "Selection", "View"),
    "widgets": ("ExplorerApp",),
})
