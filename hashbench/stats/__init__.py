"""Statistics of benchmark tables over training seeds and queries: intervals, tests, marks.

A table cell is a mean over queries of a setting trained with some seeds, so its uncertainty
comes from the sample of queries (Smucker, Allan and Carterette, CIKM 2007) and from training
randomness. From the per-query values every run stores (`perquery.<task>.<metric>`):

- `table_draws` / `twolevel`: the two-level bootstrap (seeds, then queries; the same query
  resamples for every method of a column), vectorised over a whole table.
- `cell_intervals`: intervals of the cells from those draws (BCa by default, or percentile).
- `compare_methods`: two settings on one cell: difference, interval and p-value from the same
  resamples, effect size, the t-test over shared seeds.
- `table_marks` / `column_marks` / `seed_marks`: all pairs of a family Holm-adjusted together,
  a compact letter display and the marks it implies (`marks`, `letters`).
- `holm`, `seeds_ttest`, `bootstrap_ci`, `randomization_test`: the building blocks.

Everything is seeded (default seed 0).
"""

from hashbench.stats.cells import (
    DEFAULT_OPTIONS,
    MIN_QUERIES,
    TESTS,
    CellInterval,
    Comparison,
    PerQuery,
    StatsOptions,
    cell_intervals,
    compare_methods,
    seed_average,
    seed_matrix,
    table_draws,
)
from hashbench.stats.letters import compact_letters, letter_marks
from hashbench.stats.marks import (
    N_MARKS,
    ColumnMarks,
    column_marks,
    family_marks,
    seed_marks,
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
    "bootstrap_ci",
    "bootstrap_means",
    "cell_intervals",
    "column_marks",
    "compare_methods",
    "holm",
    "randomization_test",
    "seed_average",
    "seed_marks",
    "seeds_ttest",
    "seed_matrix",
    "table_draws",
    "compact_letters",
    "letter_marks",
    "family_marks",
    "table_marks",
]
