"""One colour per client, shared by every chart of a report (ranked by 429s), and ``other``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from usagekit.charts.tables import client_labels
from usagekit.exceptions import ConfigError

OTHER = "other"
OTHER_COLOR = "#9e9e9e"
#: Colours for named clients, in rank order (tab10 then the light half of tab20).
CLIENT_COLORS: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#9edae5", "#dbdb8d", "#6b6ecf",
)
MAX_NAMED = len(CLIENT_COLORS)


@dataclass(frozen=True)
class Palette:
    """A stable client → colour mapping for every chart of one report.

    The first ``top_n`` clients (in rank order) get a colour each; every other client
    is drawn as :data:`OTHER` in grey.

    Examples
    --------
    >>> p = Palette.from_ranking(["billing-sync", "wfm-export", "crm"], top_n=2)
    >>> p.color("billing-sync") == CLIENT_COLORS[0], p.bucket("crm")
    (True, 'other')
    """

    clients: tuple[str, ...]
    colors: dict[str, str] = field(repr=False)

    @classmethod
    def from_ranking(cls, ranked: Iterable[str], top_n: int = 10) -> Palette:
        """Name the first ``top_n`` of ``ranked`` (most important first)."""
        if not 1 <= top_n <= MAX_NAMED:
            raise ConfigError(f"invalid top_n {top_n!r}: use 1..{MAX_NAMED}")
        clients = tuple(dict.fromkeys(c for c in ranked if c != OTHER))[:top_n]
        colors = dict(zip(clients, CLIENT_COLORS, strict=False))
        return cls(clients=clients, colors=colors)

    @classmethod
    def from_frame(
        cls, df: pd.DataFrame, *, weight: str = "requests", top_n: int = 10
    ) -> Palette:
        """Rank the clients of ``df`` (``clientId``/``clientName`` rows) by ``weight``."""
        totals = (
            df.assign(_label=client_labels(df))
            .groupby("_label", sort=False)[weight]
            .sum()
            .sort_values(ascending=False, kind="stable")
        )
        return cls.from_ranking(totals.index, top_n=top_n)

    def bucket(self, client: str) -> str:
        """The client's own label when it is named, else :data:`OTHER`."""
        return client if client in self.colors else OTHER

    def color(self, client: str) -> str:
        """The client's colour (grey for :data:`OTHER` and unnamed clients)."""
        return self.colors.get(client, OTHER_COLOR)
