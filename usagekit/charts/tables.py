"""Numbers and tables as the report shows them: thousands, percentages, headers, short labels."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from usagekit.display import html_text, visible
from usagekit.row import (
    CLIENT_ID,
    CLIENT_NAME,
    DATE,
    HTTP_METHOD,
    REQUESTS,
    STATUS200,
    STATUS300,
    STATUS400,
    STATUS429,
    STATUS500,
    TEMPLATE_URI,
)

_LABEL_WIDTH = 48
#: Unicode's control pictures (``␀``, ``␛``), which chart fonts lack, as ``<U+001B>``.
_NO_PICTURES = {0x2400 + code: f"<U+{code:04X}>" for code in range(0x20)} | {
    0x2421: "<U+007F>"}
#: Characters of a chart title a caller gives (it may hold a client's name).
TITLE_WIDTH = 90
#: How a missing value reads in a formatted table.
MISSING = "-"


# --------------------------------------------------------------------------- formatting


def thousands(value: float) -> str:
    """``1234567`` → ``"1,234,567"`` (``"-"`` for missing values)."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{value:,.0f}"


def percent(value: float, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.0345`` → ``"3.5 %"`` (``"-"`` for missing)."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{value * 100:.{digits}f} %"


#: Readable headers for the analyses' columns (used by :func:`format_table`).
HEADERS: dict[str, str] = {
    DATE: "Period (UTC)", CLIENT_ID: "Client id", CLIENT_NAME: "Client",
    TEMPLATE_URI: "Endpoint", HTTP_METHOD: "Method", REQUESTS: "Requests",
    STATUS200: "2xx", STATUS300: "3xx", STATUS400: "4xx", STATUS429: "429s",
    STATUS500: "5xx", "errors": "Errors", "rate429": "429 rate",
    "error_rate": "Error rate", "share": "Share", "first429": "First 429 (UTC)",
    "last429": "Last 429 (UTC)", "periods429": "Periods with 429s", "change": "Change",
    "previous_requests": "Requests before", "ratio": "Ratio", "month": "Month (UTC)",
    "projected_requests": "Projected at month end", "allowance": "Allowance",
    "used_share": "Used", "projected_share": "Projected use",
    "projected_overage": "Projected overage", "value": "Value",
    "baseline_mean": "Baseline (mean)", "baseline_sd": "Baseline (sd)", "score": "Score",
    "metric": "Metric", "days_elapsed": "Days so far", "days_in_month": "Days in month",
    "complete": "Complete",
}
#: Columns holding fractions, shown as percentages by :func:`format_table`.
PERCENT_COLUMNS: frozenset[str] = frozenset({
    "rate429", "error_rate", "share", "used_share", "projected_share",
})


def format_table(
    df: pd.DataFrame,
    *,
    percent_columns: Iterable[str] | None = None,
    rename: dict[str, str] | None = None,
) -> pd.DataFrame:
    """A copy of ``df`` with every value formatted as display text.

    Integers get thousands separators, ``percent_columns`` (fractions) become
    percentages, UTC timestamps become ``YYYY-MM-DD`` (or with the time when it is not
    midnight), and column names are renamed for readers. The index is reset.

    Parameters
    ----------
    df : DataFrame
        A tidy analysis frame.
    percent_columns : iterable of str, optional
        Columns holding fractions (0..1) to show as percentages (default: those of
        :data:`PERCENT_COLUMNS` present).
    rename : dict, optional
        Column name → header shown to readers (default :data:`HEADERS`).

    Returns
    -------
    DataFrame
        All columns of dtype string, ready for display or HTML.
    """
    if percent_columns is None:
        percent_columns = PERCENT_COLUMNS
    headers = HEADERS if rename is None else rename
    pct = set(percent_columns)
    out = pd.DataFrame(index=range(len(df)))
    for name in df.columns:
        col = df[name].reset_index(drop=True)
        if name in pct:
            text = col.map(percent)
        elif pd.api.types.is_datetime64_any_dtype(col):
            midnight = col.dropna().dt.normalize().eq(col.dropna()).all()
            fmt = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M UTC"
            text = col.map(lambda v, f=fmt: MISSING if pd.isna(v) else v.strftime(f))
        elif pd.api.types.is_bool_dtype(col):
            text = col.map(lambda v: "yes" if v else "no")
        elif pd.api.types.is_integer_dtype(col):
            text = col.map(thousands)
        elif pd.api.types.is_float_dtype(col):
            text = col.map(lambda v: MISSING if pd.isna(v) else (
                f"{v:,.0f}" if abs(v) >= 1000 or float(v).is_integer() else f"{v:,.2f}"))
        else:
            text = col.map(lambda v: MISSING if v is None or v is pd.NA else str(v))
        out[headers.get(name, name)] = text.astype("string")
    return out


def shorten(label: str, width: int = _LABEL_WIDTH) -> str:
    """``label`` as chart text: :func:`~usagekit.display.visible` (control characters as
    ``<U+001B>``: chart fonts have no control pictures), cut to ``width``
    characters with an ellipsis in the middle, and ``$`` escaped (no mathtext)."""
    label = visible(label).translate(_NO_PICTURES)
    if len(label) > width:
        keep = width - 1
        label = label[: keep // 2] + "…" + label[-(keep - keep // 2):]
    return label.replace("$", r"\$")


def client_labels(df: pd.DataFrame) -> pd.Series:
    """One readable, unique label per client: its name, or its id when the name is empty.

    Two clients with the same name are told apart by the first 8 characters of their id.
    """
    names = df["clientName"].astype("string").fillna("")
    ids = df["clientId"].astype("string").fillna("")
    labels = names.where(names.str.len() > 0, ids)
    pairs = pd.DataFrame({"label": labels, "id": ids}).drop_duplicates()
    clash = set(pairs.loc[pairs["label"].duplicated(keep=False), "label"])
    if clash:
        labels = labels.where(~labels.isin(clash), labels + " (" + ids.str.slice(0, 8) + ")")
    return labels.fillna("(unknown)")


def bar_table(df: pd.DataFrame, *, value: str, label: str = "label",
              columns: Iterable[str] = (), color: str = "#4c72b0",
              headers: dict[str, str] | None = None) -> str:
    """An HTML table with an inline bar per row, scaled to the largest ``value``.

    Cheap to redraw on every click (no image); the browser lays it out.

    Parameters
    ----------
    df : DataFrame
        Ranked rows with the ``label`` and ``value`` columns (plus ``columns``).
    value : str
        The column the bars show (a fraction column is shown as a percentage).
    label : str
        The column naming each row.
    columns : iterable of str
        More columns to show after the bar, formatted like :func:`format_table`.
    color : str
        The bars' colour.
    headers : dict, optional
        Column name → header (default :data:`HEADERS`).

    Returns
    -------
    str
        ``<table class="usagekit-bar-table">`` with every text HTML-escaped.
    """
    names = headers or HEADERS
    extra = list(columns)
    shown = format_table(df[[label, value, *extra]], rename={})
    numbers = df[value].astype("float64").fillna(0.0)
    top = float(numbers.max()) if len(numbers) and numbers.max() > 0 else 1.0
    head = "".join(f"<th>{html_text(names.get(c, c))}</th>" for c in [label, value, *extra])
    body = []
    for i in range(len(df)):
        width = 100.0 * float(numbers.iloc[i]) / top
        bar = (f'<div style="display:flex;align-items:center;gap:6px">'
               f'<div style="background:{color};height:0.9em;width:{width:.1f}%;'
               f'min-width:1px"></div><span>{html_text(shown[value].iloc[i])}</span></div>')
        cells = "".join(f'<td style="text-align:right">{html_text(shown[c].iloc[i])}</td>'
                        for c in extra)
        body.append(f"<tr><td>{html_text(shown[label].iloc[i])}</td>"
                    f'<td style="width:40%">{bar}</td>{cells}</tr>')
    return (f'<table class="usagekit-bar-table" style="width:100%"><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>")
