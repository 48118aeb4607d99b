"""The plugin system: entry-point discovery, blocking, hook validation, registry lookups."""

from __future__ import annotations

import inspect
import types

import pluggy
import pytest

import hashbench
from hashbench import hookspecs
from hashbench.errors import PluginError, UnknownNameError
from hashbench.plugins import create_plugin_manager, describe_plugins
from hashbench.registry import Registry

BUILTIN = {"baselines", "synthetic-datasets", "precomputed-encoder"}


def test_builtins_load_through_the_entry_point_group():
    infos = {info.name: info for info in describe_plugins(create_plugin_manager())}
    assert BUILTIN <= set(infos)
    for name in BUILTIN:
        assert infos[name].distribution == "hashbench"
        assert infos[name].version == hashbench.__version__
    assert infos["baselines"].hooks == ("hashbench_register_methods",)


def test_every_hookspec_is_prefixed_and_documented():
    specs = [
        f
        for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(f, "hashbench_spec")
    ]
    assert specs, "no hookspecs found"
    for spec in specs:
        assert spec.__name__.startswith("hashbench_")
        assert spec.__doc__ and spec.__doc__.strip(), f"{spec.__name__} has no docstring"


def test_blocking_by_env_and_by_argument(monkeypatch):
    monkeypatch.setenv("HASHBENCH_BLOCK_PLUGINS", "baselines")
    names = {i.name for i in describe_plugins(create_plugin_manager())}
    assert "baselines" not in names and "synthetic-datasets" in names
    monkeypatch.delenv("HASHBENCH_BLOCK_PLUGINS")
    registry = Registry.from_plugin_manager(create_plugin_manager(block=["synthetic-datasets"]))
    assert {"mirflickr", "nuswide", "mscoco"} <= set(registry.datasets)  # real-datasets plugin
    assert not {"synth-mirflickr", "synth-nuswide", "synth-mscoco"} & set(registry.datasets)
    assert "lsh" in registry.methods


def test_misspelled_hook_is_caught_at_load(monkeypatch):
    typo = types.ModuleType("typo_plugin")

    @hashbench.hookimpl
    def hashbench_register_method():  # missing the final "s"
        return []

    typo.hashbench_register_method = hashbench_register_method
    pm = pluggy.PluginManager("hashbench")
    pm.add_hookspecs(hookspecs)
    pm.register(typo, name="typo")
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def _pm_with(module: types.ModuleType) -> pluggy.PluginManager:
    pm = create_plugin_manager()
    pm.register(module, name=module.__name__)
    return pm


def test_duplicate_names_name_both_plugins():
    dup = types.ModuleType("dup_plugin")

    @hashbench.hookimpl
    def hashbench_register_methods():
        from hashbench_plugins.methods.baselines import LSH

        return [LSH]

    dup.hashbench_register_methods = hashbench_register_methods
    with pytest.raises(
        PluginError,
        match="registered twice.*baselines.*dup_plugin|registered twice.*dup_plugin.*baselines",
    ):
        Registry.from_plugin_manager(_pm_with(dup))


def test_plugin_that_raises_or_returns_junk_is_named():
    bad = types.ModuleType("bad_plugin")

    @hashbench.hookimpl
    def hashbench_register_methods():
        return [object]

    bad.hashbench_register_methods = hashbench_register_methods
    with pytest.raises(PluginError, match="bad_plugin"):
        Registry.from_plugin_manager(_pm_with(bad))

    raising = types.ModuleType("raising_plugin")

    @hashbench.hookimpl
    def hashbench_register_datasets():
        raise RuntimeError("boom")

    raising.hashbench_register_datasets = hashbench_register_datasets
    with pytest.raises(PluginError, match="raising_plugin.*boom"):
        Registry.from_plugin_manager(_pm_with(raising))


def test_unknown_names_suggest_the_closest():
    registry = Registry.from_plugin_manager(create_plugin_manager())
    with pytest.raises(UnknownNameError, match="Did you mean 'cca-itq'") as err:
        registry.method("cca_itq")
    assert "lsh" in str(err.value)
    with pytest.raises(UnknownNameError, match="synth-mscoco"):
        registry.dataset("synth-mscooc")
    assert registry.list_datasets("synth-m*") == ["synth-mirflickr", "synth-mscoco"]
    assert registry.encoder("precomputed").modalities == ("image", "text")
