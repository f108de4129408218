"""The explorer's controls and outputs as ipywidgets, updated in place on every change.

Controls: the interval (two dates, both included), granularity, clients, endpoint, method
and metric. Outputs: the metric over time, the breakdown as a table with a bar per row,
and a "Drill into" list of the breakdown's rows: picking a client shows its endpoints, picking
an endpoint shows its clients. "Back" returns to the previous view; "Export" writes the
current view's CSV and PNG files to the output folder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from usagekit.charts.tables import percent, thousands
from usagekit.display import html_text, visible
from usagekit.exceptions import UsagekitError
from usagekit.explore.view import METRICS, Choices, Explorer, Selection, View
from usagekit.query import Interval
from usagekit.query.interval import midnight
from usagekit.row import GRANULARITIES

_logger = logging.getLogger(__name__)

ALL_ENDPOINTS = "All endpoints"
ALL_METHODS = "All methods"
#: CSS classes of the chart title and the chart (browser tests find the view by them).
TITLE_CLASS = "usagekit-explore-title"
#: CSS class of the line naming the organisation explored.
ORG_CLASS = "usagekit-explore-org"
#: CSS class of the fair-use line (the allowance used; who causes an overage).
FAIR_USE_CLASS = "usagekit-explore-fair-use"
CHART_CLASS = "usagekit-explore-chart"


def _auto() -> widgets.Layout:
    """As wide as the content needs (ipywidgets' default cuts long labels)."""
    return widgets.Layout(width="auto")


def _image() -> widgets.Image:
    """A PNG shown at its own size (a flex box would stretch it), narrower if need be."""
    return widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start",
                                                             max_width="100%"))


