"""`hashbench list` and `hashbench plugins`: what the loaded plugins register, and the plugins."""

from __future__ import annotations

import fnmatch

import click
from rich.markup import escape

from hashbench.cli.app import App, main, stdout
from hashbench.plugins import describe_plugins


@main.command(name="list")
@click.argument(
    "kind", type=click.Choice(["methods", "datasets", "encoders", "executors", "metrics"])
)
@click.argument("pattern", default="*")
@click.pass_obj
def list_(app: App, kind: str, pattern: str) -> None:
    """List registered methods, datasets, encoders or executors with a one-line description.

    metrics: the metrics plugins add (the built-in ones: docs/metrics.md).

    \b
    Example:
      hashbench list methods
      hashbench list datasets 'synth-*'
    """
    registry = app.registry()
    if kind == "methods":
        for name in registry.list_methods(pattern):
            info = registry.methods[name].info
            flags = [info.supervision, "spiking" if info.spiking else "ann"]
            if info.pair_fused:
                flags.append("pair-fused")
            stdout.print(
                f"[bold]{escape(f'{name:14}')}[/bold] "
                + escape(
                    f"{info.display_name}: {info.summary} ({', '.join(flags)}; {info.reference})"
                ),
                highlight=False,
            )
        for name in sorted(n for n in registry.broken if fnmatch.fnmatch(n, pattern)):
            stdout.print(
                f"[bold]{escape(f'{name:14}')}[/bold] BROKEN (unavailable; see the warning)",
                highlight=False,
            )
    elif kind == "datasets":
        for name in registry.list_datasets(pattern):
            stdout.print(
                f"[bold]{escape(f'{name:16}')}[/bold] {escape(registry.datasets[name].summary)}",
                highlight=False,
            )
    elif kind == "metrics":
        if not registry.metrics:
            stdout.print("no metric plugins installed (the built-in metrics: docs/metrics.md)")
        for name in registry.list_metrics(pattern):
            plugin = registry.provided_by[("metric", name)]
            line = f"{registry.metrics[name].description} (plugin {plugin})"
            stdout.print(f"[bold]{escape(f'{name:14}')}[/bold] {escape(line)}", highlight=False)
    elif kind == "executors":
        for name in registry.list_executors(pattern):
            stdout.print(
                f"[bold]{escape(f'{name:14}')}[/bold] {escape(registry.executors[name].summary)}",
                highlight=False,
            )
    else:
        for name in registry.list_encoders(pattern):
            stdout.print(
                f"[bold]{escape(f'{name:14}')}[/bold] {escape(registry.encoders[name].summary)}",
                highlight=False,
            )


@main.command()
@click.pass_obj
def plugins(app: App) -> None:
    """List every loaded plugin with its distribution, version and hooks.

    \b
    Example:
      hashbench plugins
      HASHBENCH_BLOCK_PLUGINS=baselines hashbench plugins
    """
    from rich.table import Table

    out = Table("plugin", "distribution", "version", "hooks")
    for info in describe_plugins(app.plugin_manager()):
        out.add_row(
            *(escape(str(v)) for v in (info.name, info.distribution, info.version)),
            ", ".join(info.hooks),
        )
    stdout.print(out)
