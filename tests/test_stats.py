"""Statistics over queries: bootstrap intervals, the paired randomization test, Holm, marks that
follow the test, per-query values from the metric engine (storage and CLI: test_stats_cli.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from hashbench import metrics
from hashbench.errors import InputError
from hashbench.stats import (
    StatsOptions,
    bootstrap_ci,
    cell_intervals,
    column_marks,
    compact_letters,
    compare_methods,
    holm,
    letter_marks,
    randomization_test,
    seed_marks,
    seeds_ttest,
    table_marks,
)

FAST = StatsOptions(resamples=2000)


def _ap_like(rng: np.random.Generator, n: int, shift: float = 0.0, m: int | None = None):
    """Per-query AP-like values in [0, 1]: many near 0 or 1 (as real APs are), plus a shift."""
    shape = (n,) if m is None else (n, m)
    return np.clip(rng.beta(0.6, 0.7, size=shape) + shift, 0.0, 1.0)


# --- the randomization test ---------------------------------------------------------------


def test_planted_shift_is_separated_and_equal_distributions_are_not():
    rng = np.random.default_rng(1)
    n, reps = 500, 200
    base = _ap_like(rng, n, m=reps)  # per-query difficulty shared by both methods
    noise = lambda: rng.normal(0, 0.15, size=(n, reps))  # noqa: E731
    shifted = randomization_test(base + 0.04 + noise() - (base + noise()), resamples=2000)
    same = randomization_test(base + noise() - (base + noise()), resamples=2000)
    # a shift of 0.04 against a per-query noise sd of 0.21 at 500 queries: z ~ 4.2
    assert (shifted < 0.05).mean() >= 0.97
    # same distribution: rejections at about the nominal 5% (binomial 200 x 0.05: sd 1.5%)
    assert 0.01 <= (same < 0.05).mean() <= 0.10
    # p-values under the null are roughly uniform
    assert sps.kstest(same, "uniform").pvalue > 0.01


def test_exact_enumeration_for_few_queries():
    # 5 equal positive differences: only all-plus and all-minus reach |mean| = 1: p = 2/32
    assert randomization_test(np.ones(5), resamples=10_000)[0] == pytest.approx(2 / 32)
    # one difference: both signs are as extreme: p = 1
    assert randomization_test(np.array([0.3]))[0] == 1.0
    # identical methods: every pattern ties the observed 0: p = 1
    assert randomization_test(np.zeros(50))[0] == 1.0


def test_monte_carlo_pvalue_is_never_zero_and_matches_scipy():
    rng = np.random.default_rng(2)
    d = rng.normal(0.05, 0.3, size=400)
    p = randomization_test(d, resamples=10_000)[0]
    assert p > 0
    exact = sps.permutation_test(
        (d,), np.mean, permutation_type="samples", n_resamples=10_000, rng=0
    ).pvalue
    assert abs(p - exact) < 0.02  # two Monte Carlo estimates of the same p (sd ~0.003)
    assert randomization_test(np.full(400, 0.2), resamples=999)[0] == pytest.approx(1 / 1000)


def test_pvalue_does_not_depend_on_the_batch():
    rng = np.random.default_rng(3)
    d = rng.normal(0.02, 0.3, size=(300, 4))
    alone = [randomization_test(d[:, j], resamples=3000)[0] for j in range(4)]
    np.testing.assert_array_equal(randomization_test(d, resamples=3000), alone)
    assert not np.array_equal(
        randomization_test(d, resamples=3000, seed=1), randomization_test(d, resamples=3000)
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1, 1, allow_nan=False), min_size=1, max_size=60),
    st.integers(0, 2**16),
)
def test_randomization_properties(values, seed):
    d = np.array(values)
    p = randomization_test(d, resamples=500, seed=seed)[0]
    assert 0 < p <= 1
    # swapping the two methods flips every difference: same p (the test is symmetric)
    assert randomization_test(-d, resamples=500, seed=seed)[0] == p


# --- Holm ----------------------------------------------------------------------------------


def test_holm_hand_computed():
    # sorted 0.005, 0.01, 0.03, 0.04 scaled by 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> running
    # maximum 0.02, 0.03, 0.06, 0.06; back in the input order:
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.2]), [0.5, 0.4])
    np.testing.assert_allclose(holm([0.6, 0.3]), [0.6, 0.6])  # clipped by the running max
    assert holm([]).size == 0
    with pytest.raises(InputError):
        holm([0.2, 1.5])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=30))
def test_holm_properties(values):
    p = np.array(values)
    q = holm(p)
    assert np.all(q >= p) and np.all(q <= 1)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= 0)  # monotone: a smaller raw p never gets a larger q
    assert np.all(q <= np.minimum(1, len(p) * p) + 1e-15)  # never worse than Bonferroni


# --- bootstrap intervals -------------------------------------------------------------------


def test_interval_matches_scipy_bootstrap():
    rng = np.random.default_rng(4)
    x = _ap_like(rng, 300)
    for method in ("bca", "percentile"):
        ours = bootstrap_ci(x, resamples=10_000, method=method)
        ref = sps.bootstrap((x,), np.mean, n_resamples=10_000, method=method, rng=0)
        width = ref.confidence_interval.high - ref.confidence_interval.low
        assert abs(ours.low[0] - ref.confidence_interval.low) < 0.05 * width
        assert abs(ours.high[0] - ref.confidence_interval.high) < 0.05 * width
        assert ours.standard_error[0] == pytest.approx(ref.standard_error, rel=0.05)


def test_interval_coverage():
    rng = np.random.default_rng(5)
    a, b = 0.6, 0.7
    true_mean = a / (a + b)
    x = rng.beta(a, b, size=(200, 400))  # 400 independent samples of 200 queries
    ci = bootstrap_ci(x, resamples=2000)
    covered = ((ci.low <= true_mean) & (true_mean <= ci.high)).mean()
    assert 0.91 <= covered <= 0.985  # nominal 95%; binomial sd over 400 samples ~1.1%
    # and the width is what the central limit theorem says (2 x 1.96 x sd / sqrt(n))
    expected = 2 * 1.96 * np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)) / 200)
    assert np.median(ci.high - ci.low) == pytest.approx(expected, rel=0.1)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=50),
    st.floats(-1, 1),
    st.floats(0.1, 10),
)
def test_interval_is_shift_and_scale_equivariant(values, shift, scale):
    x = np.array(values)
    base = bootstrap_ci(x, resamples=300, method="percentile")
    moved = bootstrap_ci(x * scale + shift, resamples=300, method="percentile")
    np.testing.assert_allclose(moved.low, base.low * scale + shift, atol=1e-9)
    np.testing.assert_allclose(moved.high, base.high * scale + shift, atol=1e-9)
    assert base.low[0] <= base.high[0]


def test_constant_cell_has_a_point_interval():
    ci = bootstrap_ci(np.full(100, 0.25))
    assert ci.low[0] == ci.high[0] == pytest.approx(0.25)


def test_one_seed_interval_is_the_query_bootstrap_and_seeds_widen_it():
    rng = np.random.default_rng(6)
    base = _ap_like(rng, 400)
    one = cell_intervals({"cell": {0: base}}, FAST)["cell"]
    direct = bootstrap_ci(base, resamples=2000)  # the query-only BCa of before (df = n - 1)
    assert one.low == pytest.approx(direct.low[0], abs=2e-3)
    assert one.high == pytest.approx(direct.high[0], abs=2e-3)
    # three seeds with training offsets: the interval covers them (the old one averaged them
    # per query and resampled queries only, as wide as one seed's)
    seeds = {s: np.clip(base + off, 0, 1) for s, off in enumerate((-0.03, 0.0, 0.03))}
    found = cell_intervals({"cell": seeds}, FAST)["cell"]
    query_only = bootstrap_ci(np.mean(list(seeds.values()), axis=0), resamples=2000)
    assert found.n_seeds == 3 and found.n_queries == 400
    assert found.mean == pytest.approx(np.mean([v.mean() for v in seeds.values()]))
    assert found.high - found.low > 1.5 * (query_only.high[0] - query_only.low[0])


def test_compare_interval_and_pvalue_agree():
    rng = np.random.default_rng(11)
    base = _ap_like(rng, 300)
    decided = set()
    for shift in np.linspace(0.0, 0.08, 17):
        a = {s: base + shift + rng.normal(0, 0.1, 300) + rng.normal(0, 0.01) for s in range(3)}
        b = {s: base + rng.normal(0, 0.1, 300) + rng.normal(0, 0.01) for s in range(3)}
        c = compare_methods(a, b, FAST)
        excludes = c.low > 0 or c.high < 0
        assert excludes == (c.pvalue < 0.05) and c.agree  # one inversion: always agree
        assert 0 <= c.mc_se < 0.05 and c.df < 50  # the seed part counts, with few df
        decided.add(excludes)
    assert decided == {True, False}  # both outcomes occurred


def test_bad_inputs_are_refused():
    with pytest.raises(InputError):
        bootstrap_ci(np.array([0.1, np.nan]))
    with pytest.raises(InputError):
        randomization_test(np.zeros((0, 2)))
    with pytest.raises(InputError):
        StatsOptions(test="tukey")
    with pytest.raises(InputError, match="queries"):
        compare_methods(np.zeros(10), np.zeros(11))


# --- marks that follow the test ------------------------------------------------------------


def _column(rng, n=1000, **shifts):
    base = _ap_like(rng, n)
    return {m: np.clip(base + s + rng.normal(0, 0.1, n), 0, 1) for m, s in shifts.items()}


def test_marks_are_shared_where_the_test_cannot_separate():
    rng = np.random.default_rng(7)
    col = _column(rng, a=0.10, b=0.10, c=0.0, d=0.0, e=-0.10, f=-0.20)
    marks = column_marks(col, FAST)
    assert marks.ranks == {"a": 1, "b": 1, "c": 2, "d": 2, "e": 3, "f": None}
    assert marks.pvalue("a", "b") >= 0.05 and marks.pvalue("b", "c") < 0.05
    assert marks.tests == 15  # all pairs, one Holm family
    assert marks.letters == {"a": "a", "b": "a", "c": "b", "d": "b", "e": "c", "f": "d"}
    assert marks.leaders[0] in ("a", "b")
    other, p, se = marks.versus("c")
    assert other == marks.order[0] and p == marks.pvalue("c", other) and se > 0


def test_compact_letters_of_a_chain():
    """Piepho's example shape: overlapping groups; separated pairs never share a letter."""
    order = ["a", "b", "c", "d"]
    letters = compact_letters(order, [("a", "c"), ("a", "d"), ("b", "d")])
    assert letters == {"a": "a", "b": "ab", "c": "bc", "d": "c"}
    _, marks = letter_marks(order, [("a", "c"), ("a", "d"), ("b", "d")], 3)
    assert marks == {"a": (1,), "b": (1, 2), "c": (2, 3), "d": (3,)}
    assert compact_letters(order, []) == dict.fromkeys(order, "a")


