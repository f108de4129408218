"""Run the report notebook with papermill into a dated folder and render it with nbconvert."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from usagekit.config.settings import NOTEBOOKS_DIR, REPORT_TITLE, REPORTS_DIR
from usagekit.dataset.local import write_file
from usagekit.exceptions import ReportError
from usagekit.report.params import validate

_logger = logging.getLogger(__name__)


REPORT_NOTEBOOK = NOTEBOOKS_DIR / "03-usage-report.ipynb"
HTML_NAME = "usage-report.html"
EXECUTED_NAME = "usage-report.ipynb"


#: Cells with this tag are dropped from the HTML (e.g. set-up cells).
REMOVE_TAG = "remove-cell"
_RUN_FOLDER = "%Y-%m-%dT%H%M%SZ"
# The lab template without its CDN scripts (require.js, MathJax, mermaid): the report
# needs none of them and must render offline. Charts get their titles as alt text.
_TEMPLATE = "usagekit-report.html.j2"
_TEMPLATE_SOURCE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
alt="{{ (output | get_metadata('alt', 'image/png') or 'Chart') | escape_html }}">
</div>
{%- endblock data_png -%}
"""


@dataclass(frozen=True)
class ReportResult:
    """Where a report run wrote its files.

    Attributes
    ----------
    run_dir : Path
        The run folder (``<reports>/<YYYY-MM-DDTHHMMSSZ>/``): executed notebook, HTML,
        and the artefacts the notebook wrote (``summary.json``, PNG charts).
    notebook : Path
        The executed notebook.
    html : Path
        The rendered report in the run folder.
    latest : Path
        The copy at ``<reports>/usage-report.html``.
    parameters : dict
        The parameters passed to papermill.
    seconds : float
        Wall time of execution plus rendering.
    """

    run_dir: Path
    notebook: Path
    html: Path
    latest: Path
    parameters: dict[str, Any]
    seconds: float

    def summary(self) -> dict[str, Any]:
        """The run's ``summary.json`` (empty when the notebook wrote none)."""
        path = self.run_dir / "summary.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def run_folder(reports_dir: str | os.PathLike[str] | None = None,
               now: datetime | None = None) -> Path:
    """The folder of a run started at ``now`` (UTC) under ``reports_dir``."""
    root = Path(reports_dir) if reports_dir is not None else REPORTS_DIR
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(_RUN_FOLDER)
    return root / stamp


def run_report(
    parameters: Mapping[str, Any] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    *,
    notebook: str | os.PathLike[str] = REPORT_NOTEBOOK,
    kernel: str = "python3",
    now: datetime | None = None,
) -> ReportResult:
    """Execute the report notebook with papermill and render it to HTML.

    Parameters
    ----------
    parameters : Mapping, optional
        The notebook's parameters (its ``parameters`` cell declares them), validated
        before the kernel starts. ``output_dir`` is not one of them here: the run folder
        is passed to the notebook as its ``output_dir``.
    output_dir : path, optional
        The reports folder holding the run folders (default ``reports/`` of the project).
    notebook : path
        The notebook to run (default ``notebooks/03-usage-report.ipynb``).
    kernel : str
        Jupyter kernel name.
    now : datetime, optional
        Start time naming the run folder (default: now, UTC).

    Returns
    -------
    ReportResult

    Raises
    ------
    ConfigError
        For a bad parameter (before anything runs), or, without a refresh, a dataset of
        several orgs and no ``org`` to choose one.
    ReportError
        When the notebook fails (the executed notebook is kept) or rendering fails.
    """
    values = dict(parameters or {})
    if "output_dir" in values:
        raise ReportError(
            "pass the reports folder as run_report(output_dir=...), not as a notebook "
            "parameter: each run writes into its own dated folder"
        )
    run_dir = run_folder(output_dir, now)
    values["output_dir"] = str(run_dir)
    source = Path(notebook)
    if not source.is_file():
        raise ReportError(f"report notebook {str(source)!r} not found")
    params = validate(source, **values)
    if "org" in params.values and not params.values.get("refresh", True):
        from usagekit.report.gather import report_org

        report_org(params)  # several orgs and none chosen: said now, not by the notebook
    run_dir.mkdir(parents=True, exist_ok=True)
    executed = run_dir / EXECUTED_NAME
    started = time.monotonic()
    _logger.info("running %s into %s", source.name, run_dir)
    _execute(source, executed, values, kernel, run_dir)
    html = render_html(executed, run_dir / HTML_NAME)
    latest = run_dir.parent / HTML_NAME
    write_file(latest, html.read_bytes())
    seconds = time.monotonic() - started
    _logger.info("report written to %s (%.1f s)", html, seconds)
    return ReportResult(run_dir=run_dir, notebook=executed, html=html, latest=latest,
                        parameters=values, seconds=seconds)


