"""An overall ranking of methods across table columns: average ranks, the Friedman test and the
Nemenyi critical difference (Demšar, "Statistical comparisons of classifiers over multiple data
sets", JMLR 7, 2006).

Input: one value per (method, column) (e.g. a table's means over seeds; a column is one
dataset x bits x task). Within each column the methods are ranked, 1 = highest value; tied
values share the mean of the ranks they span. Then:

- the Friedman test of "all methods have equal average rank" (chi-square with Friedman's tie
  correction, `scipy.stats.friedmanchisquare`), and the Iman-Davenport F form of it (less
  conservative; Demšar recommends it);
- the Nemenyi critical difference CD = q_alpha * sqrt(k (k + 1) / (6 N)), q_alpha the
  studentized range quantile over sqrt(2) (`scipy.stats.studentized_range`): two methods whose
  average ranks differ by more than CD are separated at level alpha, all pairs together;
- groups: the maximal runs of methods (in rank order) whose average ranks lie within CD of each
  other, the bars of a CD diagram. As Demšar prescribes, the post-hoc test only runs when the
  Friedman test rejects: otherwise every method is in one group.

The test treats the columns as independent data sets. Columns that share a dataset at several
code lengths (or two tasks of one dataset) are correlated, so the p-value and CD are
optimistic about how many independent comparisons the ranking rests on (docs/metrics.md).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from hashbench.errors import InputError

Column = Hashable


@dataclass(frozen=True)
class Ranking:
    """Average ranks of `methods` (best first) over `columns`, with the tests' results."""

    methods: tuple[str, ...]  # best (lowest average rank) first
    average_ranks: tuple[float, ...]  # of `methods`, in the same order
    columns: tuple[Column, ...]  # the columns ranked (every method has a value in each)
    dropped: tuple[tuple[Column, tuple[str, ...]], ...]  # columns left out: methods lacking it
    alpha: float
    friedman_chi2: float
    friedman_p: float
    iman_davenport_f: float
    iman_davenport_p: float  # both nan when every column ranks the methods alike
    q_alpha: float  # studentized range quantile / sqrt(2) for k methods, infinite df
    cd: float  # Nemenyi critical difference of average ranks
    groups: tuple[tuple[str, ...], ...]  # maximal groups not separated (2+ methods each)

    @property
    def k(self) -> int:
        return len(self.methods)

    @property
    def n(self) -> int:
        return len(self.columns)

    @property
    def rejected(self) -> bool:
        """Whether the Friedman test rejects equal ranks at `alpha` (the post-hoc gate)."""
        return self.friedman_p < self.alpha

    def rank_of(self, method: str) -> float:
        return self.average_ranks[self.methods.index(method)]

    def separated(self, a: str, b: str) -> bool:
        """Whether the Nemenyi test separates methods a and b (never without a Friedman
        rejection)."""
        return self.rejected and abs(self.rank_of(a) - self.rank_of(b)) > self.cd

    def describe(self) -> str:
        """One paragraph: the test, its result, the CD and what it assumes."""
        verdict = (
            "rejects equal average ranks"
            if self.rejected
            else "does not reject equal average ranks, so no pair is declared different"
        )
        return (
            f"Average ranks over {self.n} columns (dataset x bits x task; 1 = best, ties share "
            f"the mean rank). Friedman test: chi2 = {self.friedman_chi2:.3f}, "
            f"p = {_p(self.friedman_p)}{self._iman_davenport()}: at alpha = {self.alpha:g} "
            f"the Friedman test {verdict}. "
            f"Nemenyi critical difference CD = {self.cd:.3f} (k = {self.k}, N = {self.n}): "
            "methods whose average ranks differ by more are separated (Demšar, JMLR 2006). "
            "The test treats columns as independent data sets; columns of one dataset at "
            "several code lengths or tasks are not, so p and CD are optimistic."
        )

    def _iman_davenport(self) -> str:
        if math.isnan(self.iman_davenport_f):
            return " (Iman-Davenport F undefined: every column ranks the methods alike)"
        return f"; Iman-Davenport F = {self.iman_davenport_f:.3f}, p = {_p(self.iman_davenport_p)}"