def test_a_tiny_lead_is_not_bolded():
    rng = np.random.default_rng(8)
    b = _ap_like(rng, 300)
    noise = rng.normal(0, 0.1, 300)
    a = b + noise - noise.mean() + 0.002  # a leads by exactly 0.002 on average
    assert np.mean(a) - np.mean(b) == pytest.approx(0.002)  # ranking by means bolds a alone
    assert column_marks({"a": a, "b": b}, FAST).ranks == {"a": 1, "b": 1}


def test_table_marks_batch_equals_columns_one_by_one():
    rng = np.random.default_rng(9)
    columns = {
        ("d1", 16, "i2t"): _column(rng, a=0.05, b=0.0, c=0.0),
        ("d1", 32, "i2t"): _column(rng, a=0.0, b=0.01, c=-0.05),
        ("d2", 16, "t2i"): _column(rng, n=500, a=0.0, b=0.0, c=0.0),
    }
    batch = table_marks(columns, FAST)
    for key, col in columns.items():
        assert batch[key] == column_marks(col, FAST)


def test_seed_test_needs_two_seeds_and_the_footnote_says_so():
    one = {"col": {"a": {0: 0.9}, "b": {0: 0.1}}}
    found = seed_marks(one)["col"]
    assert found.ranks == {"a": None, "b": None} and "too few" in found.untestable
    three = {"col": {"a": {0: 0.9, 1: 0.91, 2: 0.92}, "b": {0: 0.1, 1: 0.12, 2: 0.1}}}
    assert seed_marks(three)["col"].ranks == {"a": 1, "b": 2}
    assert seeds_ttest({0: 0.5, 1: 0.6}, {0: 0.4, 1: 0.5}) == 0.0  # same gap on every seed
    assert "2 or more shared seeds" in StatsOptions(test="seeds").describe_test()
    text = StatsOptions().describe_test()
    assert "bootstrap" in text and "seeds" in text and "Holm" in text and "10,000" in text


