"""The `hashbench` command line: parse, call the core, render. Nothing else lives here.

One module per command or command group; each attaches its commands to the group `main`
(`app.py`) when imported. The group imports a command's module only when that command runs (or
its own --help is asked), so `hashbench --help` stays fast: it imports neither torch, numpy,
matplotlib, the runner nor any plugin. A new command lands in a module of its own and gets a
line in COMMANDS below: its module and its one-line help (the first sentence of its docstring;
tests/test_cli_lazy.py checks that the two agree). Keep heavy imports inside the command's
function, not at the top of its module, so its `--help` stays fast too.
"""

from __future__ import annotations

from hashbench.cli.app import main

# name -> (module that defines the command, its one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": (
        "hashbench.cli.compare",
        "Compare setting A with setting B per task: mean difference (A - B), its interval and "
        "p-value (bootstrap over seeds and queries) and the effect size.",
    ),
    "data": (
        "hashbench.cli.data",
        "Real datasets: check files under a data root, or prepare them from raw images.",
    ),
    "eval": ("hashbench.cli.eval", "Recompute a metric of stored runs from their stored codes."),
    "export": (
        "hashbench.cli.export",
        "Write stored runs as per-run JSON files (a versioned schema) and one parquet table.",
    ),
    "list": (
        "hashbench.cli.listing",
        "List registered methods, datasets, encoders or executors with a one-line description.",
    ),
    "merge": (
        "hashbench.cli.merge",
        "Bring the runs of other results stores or export folders into one store (--store).",
    ),
    "plot": (
        "hashbench.cli.plot",
        "Draw the metric vs code length, P@K curves and PR curves (PNG and PDF).",
    ),
    "plugins": (
        "hashbench.cli.listing",
        "List every loaded plugin with its distribution, version and hooks.",
    ),
    "profile": (
        "hashbench.cli.profile",
        "Parameters, MACs, SOPs, firing rates and energy per image-text pair.",
    ),
    "report": (
        "hashbench.cli.report",
        "Write the stored results as a static site that opens from disk (no network).",
    ),
    "rescore": (
        "hashbench.cli.rescore",
        "Recompute the scores of runs stored under an older scoring convention from their codes.",
    ),
    "run": (
        "hashbench.cli.run",
        "Train, encode and evaluate every combination; store the results; print a summary.",
    ),
    "status": (
        "hashbench.cli.run",
        "Done / failed / pending runs: of one grid (same options as `run`), or the whole store.",
    ),
    "table": (
        "hashbench.cli.table",
        "Print stored results: rows task x method, columns dataset x bits (mean over seeds).",
    ),
    "tune": (
        "hashbench.cli.tune",
        "Tune every method with the same number of trials on a validation split of the training "
        "pairs, then evaluate its own and its tuned parameters on the test protocol.",
    ),
}
main.add_lazy_commands(COMMANDS)

__all__ = ["main"]