def _p(p: float) -> str:
    if p == 0.0:
        return "0"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def average_ranks(matrix: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Ranks within each column of a (methods x columns) matrix, 1 = best, ties sharing the
    mean rank; returns the (methods x columns) rank matrix."""
    from scipy.stats import rankdata

    values = -matrix if higher_is_better else matrix
    return rankdata(values, axis=0, method="average")


def friedman(ranks: np.ndarray) -> tuple[float, float]:
    """(chi-square, p) of the Friedman test on a (k methods x N columns) rank matrix, with
    the tie correction; scipy's for k >= 3, the same statistic for k = 2 (scipy refuses it).
    Every column tied throughout: (0, 1), no evidence of any difference."""
    from scipy.stats import chi2, friedmanchisquare

    k, n = ranks.shape
    ties = sum(
        float(np.sum(counts**3 - counts))
        for counts in (np.unique(ranks[:, j], return_counts=True)[1] for j in range(n))
    )
    if ties >= n * k * (k * k - 1):  # every column one tie: the statistic is 0 / 0
        return 0.0, 1.0
    if k >= 3:
        result = friedmanchisquare(*ranks)  # ranks of ranks are the same ranks
        return float(result.statistic), float(result.pvalue)
    sums = ranks.sum(axis=1)
    statistic = 12.0 / (n * k * (k + 1)) * float(np.sum(sums**2)) - 3.0 * n * (k + 1)
    statistic /= 1.0 - ties / (n * k * (k * k - 1))
    return statistic, float(chi2.sf(statistic, k - 1))


def iman_davenport(chi2_f: float, k: int, n: int) -> tuple[float, float]:
    """(F, p) of Iman and Davenport's F form of the Friedman statistic, with (k - 1) and
    (k - 1)(N - 1) degrees of freedom; (nan, nan), undefined, when every column ranks the
    methods identically without ties (F would be infinite: the F approximation says nothing
    there, the chi-square p still does)."""
    from scipy.stats import f as f_dist

    denominator = n * (k - 1) - chi2_f
    if n < 2 or denominator <= 1e-12 * n * k:
        return math.nan, math.nan
    f_value = (n - 1) * chi2_f / denominator
    return f_value, float(f_dist.sf(f_value, k - 1, (k - 1) * (n - 1)))


def nemenyi_q(k: int, alpha: float) -> float:
    """q_alpha of the Nemenyi test for k methods: the studentized range quantile with
    infinite degrees of freedom over sqrt(2) (Demšar's Table 5a: 2.569 for k = 4, 0.05)."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2.0)


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """The Nemenyi critical difference of average ranks of k methods over n columns."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def cd_groups(ranked: list[tuple[str, float]], cd: float) -> tuple[tuple[str, ...], ...]:
    """Maximal runs of consecutive methods (sorted by average rank) whose ranks lie within
    `cd` of each other; runs of one method and runs inside a longer one are left out."""
    groups: list[tuple[str, ...]] = []
    reach = -1  # the last index covered by a group so far
    for i, (_, low) in enumerate(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][1] - low <= cd + 1e-12:
            j += 1
        if j > i and j > reach:
            groups.append(tuple(name for name, _ in ranked[i : j + 1]))
            reach = j
    return tuple(groups)


def rank_methods(
    values: Mapping[str, Mapping[Column, float]],
    alpha: float = 0.05,
    *,
    higher_is_better: bool = True,
) -> Ranking:
    """The ranking of the methods of `values` ({method: {column: value}}) over the columns in
    which every method has a finite value; other columns are dropped (`Ranking.dropped`).

    Raises InputError with fewer than 2 methods or fewer than 2 usable columns.
    """
    if not 0.0 < alpha < 1.0:
        raise InputError(f"--alpha {alpha}: must lie strictly between 0 and 1")
    methods = sorted(values)
    if len(methods) < 2:
        raise InputError(
            f"an overall ranking needs at least 2 methods; found {len(methods)} "
            f"({', '.join(methods) or 'none'}): widen --methods"
        )
    every = _sorted({c for by_column in values.values() for c in by_column})
    kept, dropped = [], []
    for column in every:
        lacking = tuple(
            m for m in methods if not _finite(values[m].get(column))
        )  # a method without a value here: the column cannot rank all of them
        (dropped.append((column, lacking)) if lacking else kept.append(column))
    if len(kept) < 2:
        raise InputError(
            f"an overall ranking needs at least 2 columns in which every method has a value; "
            f"{len(kept)} of {len(every)} have one (columns lacking a method: {len(dropped)}). "
            "Pick methods run on the same datasets, code lengths and tasks (--methods, "
            "--datasets, --bits)"
        )
    matrix = np.array([[float(values[m][c]) for c in kept] for m in methods])
    ranks = average_ranks(matrix, higher_is_better)
    means = ranks.mean(axis=1)
    k, n = len(methods), len(kept)
    chi2_f, p = friedman(ranks)
    f_value, f_p = iman_davenport(chi2_f, k, n)
    q = nemenyi_q(k, alpha)
    cd = q * math.sqrt(k * (k + 1) / (6.0 * n))
    order = sorted(range(k), key=lambda i: (means[i], methods[i]))
    ranked = [(methods[i], float(means[i])) for i in order]
    groups = cd_groups(ranked, cd) if p < alpha else (tuple(m for m, _ in ranked),)
    return Ranking(
        methods=tuple(m for m, _ in ranked),
        average_ranks=tuple(r for _, r in ranked),
        columns=tuple(kept),
        dropped=tuple(dropped),
        alpha=alpha,
        friedman_chi2=chi2_f,
        friedman_p=p,
        iman_davenport_f=f_value,
        iman_davenport_p=f_p,
        q_alpha=q,
        cd=cd,
        groups=groups,
    )


def _sorted(columns: set) -> list:
    try:
        return sorted(columns)
    except TypeError:  # columns of mixed types: a stable order all the same
        return sorted(columns, key=repr)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
