"""The look of every figure: one colour and marker per method, paper sizes, matplotlib settings.

- `method_style(label)`: the same colour and marker for a method in every figure, whatever
  else is plotted beside it. Built-in methods have fixed styles from the Okabe-Ito palette
  (colour-blind safe); a `-strict` twin shares its method's colour with a dashed line and an
  open marker; a variant row ("cirh-like (tuned)") keeps its method's colour and marker with
  its own dash pattern; any other method gets a style derived from its name (stable).
- `figure_size(layout, rows)`: widths of a one-column (3.5 in) or two-column (7.16 in) layout.
- `paper_rc()`: matplotlib settings for print: 8 pt text, thin lines, TrueType fonts embedded
  in vector PDFs (`pdf.fonttype` 42, as publishers ask).
- `legend_label(...)`: the display name with the pair-fused and supervised marks of the tables.

Nothing here imports matplotlib; callers apply the values.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from hashbench.report.names import Names, split_label

ONE_COLUMN_IN = 3.5  # IEEE / ACM one-column width, inches
TWO_COLUMN_IN = 7.16  # IEEE two-column (full text) width, inches
LAYOUTS = {"one-column": ONE_COLUMN_IN, "two-column": TWO_COLUMN_IN}

PAIR_FUSED_MARK = "*"
SUPERVISED_MARK = "‡"

# Okabe-Ito, with grey for the data-independent baseline (yellow is unreadable on white).
_OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#7F7F7F",
}
_BUILT_IN = {
    "lsh": ("grey", "x"),
    "cca-itq": ("black", "s"),
    "ucmfh": ("blue", "o"),
    "cirh-like": ("green", "^"),
    "ddss-like": ("purple", "D"),
    "spikehash": ("vermillion", "*"),
    "spikinghash-xm": ("orange", "v"),
    "spikinghash": ("orange", "P"),
    "dpsh-cnn": ("sky", "h"),
}
_FALLBACK_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79",
)  # fmt: skip
_FALLBACK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "<", ">")
_VARIANT_DASHES = ((0, (1, 1)), (0, (5, 1, 1, 1)), (0, (3, 1)), (0, (5, 2, 1, 2, 1, 2)))


@dataclass(frozen=True)
class Style:
    """How one method (or row label) is drawn; matplotlib's `plot` keyword values."""

    color: str
    marker: str
    linestyle: object = "-"
    filled: bool = True

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments of `Axes.plot` / `errorbar`."""
        out: dict[str, object] = {
            "color": self.color,
            "marker": self.marker,
            "linestyle": self.linestyle,
            "markerfacecolor": self.color if self.filled else "white",
            "markeredgecolor": self.color,
        }
        if self.marker == "*":  # a star looks smaller than a square of the same size
            out["markersize"] = 6.5
        return out


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


def method_style(label: str) -> Style:
    """The style of a method name or a table row label; the same in every figure."""
    name, rest = split_label(label)
    base, strict = (name[: -len("-strict")], True) if name.endswith("-strict") else (name, False)
    if base in _BUILT_IN:
        colour, marker = _BUILT_IN[base]
        style = Style(_OKABE_ITO[colour], marker)
    else:
        h = _stable(base)
        style = Style(_FALLBACK_COLOURS[h % 10], _FALLBACK_MARKERS[(h // 10) % 10])
    if strict:
        style = replace(style, linestyle="--", filled=False)
    tag = rest.replace("†", "").strip()
    if tag:  # a variant: its own dash pattern, the method's colour and marker
        style = replace(style, linestyle=_VARIANT_DASHES[_stable(tag) % len(_VARIANT_DASHES)])
    return style


def colours(labels: Iterable[str]) -> dict[str, str]:
    """{label: hex colour} of `method_style` (for SVG and HTML)."""
    return {label: method_style(label).color for label in labels}


def legend_label(
    label: str, names: Names, *, pair_fused: bool = False, supervised: bool = False
) -> str:
    """The row label's display name with the tables' marks: "SpikeHash*", "DPSH (CNN)‡"."""
    marks = (PAIR_FUSED_MARK if pair_fused else "") + (SUPERVISED_MARK if supervised else "")
    return names.method(label) + marks


def figure_size(layout: str, rows: int = 1, row_height: float | None = None) -> tuple[float, float]:
    """(width, height) in inches of a figure of `rows` rows of panels in `layout`
    ("one-column" or "two-column")."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    width = LAYOUTS[layout]
    height = row_height if row_height is not None else (2.3 if layout == "two-column" else 2.0)
    return width, height * rows + 0.45  # + room for the legend under the panels


def paper_rc() -> dict[str, object]:
    """matplotlib rcParams for print (use with `matplotlib.rc_context`)."""
    return {
        "font.size": 8,
        "axes.titlesize": 8,
        "figure.titlesize": 9,
        "axes.labelsize": 8,
        "xtick.labelsize": 7,
        "ytick.labelsize": 7,
        "legend.fontsize": 7,
        "lines.linewidth": 1.2,
        "lines.markersize": 4,
        "axes.linewidth": 0.6,
        "grid.linewidth": 0.4,
        "grid.alpha": 0.35,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "legend.frameon": False,
        "pdf.fonttype": 42,  # TrueType, embedded: text stays text in the PDF
        "ps.fonttype": 42,
        "savefig.dpi": 300,
        "figure.dpi": 100,
    }
