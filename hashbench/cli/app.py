"""The `hashbench` click group: per-invocation state, error handling and the shared consoles.

Command modules attach themselves to `main`; this module imports none of them (nor the runner,
torch or matplotlib), so it stays cheap and free of import circles. Commands load lazily: the
group knows each command's module and one-line help (`hashbench/cli/__init__.py`) and imports
the module only when the command is used, so `hashbench --help` imports no command module.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from hashbench import __version__
from hashbench.errors import HashbenchError
from hashbench.plugins import create_plugin_manager  # light: pluggy and the hook specs

if TYPE_CHECKING:
    from hashbench.registry import Registry

# Off a terminal (pipes, CI, tests, `> log 2>&1`) rich would cut lines at 80 columns; print
# them whole (tables up to 200 columns, messages never wrapped).
stdout = Console(width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, soft_wrap=not sys.stderr.isatty())


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
            from hashbench.registry import Registry

            self._registry = Registry.from_plugin_manager(self.plugin_manager())
            for line in self._registry.warnings():  # a malformed method blocks only itself
                stderr.print(f"warning: {escape(line)}", highlight=False)
        return self._registry


class HashbenchGroup(click.Group):
    """Turns user-facing errors into one line and a non-zero exit; tracebacks only with --debug.

    Commands load lazily (click's LazyGroup pattern): `lazy` maps a command name to the module
    whose import attaches the command to this group, and to the command's one-line help, which
    `--help` shows without importing the module (a test checks it matches the command's own).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}

    def add_lazy_commands(self, commands: Mapping[str, tuple[str, str]]) -> None:
        """Add {name: (module, one-line help)}; the module is imported when `name` is used."""
        self.lazy.update(commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            importlib.import_module(self.lazy[cmd_name][0])  # its decorators attach it here
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of --help, from the lazy table where a command is not loaded."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                stand_in = click.Command(name, help=self.lazy[name][1])  # click's shortening
                rows.append((name, stand_in.get_short_help_str(limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
