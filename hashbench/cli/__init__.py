"""The `hashbench` command line: parse, call the core, render. Nothing else lives here.

One module per command or command group; each attaches its commands to the group `main`
(`app.py`) when imported, and this package imports them all. A new command lands in a module of
its own, imported below.
"""

from __future__ import annotations

from hashbench.cli import data, eval, listing, profile, run, table  # noqa: F401 (registers)
from hashbench.cli.app import main

__all__ = ["main"]
