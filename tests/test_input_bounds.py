"""Every numeric option and parameter has bounds, stated in the one-line refusal (issue 27);
a malformed method declaration blocks only that method."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hashbench
import hashbench.cli.app
from hashbench.plugins import create_plugin_manager
from tests.tuning_toys import ToyEpochs, plugin_module

SMALL = ("--dataset", "synth-mirflickr", "--bits", "16", "--scale", "0.05", "--budget", "quick")


def _refused(result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert len(result.output.strip().splitlines()) <= 2, result.output  # a progress line at most


# option, value, the range the message states; each command refuses before reading anything
OPTIONS = [
    (("table",), "--resamples", "99999999999999999999", "[100, 10,000,000]"),
    (("table",), "--resamples", "1", "[100, 10,000,000]"),
    (("table",), "--alpha", "nan", "[0.0001, 0.5]"),
    (("table",), "--e-mac", "inf", "[0, 1e+06]"),
    (("report",), "--resamples", "5", "[100, 10,000,000]"),
    (("report",), "--curve-bits", "4096", "[1, 1,024]"),
    (("compare", "a", "b", "--dataset", "d", "--bits", "16"), "--level", "1", "[0.5, 0.999]"),
    (("compare", "a", "b", "--dataset", "d"), "--bits", "0", "[1, 1,024]"),
    (("compare", "a", "b", "--dataset", "d", "--bits", "16"), "--seed", "-1", "[0, 4,294,967,295]"),
    (("run", "--methods", "lsh"), "--scale", "1e-9", "[0.005, 1]"),
    (("run", "--methods", "lsh"), "--scale", "nan", "[0.005, 1]"),
    (("run", "--methods", "lsh"), "--encode-batch-size", "1e30", "[1, 1,048,576]"),
    (("run", "--methods", "lsh"), "--workers", "100000", "[1, 1,024]"),
    (("tune", "--methods", "lsh"), "--trials", "99999999999", "[1, 10,000]"),
    (("tune", "--methods", "lsh"), "--val-fraction", "inf", "[0.01, 0.9]"),
    (("tune", "--methods", "lsh"), "--scale", "0", "[0.005, 1]"),
    (("profile", "--methods", "lsh"), "--scale", "2", "[0.005, 1]"),
    (("profile", "--methods", "lsh"), "--e-ac", "-1", "[0, 1e+06]"),
]


@pytest.mark.parametrize("command, option, value, allowed", OPTIONS)
def test_numeric_options_state_their_range(cli, tmp_path, command, option, value, allowed):
    store = tmp_path / "hb.sqlite"
    result = cli(*command, option, value, "--store", str(store))
    _refused(result, f"{option} {value}: must be", allowed)
    assert not store.exists()


def test_every_numeric_option_of_these_commands_is_bounded():
    """No plain int / float left: each numeric option says what it allows."""
    import click

    from hashbench.cli import main
    from hashbench.cli.options import Bounded

    for name in ("run", "tune", "table", "compare", "report", "eval", "profile"):
        command = main.get_command(click.Context(main), name)
        for param in command.params:
            if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType):
                assert isinstance(param.type, Bounded) or param.name == "run_timeout", (
                    name,
                    param.name,
                )


@pytest.mark.parametrize(
    "param, message",
    [
        ("cca-itq.ridge=nan", "ridge must hold finite numbers only"),
        ("cca-itq.ridge=-inf", "ridge must hold finite numbers only"),
        ("cca-itq.itq_iterations=1e23", "itq_iterations must be a whole number in [0, 10000]"),
        ("cca-itq.itq_iterations=100000", "itq_iterations must be a whole number in [0, 10000]"),
        ("cirh-like.hidden=10000000", "hidden must be a whole number in [1, 65536]"),
        ("cirh-like.epochs=100000", "epochs must be a whole number in [1, 10000]"),
        ("cirh-like.hash_init_std=nan", "hash_init_std must hold finite numbers only"),
        ("cirh-like.adam_betas=[NaN, 0.9]", "adam_betas must hold finite numbers only"),
        ("spikehash.time_steps=100000", "time_steps must be a whole number in [1, 1000]"),
    ],
)
def test_parameters_have_bounds_and_refuse_non_finite_values(cli, tmp_path, param, message):
    store = tmp_path / "hb.sqlite"
    method = param.split(".")[0]
    result = cli("run", "--methods", method, *SMALL, "--param", param, "--store", str(store))
    _refused(result, f"--param {method}.", message)
    assert not store.exists()


def test_built_in_size_parameters_are_bounded():
    """Iterations, epochs, widths, time steps and batch sizes of the built-in methods have an
    upper bound that holds every default, dataset and budget value."""
    from hashbench.registry import Registry

    registry = Registry.from_plugin_manager(create_plugin_manager())
    sized = ("epochs", "iterations", "hidden", "time_steps", "batch_size", "feedforward", "rounds")
    assert not registry.broken
    for name, cls in registry.methods.items():
        for key, default in cls.default_params.items():
            if isinstance(default, bool) or not isinstance(default, int):
                continue
            if any(word in key for word in sized):
                domain = cls.param_ranges.get(key)
                assert domain is not None and domain.high is not None, (name, key)


# --- malformed declarations block only their method ----------------------------------------


def _with(monkeypatch, *methods):
    module = plugin_module(*methods)

    def patched(block=()):
        pm = create_plugin_manager(block)
        pm.register(module, name="tuning-toys")
        return pm

    monkeypatch.setattr(hashbench.cli.app, "create_plugin_manager", patched)


@pytest.mark.parametrize(
    "declared, problem",
    [
        ({"search_space": {"quality": hashbench.Float(math.nan, 1.0)}}, "low bound nan is not"),
        ({"search_space": {"quality": hashbench.Float(0.0, math.inf)}}, "high bound inf is not"),
        ({"search_space": {"quality": hashbench.Float("a", 1.0)}}, "low bound 'a' is not"),
        ({"search_space": {"quality": hashbench.Choice(5)}}, "TypeError"),
        ({"search_space": {"quality": "0..1"}}, "use hashbench.Float, Int or Choice"),
        ({"param_ranges": {"epochs": hashbench.Int(1, math.nan)}}, "high bound nan is not"),
        ({"param_ranges": {"epochs": hashbench.Int(5, 9)}}, "default epochs=4 is outside"),
    ],
)
def test_a_malformed_declaration_makes_only_its_method_unavailable(
    cli, tmp_path, monkeypatch, declared, problem
):
    bad = type("Bad", (ToyEpochs,), declared)
    _with(monkeypatch, bad)
    listed = cli("list", "methods")
    assert listed.exit_code == 0, listed.output
    assert "warning: method 'toy-epochs' is unavailable: plugin 'tuning-toys'" in listed.output
    assert problem in listed.output
    lines = listed.output.splitlines()
    assert any(line.startswith("toy-epochs") and "BROKEN" in line for line in lines)
    assert "cca-itq" in listed.output
    store = str(tmp_path / "hb.sqlite")
    ok = cli("run", "--methods", "lsh", *SMALL, "--store", store)
    assert ok.exit_code == 0 and "1 run(s) executed" in ok.output
    for command in ("run", "tune"):
        failed = cli(command, "--methods", "toy-epochs", *SMALL, "--store", store)
        assert failed.exit_code != 0 and "internal error" not in failed.output
        assert "method 'toy-epochs' is unavailable" in failed.output and problem in failed.output


def test_non_finite_bounds_are_declaration_problems():
    from hashbench.params import Float, Int

    assert Float(0.0, float("nan")).problems()
    assert Int(1, np.inf).problems()
    assert Int(1, 2.5).problems()
    assert not Float(None, 1.0).problems() and not Int(0, 10).problems()
