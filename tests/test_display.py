"""Text the organisation names, shown to people (usagekit.display): nothing runs or formats."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from hostile import NAMES

from usagekit.display import (
    csv_cell,
    csv_frame,
    html_text,
    markdown_code,
    markdown_text,
    slack_text,
    teams_text,
    terminal_frame,
    visible,
)


@pytest.mark.parametrize(("text", "shown"), [
    ("plain name", "plain name"),
    ("nul\x00byte", "nul\u2400byte"),
    ("esc\x1b[31m", "esc\u241b[31m"),
    ("two\nlines\r", "two\u240alines\u240d"),
    ("del\x7f", "del\u2421"),
    ("c1\x85", "c1<U+0085>"),
    ("\u202eexe.txt", "<U+202E>exe.txt"),
    ("zero\u200bwidth\ufeff", "zero<U+200B>width<U+FEFF>"),
    ("surrogate\udcff", "surrogate\ufffd"),
    ("Привет 東京 مرحبا", "Привет 東京 مرحبا"),  # letters of any script stay as they are
])
def test_visible_shows_what_would_hide_or_steer(text: str, shown: str) -> None:
    assert visible(text) == shown


@pytest.mark.parametrize("name", NAMES)
def test_html_and_markdown_hold_no_markup(name: str) -> None:
    for text in (html_text(name), markdown_text(name), markdown_code(name)[6:-7]):
        assert "<" not in text and ">" not in text
        assert "\x00" not in text and "\x1b" not in text and "\n" not in text
    assert "`" not in markdown_text(name).replace("\\`", "")
    assert "*" not in markdown_text(name).replace("\\*", "")


def test_slack_escapes_as_documented() -> None:
    assert slack_text("<!channel> <https://e.example|x> & co") == (
        "&lt;!channel&gt; &lt;https://e.example|x&gt; &amp; co")


@pytest.mark.parametrize(("text", "escaped"), [
    ("[x](https://e.example) *b* _i_", r"\[x\](https://e.example) \*b\* \_i\_"),
    ("- item", r"\- item"),
    ("12. item", r"12\. item"),
    ("<at>all</at> & more", "&lt;at&gt;all&lt;/at&gt; &amp; more"),
    ("Wallboard (id-1) got 300 429s", "Wallboard (id-1) got 300 429s"),
])
def test_teams_text_is_shown_as_is(text: str, escaped: str) -> None:
    assert teams_text(text) == escaped


@pytest.mark.parametrize(("cell", "safe"), [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(1)", "'@SUM(1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), (-5, -5), (None, None),
])
def test_csv_cells_for_people(cell: object, safe: object) -> None:
    assert csv_cell(cell) == safe


def test_csv_frame_neutralises_text_only_and_plain_keeps_it() -> None:
    frame = pd.DataFrame({"clientName": pd.array(["=cmd", "ok", None], dtype="string"),
                          "requests": [-1, 2, 3]})
    people = list(csv.reader(io.StringIO(csv_frame(frame).to_csv(index=False))))
    assert people[1:] == [["'=cmd", "-1"], ["ok", "2"], ["", "3"]]
    plain = list(csv.reader(io.StringIO(csv_frame(frame, "plain").to_csv(index=False))))
    assert plain[1] == ["=cmd", "-1"]
    with pytest.raises(ValueError, match="valid modes are people, plain"):
        csv_frame(frame, "excel")


def test_terminal_frame_shows_escapes() -> None:
    frame = pd.DataFrame({"clientName": ["esc\x1b[2J"], "requests": [1]})
    assert terminal_frame(frame)["clientName"].tolist() == ["esc\u241b[2J"]
    assert frame["clientName"].tolist() == ["esc\x1b[2J"]  # the input is left as it was
