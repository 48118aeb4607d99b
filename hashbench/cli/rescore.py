"""`hashbench rescore`: recompute the scores of runs stored under an older scoring convention."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from hashbench.cli.app import main, stderr, stdout
from hashbench.cli.options import existing_store_path, open_store, store_option


@main.command(name="rescore")
@store_option
@click.option("--dry-run", is_flag=True, help="Only list the runs that would be rescored.")
def rescore(store: Path | None, dry_run: bool) -> None:
    """Recompute the scores of runs stored under an older scoring convention from their codes.

    The default tie order became "expected" (the mean over all orders of tied items; see
    docs/metrics.md). Runs stored before keep scores with ties by database index under the
    same names; this recomputes their standard metric set and per-query values from their
    stored, checksum-verified codes and saves each run again (atomically).

    \b
    Example:
      hashbench rescore --dry-run
      hashbench rescore --store results/hashbench.db
    """
    from hashbench.errors import StoreError
    from hashbench.metrics import SCORING
    from hashbench.runner.rescore import rescore as rescore_run
    from hashbench.runner.rescore import stale

    with open_store(existing_store_path(store), readonly=dry_run) as results:
        todo = stale(results.records(protocol=["default", "tuned", "trial"]))
        if dry_run or not todo:
            verb = "would rescore" if todo else "nothing to rescore"
            stdout.print(f"{verb}: {len(todo)} run(s) not scored with {SCORING}", highlight=False)
            for record in todo:
                click.echo(f"  {record.run_id}  {record.method}  {record.dataset}  {record.bits}")
            return
        failed = []
        for done, record in enumerate(todo, 1):
            what = f"{record.run_id} ({record.method}, {record.dataset}, {record.bits} bits)"
            try:  # each run is saved on its own: one unreadable codes file stops no other
                rescore_run(results, record)
            except StoreError as exc:
                failed.append(record.run_id)
                stderr.print(
                    f"[{done}/{len(todo)}] not rescored {escape(what)}: {escape(str(exc))}",
                    highlight=False,
                )
                continue
            stderr.print(f"[{done}/{len(todo)}] rescored {escape(what)}", highlight=False)
    stdout.print(f"rescored {len(todo) - len(failed)} run(s) with {SCORING}", highlight=False)
    if failed:
        raise StoreError(
            f"{len(failed)} run(s) could not be rescored ({', '.join(failed)}): their codes are "
            "missing or fail their checks; each line above names the fix"
        )
