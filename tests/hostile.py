"""Names an organisation could give its OAuth clients and endpoints, chosen to break things.

Script and event-handler markup, backticks, Markdown and Slack syntax, spreadsheet formula
prefixes, NUL, ESC, newlines, bidirectional overrides, zero-width characters, mathtext and a
10,000-character name.
"""

from __future__ import annotations

NAMES: tuple[str, ...] = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "Back`tick` **bold** _it_ [link](javascript:alert(3)) # h1",
    "<!channel> <https://evil.example|re-enter your password>",
    '=HYPERLINK("https://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "nul\x00byte",
    "esc\x1b[31mred\x1b[0m",
    "line\nbreak<script>alert(4)</script>",
    "\u202eexe.txt",
    "zero\u200bwidth\ufeff",
    "$x^2$ and $\\frac{1}{0}$",
    "L" * 9_990 + "<b>long</b>",
)
#: An endpoint template that leaves a code span and carries markup.
TEMPLATE = "api/v2/`<img src=y onerror=alert(5)>`/users"
