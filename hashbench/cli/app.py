"""The `hashbench` click group: per-invocation state, error handling and the shared consoles.

Command modules attach themselves to `main`; this module imports none of them (nor the runner,
torch or matplotlib), so it stays cheap and free of import circles.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import click
from rich.console import Console
from rich.markup import escape

from hashbench import __version__
from hashbench.errors import HashbenchError
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry

# Off a terminal (pipes, CI, tests) rich would cut tables at 80 columns; print them whole.
stdout = Console(width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True)


@dataclass
class App:
    """Per-invocation state: options of the top-level group and the lazily built registry."""

    debug: bool = False
    block: tuple[str, ...] = ()
    _pm: object = field(default=None, repr=False)
    _registry: Registry | None = field(default=None, repr=False)

    def plugin_manager(self):
        if self._pm is None:
            self._pm = create_plugin_manager(self.block)
        return self._pm

    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.from_plugin_manager(self.plugin_manager())
        return self._registry


class HashbenchGroup(click.Group):
    """Turns user-facing errors into one line and a non-zero exit; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HashbenchError as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            stderr.print("interrupted: finished runs are in the store; rerun to resume")
            sys.exit(130)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            stderr.print(
                f"[red]internal error:[/red] {escape(f'{type(exc).__name__}: {exc}')}\n"
                "This is a bug in hashbench or a plugin; rerun with --debug for the traceback."
            )
            sys.exit(1)


@click.group(cls=HashbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hashbench")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.option(
    "--block-plugin",
    "block",
    multiple=True,
    metavar="NAME",
    help="Do not load this plugin (entry-point name; repeatable). Also HASHBENCH_BLOCK_PLUGINS.",
)
@click.pass_context
def main(ctx: click.Context, debug: bool, block: tuple[str, ...]) -> None:
    """hashbench: fair, reproducible, fast benchmarks of learning-to-hash methods.

    \b
    Example:
      hashbench run --methods lsh,cca-itq --dataset synth-mscoco --budget quick
      hashbench table --latex
    """
    ctx.obj = App(debug=debug, block=block)
