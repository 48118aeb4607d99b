"""Statistics of benchmark tables over queries: intervals, paired tests, corrected marks.

A table cell is a mean over queries, so its uncertainty comes from the sample of queries (the
information-retrieval practice: Smucker, Allan and Carterette, CIKM 2007). From the per-query
values every run stores (`perquery.<task>.<metric>` in its codes.npz):

- `cell_intervals` / `bootstrap_ci`: bootstrap confidence intervals of the mean over queries
  (BCa by default), several seeds averaged per query (`cells`).
- `batch_pvalues` / `randomization_test`: the paired randomization (sign-flip) test over
  queries; `seeds_ttest`: the paired t-test over seeds (test name "seeds").
- `holm`: Holm's step-down correction.
- `table_marks` / `column_marks` / `seed_marks`: best / second / third marks that follow the
  test (methods not separable from a mark's leader share the mark; see `marks`).
- `compare_methods`: two methods on one cell: difference, interval, p-value, effect size.

Everything is seeded (default seed 0) and vectorised over the cells of a whole table.
"""

from hashbench.stats.cells import (
    DEFAULT_OPTIONS,
    MIN_QUERIES,
    TESTS,
    CellInterval,
    Comparison,
    PerQuery,
    StatsOptions,
    batch_pvalues,
    cell_intervals,
    compare_methods,
    paired_difference,
    seed_average,
)
from hashbench.stats.marks import (
    N_MARKS,
    ColumnMarks,
    column_marks,
    seed_marks,
    stagewise_marks,
    table_marks,
)
from hashbench.stats.multiple import holm, seeds_ttest
from hashbench.stats.resampling import (
    CI_METHODS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Intervals,
    bootstrap_ci,
    bootstrap_means,
    randomization_test,
)

__all__ = [
    "CI_METHODS",
    "DEFAULT_OPTIONS",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "MIN_QUERIES",
    "N_MARKS",
    "TESTS",
    "CellInterval",
    "ColumnMarks",
    "Comparison",
    "Intervals",
    "PerQuery",
    "StatsOptions",
    "batch_pvalues",
    "bootstrap_ci",
    "bootstrap_means",
    "cell_intervals",
    "column_marks",
    "compare_methods",
    "holm",
    "paired_difference",
    "randomization_test",
    "seed_average",
    "seed_marks",
    "seeds_ttest",
    "stagewise_marks",
    "table_marks",
]
