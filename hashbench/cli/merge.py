"""`hashbench merge`: bring runs of other stores or export folders into one store (the rules
are in `hashbench/store/merge.py` and docs/merge.md)."""

from __future__ import annotations

from pathlib import Path

import click

from hashbench.cli.app import main, stderr
from hashbench.cli.options import existing_store_path, open_store
from hashbench.errors import InputError

KEEP_HELP = (
    "How to settle a run id whose codes or scores differ between the target and a source: "
    "keep the target's run, take the source's, or keep both (the source's as a replicate, "
    "outside tables and statistics). Without it such a merge is refused."
)


@main.command()
@click.argument("sources", nargs=-1, metavar="SOURCE...", type=click.Path(path_type=Path))
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=None,
    help="Target results database (created if missing) [default: HASHBENCH_STORE or "
    "results/hashbench.sqlite].",
)
@click.option("--keep", type=click.Choice(["target", "source", "both"]), default=None,
              help=KEEP_HELP)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Say what would be merged; write nothing.")
@click.option(
    "--list",
    "show",
    is_flag=True,
    help="Show where the store's merged runs came from, runs without codes and replicates.",
)
@click.option(
    "--metric", default="map@50", show_default=True, help="Metric of the --list differences."
)
def merge(
    sources: tuple[Path, ...],
    store: Path | None,
    keep: str | None,
    dry_run: bool,
    show: bool,
    metric: str,
) -> None:
    """Bring the runs of other results stores or export folders into one store (--store).

    A run id already there with the same codes and scores is skipped; one whose codes or
    scores differ is a conflict: the merge is refused, nothing written, with one line per
    conflict naming both sides and whether they ran on the same machine, until --keep says
    which to keep. Merging the same sources again changes nothing.

    \b
    Example:
      hashbench merge laptop.sqlite cluster-export/ --store results/hashbench.sqlite
      hashbench merge b.sqlite --store a.sqlite --keep both
      hashbench merge --list --store a.sqlite
    """
    from hashbench.store import default_store_path

    target = Path(store or default_store_path())
    if show:
        if sources or keep or dry_run:
            raise InputError("--list only shows the target store; drop SOURCE, --keep, --dry-run")
        from hashbench.store.merge_log import list_lines

        with open_store(existing_store_path(target), readonly=True) as results:
            for line in list_lines(results, metric):
                click.echo(line)
        return
    if not sources:
        raise InputError(
            "name at least one SOURCE (a results store .sqlite, or a folder written by "
            "`hashbench export`): hashbench merge SOURCE... --store TARGET"
        )
    from hashbench.store.merge import merge as merge_runs

    plan = merge_runs(list(sources), target, keep, dry_run=dry_run)
    counts = plan.summary()
    verb = "would merge" if dry_run else "merged"
    parts = [  # the counts that are not zero (added and already there always)
        f"{counts['added']} added",
        f"{counts['replaced']} replaced" * bool(counts["replaced"]),
        f"{counts['replicates']} kept as replicates" * bool(counts["replicates"]),
        f"{counts.get('skipped', 0)} already there",
        f"{counts.get('kept', 0)} conflicts kept as the target has them" * bool(counts.get("kept")),
        f"{counts.get('failed_kept', 0)} failed runs not taken" * bool(counts.get("failed_kept")),
    ]
    click.echo(f"{verb} into {target}: " + ", ".join(part for part in parts if part))
    if counts["without_codes"]:
        stderr.print(
            f"note: {counts['without_codes']} run(s) came without codes: tables show their "
            "scores, but their cells get no interval and their columns no query-level test "
            "(--ci, --significance queries); see docs/merge.md",
            highlight=False,
        )
