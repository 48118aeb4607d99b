"""Plain text (names, `--param` values, footnotes) as Markdown table text that renders as
written: no cell split by `|`, no raw HTML, no emphasis, link or code span from a name."""

from __future__ import annotations

_ESCAPES = {
    "\\": "\\\\",
    "|": "\\|",
    "*": "\\*",
    "_": "\\_",
    "`": "\\`",
    "~": "\\~",
    "#": "\\#",
    "&": "&amp;",
    "<": "&lt;",  # no HTML tag can open; a lone ">" is harmless inside a table row
}


def markdown_escape(text: str) -> str:
    """`text` with Markdown's and HTML's special characters escaped (one line: newlines become
    spaces, since a table row cannot hold one)."""
    flat = " ".join(str(text).splitlines())
    out = "".join(_ESCAPES.get(c, c) for c in flat)
    # a link needs "](" or "][": escaped, while a bare "[ridge=1.0]" stays readable
    return out.replace("](", "\\](").replace("][", "\\][")
