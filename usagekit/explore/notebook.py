"""What the explorer notebook calls: refresh the dataset, open the explorer on the engine.

>>> params = validate("explore-interactive", interval="2026-10-26/2026-11-16")  # doctest: +SKIP
>>> app = open_explorer(params)  # doctest: +SKIP
>>> app  # the widgets; app.view is what they show  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from usagekit.analyses.licences import load_licences
from usagekit.engine import open_engine
from usagekit.exceptions import ConfigError
from usagekit.explore.view import Explorer, Selection
from usagekit.explore.widgets import ExplorerApp
from usagekit.report.gather import refresh, report_org
from usagekit.report.params import NotebookParams

_logger = logging.getLogger(__name__)
_NAMED_IN_ERRORS = 10


def first_selection(explorer: Explorer, params: NotebookParams) -> Selection:
    """The view the parameters ask for.

    ``client`` picks every client whose name or id contains it, ``template_uri`` the
    busiest endpoint whose template URI contains it (both case-insensitive).

    Raises
    ------
    ConfigError
        When nothing in the interval matches ``client`` or ``template_uri`` (naming what
        does).
    """
    selection = Selection(params.interval, params.granularity,
                          http_method=params.http_method, metric=params.metric)
    choices = explorer.choices(selection)
    clients: tuple[str, ...] = ()
    if params.client:
        needle = params.client.lower()
        clients = tuple(cid for label, cid in choices.clients
                        if needle in label.lower() or needle in cid.lower())
        if not clients:
            raise ConfigError(_no_match("client", params.client, selection,
                                        [label for label, _ in choices.clients]))
    template = ""
    if params.template_uri:
        needle = params.template_uri.lower()
        template = next((uri for uri, _ in choices.endpoints if needle in uri.lower()), "")
        if not template:
            raise ConfigError(_no_match("template_uri", params.template_uri, selection,
                                        [uri for uri, _ in choices.endpoints]))
    return Selection(selection.interval, selection.granularity, clients, template,
                     params.http_method, params.metric)


def open_explorer(params: NotebookParams, env: Mapping[str, str] | None = None
                  ) -> ExplorerApp:
    """Refresh (when ``params.refresh``) and open the explorer's widgets.

    The engine is ``params.engine`` (any name :func:`usagekit.engine.open_engine`
    accepts: DuckDB over ``params.dataset`` by default, Athena over its Glue table). It
    explores one org's rows, chosen as the report chooses (:func:`report_org`), and says
    where the org stands against its fair-use allowance (``params.licences``).
    """
    connected = refresh(params, env)[1] if params.refresh else None
    org = report_org(params, connected)
    engine = open_engine(params.engine, params.dataset)
    licences = load_licences(params.licences) if params.licences else None
    explorer = Explorer(engine, top_n=params.top_n, org=org, licences=licences)
    return ExplorerApp(explorer, first_selection(explorer, params),
                       output_dir=params.output_dir)


def _no_match(name: str, value: str, selection: Selection, valid: list[str]) -> str:
    named = ", ".join(valid[:_NAMED_IN_ERRORS]) or "(none: the interval holds no rows)"
    more = f" and {len(valid) - _NAMED_IN_ERRORS} more" if len(valid) > _NAMED_IN_ERRORS \
        else ""
    return (f"invalid {name} {value!r}: nothing in {selection.span.text} at "
            f"{selection.granularity} matches it; valid: {named}{more}")
