"""`python -m hashbench` runs the CLI."""

from hashbench.cli import main

main()
