"""`hashbench rescore`: recompute the scores of runs stored under an older scoring convention,
or stored before an installed metric plugin was (to add its metrics)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from hashbench.cli.app import App, main, stderr, stdout
from hashbench.cli.options import existing_store_path, open_store, store_option


@main.command(name="rescore")
@store_option
@click.option("--dry-run", is_flag=True, help="Only list the runs that would be rescored.")
@click.pass_obj
def rescore(app: App, store: Path | None, dry_run: bool) -> None:
    """Recompute the scores of runs stored under an older scoring convention from their codes.

    The default tie order became "expected" (the mean over all orders of tied items; see
    docs/metrics.md). Runs stored before keep scores with ties by database index under the
    same names; this recomputes their standard metric set and per-query values from their
    stored, checksum-verified codes and saves each run again (atomically). Runs stored before
    an installed metric plugin was are rescored too, which adds its metrics.

    \b
    Example:
      hashbench rescore --dry-run
      hashbench rescore --store results/hashbench.db
    """
    from hashbench.errors import StoreError
    from hashbench.metrics import SCORING
    from hashbench.runner.rescore import is_stale, missing_metrics
    from hashbench.runner.rescore import rescore as rescore_run

    plugin_metrics = app.registry().metric_plugins()
    names = [spec.name for _, spec in plugin_metrics]
    why = f"not scored with {SCORING}" + (f" or without {', '.join(names)}" if names else "")
    with open_store(existing_store_path(store), readonly=dry_run) as results:
        todo = [
            r
            for r in results.records(protocol=["default", "tuned", "trial"])
            if is_stale(r) or missing_metrics(r, names)
        ]
        if dry_run or not todo:
            verb = "would rescore" if todo else "nothing to rescore"
            stdout.print(f"{verb}: {len(todo)} run(s) {why}", highlight=False)
            for record in todo:
                click.echo(f"  {record.run_id}  {record.method}  {record.dataset}  {record.bits}")
            return
        failed = []
        for done, record in enumerate(todo, 1):
            what = f"{record.run_id} ({record.method}, {record.dataset}, {record.bits} bits)"
            try:  # each run is saved on its own: one unreadable codes file stops no other
                rescore_run(results, record, plugin_metrics)
            except StoreError as exc:
                failed.append(record.run_id)
                stderr.print(
                    f"[{done}/{len(todo)}] not rescored {escape(what)}: {escape(str(exc))}",
                    highlight=False,
                )
                continue
            stderr.print(f"[{done}/{len(todo)}] rescored {escape(what)}", highlight=False)
    done = f"{SCORING}" + (f" and {', '.join(names)}" if names else "")
    stdout.print(f"rescored {len(todo) - len(failed)} run(s) with {done}", highlight=False)
    if failed:
        raise StoreError(
            f"{len(failed)} run(s) could not be rescored ({', '.join(failed)}): their codes are "
            "missing or fail their checks; each line above names the fix"
        )
