"""Every hook a hashbench plugin can implement, one function each, grouped by phase.

A plugin is a module with functions marked `@hashbench.hookimpl` whose names match these
specs. Each registration hook returns a list; the plugin manager concatenates the lists of
every plugin.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("hashbench")


# --- Registration: what a plugin contributes -----------------------------------------------


@hookspec
def hashbench_register_methods() -> list:
    """Return hashing method classes (subclasses of `hashbench.Method`) this plugin provides."""


@hookspec
def hashbench_register_datasets() -> list:
    """Return dataset specs (`hashbench.DatasetSpec`) this plugin provides."""


@hookspec
def hashbench_register_encoders() -> list:
    """Return feature encoder specs (`hashbench.EncoderSpec`) this plugin provides."""


@hookspec
def hashbench_register_executors() -> list:
    """Return executor classes (subclasses of `hashbench.executors.Executor`): where runs go."""
