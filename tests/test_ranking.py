"""The overall ranking across table columns (issue 28): average ranks, Friedman, Iman-Davenport,
the Nemenyi critical difference and its groups (Demšar, JMLR 2006), the `table --ranks` view,
the critical-difference diagram of `hashbench plot` and the report's section."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import friedmanchisquare

from hashbench.errors import InputError
from hashbench.stats.ranking import (
    average_ranks,
    cd_groups,
    critical_difference,
    friedman,
    nemenyi_q,
    rank_methods,
)

# --- the numbers, by hand -------------------------------------------------------------------

# 3 methods x 4 columns with ties: column 1 ties A and B, column 2 ties A and C.
HAND = {
    "A": {0: 0.9, 1: 0.8, 2: 0.7, 3: 0.5},
    "B": {0: 0.8, 1: 0.8, 2: 0.6, 3: 0.6},
    "C": {0: 0.1, 1: 0.2, 2: 0.7, 3: 0.4},
}


def test_hand_computed_ranks_friedman_iman_davenport_and_cd():
    r = rank_methods(HAND, 0.05)
    # column ranks: A 1, 1.5, 1.5, 2; B 2, 1.5, 3, 1; C 3, 3, 1.5, 3
    assert r.methods == ("A", "B", "C")
    assert r.average_ranks == pytest.approx((6 / 4, 7.5 / 4, 10.5 / 4))
    # Friedman: 12/(N k (k+1)) sum R^2 - 3N(k+1) = 0.25 * 202.5 - 48 = 2.625; ties (2 pairs):
    # 1 - sum(t^3 - t) / (N k (k^2 - 1)) = 1 - 12/96 = 0.875 -> chi2 = 3.0, p = exp(-3/2) (2 df)
    assert r.friedman_chi2 == pytest.approx(3.0)
    assert r.friedman_p == pytest.approx(math.exp(-1.5))
    # Iman-Davenport: F = (N-1) chi2 / (N (k-1) - chi2) = 9 / 5; F(2, 6) tail = (1 + 2F/6)^-3
    assert r.iman_davenport_f == pytest.approx(1.8)
    assert r.iman_davenport_p == pytest.approx(1.6**-3)
    # CD = q_0.05(k=3) sqrt(k (k+1) / (6 N)), q from Demšar's Table 5a (3 decimals)
    assert r.cd == pytest.approx(2.343 * math.sqrt(12 / 24), abs=1e-3)
    assert not r.rejected  # p = 0.22: no post-hoc test, one group, nothing separated
    assert r.groups == (("A", "B", "C"),)
    assert not r.separated("A", "C")
    assert r.n == 4 and r.k == 3 and r.dropped == ()


def test_friedman_matches_scipy_and_the_sign_test_form_for_two_methods():
    rng = np.random.default_rng(5)
    for _ in range(30):
        k, n = int(rng.integers(3, 7)), int(rng.integers(2, 12))
        values = np.round(rng.normal(size=(k, n)), 1)  # ties on purpose
        ranks = average_ranks(values)
        expected = friedmanchisquare(*values)  # scipy, on the raw values
        if not math.isfinite(expected.statistic):  # all tied: scipy divides 0 by 0
            continue
        assert friedman(ranks) == pytest.approx((expected.statistic, expected.pvalue))
    # k = 2 without ties: chi2 = (wins - losses)^2 / N (scipy refuses k = 2)
    values = np.array([[0.9, 0.8, 0.7, 0.1, 0.5], [0.1, 0.2, 0.3, 0.4, 0.2]])
    chi2, p = friedman(average_ranks(values))
    assert chi2 == pytest.approx((4 - 1) ** 2 / 5)
    assert p == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))  # chi2 with 1 df


def test_iman_davenport_is_undefined_when_every_column_agrees():
    # two methods, A always first: chi2 = N, F = (N-1) N / (N - N) has no value
    r = rank_methods({"A": {0: 0.9, 1: 0.8, 2: 0.7}, "B": {0: 0.1, 1: 0.2, 2: 0.3}})
    assert r.friedman_chi2 == pytest.approx(3.0)
    assert math.isnan(r.iman_davenport_f) and math.isnan(r.iman_davenport_p)
    assert "Iman-Davenport F undefined" in r.describe()


def test_every_column_tied_is_no_evidence_rather_than_nan():
    r = rank_methods({"a": {0: 0.5, 1: 0.3}, "b": {0: 0.5, 1: 0.3}, "c": {0: 0.5, 1: 0.3}})
    assert (r.friedman_chi2, r.friedman_p) == (0.0, 1.0)
    assert r.average_ranks == (2.0, 2.0, 2.0) and r.groups == (("a", "b", "c"),)


@pytest.mark.parametrize(
    "alpha, table",
    [
        (0.05, (1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164)),
        (0.10, (1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920)),
    ],
)
def test_nemenyi_q_is_demsar_table_5(alpha, table):
    for k, q in zip(range(2, 11), table, strict=True):
        assert nemenyi_q(k, alpha) == pytest.approx(q, abs=1e-3)


def test_demsar_worked_example_cd():
    # Demšar 2006, section 3.2.4: four classifiers on 14 data sets, CD = 1.25 at 0.05
    assert critical_difference(4, 14, 0.05) == pytest.approx(1.25, abs=0.005)


def test_groups_are_maximal_runs_within_cd():
    assert cd_groups([("a", 1.0), ("b", 1.5), ("c", 2.8), ("d", 3.0)], 1.0) == (
        ("a", "b"),
        ("c", "d"),
    )
    assert cd_groups([("a", 1.0), ("b", 1.8), ("c", 2.6)], 1.0) == (("a", "b"), ("b", "c"))
    assert cd_groups([("a", 1.0), ("b", 2.5), ("c", 4.0)], 1.0) == ()  # all separated
    assert cd_groups([("a", 1.0), ("b", 1.2), ("c", 1.4)], 1.0) == (("a", "b", "c"),)


def test_a_clear_winner_is_separated_after_the_friedman_test_rejects():
    columns = range(12)
    values = {
        "best": {c: 0.9 for c in columns},
        "mid": {c: 0.5 + 0.01 * (c % 3) for c in columns},
        "mid2": {c: 0.52 - 0.01 * (c % 3) for c in columns},
        "worst": {c: 0.1 for c in columns},
    }
    r = rank_methods(values)
    assert r.rejected and r.methods[0] == "best" and r.methods[-1] == "worst"
    assert r.separated("best", "worst")
    assert not r.separated("mid", "mid2")
    assert any({"mid", "mid2"} <= set(g) for g in r.groups)


def test_no_pair_is_separated_when_the_friedman_test_does_not_reject():
    """Demšar's protocol: the post-hoc test only after the omnibus test rejects. With 10
    methods, A and B differ by more than CD while the Friedman test does not reject."""
    values: dict[str, dict[int, float]] = {m: {} for m in "ABcdefghij"}
    for column in range(16):
        a, b = (3, 7) if column % 2 == 0 else (4, 8)
        rest = [rank for rank in range(1, 11) if rank not in (a, b)]
        values["A"][column], values["B"][column] = -a, -b  # higher value = better rank
        for i, m in enumerate("cdefghij"):  # the others take the remaining ranks in turn
            values[m][column] = -rest[(i + column // 2) % 8]
    r = rank_methods(values)
    assert r.rank_of("B") - r.rank_of("A") > r.cd  # the Nemenyi rule alone would separate
    assert r.friedman_p >= 0.05 and not r.rejected
    assert not r.separated("A", "B")
    assert r.groups == (r.methods,)


def test_columns_without_every_method_are_dropped_and_too_few_refused():
    values = {k: dict(v) for k, v in HAND.items()}
    values["C"].pop(3)
    values["A"][9] = 0.3  # only A has column 9
    r = rank_methods(values)
    assert r.columns == (0, 1, 2)
    assert dict(r.dropped) == {3: ("C",), 9: ("B", "C")}
    with pytest.raises(InputError, match="at least 2 columns"):
        rank_methods({"a": {0: 1.0, 1: 2.0}, "b": {0: 1.0, 2: float("nan")}})
    with pytest.raises(InputError, match="at least 2 methods"):
        rank_methods({"a": {0: 1.0, 1: 2.0}})


# --- properties -------------------------------------------------------------------------------

matrices = st.integers(2, 6).flatmap(
    lambda k: st.integers(2, 8).flatmap(
        lambda n: st.lists(
            st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.8]), min_size=n, max_size=n),
            min_size=k,
            max_size=k,
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(matrices, st.randoms(use_true_random=False))
def test_rank_properties(rows, random):
    k, n = len(rows), len(rows[0])
    ranks = average_ranks(np.array(rows))
    assert np.allclose(ranks.sum(axis=0), k * (k + 1) / 2)  # every column: 1 + ... + k
    names = [f"m{i}" for i in range(k)]
    values = {m: dict(enumerate(row)) for m, row in zip(names, rows, strict=True)}
    r = rank_methods(values)
    assert sum(r.average_ranks) == pytest.approx(k * (k + 1) / 2)
    assert list(r.average_ranks) == sorted(r.average_ranks)
    for i, m in enumerate(names):
        assert r.rank_of(m) == pytest.approx(ranks[i].mean())
    # permuting (renaming) the methods permutes their ranks and nothing else
    shuffled = names[:]
    random.shuffle(shuffled)
    renamed = rank_methods({new: values[old] for old, new in zip(names, shuffled, strict=True)})
    for old, new in zip(names, shuffled, strict=True):
        assert renamed.rank_of(new) == pytest.approx(r.rank_of(old))
    assert renamed.friedman_p == pytest.approx(r.friedman_p)
    # groups: coherent with the pairwise rule, every pair in a group within CD
    for group in r.groups if r.rejected else ():
        for a in group:
            assert all(not r.separated(a, b) for b in group)
    for a in names:
        for b in (other for other in names if other != a):  # a method alone forms no group
            together = any(a in g and b in g for g in r.groups)
            if r.separated(a, b):
                assert not together
            elif r.rejected:
                assert together  # runs of the sorted ranks cover every close pair
    assert 0.0 <= r.friedman_p <= 1.0 and r.cd > 0 and r.n == n


# --- the view of a table ---------------------------------------------------------------------


def test_table_ranking_uses_the_table_rows_marks_and_skips_reported_rows():
    from hashbench.report.cd_diagram import draw_cd_diagram
    from hashbench.report.comparison import Cell, ComparisonTable
    from hashbench.report.names import Names
    from hashbench.report.ranks_table import (
        ranks_csv,
        ranks_markdown,
        table_marks,
        table_ranking,
    )

    columns = [("synth-mirflickr@0.05", 16), ("synth-mirflickr@0.05", 32)]
    values = {"ucmfh": (0.8, 0.7), "lsh": (0.5, 0.4), "cca-itq (tuned)": (0.6, 0.75)}
    cells = {
        ((task, m), column): Cell(mean=v[j] - (task == "t2i") * 0.01, std=None, n=1)
        for m, v in values.items()
        for task in ("i2t", "t2i")
        for j, column in enumerate(columns)
    }
    cells[(("i2t", "UCMFH† (Xia 2023)"), columns[0])] = Cell(mean=0.99, std=None, n=0)
    table = ComparisonTable(
        metric="map@50",
        columns=columns,
        rows=sorted({row for row, _ in cells}),
        cells=cells,
        pair_fused={"ucmfh"},
    )
    r = table_ranking(table)
    assert set(r.methods) == set(values) and r.n == 4  # (task, dataset, bits); † not ranked
    # per column: ucmfh 1, 1, 1, 1 ... except 32 bits where cca-itq (tuned) leads
    assert r.rank_of("ucmfh") == pytest.approx(1.5)
    assert r.rank_of("cca-itq (tuned)") == pytest.approx(1.5)
    assert r.rank_of("lsh") == pytest.approx(3.0)
    marks = table_marks(table)
    assert marks == {"ucmfh": "*"}
    markdown = ranks_markdown(r, "map@50", Names.cli(), marks)
    assert "| ucmfh\\* |" in markdown and "pair-fused" in markdown
    rows = {row["method"]: row for row in csv.DictReader(io.StringIO(ranks_csv(r, "x", marks)))}
    assert rows["ucmfh"]["pair_fused"] == "1" and rows["lsh"]["pair_fused"] == "0"
    fig = draw_cd_diagram(r, Names.cli(), marks=marks)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "ucmfh* (1.50)" in texts and any(t.startswith("* pair-fused") for t in texts)


# --- the figure ----------------------------------------------------------------------------


def test_cd_diagram_draws_one_bar_per_group_and_every_method(tmp_path):
    from hashbench.report.cd_diagram import draw_cd_diagram, save_cd_diagram

    columns = range(10)
    values = {
        "lsh": {c: 0.1 + 0.01 * (c % 2) for c in columns},
        "cca-itq": {c: 0.3 + 0.02 * (c % 3) for c in columns},
        "cca-itq (tuned)": {c: 0.33 - 0.02 * (c % 3) for c in columns},
        "ucmfh": {c: 0.6 for c in columns},
        "spikehash": {c: 0.61 - 0.02 * (c % 2) for c in columns},
    }
    r = rank_methods(values)
    assert r.rejected and len(r.groups) >= 2
    fig = draw_cd_diagram(r)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for method, rank in zip(r.methods, r.average_ranks, strict=True):
        assert f"{method} ({rank:.2f})" in texts
    assert f"CD = {r.cd:.2f}" in texts
    bars = [line for line in fig.axes[0].lines if line.get_linewidth() == pytest.approx(2.2)]
    assert len(bars) == len(r.groups)
    png, pdf = save_cd_diagram(r, tmp_path)
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    assert pdf.stat().st_size > 1000


# --- end to end ----------------------------------------------------------------------------


def test_ranks_view_escapes_names_in_markdown_latex_and_the_report(cli, tmp_path):
    from tests.test_table_marks import _evil_store  # names with | < > * _ and a --param value

    path = tmp_path / "evil.sqlite"
    _evil_store(path)
    at = ("--store", str(path), "--names", "cli")
    markdown = _ok(cli("table", "--ranks", "--markdown", *at))
    rows = [line for line in markdown.splitlines() if line.startswith("| ev")]
    assert len(rows) == 2 and all(r.replace("\\|", "").count("|") == 5 for r in rows)
    assert "<script" not in markdown and "&lt;script>" in markdown
    latex = _ok(cli("table", "--ranks", "--latex", *at))
    assert "<script>" not in latex and r"\textless{}script\textgreater{}" in latex
    _ok(cli("report", "--out", str(tmp_path / "site"), *at))
    html = (tmp_path / "site" / "index.html").read_text()
    section = html[html.index('<section id="ranking">') :]
    section = section[: section.index("</section>")]
    assert "<script" not in section and "&lt;script" in section


SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.stdout


def test_table_ranks_plot_and_report_end_to_end(cli, tmp_path):
    store = str(tmp_path / "h.sqlite")
    at = ("--store", store)
    _ok(cli("run", "--methods", "lsh,cca-itq", "--bits", "16,32", *SMALL, *at))
    # a parameter variant at 16 bits only: its own row, and the 32-bit columns lack it
    _ok(cli("run", "--methods", "cca-itq", "--param", "cca-itq.ridge=1", "--bits", "16",
            *SMALL, *at))  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(_ok(cli("table", "--ranks", "--csv", *at)))))
    assert {row["method"] for row in rows} == {"lsh", "cca-itq", "cca-itq [ridge=1.0]"}
    assert {row["columns"] for row in rows} == {"2"}  # 16 bits x (i2t, t2i)
    assert {row["columns_dropped"] for row in rows} == {"2"}  # 32 bits: the variant lacks it
    assert sum(float(row["average_rank"]) for row in rows) == pytest.approx(6.0)
    # the same numbers as the table's cells
    table = list(csv.DictReader(io.StringIO(_ok(cli("table", "--csv", *at)))))
    means = {(t["method"], t["task"], t["bits"]): float(t["mean"]) for t in table}
    expected = rank_methods(
        {
            m: {(task, b): v for (m2, task, b), v in means.items() if m2 == m}
            for m in {row["method"] for row in rows}
        }
    )
    for row in rows:
        assert float(row["average_rank"]) == pytest.approx(expected.rank_of(row["method"]))
        assert float(row["friedman_p"]) == pytest.approx(expected.friedman_p)
    terminal = _ok(cli("table", "--ranks", *at))
    assert "Average rank" in terminal and "Friedman test" in terminal
    assert "2 column(s) dropped" in terminal
    markdown = _ok(cli("table", "--ranks", "--markdown", "--names", "cli", *at))
    assert "| cca-itq [ridge=1.0] |" in markdown and "Demšar" in markdown
    latex = _ok(cli("table", "--ranks", "--latex", *at))
    assert r"\begin{tabular}{lccc}" in latex and "Nemenyi" in latex
    # too few methods or columns: a clear message, non-zero exit
    alone = cli("table", "--ranks", "--methods", "lsh", *at)
    assert alone.exit_code != 0 and "at least 2 methods" in alone.output
    mixed = cli("table", "--ranks", "--efficiency", *at)
    assert mixed.exit_code != 0 and "--ranks" in mixed.output
    # hashbench plot writes the diagram; with one method it says why not
    out = tmp_path / "plots"
    written = _ok(cli("plot", "--out", str(out), *at))
    assert str(out / "cd_diagram.pdf") in written and (out / "cd_diagram.png").is_file()
    single = cli("plot", "--methods", "lsh", "--out", str(tmp_path / "p1"), *at)
    assert single.exit_code == 0 and "no critical-difference diagram" in single.output
    assert not (tmp_path / "p1" / "cd_diagram.pdf").exists()
    # the report's section: the rank table and the diagram inline
    _ok(cli("report", "--names", "cli", "--out", str(tmp_path / "site"), *at))
    html = (tmp_path / "site" / "index.html").read_text()
    section = html[html.index('<section id="ranking">') :]
    section = section[: section.index("</section>")]
    assert "Overall ranking" in section and "<svg" in section
    assert "cca-itq [ridge=1.0]" in section and "Critical-difference diagram" in section
