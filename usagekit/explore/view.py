"""What the explorer shows for one selection: the series, the breakdown, their charts.

A :class:`Selection` is what the user picked (interval, granularity, clients, endpoint,
method, metric). :meth:`Explorer.view` answers it with a :class:`View`: the metric per
period (one line per selected client, else the selection's total) and the breakdown that
drills one level down — a client's endpoints when clients are picked, an endpoint's
clients when an endpoint is picked, else every client. :meth:`Selection.drill` follows a
breakdown row: from a client to its endpoints, from an endpoint to its clients.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from usagekit import analyses, charts
from usagekit.analyses.library import VIEW_METRICS
from usagekit.analyses.licences import LicenceBook
from usagekit.charts.palette import MAX_NAMED, OTHER
from usagekit.charts.tables import HEADERS, bar_table, client_labels
from usagekit.dataset.local import write_file
from usagekit.display import csv_frame
from usagekit.exceptions import ConfigError
from usagekit.explore.queries import Filters, Queries
from usagekit.query import Interval
from usagekit.row import (
    GRANULARITIES,
    HTTP_METHOD,
    ORG,
    REQUESTS,
    STATUS429,
    TEMPLATE_URI,
    Org,
)
from usagekit.watch.check import org_dict

if TYPE_CHECKING:
    from usagekit.engine import Engine

_logger = logging.getLogger(__name__)

#: The metrics one can pick, with their labels.
METRICS = VIEW_METRICS
ALL_CLIENTS = "All clients"
COUNTS = [REQUESTS, STATUS429, "errors"]
#: Views (with their charts) an explorer keeps for going back.
VIEWS_KEPT = 16
#: Clients named in the fair-use line when the org is over its allowance.
FAIR_USE_NAMED = 3
#: Files an export writes into the output folder.
EXPORT_FILES = ("explore-series.csv", "explore-series.png", "explore-breakdown.csv",
                "explore-breakdown.png", "explore-view.json")


@dataclass(frozen=True)
class Selection:
    """What the user picked.

    Attributes
    ----------
    interval : Interval
        Half-open UTC interval; Week and Month views widen its start to the bucket's.
    granularity : str
        ``Day``, ``Week`` or ``Month``.
    clients : tuple of str
        OAuth client ids (empty: every client).
    template_uri, http_method : str
        One endpoint and one method ("" = all).
    metric : str
        One of :data:`METRICS`.
    """

    interval: Interval
    granularity: str = "Day"
    clients: tuple[str, ...] = ()
    template_uri: str = ""
    http_method: str = ""
    metric: str = "requests"

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ConfigError(f"invalid granularity {self.granularity!r}: use one of "
                              f"{', '.join(GRANULARITIES)}")
        if self.metric not in METRICS:
            raise ConfigError(f"invalid metric {self.metric!r}: use one of "
                              f"{', '.join(METRICS)}")
        object.__setattr__(self, "clients", tuple(dict.fromkeys(self.clients)))

    @property
    def breakdown(self) -> str:
        """``endpoint`` (the picked clients' endpoints) or ``client`` (who calls what)."""
        return "endpoint" if self.clients and not self.template_uri else "client"

    @property
    def span(self) -> Interval:
        """The interval widened to whole buckets at the start (Week: Monday, Month: 1st)."""
        return Interval(self.interval.aligned(self.granularity, self.interval.end.date())
                        .start, self.interval.end)

    def filters(self) -> Filters:
        """The rows this selection counts."""
        return Filters(self.clients, self.template_uri, self.http_method)

    def drill(self, key: Any) -> Selection:
        """Follow a breakdown row: a client id, or an ``(http_method, template_uri)`` pair.

        A client leads to its endpoints (the endpoint filters are cleared); an endpoint
        leads to its clients (the client filter is cleared).
        """
        if self.breakdown == "client":
            if not isinstance(key, str) or not key:
                raise ConfigError(f"invalid client {key!r}: pick a client id from the list")
            return replace(self, clients=(key,), template_uri="", http_method="")
        if not (isinstance(key, tuple) and len(key) == 2 and key[1]):
            raise ConfigError(f"invalid endpoint {key!r}: pick an (HTTP method, template "
                              "URI) pair from the list")
        return replace(self, clients=(), http_method=key[0], template_uri=key[1])

    def describe(self) -> dict[str, Any]:
        """JSON-ready values (for ``explore-view.json``)."""
        values = asdict(self)
        return values | {"interval": self.interval.text, "span": self.span.text,
                         "clients": list(self.clients), "breakdown": self.breakdown}


@dataclass(frozen=True)
class Choices:
    """What can be picked in an interval: clients, endpoints and methods, busiest first.

    Attributes
    ----------
    clients : list of (label, client id)
    endpoints : list of (template URI, template URI)
    methods : list of (method, method)
    """

    clients: list[tuple[str, str]]
    endpoints: list[tuple[str, str]]
    methods: list[tuple[str, str]]


@dataclass(frozen=True)
class View:
    """The answer to one :class:`Selection`.

    Attributes
    ----------
    selection : Selection
    series : DataFrame
        ``date``, ``series`` (a client's label, or the selection's name), the counts
        ``requests``, ``status429``, ``errors`` and ``error_rate``.
    breakdown : DataFrame
        One row per client (``key`` = client id) or endpoint (``key`` = (method, URI)),
        ``label``, the counts and ``error_rate``; ranked by the metric, busiest first.
    subject : str
        Who or what the series counts, e.g. ``billing-sync`` or ``GET /api/v2/users``.
    title, breakdown_title : str
        What the two charts show.
    palette : charts.Palette
        The colours of the selected clients (shared by both charts).
    org : Org or None
        The organisation whose rows it counts (None: every row).
    """

    selection: Selection
    series: pd.DataFrame
    breakdown: pd.DataFrame
    subject: str
    title: str
    breakdown_title: str
    palette: charts.Palette
    top_n: int = 10
    org: Org | None = None
    _figures: dict[str, Figure] = field(default_factory=dict, repr=False, compare=False)
    _pngs: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def series_figure(self) -> Figure:
        """The metric per period, one line per series."""
        if "series" not in self._figures:
            self._figures["series"] = charts.plot_metric_over_time(
                self.series, metric=self.selection.metric,
                granularity=self.selection.granularity, palette=self.palette,
                title=self.title)
        return self._figures["series"]

    def breakdown_figure(self) -> Figure:
        """The top breakdown rows by the metric, the rest as ``other``."""
        if "breakdown" not in self._figures:
            top = top_rows(self.breakdown, self.top_n)
            colors = ([self.palette.color(label) if self.palette.bucket(label) != OTHER
                       else None for label in top["label"]]
                      if self.selection.breakdown == "client" else None)
            self._figures["breakdown"] = charts.plot_ranked_bars(
                top, metric=self.selection.metric, title=self.breakdown_title,
                colors=colors)
        return self._figures["breakdown"]

    def table(self) -> str:
        """The top breakdown rows (+ ``other``) as HTML, with a bar for the metric."""
        metric = self.selection.metric
        return bar_table(
            top_rows(self.breakdown, self.top_n), value=metric,
            columns=[c for c in (*COUNTS, "error_rate") if c != metric],
            headers={**HEADERS, "label": (
                "Client" if self.selection.breakdown == "client" else "Endpoint")})

    def png(self, which: str) -> bytes:
        """``series`` or ``breakdown`` chart as PNG bytes (drawn once)."""
        if which not in self._pngs:
            figure = {"series": self.series_figure,
                      "breakdown": self.breakdown_figure}[which]()
            buffer = BytesIO()
            # zlib level 1: a third of level 6's time for a few percent more bytes
            figure.savefig(buffer, format="png", dpi=100, pil_kwargs={"compress_level": 1})
            self._pngs[which] = buffer.getvalue()
        return self._pngs[which]

    def export(self, output_dir: str | Path) -> list[Path]:
        """Write the view as CSV, PNG and JSON (:data:`EXPORT_FILES`); return the paths.

        Each file is written to a temporary name and renamed, so a failed export leaves
        the previous files whole.
        """
        folder = Path(output_dir)
        series_csv = csv_frame(self.series).to_csv(index=False).encode()
        breakdown = self.breakdown.assign(key=self.breakdown["key"].map(_key_text))
        payload = {"org": org_dict(self.org), "selection": self.selection.describe(),
                   "title": self.title,
                   "breakdown_title": self.breakdown_title, "files": list(EXPORT_FILES)}
        contents = {
            "explore-series.csv": series_csv,
            "explore-series.png": self.png("series"),
            "explore-breakdown.csv": csv_frame(breakdown).to_csv(index=False).encode(),
            "explore-breakdown.png": self.png("breakdown"),
            "explore-view.json": json.dumps(payload, indent=2).encode() + b"\n",
        }
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, data in contents.items():
            write_file(folder / name, data)
            paths.append(folder / name)
        _logger.info("exported the view %r to %s", self.title, folder)
        return paths


class Explorer:
    """Views of the stored usage through one engine.

    Parameters
    ----------
    engine : Engine
        Any engine :func:`usagekit.engine.open_engine` opens.
    top_n : int
        Breakdown rows named in charts and tables (the rest are ``other``), and series
        drawn one by one.
    org : Org, optional
        The organisation whose rows are explored (default: every row).
    licences : LicenceBook, optional
        The org's licences, for the fair-use line (:meth:`fair_use`); unknown without.

    Notes
    -----
    The last :data:`VIEWS_KEPT` views are kept with their PNGs: going back is free.
    """

    def __init__(self, engine: Engine, *, top_n: int = 10, org: Org | None = None,
                 licences: LicenceBook | None = None) -> None:
        self.queries = Queries(engine, org=org.id if org is not None else None)
        self.org = org
        self.licences = licences
        self.top_n = top_n
        self._views: OrderedDict[Selection, View] = OrderedDict()

    @property
    def engine(self) -> Engine:
        """The engine the queries go to."""
        return self.queries.engine

    def usage(self, selection: Selection) -> pd.DataFrame:
        """Counts per client and endpoint over the selection's span, with client labels."""
        span = selection.span
        usage = self.queries.usage_by_endpoint(selection.granularity.lower(), span.start,
                                               span.end)
        return usage.assign(label=client_labels(usage))

    def choices(self, selection: Selection) -> Choices:
        """The clients, endpoints and methods of the selection's interval, busiest first."""
        usage = self.usage(selection)

        def ranked(by: str) -> list[str]:
            totals = usage.groupby(by, sort=False)["requests"].sum()
            return list(totals.sort_values(ascending=False, kind="stable").index)

        clients = (usage.groupby(["clientId", "label"], sort=False)["requests"].sum()
                   .sort_values(ascending=False, kind="stable").index)
        return Choices(clients=[(label, cid) for cid, label in clients],
                       endpoints=[(u, u) for u in ranked("templateUri")],
                       methods=[(m, m) for m in ranked("httpMethod")])

    def fair_use(self, interval: Interval, top: int = FAIR_USE_NAMED) -> str:
        """The org's fair-use position in the last month of ``interval``, in a line: the
        share of the allowance used (or projected, for a month in progress) and, when over
        it, the clients causing the overage (pro rata to requests, as ``overage_by_client``).
        """
        if self.licences is None:
            return ("allowance unknown: give the org's licences (the licences parameter, "
                    "README \"Fair use\")")
        last = interval.end - timedelta(microseconds=1)
        span = {"start": last.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
                "end": interval.end, "as_of": f"{last:%Y-%m-%d}", "licences": self.licences,
                ORG: self.org}
        months = analyses.fair_use(self.engine, **span)
        if months.empty or pd.isna(months["allowance"].iloc[-1]):
            return f"no rows or no allowance for {last:%B %Y}"
        month = months.iloc[-1]
        done = bool(month["complete"])
        share = float(month["used_share" if done else "projected_share"])
        over = float(month["overage"] if done else month["projected_overage"]) > 0
        text = (f"{last:%B %Y}: {share:.0%} of the allowance {int(month['allowance']):,}"
                + ("" if done else " (month-end projection)"))
        if not over:
            return text
        clients = analyses.overage_by_client(self.engine, **span)
        named = clients[clients["counted"]].nlargest(top, REQUESTS)
        who = ", ".join(f"{label} {float(share):.0%}"
                        for label, share in zip(client_labels(named), named["share"],
                                                strict=True))
        return f"{text}: over it; top contributors {who}"

    def view(self, selection: Selection) -> View:
        """Answer ``selection``: its series, its breakdown and their titles."""
        if selection in self._views:
            self._views.move_to_end(selection)
            return self._views[selection]
        view = self._answer(selection)
        self._views[selection] = view
        while len(self._views) > VIEWS_KEPT:
            self._views.popitem(last=False)
        return view

    def _answer(self, selection: Selection) -> View:
        usage = self.usage(selection)
        labels = dict(zip(usage["clientId"], usage["label"], strict=True))
        kept = usage[_keep(usage, selection)]
        breakdown = _breakdown(kept, selection)
        span = selection.span
        series = self.queries.series(selection.granularity.lower(), span.start, span.end,
                                     selection.filters(), by_client=bool(selection.clients))
        subject = _subject(selection, labels)
        if selection.clients:
            # colours and names for the picked clients, busiest (by the metric) first
            ranked = [labels.get(c, c) for c in _ranked_clients(usage, selection)]
            palette = charts.Palette.from_ranking(
                ranked, top_n=min(len(ranked), MAX_NAMED, self.top_n))
            names = [palette.bucket(labels.get(c, c)) for c in series["clientId"]]
            series = _series(series.assign(series=names))
        else:
            palette = charts.Palette.from_ranking([], top_n=1)
            series = _series(series.assign(series=subject))
        word = selection.granularity.lower()
        metric = METRICS[selection.metric]
        title = f"{metric} per {word} · {subject}"
        if selection.breakdown == "endpoint":
            what = f"Endpoints of {subject}"
        elif selection.template_uri:
            what = f"Clients of {subject}"
        else:
            what = "Clients" if not selection.http_method else f"Clients calling {subject}"
        return View(selection=selection, series=series, breakdown=breakdown,
                    subject=subject, title=title,
                    breakdown_title=f"{what} by {metric.lower()}", palette=palette,
                    top_n=self.top_n, org=self.org)


def _key_text(key: Any) -> str:
    return " ".join(key) if isinstance(key, tuple) else str(key)


def _keep(usage: pd.DataFrame, selection: Selection) -> pd.Series:
    keep = pd.Series(True, index=usage.index)
    if selection.clients:
        keep &= usage["clientId"].isin(selection.clients)
    if selection.template_uri:
        keep &= usage["templateUri"] == selection.template_uri
    if selection.http_method:
        keep &= usage["httpMethod"] == selection.http_method
    return keep


def _rates(frame: pd.DataFrame) -> pd.DataFrame:
    requests = frame["requests"].where(frame["requests"] > 0)
    return frame.assign(error_rate=(frame["errors"] / requests).astype("float64"))


def _ranked(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    return frame.sort_values([metric, "requests", "label"], ascending=[False, False, True],
                             kind="stable", na_position="last").reset_index(drop=True)


def _ranked_clients(usage: pd.DataFrame, selection: Selection) -> list[str]:
    """The picked client ids ranked by the metric (those without rows last, as picked)."""
    picked = usage[usage["clientId"].isin(selection.clients)]
    per = _rates(picked.groupby(["clientId", "label"], as_index=False)[COUNTS].sum())
    ranked = list(_ranked(per, selection.metric)["clientId"])
    return ranked + [c for c in selection.clients if c not in ranked]


def _breakdown(kept: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    if selection.breakdown == "client":
        per = kept.groupby(["clientId", "label"], as_index=False)[COUNTS].sum()
        per = per.assign(key=per["clientId"]).drop(columns=["clientId"])
    else:
        per = kept.groupby([HTTP_METHOD, TEMPLATE_URI], as_index=False)[COUNTS].sum()
        per = per.assign(key=list(zip(per["httpMethod"], per["templateUri"], strict=True)),
                         label=per["httpMethod"] + " " + per["templateUri"])
        per = per.drop(columns=[HTTP_METHOD, TEMPLATE_URI])
    per = per.astype({c: "int64" for c in COUNTS})
    return _ranked(_rates(per), selection.metric)[["key", "label", *COUNTS, "error_rate"]]


def top_rows(breakdown: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """The first ``top_n`` rows, plus one ``other (k)`` row summing the rest."""
    if len(breakdown) <= top_n:
        return breakdown.reset_index(drop=True)
    rest = breakdown.iloc[top_n:]
    other = {"key": "", "label": f"{OTHER} ({len(rest)})",
             **{c: int(rest[c].sum()) for c in COUNTS}}
    joined = pd.concat([breakdown.iloc[:top_n], pd.DataFrame([other])], ignore_index=True)
    return _rates(joined.astype({c: "int64" for c in COUNTS}))


def _series(frame: pd.DataFrame) -> pd.DataFrame:
    summed = frame.groupby(["date", "series"], as_index=False, sort=True)[COUNTS].sum()
    summed = summed.astype({c: "int64" for c in COUNTS} | {"series": "string"})
    return _rates(summed)[["date", "series", *COUNTS, "error_rate"]]


def _subject(selection: Selection, labels: dict[str, str]) -> str:
    if selection.clients:
        names = [labels.get(c, c) for c in selection.clients]
        return names[0] if len(names) == 1 else f"{len(names)} clients"
    if selection.template_uri:
        return f"{selection.http_method or 'any method'} {selection.template_uri}"
    if selection.http_method:
        return f"{selection.http_method} requests"
    return ALL_CLIENTS

