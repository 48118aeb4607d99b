"""`hashbench --help` stays fast: commands load lazily, and the help paths import no heavy
module. (How fast it is, is measured by benchmarks/help_time.py, not here.)"""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

import hashbench.cli
from hashbench.cli import COMMANDS, main

HEAVY = ("torch", "numpy", "matplotlib", "scipy", "hashbench.runner.execute", "hashbench_plugins")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_lazy_table_matches_each_command(name):
    module, short_help = COMMANDS[name]
    importlib.import_module(module)
    command = main.commands.get(name)
    assert command is not None, f"importing {module} does not attach `{name}` to the group"
    assert command.get_short_help_str(limit=1000) == short_help, (
        f"COMMANDS['{name}'] in hashbench/cli/__init__.py: update its help to the command's"
    )


def test_every_command_is_in_the_lazy_table():
    for module in {m for m, _ in COMMANDS.values()}:
        importlib.import_module(module)
    assert set(main.commands) <= set(COMMANDS), "add new commands to hashbench.cli.COMMANDS"


def test_help_lists_every_command(cli):
    out = cli("--help").output
    for name in COMMANDS:
        assert f"  {name} " in out


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["status", "--help"]])
def test_help_imports_nothing_heavy(args):
    code = (
        "import sys\n"
        "from hashbench.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("HEAVY:"))
    assert line == "HEAVY:", f"`hashbench {' '.join(args)}` imported {line[6:]}"


def test_the_public_api_still_imports_by_name():
    import hashbench

    assert hashbench.Method.__name__ == "Method"
    from hashbench import DatasetSpec, Float, UpToBudget  # noqa: F401

    with pytest.raises(AttributeError):
        hashbench.NoSuchName  # noqa: B018
    assert "Method" in dir(hashbench)


def test_the_data_root_variable_is_spelled_as_the_core_spells_it():
    from hashbench.cli.options import DATA_ENV as in_help
    from hashbench.data.files import DATA_ENV

    assert in_help == DATA_ENV


def test_an_unknown_command_is_still_refused(cli):
    result = cli("no-such-command")
    assert result.exit_code != 0 and "No such command" in result.output
    assert isinstance(hashbench.cli.main, click.Group)