def test_compare_reports_difference_interval_p_and_effect_size():
    rng = np.random.default_rng(10)
    col = _column(rng, n=800, a=0.03, b=0.0)
    found = compare_methods({0: col["a"]}, {0: col["b"]}, FAST)
    d = col["a"] - col["b"]
    assert found.difference == pytest.approx(d.mean())
    assert found.low < found.difference < found.high
    assert found.pvalue < 0.01
    assert found.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert found.wins + found.losses <= 800 and found.seeds == (0,)


# --- per-query scores from the metric engine -----------------------------------------------


def test_evaluate_fills_per_query_values_whose_means_are_the_metrics():
    rng = np.random.default_rng(11)
    qc, dc = rng.integers(0, 2, (60, 16)), rng.integers(0, 2, (400, 16))
    ql, dl = rng.integers(0, 2, (60, 5)), rng.integers(0, 2, (400, 5))
    per_query: dict = {}
    result = metrics.evaluate(qc, dc, ql, dl, k=20, per_query=per_query)
    scalar = {k for k, v in result.items() if isinstance(v, float)}
    assert set(per_query) == scalar
    for name in scalar:
        assert per_query[name].shape == (60,)
        assert per_query[name].mean() == pytest.approx(result[name], abs=1e-12)
        np.testing.assert_allclose(
            metrics.compute_per_query(name, qc, dc, ql, dl), per_query[name], atol=1e-12
        )
    with pytest.raises(InputError, match="curve"):
        metrics.compute_per_query("pr", qc, dc, ql, dl)


