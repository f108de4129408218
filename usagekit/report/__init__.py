"""The usage report: gather it in the notebook, run it in batch, render it as HTML.

In the notebook, :func:`collect` syncs the dataset for the interval (Genesys Cloud or
the embedded sandbox, see :func:`usagekit.embedded.connect`; only what is missing is
fetched), runs the analyses and the alert rules on the chosen engine and returns a
:class:`ReportData`; :func:`headline` is the first screen, opening with the alerts;
:meth:`ReportData.figure` / :meth:`ReportData.table` show and save charts and tables;
:meth:`ReportData.write_summary` writes ``summary.json``.

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

#: Public names by the module that defines them. They load on first use (PEP 562), so that
#: importing ``usagekit.report.params`` (``usagekit report --help``) loads no pandas.
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "artefacts": ("REPORT_TITLE", "Artefacts", "Chart", "Markdown"),
    "cells": ("Parameter", "notebooks", "parameters"),
    "collect": ("REPORT_GROUP_BY", "ReportData", "breakdown", "collect", "load_usage",
                "rate_limited", "refresh"),
    "headline": ("headline",),
    "params": ("NotebookParams", "default_interval", "validate"),
    "run": ("EXECUTED_NAME", "HTML_NAME", "REPORT_NOTEBOOK", "ReportResult", "render_html",
            "run_folder", "run_report"),
})
