"""Plain text (names, footnotes) as LaTeX that pdflatex sets with no extra package: the
special characters escaped, the symbols tables use (*, ‡, †, §, ±, →, ≤, ×) in math mode."""

from __future__ import annotations

import re

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # OT1 fonts set these as other glyphs (¡ ¿ —): named text symbols instead
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_SYMBOLS = {
    "‡": r"$^{\ddagger}$",
    "†": r"$^{\dagger}$",
    "§": r"$^{\S}$",
    "±": r"$\pm$",
    "→": r"$\rightarrow$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "×": r"$\times$",
    "−": r"$-$",
    "–": "--",
    "—": "---",
    "“": "``",
    "”": "''",
    "’": "'",
    "α": r"$\alpha$",
    "⁰": r"$^{0}$",
}


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped and the symbols above in math mode;
    a `code span` (a command, an option) in typewriter type."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans
        parts = [text]
    return "".join(
        rf"\texttt{{{_escape_plain(part)}}}" if odd else _escape_plain(part)
        for odd, part in ((n % 2 == 1, part) for n, part in enumerate(parts))
    )


def _escape_plain(text: str) -> str:
    return r"$\rightarrow$".join(
        "".join(_escape_char(c, part[n + 1 : n + 2]) for n, c in enumerate(part))
        for part in text.split("->")
    )


def _escape_char(c: str, following: str) -> str:
    if c == "-" and following == "-":  # "--" of an option would be set as an en dash
        return "-{}"
    return _SPECIAL.get(c, _SYMBOLS.get(c, c))


def latex_note(note: str) -> str:
    """A footnote line: escaped, and a leading "*" (the pair-fused mark) as a superscript."""
    return re.sub(r"^\* ", "$^{*}$ ", latex_escape(note))
