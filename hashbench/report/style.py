"""The look of every figure: one colour and marker per method, paper sizes, matplotlib settings.

- `method_style(label)`: the same colour and marker shape for a method in every figure,
  whatever else is plotted beside it. Built-in methods have fixed styles from the Okabe-Ito
  palette (colour-blind safe); any other method gets a style derived from its name (stable).
  What sets a row apart (`hashbench.report.variants`) changes two other channels, one rule
  everywhere: the marker's fill says the protocol (filled: default parameters, hollow: tuned,
  half-filled: as released §), the line says the setting (solid: the method's defaults,
  dotted: the quick budget, dash-dot patterns: other parameters `[...]`, dashed: a `-strict`
  twin, which keeps its method's colour). `style_key(labels)` words the rule for a legend.
- `figure_size(layout, rows)`: widths of a one-column (3.5 in) or two-column (7.16 in) layout.
- `paper_rc()`: matplotlib settings for print: 8 pt text, thin lines, TrueType fonts embedded
  in vector PDFs (`pdf.fonttype` 42, as publishers ask).
- `legend_label(...)`: the display name with the pair-fused and supervised marks of the tables.

Nothing here imports matplotlib; callers apply the values.
"""

from __future__ import annotations

import re
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
    "lsh": ("grey", "X"),  # a filled X: every marker can be hollow (a plain "x" cannot)
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
# dash-dot patterns of parameter variants (never plain dashes: those are a -strict twin's)
_VARIANT_DASHES = ((0, (5, 1.5, 1, 1.5)), (0, (8, 2, 1, 2)), (0, (5, 1.5, 1, 1.5, 1, 1.5)))
QUICK_LINE = (0, (1, 1.5))  # dotted

# the marker fill of each protocol: (fillstyle, face) where face None is the line's colour
FILLS = {"default": ("full", None), "tuned": ("full", "white"), "as-released": ("bottom", None)}
FILL_WORDS = {"default": "filled = default", "tuned": "hollow = tuned",
              "as-released": "half-filled = as released §"}  # fmt: skip
_TAGS = re.compile(r"^\s*(?:\((?P<tags>[^)]*)\))?(?P<mark>§)?\s*(?:\[(?P<params>.*)\])?")


@dataclass(frozen=True)
class Style:
    """How one method (or row label) is drawn; matplotlib's `plot` keyword values."""

    color: str
    marker: str
    linestyle: object = "-"
    protocol: str = "default"  # the marker's fill: FILLS

    @property
    def filled(self) -> bool:
        """Whether the marker's face is the line's colour (a default run's)."""
        return self.protocol == "default"

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments of `Axes.plot` / `errorbar`."""
        fillstyle, face = FILLS.get(self.protocol, FILLS["default"])
        out: dict[str, object] = {
            "color": self.color,
            "marker": self.marker,
            "linestyle": self.linestyle,
            "fillstyle": fillstyle,
            "markerfacecolor": face or self.color,
            "markerfacecoloralt": "white",  # the empty half of a half-filled marker
            "markeredgecolor": self.color,
        }
        if self.marker == "*":  # a star looks smaller than a square of the same size
            out["markersize"] = 6.5
        return out


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


@dataclass(frozen=True)
class Setting:
    """What a row label says about its run, as far as figures draw it."""

    method: str
    protocol: str  # "default", "tuned" or "as-released"
    quick: bool  # the quick budget is named
    params: str  # the "[...]" part ("" at the method's defaults)
    strict: bool


def label_setting(label: str) -> Setting:
    """The setting a row label names: "cca-itq (quick, tuned)" -> tuned, quick budget."""
    name, rest = split_label(label)
    found = _TAGS.match(rest.replace("†", ""))
    tags = [t.strip() for t in (found.group("tags") or "").split(",")] if found else []
    released = "as released" in tags or "§" in rest
    protocol = "tuned" if "tuned" in tags else "as-released" if released else "default"
    params = (found.group("params") or "") if found else ""
    strict = name.endswith("-strict")
    return Setting(name, protocol, "quick" in tags, params, strict)


def method_style(label: str) -> Style:
    """The style of a method name or a table row label; the same in every figure."""
    setting = label_setting(label)
    base = setting.method[: -len("-strict")] if setting.strict else setting.method
    if base in _BUILT_IN:
        colour, marker = _BUILT_IN[base]
        style = Style(_OKABE_ITO[colour], marker)
    else:
        h = _stable(base)
        style = Style(_FALLBACK_COLOURS[h % 10], _FALLBACK_MARKERS[(h // 10) % 10])
    line: object = "--" if setting.strict else "-"
    if setting.params:  # a parameter variant: its own dash-dot pattern
        line = _VARIANT_DASHES[_stable(setting.params) % len(_VARIANT_DASHES)]
    elif setting.quick:
        line = QUICK_LINE
    return replace(style, linestyle=line, protocol=setting.protocol)


def style_key(labels: Iterable[str]) -> list[str]:
    """The rule of `method_style` in words, for a legend: one line for the marker fills and
    one for the line styles, each only where a row is drawn other than plainly."""
    settings = [label_setting(label) for label in labels]
    protocols = {s.protocol for s in settings}
    lines = []
    if protocols - {"default"}:
        shown = [FILL_WORDS[p] for p in FILLS if p in protocols]
        lines.append("Markers: " + ", ".join(shown))
    kinds = [
        ("solid = defaults", any(not (s.params or s.quick or s.strict) for s in settings)),
        ("dotted = quick budget", any(s.quick and not s.params for s in settings)),
        ("dash-dot = other parameters [...]", any(s.params for s in settings)),
        ("dashed = -strict twin", any(s.strict and not (s.params or s.quick) for s in settings)),
    ]
    if any(present for words, present in kinds[1:]):
        lines.append("Lines: " + ", ".join(words for words, present in kinds if present))
    return lines


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
