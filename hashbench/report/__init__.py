"""Reports of stored results: comparison and efficiency tables, figures, the results site.

Shared by every report: `names` (how methods, datasets, tasks and metrics are named for a
paper: `Names.from_registry(...)`, `Names.cli()`, `metric_label`) and `style` (one colour and
marker per method in every figure, paper figure sizes, matplotlib settings: `method_style`,
`colours`, `figure_size`, `paper_rc`, `legend_label`).
"""
