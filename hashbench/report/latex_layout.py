"""Short LaTeX headers and row labels, with the details in footnotes, so that a comparison table
of three datasets x four code lengths stays as narrow as its numbers allow (issue 31):

- a dataset header keeps its name and "(synthetic)"; the rest of the parenthesis ("scale
  0.2") goes to a footnote; full names where two headers would look alike;
- a task is "I→T" / "T→I" (footnote: what each is);
- a row label keeps a short variant ("(tuned)", "(paper)") and replaces a longer one
  ("(paper, as released)", "[ridge=1.0]") by a key, "(v1)", explained in a footnote;
- `wrap_width`: the tabular as is ("natural") or scaled to the line ("linewidth",
  `\\resizebox`, needs graphicx), with a comment saying which environment fits which layout.

Headers and labels are shortened with display names only (`--names cli` keeps every name as
typed and stored).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hashbench.errors import InputError

LATEX_WIDTHS = ("natural", "linewidth")
TASK_SHORT = {"i2t": "I→T", "t2i": "T→I"}
TASK_NOTE = "I→T: image queries, text database; T→I: text queries, image database."
_KEEP = 9  # a variant this long or shorter stays in the label: "(tuned)", "(paper)", "(quick)"
_SYMBOLS = "†§‡*"
_DETAIL = re.compile(r"^(?P<base>.+?) \((?P<detail>[^()]+)\)$")


def dataset_headers(shown: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """({dataset: header}, footnotes) for {dataset: display name}: "synthetic" stays in the
    header (a twin is never read as the real data), the rest of the parenthesis ("scale 0.2")
    moves into one footnote per detail, unless two headers would then be the same."""
    headers, details = {}, {}
    for dataset, name in shown.items():
        found = _DETAIL.match(name)
        parts = found.group("detail").split(", ") if found else []
        kept = [p for p in parts if p == "synthetic"]
        moved = ", ".join(p for p in parts if p != "synthetic")
        if not moved:
            headers[dataset] = name
            continue
        base = found.group("base")
        headers[dataset] = f"{base} ({', '.join(kept)})" if kept else base
        details[dataset] = (base, moved)
    if len(set(headers.values())) < len(headers):
        return dict(shown), []
    by_detail: dict[str, list[str]] = {}
    for base, moved in details.values():
        by_detail.setdefault(moved, []).append(base)
    return headers, [f"{', '.join(names)}: {moved}." for moved, names in by_detail.items()]


def row_labels(labels: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """({label: short label}, footnote) for display row labels: a variant longer than _KEEP
    characters becomes "(v1)", "(v2)", ... (one key per variant text, in order of first use);
    the marks after it (†, §) stay."""
    keys: dict[str, str] = {}
    out = {}
    for label in labels:
        start = min((i for i in (label.find(" ("), label.find(" [")) if i > 0), default=-1)
        if start < 0:
            out[label] = label
            continue
        rest = label[start + 1 :]
        stripped = rest.rstrip(_SYMBOLS)
        symbols = rest[len(stripped) :]
        if "§" in symbols:  # § says "as released" (its footnote): the words need no key
            stripped = _without_as_released(stripped)
            if not stripped:
                out[label] = f"{label[:start]}{symbols}"
                continue
        if len(stripped) <= _KEEP:
            out[label] = f"{label[:start]} {stripped}{symbols}"
            continue
        key = keys.setdefault(stripped, f"v{len(keys) + 1}")
        out[label] = f"{label[:start]} ({key}){symbols}"
    if not keys:
        return out, []
    parts = [f"{key} = {text[1:-1]}" for text, key in keys.items()]
    return out, ["Row variants: " + "; ".join(parts) + "."]


def _without_as_released(variant: str) -> str:
    """"(paper, as released)" -> "(paper)"; "(as released)" -> ""."""
    inner = [p for p in variant[1:-1].split(", ") if p != "as released"]
    return f"({', '.join(inner)})" if inner else ""


def wrap_width(tabular: list[str], width: str, columns: int) -> list[str]:
    """The tabular's lines as they are ("natural"), or scaled to `\\linewidth` ("linewidth")
    with a comment saying so and where it fits."""
    if width not in LATEX_WIDTHS:
        raise InputError(f"--latex-width: unknown '{width}'; choose from {', '.join(LATEX_WIDTHS)}")
    if width == "linewidth":
        head = [
            f"% hashbench: {columns} value columns scaled to the line width (needs "
            "\\usepackage{graphicx}); in a two-column class put it in table* to span both",
            r"\resizebox{\linewidth}{!}{%",
        ]
        return head + tabular + ["}"]
    return tabular  # no comment: the default output is all visible (README says what fits)
