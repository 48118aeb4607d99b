"""Speed of the table statistics (a script, not a test): intervals and marks of a full table.

A full table: 10 methods x 3 datasets x 4 code lengths x 2 tasks = 240 cells in 24 columns,
2,000 queries per cell, 10,000 resamples. Per-query values are AP-like (in [0, 1], many near 0
and 1) with a per-query difficulty shared by all methods, and method effects of a few points,
so some columns separate methods and some do not. Each seed adds a training offset (sd 0.01).

Timed, in this process, best of --repeat:

  (a) hashbench.stats.cell_intervals   two-level (seeds, then queries) BCa intervals, 240 cells
  (b) hashbench.stats.table_marks      two-level bootstrap tests of all pairs + Holm + letters
                                       and marks of all 24 columns
  (c) numpy baseline                   one mean over the same data (every cell's mean)
  (d) scipy.stats.bootstrap            BCa, one cell, extrapolated to 240 cells
  (e) scipy.stats.permutation_test     one paired comparison, extrapolated to (b)'s number of
                                       comparisons

and prints (a + b) against the 10 s goal, the ratios (a + b) / c and (d + e) / (a + b), the
threads BLAS may use, and what else was running (load average, busiest other processes).

    python benchmarks/stats_speed.py                  # the full table, 3 seeds per cell
    python benchmarks/stats_speed.py --seeds 1        # one seed (query-level)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Callable

import numpy as np
from scipy import stats as sps

from hashbench.stats import StatsOptions, cell_intervals, table_marks

GOAL_S = 10.0


def make_table(
    methods: int, datasets: int, bits: int, queries: int, seeds: int, rng: np.random.Generator
) -> dict:
    """column (dataset, bits, task) -> method -> seed -> (queries,) float32 per-query values."""
    columns = {}
    for d in range(datasets):
        for b in (16, 32, 64, 128)[:bits]:
            for task in ("i2t", "t2i"):
                difficulty = rng.beta(0.6, 0.7, size=queries)
                effects = np.sort(rng.normal(0, 0.03, size=methods))[::-1]
                columns[(f"synth-{d}", b, task)] = {
                    f"method-{m}": {
                        s: np.clip(
                            difficulty
                            + effects[m]
                            + rng.normal(0, 0.01)
                            + rng.normal(0, 0.12, size=queries),
                            0,
                            1,
                        ).astype(np.float32)
                        for s in range(seeds)
                    }
                    for m in range(methods)
                }
    return columns


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def others_running() -> str:
    """Load average and the busiest processes other than this one."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        ps = subprocess.run(
            ["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu", "--no-headers"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        ps = []
    busy = [
        " ".join(line.split()[1:])[:60]
        for line in ps
        if line.split() and line.split()[0] != str(os.getpid()) and float(line.split()[1]) >= 5
    ]
    shown = "; ".join(busy[:5]) or "none"
    return f"load average {load}; other processes >= 5% CPU (lifetime average): {shown}"


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info

        return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info())
    except ImportError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", type=int, default=10)
    parser.add_argument("--datasets", type=int, default=3)
    parser.add_argument("--bits", type=int, default=4, help="code lengths (1-4)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"before: {others_running()}")
    print(f"cores: {len(os.sched_getaffinity(0))}; BLAS threads: {blas_threads()}")
    columns = make_table(
        args.methods, args.datasets, args.bits, args.queries, args.seeds, np.random.default_rng(0)
    )
    cells = {(col, m): v for col, methods in columns.items() for m, v in methods.items()}
    options = StatsOptions(resamples=args.resamples)
    n_cells, n_cols = len(cells), len(columns)
    print(
        f"table: {n_cells} cells in {n_cols} columns, {args.queries:,} queries, "
        f"{args.seeds} seed(s), {args.resamples:,} resamples"
    )

    t_ci, _ = best_of(args.repeat, lambda: cell_intervals(cells, options))
    t_marks, marks = best_of(args.repeat, lambda: table_marks(columns, options))
    groups = [len({ch for v in m.letters.values() for ch in v}) for m in marks.values()]
    ran = sum(m.tests for m in marks.values())
    data = np.stack([v for per_seed in cells.values() for v in per_seed.values()])
    t_mean, _ = best_of(args.repeat, lambda: data.mean(axis=1))

    one = next(iter(cells.values()))[0].astype(np.float64)
    t_boot, _ = best_of(
        1,
        lambda: sps.bootstrap((one,), np.mean, n_resamples=args.resamples, rng=0),
    )
    other = list(next(iter(columns.values())).values())[1][0].astype(np.float64)
    t_perm, _ = best_of(
        1,
        lambda: sps.permutation_test(
            (one - other,), np.mean, permutation_type="samples", n_resamples=args.resamples, rng=0
        ),
    )
    ours = t_ci + t_marks
    scipy_total = t_boot * n_cells + t_perm * ran
    print(f"(a) intervals, {n_cells} cells:           {t_ci:8.3f} s")
    print(
        f"(b) marks, {n_cols} columns:               {t_marks:8.3f} s  "
        f"({ran} pair tests, up to {max(groups)} letters per column)"
    )
    print(
        f"(a + b) statistics of the full table:  {ours:8.3f} s  "
        f"(goal < {GOAL_S:g} s: {'met' if ours < GOAL_S else 'MISSED'})"
    )
    print(
        f"(c) numpy mean of every cell:          {t_mean:8.4f} s  "
        f"(a + b) / c = {ours / t_mean:,.0f}"
    )
    print(
        f"(d) scipy.stats.bootstrap, one cell:   {t_boot:8.3f} s  "
        f"x {n_cells} = {t_boot * n_cells:.0f} s"
    )
    print(f"(e) scipy permutation_test, one pair:  {t_perm:8.3f} s  x {ran} = {t_perm * ran:.0f} s")
    print(f"(d + e) / (a + b) = {scipy_total / ours:,.0f}")
    print(f"after: {others_running()}")


if __name__ == "__main__":
    main()