class ExplorerApp:
    """The explorer's widgets, bound to an :class:`Explorer`.

    Set a control's ``value`` (or use the browser) and the view updates: :attr:`view`
    holds what is shown, :attr:`chart` its PNG, :attr:`table` the breakdown (HTML; its
    bar chart is drawn only when the view is exported). Errors (a date range that ends
    before it starts, an engine error) show in :attr:`status`; the previous view stays.

    Parameters
    ----------
    explorer : Explorer
        Answers each selection.
    selection : Selection
        The first view.
    output_dir : Path
        Where "Export" writes.
    """

    def __init__(self, explorer: Explorer, selection: Selection, *, output_dir: Path) -> None:
        self.explorer = explorer
        self.output_dir = Path(output_dir)
        self.start = widgets.DatePicker(description="From")
        self.end = widgets.DatePicker(description="To (incl.)")
        self.granularity = widgets.ToggleButtons(options=list(GRANULARITIES),
                                                 description="Period")
        self.metric = widgets.ToggleButtons(
            options=[(label, key) for key, label in METRICS.items()], description="Metric")
        self.clients = widgets.SelectMultiple(description="Clients", rows=8, layout=_auto())
        self.endpoint = widgets.Dropdown(description="Endpoint", layout=_auto())
        self.method = widgets.Dropdown(description="Method")
        self.drill = widgets.Select(description="Drill into", rows=10, layout=_auto())
        self.back = widgets.Button(description="Back", icon="arrow-left")
        self.reset = widgets.Button(description="All clients", icon="home")
        self.export_button = widgets.Button(description="Export CSV + PNG", icon="download",
                                            layout=_auto())
        org = explorer.org
        self.org_line = widgets.HTML(
            f'<p class="{ORG_CLASS}"><b>Organisation:</b> '
            + (html_text(org.label) + (" · fictional (the embedded sandbox's data)"
                                       if org.fictional else "")
               if org is not None else "not named (every row of the dataset)") + "</p>")
        self.fair_use_line = widgets.HTML(
            f'<p class="{FAIR_USE_CLASS}"><b>Fair use:</b> '
            f"{html_text(explorer.fair_use(selection.interval))}</p>")
        self.status = widgets.HTML()
        self.chart_title = widgets.HTML()
        self.chart = _image()
        self.chart.add_class(CHART_CLASS)
        self.breakdown_title = widgets.HTML()
        self.table = widgets.HTML()
        self.widget = widgets.VBox([
            self.org_line, self.fair_use_line,
            widgets.HBox([self.start, self.end, self.granularity]),
            self.metric,
            widgets.HBox([self.clients, widgets.VBox([self.endpoint, self.method])]),
            widgets.HBox([self.back, self.reset, self.export_button]),
            self.status,
            self.chart_title, self.chart,
            self.breakdown_title, self.table, self.drill,
        ])
        self.view: View | None = None
        self._history: list[Selection] = []
        self._span: tuple[Interval, str] | None = None
        self._quiet = False
        for control in (self.start, self.end, self.granularity, self.metric, self.clients,
                        self.endpoint, self.method):
            control.observe(self._changed, names="value")
        self.drill.observe(self._drilled, names="value")
        self.back.on_click(lambda _button: self.go_back())
        self.reset.on_click(lambda _button: self.show(Selection(
            self.selection.interval, self.selection.granularity,
            metric=self.selection.metric)))
        self.export_button.on_click(lambda _button: self.export())
        self.show(selection, remember=False)

    @property
    def selection(self) -> Selection:
        """The selection on screen."""
        if self.view is None:
            raise UsagekitError("the explorer shows no view yet")
        return self.view.selection

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def show(self, selection: Selection, *, remember: bool = True) -> View | None:
        """Show ``selection`` (controls set to match); return its view, or None on error."""
        started = time.perf_counter()
        asked = self.explorer.queries.asked
        try:
            view = self.explorer.view(selection)
            with self._hold():
                self._set_controls(selection)
            self._draw(view)
        except UsagekitError as exc:
            self._error(exc)
            return None
        if remember and self.view is not None:
            self._history.append(self.view.selection)
        self.view = view
        took = time.perf_counter() - started
        asked = self.explorer.queries.asked - asked
        self.status.value = html_text(
            f"{self.explorer.engine.kind} · {selection.span.text} · "
            f"{asked} {'query' if asked == 1 else 'queries'} · {took:.2f} s")
        return view

    def go_back(self) -> View | None:
        """Show the previous selection again."""
        if not self._history:
            return self.view
        previous = self._history.pop()
        return self.show(previous, remember=False)

    def export(self) -> list[Path]:
        """Write the current view to the output folder; return the files written."""
        if self.view is None:
            return []
        try:
            paths = self.view.export(self.output_dir)
        except OSError as exc:
            self._error(exc)
            return []
        self.status.value = html_text(
            f"exported {', '.join(p.name for p in paths)} to {self.output_dir}")
        return paths

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _hold(self) -> Iterator[None]:
        quiet, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = quiet

    def _read(self) -> Selection:
        if self.start.value is None or self.end.value is None:
            raise UsagekitError("pick both dates of the interval")
        if self.end.value < self.start.value:
            raise UsagekitError(f"the interval ends ({self.end.value}) before it starts "
                                f"({self.start.value}): pick a later end date")
        interval = Interval(midnight(self.start.value),
                            midnight(self.end.value + timedelta(days=1)))
        return Selection(interval, self.granularity.value, tuple(self.clients.value),
                         self.endpoint.value or "", self.method.value or "",
                         self.metric.value)

    def _changed(self, _change: dict[str, Any]) -> None:
        if self._quiet:
            return
        try:
            selection = self._read()
        except UsagekitError as exc:
            self._error(exc)
            return
        self.show(selection)

    def _drilled(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None or self.view is None:
            return
        self.show(self.selection.drill(change["new"]))

    def _set_controls(self, selection: Selection) -> None:
        span = (selection.interval, selection.granularity)
        if span != self._span:
            self._set_choices(self.explorer.choices(selection))
            self._span = span
        self.start.value = selection.interval.start.date()
        self.end.value = _last_day(selection.interval)
        self.granularity.value = selection.granularity
        self.metric.value = selection.metric
        offered = {value for _label, value in self.clients.options}
        self.clients.value = tuple(c for c in selection.clients if c in offered)
        self.endpoint.value = _offer(self.endpoint, selection.template_uri)
        self.method.value = _offer(self.method, selection.http_method)

    def _set_choices(self, choices: Choices) -> None:
        self.clients.options = choices.clients
        self.endpoint.options = [(ALL_ENDPOINTS, ""), *choices.endpoints]
        self.method.options = [(ALL_METHODS, ""), *choices.methods]

    def _draw(self, view: View) -> None:
        metric = view.selection.metric
        fmt = percent if metric == "error_rate" else thousands
        with self._hold():
            self.drill.options = [(f"{visible(row.label)} · {fmt(getattr(row, metric))}", row.key)
                                  for row in view.breakdown.itertuples(index=False)]
            self.drill.value = None
        self.chart_title.value = (f'<h3 class="{TITLE_CLASS}">{html_text(view.title)}</h3>')
        self.chart.value = view.png("series")
        self.breakdown_title.value = f"<h4>{html_text(view.breakdown_title)}</h4>"
        self.table.value = view.table()

    def _error(self, exc: BaseException) -> None:
        _logger.warning("explorer: %s", exc)
        self.status.value = (f'<span style="color:#b00020">{html_text(str(exc))}</span>')


def _last_day(interval: Interval) -> date:
    """The last day an interval touches (the end is exclusive)."""
    return (interval.end - timedelta(microseconds=1)).date()


def _offer(control: widgets.Dropdown, value: str) -> str:
    """``value`` if ``control`` offers it, else "" (all)."""
    return value if value in {v for _label, v in control.options} else ""