# --- the table-facing layer ----------------------------------------------------------------


def test_table_statistics_orders_by_the_given_scores():
    from hashbench.report.significance import table_statistics

    rng = np.random.default_rng(12)
    col = _column(rng, n=600, a=0.05, b=0.0, c=0.0)
    per_query = {(("i2t", m), ("d", 32)): {0: v} for m, v in col.items()}
    found = table_statistics(per_query, FAST)
    assert [found.rank(("i2t", m), ("d", 32)) for m in "abc"] == [1, 2, 2]
    assert found.rank(("t2i", "a"), ("d", 32)) is None  # no such column
    ci = found.interval(("i2t", "a"), ("d", 32))
    assert ci.low < col["a"].mean() < ci.high and ci.n_queries == 600
    # the order comes from the given scores (the table's displayed means), not the data
    flipped = {key: (1.0 if key[0][1] == "c" else 0.0) for key in per_query}
    assert (
        table_statistics(per_query, FAST, scores=flipped).marks[("i2t", ("d", 32))].leaders[0]
        == "c"
    )
    only_ci = table_statistics(per_query, FAST, marks=False)
    assert only_ci.marks == {} and len(only_ci.intervals) == 3


# --- the two-level bootstrap and Monte-Carlo error (issue 28) --------------------------------


def test_seed_component_removes_the_query_noise_counted_twice():
    """Seeds x queries crossed: the spread of seed means holds seed effect + noise / n; the
    component keeps the seed effect only (0 when there is none)."""
    from hashbench.stats.twolevel import seed_component

    rng = np.random.default_rng(21)
    n, seeds = 2000, 40
    q = rng.normal(0, 0.2, n)
    none = q + rng.normal(0, 0.1, (seeds, n))  # no seed effect, only seed x query noise
    naive = none.mean(axis=1).var(ddof=1)  # about 0.1^2 / n: the noise, not a seed effect
    assert naive == pytest.approx(0.1**2 / n, rel=0.5)
    assert seed_component(none)[0] < 0.5 * naive
    effect = none + rng.normal(0, 0.03, (seeds, 1))
    assert seed_component(effect)[0] == pytest.approx(0.03**2, rel=0.5)
    assert seed_component(effect[:1])[0] == 0.0  # one seed: nothing to estimate


def test_two_level_draws_do_not_depend_on_the_batch():
    rng = np.random.default_rng(22)
    cells = {k: {s: _ap_like(rng, 200) for s in range(3)} for k in "abc"}
    together = cell_intervals(cells, FAST)
    for key, cell in cells.items():
        assert cell_intervals({key: cell}, FAST)[key] == together[key]


def test_marks_near_the_threshold_are_flagged():
    from hashbench.stats import family_marks

    scores = {"a": 0.9, "b": 0.8}
    near = family_marks(scores, {("a", "b"): 0.049}, {("a", "b"): 0.002}, 0.05)
    assert near.near == {("a", "b")} and near.near_threshold("b")
    far = family_marks(scores, {("a", "b"): 0.01}, {("a", "b"): 0.002}, 0.05)
    assert not far.near and not far.near_threshold("a")
    # the adjusted p's MC error grows with Holm's factor: 3 pairs, smallest p x 3
    three = family_marks(
        {"a": 0.9, "b": 0.8, "c": 0.7},
        {("a", "b"): 0.5, ("a", "c"): 0.0155, ("b", "c"): 0.5},
        {("a", "b"): 0.001, ("a", "c"): 0.001, ("b", "c"): 0.001},
        0.05,
    )
    assert three.pvalue("a", "c") == pytest.approx(0.0465)
    assert ("a", "c") in three.near  # |0.0465 - 0.05| <= 3 x 3 x 0.001
