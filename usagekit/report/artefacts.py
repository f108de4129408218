"""What a report run writes: the output folder's PNGs, CSVs and ``summary.json``, atomically."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from usagekit.charts.figures import save_png
from usagekit.charts.tables import HEADERS, format_table
from usagekit.dataset.local import write_file
from usagekit.display import csv_frame, html_text, text_columns

ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class Artefacts:
    """Small machine-readable files a notebook writes to its ``output_dir``.

    Each method returns what the notebook should show, so a cell is one call.

    Attributes
    ----------
    output_dir : Path
        Where the files go (created on first write).
    files : list of str
        Names written so far.
    """

    output_dir: Path
    files: list[str] = field(default_factory=list)

    def figure(self, name: str, fig: Figure) -> Chart:
        """Save ``fig`` as ``<name>.png``; return it as a :class:`Chart` Jupyter shows."""
        path = save_png(fig, self.output_dir / f"{name}.png")
        self._add(f"{name}.png")
        return Chart(fig, path.read_bytes())

    def table(self, name: str, df: pd.DataFrame, *,
              hide: tuple[str, ...] = ("clientId", "rank")) -> Any:
        """Save ``df`` as ``<name>.csv``; return it formatted for readers.

        Counts get thousands separators, rates become percentages, columns get readable
        headers (:func:`usagekit.charts.tables.format_table`); ``hide`` columns stay in the CSV
        only. An empty frame reads "None in this interval." The CSV is for people (cells
        that would start a formula neutralised, :func:`usagekit.display.csv_frame`); the
        table's texts are HTML-escaped with their invisible characters shown.
        """
        target = self.output_dir / f"{name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        csv_frame(df).to_csv(target, index=False)
        self._add(f"{name}.csv")
        if df.empty:
            return Markdown("_None in this interval._")
        kept = df.drop(columns=[c for c in hide if c in df.columns])
        text = [HEADERS.get(c, c) for c in text_columns(kept)]
        shown = format_table(kept)
        shown[text] = shown[text].map(html_text, na_action="ignore")
        return (shown.style.hide(axis="index")
                .set_properties(subset=text, **{"text-align": "left"})
                .set_table_styles([{"selector": "th", "props": "text-align: left"}]))

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        """Write ``data`` as ``<name>`` (JSON, atomically); return its path."""
        self._add(name)
        payload = {**data, "files": sorted(self.files)}
        target = self.output_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_file(target, json.dumps(payload, indent=2, ensure_ascii=False,
                                       default=_json_default).encode("utf-8") + b"\n")
        return target

    def _add(self, name: str) -> None:
        if name not in self.files:
            self.files.append(name)


@dataclass(frozen=True)
class Chart:
    """A saved chart: Jupyter shows its PNG (the same bytes as the file).

    Attributes
    ----------
    figure : Figure
        The matplotlib figure (for tests and further tweaks).
    png : bytes
        The PNG written to the notebook's ``output_dir``.
    """

    figure: Figure
    png: bytes = field(repr=False)

    def _repr_png_(self) -> tuple[bytes, dict[str, str]]:
        suptitle = self.figure.get_suptitle()
        titles = [suptitle] if suptitle else [ax.get_title() for ax in self.figure.axes
                                              if ax.get_title()]
        return self.png, {"alt": "; ".join(titles) or "Chart"}


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, pd.Timestamp)):
        return iso(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).strftime(ISO)


class Markdown(str):
    """Markdown text that Jupyter renders (and nbconvert keeps) as formatted output."""

    def _repr_markdown_(self) -> str:
        return str(self)


