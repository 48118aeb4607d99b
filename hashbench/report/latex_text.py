"""Plain text (names, footnotes) as LaTeX that pdflatex sets with no extra package: the
special characters escaped, the symbols tables use (*, ‡, †, ±, →, ≤, ×) in math mode."""

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
    """`text` with LaTeX's special characters escaped and the symbols above in math mode."""
    return r"$\rightarrow$".join(
        "".join(_SPECIAL.get(c, _SYMBOLS.get(c, c)) for c in part) for part in text.split("->")
    )


def latex_note(note: str) -> str:
    """A footnote line: escaped, and a leading "*" (the pair-fused mark) as a superscript."""
    return re.sub(r"^\* ", "$^{*}$ ", latex_escape(note))
