"""The plugin manager: built-in and third-party plugins, all through one entry-point group.

Built-in plugins live in `plugins/` (importable as `hashbench_plugins`) and are declared in
hashbench's own `pyproject.toml` under the entry-point group `hashbench`, exactly as a third
party declares theirs. Plugins can be blocked by entry-point name with the environment
variable `HASHBENCH_BLOCK_PLUGINS` (comma-separated) or the CLI's `--block-plugin`.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass

import pluggy

from hashbench import hookspecs
from hashbench.errors import PluginError

PROJECT = "hashbench"
ENTRY_POINT_GROUP = "hashbench"
BLOCK_ENV = "HASHBENCH_BLOCK_PLUGINS"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin, as `hashbench plugins` shows it."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


def blocked_from_env(environ: dict[str, str] | None = None) -> set[str]:
    """Plugin names blocked through `HASHBENCH_BLOCK_PLUGINS`."""
    raw = (environ if environ is not None else os.environ).get(BLOCK_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def create_plugin_manager(block: Iterable[str] = ()) -> pluggy.PluginManager:
    """Load every plugin of the entry-point group, minus the blocked ones, and check hook names."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in set(block) | blocked_from_env():
        pm.set_blocked(name)
    # Import each entry point first, so a failure names the one to fix or block; pluggy then
    # registers the (already imported) modules with their distributions.
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.is_blocked(entry_point.name):
            continue
        try:
            entry_point.load()
        except Exception as exc:
            dist = entry_point.dist.name if entry_point.dist is not None else "?"
            raise PluginError(
                f"plugin '{entry_point.name}' (entry point {entry_point.value} of distribution "
                f"{dist}) failed to load: {type(exc).__name__}: {exc}. Fix or uninstall it, "
                f"or block it: {BLOCK_ENV}={entry_point.name} or "
                f"`hashbench --block-plugin {entry_point.name} ...`"
            ) from exc
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"{exc}. Hook names must match a spec in hashbench.hookspecs "
            f"(for example hashbench_register_methods)."
        ) from exc
    return pm


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Name, distribution, version and implemented hooks of every loaded plugin."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = dists.get(id(plugin))
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        infos.append(
            PluginInfo(
                name=name,
                distribution=dist.metadata["name"] if dist is not None else "(not installed)",
                version=dist.version if dist is not None else "",
                hooks=hooks,
            )
        )
    return sorted(infos, key=lambda info: info.name)
