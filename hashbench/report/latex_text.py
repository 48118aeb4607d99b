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
}


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped and the symbols above in math mode."""
    out = "".join(_SPECIAL.get(c, _SYMBOLS.get(c, c)) for c in text)
    return out.replace("->", r"$\rightarrow$")


def latex_note(note: str) -> str:
    """A footnote line: escaped, and a leading "*" (the pair-fused mark) as a superscript."""
    return re.sub(r"^\* ", "$^{*}$ ", latex_escape(note))