def ipc_kernel_config(sockets: Path) -> Any:
    """Jupyter configuration that starts kernels on Unix sockets in the folder ``sockets``.

    Over TCP (Jupyter's default) the kernel's traffic is plain text on a loopback port any
    local user can reach, and ipykernel warns about it on every start; sockets in a private
    folder need no encryption. Pass it as ``config=`` to ``papermill.execute_notebook`` or
    ``nbclient.NotebookClient``.

    Parameters
    ----------
    sockets : Path
        An existing folder only this user can read (e.g. a ``tempfile.TemporaryDirectory``);
        its path must be short (a Unix socket path has at most about 100 characters).

    Returns
    -------
    traitlets.config.Config
    """
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "kernel")}})


def _quiet_shutdown_manager() -> type:
    """jupyter_client's kernel manager, without the SIGINT it sends before a shutdown.

    Every cell has run by then, so the interrupt has nothing to stop; it only races the
    kernel's last reply, and ipykernel then prints "KeyboardInterrupt caught in kernel" on
    the report's stderr. The shutdown request, SIGTERM and SIGKILL still follow as usual.
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def _execute(source: Path, executed: Path, values: dict[str, Any], kernel: str,
             cwd: Path) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        with tempfile.TemporaryDirectory(prefix="usagekit-kernel-") as sockets:
            papermill.execute_notebook(
                str(source), str(executed), parameters=values, kernel_name=kernel,
                progress_bar=False, log_output=False, cwd=str(cwd),
                config=ipc_kernel_config(Path(sockets)),
                kernel_manager_class=_quiet_shutdown_manager(),
            )
    except PapermillExecutionError as exc:
        raise ReportError(
            f"the report notebook failed in cell {exc.exec_count}: {exc.ename}: "
            f"{exc.evalue}; the executed notebook is kept at {executed}"
        ) from exc
    except Exception as exc:  # kernel missing or dead, unreadable notebook, ...
        raise ReportError(
            f"could not run {source.name} with kernel {kernel!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def render_html(executed: str | os.PathLike[str], html: str | os.PathLike[str]) -> Path:
    """Render an executed notebook as one self-contained HTML file without code.

    Cells tagged ``remove-cell`` are dropped; charts stay embedded as base64 PNGs; no
    external script (require.js, MathJax) is referenced.

    Parameters
    ----------
    executed : path
        An executed notebook.
    html : path
        Where to write the HTML (atomically).

    Returns
    -------
    Path
        ``html``.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    target = Path(html)
    try:
        nb = nbformat.read(os.fspath(executed), as_version=4)
        exporter = HTMLExporter(
            extra_loaders=[DictLoader({_TEMPLATE: _TEMPLATE_SOURCE})],
            template_file=_TEMPLATE,
            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
            embed_images=True,
        )
        exporter.register_preprocessor(
            TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}), enabled=True)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {
            "name": REPORT_TITLE}})
    except Exception as exc:
        raise ReportError(
            f"could not render {os.fspath(executed)!r} as HTML: {type(exc).__name__}: {exc}"
        ) from exc
    write_file(target, body.encode("utf-8"))
    return target
