"""Text the organisation names, shown to people: nothing in it runs or formats anything.

OAuth client names, endpoint templates and user ids come from the organisation: anyone who
can create an OAuth client picks its name. Wherever the kit writes for people, such text
goes through one of these functions for that medium:

==================  ====================================================================
medium              what is done
==================  ====================================================================
any                 :func:`visible`: control characters (NUL, ESC, newline, DEL, C1) and
                    invisible format characters (bidirectional overrides, zero-width
                    characters, BOM) are shown as visible stand-ins (``␀``, ``␛``,
                    ``<U+202E>``), lone surrogates as ``�``
terminal            :func:`visible`
HTML                :func:`html_text`: :func:`visible`, then HTML-escaped
Markdown            :func:`markdown_text`: every ASCII punctuation character as a numeric
                    character reference; :func:`markdown_code` for a code span
Slack               :func:`slack_text`: ``&``, ``<`` and ``>`` as Slack documents
                    (``&amp;``, ``&lt;``, ``&gt;``), so no ``<!channel>`` or ``<url|link>``
Teams               :func:`teams_text`: Adaptive Card text: Markdown punctuation
                    backslash-escaped, ``&<>`` HTML-escaped
CSV for people      :func:`csv_cell`: a text cell that a spreadsheet would read as a formula
                    (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a
                    leading ``'``, as OWASP recommends; CSVs for machines stay plain
==================  ====================================================================

Stored data is never changed: the dataset keeps the API's bytes.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: How a CSV is written: for people (formulas neutralised) or for machines (as stored).
CSV_MODES: tuple[str, ...] = ("people", "plain")
#: Characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: Unicode categories shown by a stand-in: controls, format characters (bidirectional
#: overrides, zero-width characters, BOM), lone surrogates, line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_TEAMS = re.compile(r"([\\`*_\[\]~])")
#: A numbered list item at the start (``1. ``): its dot is escaped.
_NUMBERED = re.compile(r"([0-9]+)\.")
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")


def _stand_in(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (Unicode's control pictures)
    if code == 0x7F:
        return "\u2421"  # ␡
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"<U+{code:04X}>"


def visible(text: Any) -> str:
    """``text`` with control and invisible format characters shown as visible stand-ins.

    Examples
    --------
    >>> visible("a\\x1b[31mred\\u202eb")
    'a␛[31mred<U+202E>b'
    """
    value = "" if text is None else str(text)
    if value.isprintable():
        return value
    return "".join(_stand_in(c) if unicodedata.category(c) in _HIDDEN else c for c in value)


def html_text(text: Any) -> str:
    """``text`` as HTML text: visible, then escaped (quotes included, for attributes)."""
    return html.escape(visible(text), quote=True)


def markdown_text(text: Any) -> str:
    """``text`` as Markdown that renders as exactly that text (no emphasis, links, HTML).

    Every ASCII punctuation character becomes a numeric character reference (``&#60;``):
    CommonMark shows it as the character and reads no syntax in it, not even the bare URLs
    and e-mail addresses that renderers turn into links.
    """
    return _PUNCTUATION.sub(lambda m: f"&#{ord(m.group())};", visible(text))


def markdown_code(text: Any) -> str:
    """``text`` as inline code in Markdown, whatever backticks or markup it holds."""
    return f"<code>{markdown_text(text)}</code>"


def slack_text(text: Any) -> str:
    """``text`` for a Slack message: ``&``, ``<`` and ``>`` escaped as Slack documents."""
    return (visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def teams_text(text: Any) -> str:
    """``text`` for an Adaptive Card ``TextBlock``: its Markdown subset (emphasis, links,
    lists) backslash-escaped and ``&<>`` HTML-escaped, so it is shown as is."""
    escaped = _TEAMS.sub(r"\\\1", html.escape(visible(text), quote=False))
    if escaped[:1] in ("-", "+", "#"):
        return "\\" + escaped
    number = _NUMBERED.match(escaped)
    return f"{number[1]}\\{escaped[number.end() - 1:]}" if number else escaped


def csv_cell(value: Any) -> Any:
    """A CSV cell for people: text that would start a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_frame(frame: pd.DataFrame, mode: str = "people") -> pd.DataFrame:
    """``frame`` ready for a CSV in ``mode`` (:data:`CSV_MODES`): text cells neutralised
    for people, as they are for machines (``plain``).

    Raises
    ------
    ValueError
        An unknown mode (the CLI checks it first).
    """
    if mode not in CSV_MODES:
        raise ValueError(f"invalid CSV mode {mode!r}: valid modes are {', '.join(CSV_MODES)}")
    if mode == "plain":
        return frame
    return _map_text(frame, csv_cell)


def terminal_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text cells :func:`visible`, for printing to a terminal."""
    return _map_text(frame, visible)


def text_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` that hold text (``string`` or ``object`` dtype)."""
    from pandas.api.types import is_string_dtype

    return [name for name in frame.columns
            if is_string_dtype(frame[name]) or frame[name].dtype == object]


def _map_text(frame: pd.DataFrame, function: Any) -> pd.DataFrame:
    """A copy of ``frame`` with ``function`` applied to the cells of its text columns."""
    out = frame.copy()
    for name in text_columns(out):
        out[name] = out[name].map(function, na_action="ignore")
    return out
