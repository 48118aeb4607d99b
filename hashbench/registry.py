"""The registry: every method, dataset and encoder the loaded plugins provide, by name.

Built from a plugin manager by calling each plugin's registration hooks one by one, so an error
names the plugin that caused it. Lookups of unknown names fail with the valid names and a
"did you mean". A method whose declarations are malformed (its `info`, `param_ranges`,
`search_space` or `released_selection`) is unavailable, not fatal: it is listed in `broken`
with the problem, every other method works, and looking it up fails with that problem.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

import pluggy

from hashbench.data.types import DatasetSpec
from hashbench.encoders import EncoderSpec
from hashbench.errors import PluginError, UnknownNameError
from hashbench.lifecycle import LifecycleHooks
from hashbench.methods import Method
from hashbench.metrics.plugin import MetricSpec, PluginMetric
from hashbench.plugins import BLOCK_ENV
from hashbench.runner.executor_base import Executor


@dataclass
class Registry:
    """Name -> item for each kind, plus which plugin provided each name."""

    methods: dict[str, type[Method]] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    encoders: dict[str, EncoderSpec] = field(default_factory=dict)
    executors: dict[str, type] = field(default_factory=dict)
    metrics: dict[str, MetricSpec] = field(default_factory=dict)  # plugin metrics
    provided_by: dict[tuple[str, str], str] = field(default_factory=dict)
    plugin_versions: dict[str, tuple[str, str]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # method name -> what is wrong
    hooks: LifecycleHooks = field(default_factory=LifecycleHooks)  # lifecycle hooks, guarded

    def warnings(self) -> list[str]:
        """One line per unavailable method: the plugin, the method and the problem."""
        return [f"method '{name}' is unavailable: {why}" for name, why in self.broken.items()]

    @classmethod
    def from_plugin_manager(cls, pm: pluggy.PluginManager) -> Registry:
        registry = cls(hooks=LifecycleHooks(pm))
        for plugin, dist in pm.list_plugin_distinfo():
            registry.plugin_versions[pm.get_name(plugin)] = (dist.metadata["name"], dist.version)
        kinds = (
            ("method", pm.hook.hashbench_register_methods, registry._add_method),
            ("dataset", pm.hook.hashbench_register_datasets, registry._add_dataset),
            ("encoder", pm.hook.hashbench_register_encoders, registry._add_encoder),
            ("executor", pm.hook.hashbench_register_executors, registry._add_executor),
            ("metric", pm.hook.hashbench_register_metrics, registry._add_metric),
        )
        for kind, hook, add in kinds:
            for impl in hook.get_hookimpls():
                try:
                    items = impl.function()
                except Exception as exc:
                    raise PluginError(
                        f"plugin '{impl.plugin_name}' raised in {hook.name}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                for item in items or ():
                    add(item, impl.plugin_name)
                    registry.provided_by[(kind, _name_of(item))] = impl.plugin_name
        return registry

    def _claim(self, kind: str, name: str, plugin: str, existing: Iterable[str]) -> None:
        if name in existing:
            other = self.provided_by.get((kind, name), "?")
            raise PluginError(
                f"{kind} name '{name}' is registered twice: by plugin '{other}' and by plugin "
                f"'{plugin}'. Block one of them (HASHBENCH_BLOCK_PLUGINS) or rename it."
            )

    def _add_method(self, item: object, plugin: str) -> None:
        if not (isinstance(item, type) and issubclass(item, Method)):
            raise PluginError(
                f"plugin '{plugin}' registered {item!r} as a method; "
                "hashbench_register_methods must return subclasses of hashbench.Method"
            )
        info = getattr(item, "info", None)
        name = getattr(info, "name", None)
        if not isinstance(name, str) or not name:
            name = item.__name__
        try:
            problems = (
                info.problems() + item.declaration_problems()
                if info is not None
                else ["it has no `info` (hashbench.MethodInfo)"]
            )
        except Exception as exc:  # a declaration so malformed that checking it fails
            problems = [f"checking its declarations raised {type(exc).__name__}: {exc}"]
        self._claim("method", name, plugin, {**self.methods, **self.broken})
        if problems:
            self.broken[name] = (
                f"plugin '{plugin}', method class {item.__name__}: " + "; ".join(problems)
                + f". Fix the plugin, or block it ({BLOCK_ENV}={plugin})"
            )
            return
        self.methods[info.name] = item

    def _add_dataset(self, item: object, plugin: str) -> None:
        if not isinstance(item, DatasetSpec):
            raise PluginError(
                f"plugin '{plugin}' registered {item!r} as a dataset; "
                "expected hashbench.DatasetSpec"
            )
        self._claim("dataset", item.name, plugin, self.datasets)
        self.datasets[item.name] = item

    def _add_encoder(self, item: object, plugin: str) -> None:
        if not isinstance(item, EncoderSpec):
            raise PluginError(
                f"plugin '{plugin}' registered {item!r} as an encoder; "
                "expected hashbench.EncoderSpec"
            )
        self._claim("encoder", item.name, plugin, self.encoders)
        self.encoders[item.name] = item

    def _add_executor(self, item: object, plugin: str) -> None:
        if not (isinstance(item, type) and issubclass(item, Executor)):
            raise PluginError(
                f"plugin '{plugin}' registered {item!r} as an executor; "
                "expected a subclass of hashbench.executors.Executor"
            )
        self._claim("executor", item.name, plugin, self.executors)
        self.executors[item.name] = item

    def _add_metric(self, item: object, plugin: str) -> None:
        if not isinstance(item, MetricSpec):
            raise PluginError(
                f"plugin '{plugin}' registered {item!r} as a metric; expected hashbench.MetricSpec"
            )
        if problems := item.problems():
            raise PluginError(
                f"plugin '{plugin}', metric {item.name!r}: "
                + "; ".join(problems)
                + f". Fix the plugin, or block it ({BLOCK_ENV}={plugin})"
            )
        self._claim("metric", item.name, plugin, self.metrics)
        self.metrics[item.name] = item

    def metric_plugins(self) -> tuple[PluginMetric, ...]:
        """(plugin, spec) of every plugin metric, by name: what runs and rescoring compute."""
        return tuple(
            (self.provided_by[("metric", n)], self.metrics[n]) for n in sorted(self.metrics)
        )

    # --- lookups ----------------------------------------------------------------------------

    def method(self, name: str) -> type[Method]:
        if name in self.broken:
            raise PluginError(f"method '{name}' is unavailable: {self.broken[name]}")
        return _lookup("method", name, self.methods)

    def dataset(self, name: str) -> DatasetSpec:
        return _lookup("dataset", name, self.datasets)

    def encoder(self, name: str) -> EncoderSpec:
        return _lookup("encoder", name, self.encoders)

    def executor(self, name: str) -> type:
        return _lookup("executor", name, self.executors)

    def origin(self, kind: str, name: str) -> dict[str, str | None]:
        """The plugin that registered `name`, and its distribution and version."""
        plugin = self.provided_by.get((kind, name))
        dist, version = self.plugin_versions.get(plugin or "", (None, None))
        return {"plugin": plugin, "distribution": dist, "version": version}

    def list_methods(self, pattern: str = "*") -> list[str]:
        return sorted(fnmatch.filter(self.methods, pattern))

    def list_datasets(self, pattern: str = "*") -> list[str]:
        return sorted(fnmatch.filter(self.datasets, pattern))

    def list_encoders(self, pattern: str = "*") -> list[str]:
        return sorted(fnmatch.filter(self.encoders, pattern))

    def list_executors(self, pattern: str = "*") -> list[str]:
        return sorted(fnmatch.filter(self.executors, pattern))

    def list_metrics(self, pattern: str = "*") -> list[str]:
        return sorted(fnmatch.filter(self.metrics, pattern))


def _name_of(item: object) -> str:
    info = getattr(item, "info", None)
    return info.name if info is not None else getattr(item, "name", repr(item))


def _lookup(kind: str, name: str, table: dict):
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    valid = ", ".join(sorted(table)) or "(none registered)"
    raise UnknownNameError(f"unknown {kind} '{name}'.{hint} Valid {kind}s: {valid}")
