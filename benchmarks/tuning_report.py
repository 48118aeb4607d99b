"""What tuning cost and gave, read from stores that `hashbench tune` filled.

    python benchmarks/tuning_report.py STORE [STORE_WITHOUT_PRUNING]

Per study: trials (complete / pruned / failed), the trials' summed wall time and trials per hour
on this machine, validation score of trial 0 and of the best trial, and test mAP@50 (I2T / T2I)
of the default and the tuned runs. With a second store (the same command with `--pruner none`),
the same studies' trials per hour without pruning, and the ratio.
"""

from __future__ import annotations

import sys
from collections import defaultdict

from hashbench.store import ResultStore
from hashbench.tuning.report import study_summaries, trial_state


def _trial_hours(store: ResultStore) -> dict[tuple, tuple[int, float, dict]]:
    """(method, dataset, bits, seed, budget) -> (trials, hours, state counts)."""
    out: dict[tuple, list] = defaultdict(lambda: [0, 0.0, defaultdict(int)])
    for record in store.records(protocol="trial") + store.failures():
        if record.protocol != "trial":
            continue
        key = (record.method, record.dataset.removesuffix(":val"), record.bits, record.seed)
        entry = out[key]
        entry[0] += 1
        entry[1] += record.timings.get("total_s", 0.0) / 3600
        entry[2][trial_state(record)[0]] += 1
    return {k: (n, h, dict(c)) for k, (n, h, c) in out.items()}


def _maps(record) -> str:
    return f"{record.metrics['i2t']['map@50']:.4f} / {record.metrics['t2i']['map@50']:.4f}"


def main(paths: list[str]) -> None:
    with ResultStore(paths[0], readonly=True) as store:
        hours = _trial_hours(store)
        summaries = study_summaries(store)
        defaults = {
            (r.method, r.dataset, r.bits, r.seed, r.budget): r
            for r in store.records(protocol="default")
        }
    baseline = {}
    if len(paths) > 1:
        with ResultStore(paths[1], readonly=True) as other:
            baseline = _trial_hours(other)
    print(
        "| method | dataset | trials (complete/pruned/failed) | trials/h | trials/h, no pruning "
        "| val default | val best | test default I2T / T2I | test tuned I2T / T2I |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        key = (s.method, s.dataset, s.bits, s.seed)
        n, h, counts = hours.get(key, (0, 0.0, {}))
        rate = f"{n / h:.0f}" if h else "-"
        base = baseline.get(key)
        base_rate = f"{base[0] / base[1]:.0f}" if base and base[1] else "-"
        tuned = next((r for r in s.tuned if r.seed == s.seed), None)  # not run --tuned's
        default = defaults.get((s.method, s.dataset, s.bits, s.seed, s.budget))
        states = "/".join(str(counts.get(k, 0)) for k in ("complete", "pruned", "failed"))
        val_default = tuned.tuning.get("default_score") if tuned else None
        print(
            f"| {s.method} | {s.dataset} | {states} | {rate} | {base_rate} | "
            f"{'-' if val_default is None else f'{val_default:.4f}'} | "
            f"{'-' if s.best is None else f'{s.best:.4f}'} | "
            f"{_maps(default) if default else '-'} | {_maps(tuned) if tuned else '-'} |"
        )
    total_n = sum(v[0] for v in hours.values())
    total_h = sum(v[1] for v in hours.values())
    if total_h:
        print(
            f"\nall studies: {total_n} trials in {total_h:.2f} h of trial time: "
            f"{total_n / total_h:.0f} trials/h"
        )


if __name__ == "__main__":
    if not 1 <= len(sys.argv) - 1 <= 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
