"""The interactive explorer: pick, drill down and export views of the stored usage.

In JupyterLab, ``notebooks/04-explore-interactive.ipynb`` calls :func:`open_explorer`,
which returns an :class:`ExplorerApp`: ipywidgets for the interval, granularity, clients,
endpoint, method and metric, whose charts and tables update in place. Picking a client in
"Drill into" shows its endpoints; picking an endpoint shows its clients. "Export" writes
the current view's CSV and PNG files (:data:`EXPORT_FILES`) to the output folder.

The data comes through any engine (DuckDB over the local or S3 dataset by default,
Athena, or any other :func:`usagekit.engine.open_engine` accepts) with the explorer's own
Athena-dialect SQL in ``explore/sql/``, every value bound to a ``?``:
:class:`Explorer` answers a :class:`Selection` with a :class:`View`, asking the engine at
most twice per change and never twice the same question (:class:`Queries`).
"""

from __future__ import annotations

from usagekit.explore.notebook import first_selection, open_explorer, refresh
from usagekit.explore.queries import REQUIRED_GROUPING_KEYS, SQL_DIR, Filters, Queries
from usagekit.explore.view import (
    EXPORT_FILES,
    METRICS,
    Choices,
    Explorer,
    Selection,
    View,
    top_rows,
)
from usagekit.explore.widgets import ExplorerApp

__all__ = ["EXPORT_FILES", "METRICS", "REQUIRED_GROUPING_KEYS", "SQL_DIR", "Choices",
           "Explorer", "ExplorerApp", "Filters", "Queries", "Selection", "View",
           "first_selection", "open_explorer", "refresh", "top_rows"]
