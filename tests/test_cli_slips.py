"""Small things a user reads: help texts, the usage of `compare`, the "tuned runs" column of
`hashbench status`, what `table --reference` says without real datasets, and the `hashbench tune`
command that `run --tuned` suggests (it must reproduce the study it looks for)."""

from __future__ import annotations

import shlex

import click

from hashbench.cli import main

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--bits", "16")


def _commands(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    """Every command path under `group` (sub-groups included)."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx), (*path, name))


def test_no_help_text_shows_a_doubled_percent(cli):
    """click prints help strings as written: "95%%" would reach the user doubled."""
    paths = [()] + list(_commands(main, click.Context(main)))
    assert ("table",) in paths and len(paths) > 10
    for path in paths:
        result = cli(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "%%" not in result.output, (path, result.output)
    assert "95% two-level bootstrap" in cli("table", "--help").output


def test_compare_without_arguments_shows_usage_with_an_example(cli):
    result = cli("compare")
    assert result.exit_code == 2
    assert "Usage: " in result.output and "compare [OPTIONS] A B" in result.output
    assert "Example:" in result.output and "hashbench compare cca-itq lsh" in result.output


def test_table_reference_says_why_a_synthetic_table_has_no_reference_rows(cli, tmp_path):
    store = str(tmp_path / "s.sqlite")
    assert cli("run", "--methods", "lsh", *SMALL, "--store", store).exit_code == 0
    plain = cli("table", "--store", store)
    assert plain.exit_code == 0 and "reference rows exist only" not in plain.output
    result = cli("table", "--reference", "--store", store)
    assert result.exit_code == 0, result.output
    assert (
        "--reference: reference rows exist only for the real datasets (mirflickr, nuswide, "
        "mscoco): none in this table"
    ) in result.output


def _last_column(table: str, header: str) -> list[str]:
    """The cells of a tabulate table's last column, `header` (left-aligned text)."""
    lines = table.strip().splitlines()
    start = lines[0].index(header)
    assert lines[0].rstrip().endswith(header), lines[0]
    return [line[start:].strip() for line in lines[2:] if line.strip()]


def test_run_tuned_suggests_the_tune_command_that_makes_its_study(cli, tmp_path):
    """The hint names the store, the scale and the --param values; running it (with fewer
    trials) makes the study `run --tuned` then finds. `status` counts the tuned runs in its
    "tuned runs" column."""
    store = str(tmp_path / "not default" / "s.sqlite")
    args = ("--methods", "cca-itq", *SMALL, "--store", store, "--param", "cca-itq.ridge=2.0")
    missing = cli("run", "--tuned", *args)
    assert missing.exit_code != 0
    assert "no tuning study of cca-itq" in missing.output, missing.output
    hint = missing.output.split("run `", 1)[1].split("`", 1)[0]
    words = shlex.split(hint)
    assert words[:2] == ["hashbench", "tune"]
    assert words[words.index("--store") + 1] == store
    assert words[words.index("--scale") + 1] == "0.05"
    assert words[words.index("--param") + 1] == "cca-itq.ridge=2.0"
    tuned = cli(*words[1:], "--trials", "2")
    assert tuned.exit_code == 0, tuned.output
    for seeds in ("0", "1"):
        again = cli("run", "--tuned", *args, "--seeds", seeds)
        assert again.exit_code == 0, again.output
    status = cli("status", "--store", store)
    assert status.exit_code == 0, status.output
    table = status.output.split("tuning studies", 1)[1].split("\n", 1)[1]
    assert _last_column(table, "tuned runs") == ["2 (seeds 0, 1; after 2 trials)"], table


def test_tuned_runs_cell_counts_runs_and_names_seeds_and_trials():
    from types import SimpleNamespace

    from hashbench.cli.status_view import tuned_runs_text

    def run(seed: int, trials: int) -> SimpleNamespace:
        return SimpleNamespace(seed=seed, tuning={"trials": trials})

    assert tuned_runs_text([]) == "-"
    assert tuned_runs_text([run(0, 1)]) == "1 (seed 0; after 1 trial)"
    assert tuned_runs_text([run(2, 8), run(0, 4), run(0, 8)]) == "3 (seeds 0, 2; after 4, 8 trials)"
