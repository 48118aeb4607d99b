"""Comparison tables of stored runs: building them (`comparison.py`) and rendering them
(`table_formats.py`), importable from here as one module."""

from hashbench.report.comparison import (
    MARK_NAMES,
    PAIR_FUSED_NOTE,
    SUPERVISED_NOTE,
    TASK_NAMES,
    Cell,
    ComparisonTable,
    Significance,
    build_table,
)
from hashbench.report.table_formats import (
    DEFAULT_LATEX_MARKS,
    LATEX_MARK_STYLES,
    MARKDOWN_LEGEND,
    format_cell,
    to_csv,
    to_latex,
    to_markdown,
    to_rich,
)

__all__ = [
    "DEFAULT_LATEX_MARKS",
    "LATEX_MARK_STYLES",
    "MARKDOWN_LEGEND",
    "MARK_NAMES",
    "PAIR_FUSED_NOTE",
    "SUPERVISED_NOTE",
    "TASK_NAMES",
    "Cell",
    "ComparisonTable",
    "Significance",
    "build_table",
    "format_cell",
    "to_csv",
    "to_latex",
    "to_markdown",
    "to_rich",
]
