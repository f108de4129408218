"""The usage report: gather it in the notebook, run it in batch, render it as HTML.

In the notebook, :func:`collect` syncs the dataset for the interval (Genesys Cloud or
the embedded sandbox, see :func:`usagekit.embedded.connect`; only what is missing is
fetched), runs the analyses and the alert rules on the chosen engine and returns a
:class:`gather.ReportData`; :func:`headline` is the first screen, opening with the alerts;
:meth:`Artefacts.figure` / :meth:`Artefacts.table` show and save charts and tables;
:meth:`Artefacts.write_json` writes ``summary.json``.

In batch, :func:`run_report` executes ``notebooks/03-usage-report.ipynb`` with papermill
into a run folder ``<reports>/<YYYY-MM-DDTHHMMSSZ>/`` (UTC; one folder per run, so a
failed or repeated run never overwrites an earlier report) and renders
``usage-report.html`` there with nbconvert: code hidden, charts embedded as base64 PNGs,
no external script. The latest successful report is also copied to
``<reports>/usage-report.html``.

A failing run raises :class:`~usagekit.exceptions.ReportError` and keeps the executed
notebook (papermill marks the failing cell) in the run folder for inspection.
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
#: Importing ``usagekit.report.params`` (``usagekit report --help``) loads no pandas.
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "artefacts": ("Artefacts",),
    "first_screen": ("headline",),
    "gather": ("breakdown", "collect", "load_usage", "rate_limited"),
    "params": ("validate",),
    "run": ("run_report",),
})
