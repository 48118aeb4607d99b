"""Comparison tables: best / second / third marks, significance, tie ranges, output formats."""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashbench.errors import InputError
from hashbench.report.table import (
    Significance,
    build_table,
    to_csv,
    to_latex,
    to_markdown,
)
from hashbench.store import ResultStore, RunRecord, default_store_path


def _record(
    method: str,
    seed: int,
    i2t: float,
    t2i: float | None = None,
    bits: int = 32,
    dataset: str = "synth-mirflickr",
    pair_fused: bool = False,
    **extra,
) -> RunRecord:
    metrics = {"i2t": {"map@50": i2t, **extra}, "t2i": {"map@50": i2t if t2i is None else t2i}}
    return RunRecord(
        run_id=f"{method}-{seed}-{bits}-{dataset}",
        method=method,
        dataset=dataset,
        dataset_fingerprint="f",
        bits=bits,
        seed=seed,
        budget="quick",
        params={},
        pair_fused=pair_fused,
        metrics=metrics,
        timings={},
        provenance={},
    )


def _ranks(table, task="i2t", column=("synth-mirflickr", 32)):
    return {m: table.value((task, m), column).rank for t, m in table.rows if t == task}


def test_marks_follow_the_means_and_stop_at_third():
    values = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}
    table = build_table([_record(m, 0, v) for m, v in values.items()])
    assert _ranks(table) == {"a": 1, "b": 2, "c": 3, "d": None}


def test_equal_displayed_values_share_a_rank():
    records = [_record("a", 0, 0.81234), _record("b", 0, 0.81231), _record("c", 0, 0.7)]
    table = build_table(records)  # both show as 0.8123
    assert _ranks(table) == {"a": 1, "b": 1, "c": 2}


def test_marks_are_per_task_and_column():
    records = [_record("a", 0, 0.9, 0.1), _record("b", 0, 0.5, 0.6)]
    table = build_table(records)
    assert _ranks(table, "i2t") == {"a": 1, "b": 2}
    assert _ranks(table, "t2i") == {"a": 2, "b": 1}


def test_significance_keeps_only_significant_marks():
    # a beats b on every seed by a varying margin; b and c differ by noise
    a = [0.90, 0.91, 0.92, 0.905]
    b = [0.80, 0.79, 0.81, 0.80]
    c = [0.795, 0.80, 0.80, 0.802]
    records = [
        _record(m, s, v) for m, vs in (("a", a), ("b", b), ("c", c)) for s, v in enumerate(vs)
    ]
    plain = build_table(records)
    assert _ranks(plain) == {"a": 1, "b": 2, "c": 3}
    tested = build_table(records, significance=Significance(test="seeds"))
    ranks = _ranks(tested)
    assert ranks["a"] == 1  # significantly above b and c
    assert ranks["b"] == 2  # leads the second mark ...
    assert ranks["c"] == 2  # ... which c shares: the t-test cannot separate it from b
    assert "ttest_rel" in "\n".join(tested.notes())


def test_significance_needs_two_paired_seeds():
    table = build_table(
        [_record("a", 0, 0.9), _record("b", 0, 0.5)], significance=Significance(test="seeds")
    )
    # nothing can be tested: nothing is marked, and the footnote says why
    assert _ranks(table) == {"a": None, "b": None}
    assert table.value(("i2t", "a"), ("synth-mirflickr", 32)).unmarked == "untestable"
    assert any("fewer than 2 seeds" in note for note in table.notes())


def test_seeds_test_with_mixed_seed_counts_marks_nothing_it_cannot_test():
    """The issue's case: the best row has one seed, the others three; the old code bolded
    every row (LSH beside tuned CCA-ITQ)."""
    records = [_record("best", 0, 0.85)] + [
        _record(m, s, v + 0.001 * s) for m, v in (("lsh", 0.53), ("itq", 0.70)) for s in range(3)
    ]
    table = build_table(records, significance=Significance(test="seeds"))
    assert set(_ranks(table).values()) == {None}
    assert {table.value(("i2t", m), ("synth-mirflickr", 32)).unmarked for m in _ranks(table)} == {
        "untestable"
    }
    # a column where every row has 3 seeds is tested and marked
    full = build_table(records[1:], significance=Significance(test="seeds"))
    assert _ranks(full) == {"itq": 1, "lsh": 2}


def _labelled(method, seed, value, protocol="default", params=None):
    record = _record(method, seed, value)
    return dataclasses.replace(
        record,
        run_id=f"{record.run_id}-{protocol}-{params}",
        protocol=protocol,
        params=params or {},
    )


def test_marks_rank_methods_not_variants():
    """Tuned and default rows of cca-itq, a parameter variant and lsh: defaults compete with
    defaults, tuned rows with tuned rows, the variant is not ranked."""
    records, labels = [], {}
    for seed in range(4):
        rows = (
            ("cca-itq", "default", None, 0.80, "cca-itq"),
            ("cca-itq", "tuned", None, 0.85, "cca-itq (tuned)"),
            ("cca-itq", "default", {"ridge": 1.0}, 0.90, "cca-itq [ridge=1.0]"),
            ("lsh", "default", None, 0.60, "lsh"),
        )
        for method, protocol, params, value, label in rows:
            record = _labelled(method, seed, value + 0.002 * seed, protocol, params)
            records.append(record)
            labels[record.run_id] = label
    for significance in (None, Significance(test="seeds")):
        table = build_table(records, significance=significance, labels=labels)
        ranks = _ranks(table)
        assert ranks["cca-itq"] == 1 and ranks["lsh"] == 2  # the method, not its variants
        assert ranks["cca-itq [ridge=1.0]"] is None  # a setting of a method: not ranked
        assert ranks["cca-itq (tuned)"] is None  # alone in the tuned family: nothing to rank
    assert any("not settings of one method" in note for note in table.notes())


def test_mean_and_std_over_seeds():
    table = build_table([_record("a", s, v) for s, v in enumerate((0.5, 0.7))])
    cell = table.value(("i2t", "a"), ("synth-mirflickr", 32))
    assert cell.mean == pytest.approx(0.6) and cell.std == pytest.approx(0.1414213, rel=1e-5)
    assert cell.n == 2


def test_tie_range_shows_bounds_and_requires_them():
    rec = _record("a", 0, 0.6, **{"map@50:relevant_first": 0.7, "map@50:relevant_last": 0.5})
    table = build_table([rec], tie_range=True)
    cell = table.value(("i2t", "a"), ("synth-mirflickr", 32))
    assert (cell.low, cell.high) == (0.5, 0.7)
    assert "[0.5000–0.7000]" in to_markdown(table)
    with pytest.raises(InputError, match="relevant-first"):
        build_table([_record("a", 0, 0.6, bits=16)], tie_range=True)


def test_formats_carry_marks_and_notes():
    records = [_record("a", 0, 0.9, pair_fused=True), _record("b", 0, 0.8), _record("c", 0, 0.7)]
    table = build_table(records)
    md = to_markdown(table)
    assert "**0.9000** (1)" in md and "*0.8000* (2)" in md and "| 0.7000 (3) |" in md
    assert "| a\\* |" in md and "\\* pair-fused" in md  # escaped: not Markdown emphasis
    tex = to_latex(table)
    assert r"\textbf{0.9000}" in tex and r"\underline{0.8000}" in tex
    assert r"\textit{0.7000}" in tex and "a$^{*}$" in tex and "$^{*}$ pair-fused" in tex
    tex = to_latex(table, marks=("italic", "bold", "plain"))
    assert r"\textit{0.9000}" in tex and r"\textbf{0.8000}" in tex
    with pytest.raises(InputError, match="unknown style"):
        to_latex(table, marks=("shiny", "bold", "plain"))
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert len(rows) == 6
    first = next(r for r in rows if r["method"] == "a" and r["task"] == "i2t")
    assert first["rank"] == "1" and first["pair_fused"] == "1" and float(first["mean"]) == 0.9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=7))
def test_marks_are_dense_ranks_of_the_means(scores):
    records = [_record(f"m{i}", 0, v / 20) for i, v in enumerate(scores)]
    ranks = _ranks(build_table(records))
    levels = sorted(set(scores), reverse=True)
    for i, v in enumerate(scores):
        want = levels.index(v) + 1
        if len(scores) == 1:  # a column with a single method ranks nothing
            want = None
        assert ranks[f"m{i}"] == (want if want is not None and want <= 3 else None)


def test_latex_table_compiles():
    engine = shutil.which("pdflatex") or shutil.which("lualatex") or shutil.which("xelatex")
    if engine is None:
        pytest.skip("no TeX engine installed (pdflatex/lualatex/xelatex): LaTeX not compiled")
    records = [
        _record(m, s, v + s / 100, pair_fused=(m == "a"))
        for m, v in (("a_x", 0.9), ("b", 0.8))
        for s in range(2)
    ]
    body = to_latex(build_table(records, tie_range=False))
    doc = (
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        + body
        + "\\end{document}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "t.tex").write_text(doc)
        done = subprocess.run(
            [engine, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-2000:]


def test_cli_latex_marks_match_the_stored_numbers(cli):
    args = (
        "--methods",
        "lsh,cca-itq",
        "--dataset",
        "synth-mirflickr",
        "--scale",
        "0.05",
        "--bits",
        "16,32",
        "--seeds",
        "0,1",
        "--budget",
        "quick",
    )
    assert cli("run", *args).exit_code == 0
    latex = cli("table", "--latex").output
    with ResultStore(default_store_path()) as store:
        records = store.records()
    assert len(records) == 8
    for task in ("i2t", "t2i"):
        for bits in (16, 32):
            means = {
                m: np.mean(
                    [r.metrics[task]["map@50"] for r in records if r.method == m and r.bits == bits]
                )
                for m in ("lsh", "cca-itq")
            }
            best = max(means, key=means.get)
            worst = min(means, key=means.get)
            assert rf"\textbf{{{means[best]:.4f}" in latex
            assert rf"\underline{{{means[worst]:.4f}" in latex


def test_reference_rows_only_beside_real_datasets(cli, tmp_path):
    def record(dataset: str) -> RunRecord:
        return RunRecord(
            run_id=f"r-{dataset}",
            method="lsh",
            dataset=dataset,
            dataset_fingerprint="f",
            bits=32,
            seed=0,
            budget="paper",
            params={},
            pair_fused=False,
            metrics={"i2t": {"map@50": 0.5}, "t2i": {"map@50": 0.6}},
            timings={},
            provenance={},
        )

    arrays = {"codes.query.image": np.zeros((1, 4), np.uint8)}
    with ResultStore(default_store_path()) as store:
        store.save(record("mirflickr"), arrays)
        store.save(record("synth-mirflickr"), arrays)
    out = cli("table", "--markdown", "--reference").output
    ucmfh_row = next(
        line
        for line in out.splitlines()
        if line.startswith("| Image → Text | UCMFH† (ucmfh\\_2023\\_table3, CLIP)")  # "_" escaped
    )
    cells = [c.strip() for c in ucmfh_row.strip("|").split("|")]
    assert cells[2] == "0.9530" and cells[3] == "-"  # mirflickr 32 bits as reported; synth: none
    # the reported row is not ranked, so lsh is alone in its column: no mark
    assert "not ranked" in out and "| 0.5000 |" in out and "**0.5000**" not in out
    no_ref = cli("table", "--markdown", "--datasets", "synth-mirflickr", "--reference").output
    assert "†" not in no_ref
    bad = tmp_path / "ref"
    bad.mkdir()
    (bad / "x.csv").write_text(
        "task,method,venue,dataset,bits,metric,value\ni2t,A,B,mirflickr,x,map@50,1\n"
    )
    result = cli("table", "--reference", "--reference-dir", str(bad))
    assert result.exit_code != 0 and "bad row 2" in result.output


def test_plots_are_written(cli, tmp_path):
    args = (
        "--methods",
        "lsh,cca-itq",
        "--dataset",
        "synth-mirflickr",
        "--scale",
        "0.05",
        "--bits",
        "16,32",
        "--budget",
        "quick",
    )
    assert cli("run", *args).exit_code == 0
    result = cli("plot", "--out", str(tmp_path / "plots"))
    assert result.exit_code == 0, result.output
    files = sorted(Path(line) for line in result.output.split())
    names = {f.name for f in files}
    assert {
        "map_50_vs_bits_synth-mirflickr_0.05.png",
        "pk_synth-mirflickr_0.05_32.pdf",
        "pr_synth-mirflickr_0.05_32.png",
    } <= names
    for f in files:
        head = f.read_bytes()[:8]
        assert head.startswith(b"%PDF") if f.suffix == ".pdf" else head.startswith(b"\x89PNG")
    assert cli("plot", "--bits", "8").exit_code != 0


# --- escaping of names and --param values (issue 27) ----------------------------------------

EVIL = "ev|l<script>alert(1)</script>*x*_y_"


def _evil_store(path: Path) -> None:
    with ResultStore(path) as store:
        for i, tag in enumerate(("a|<b>*c*_d_", "plain")):
            record = _record(EVIL, 0, 0.5 + i / 10)
            record.run_id, record.params = f"evil-{i}", {"tag": tag}
            store.save(record, {"codes.query.image": np.zeros((12, 4), np.uint8)})


def test_markdown_and_latex_escape_names_and_param_values(cli, tmp_path):
    path = tmp_path / "evil.sqlite"
    _evil_store(path)
    markdown = cli("table", "--store", str(path), "--markdown", "--names", "cli")
    assert markdown.exit_code == 0, markdown.output
    rows = [line for line in markdown.output.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 4  # header, 2 settings x 2 tasks
    for line in rows:  # every row has 3 cells: no "|" of a name splits one
        unescaped = line.replace("\\|", "")
        assert unescaped.count("|") == 4, line
    text = markdown.output
    assert "<script" not in text and "&lt;script>" in text  # no tag can open
    assert "*x*" not in text.replace("\\*x\\*", "") and "\\_y\\_" in text
    assert "a\\|&lt;b>\\*c\\*\\_d\\_" in text  # the --param value, escaped as well
    latex = cli("table", "--store", str(path), "--latex", "--names", "cli").output
    assert "<script>" not in latex and r"\textless{}script\textgreater{}" in latex
    assert r"ev\textbar{}l" in latex and r"\_y\_" in latex and "tag=" in latex


# --- all-identical codes (issue 27) ----------------------------------------------------------


def test_cells_of_runs_with_one_distinct_code_are_marked(cli):
    counts = {"distinct_query_codes": 1, "distinct_retrieval_codes": 40}
    older = {"map@50:relevant_first": 1.0, "map@50:relevant_last": 0.0}  # no counts stored
    arrays = {"codes.query.image": np.zeros((12, 4), np.uint8)}
    with ResultStore(default_store_path()) as store:
        store.save(_record("flat", 0, 0.4, **counts), arrays)
        store.save(_record("old-flat", 0, 0.45, **older), arrays)
        fine = {"distinct_query_codes": 12, "distinct_retrieval_codes": 40}
        store.save(_record("fine", 0, 0.3, **fine), arrays)
    out = cli("table", "--markdown", "--names", "cli")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    rows = {line.split("|")[2].strip(): line for line in lines if "| Image" in line}
    assert "0.4000⁰" in rows["flat"] and "0.4500⁰" in rows["old-flat"] and "⁰" not in rows["fine"]
    assert "⁰ all codes identical" in out.output
    assert "warning: 2 run(s)" in out.output and "flat-0-32-synth-mirflickr" in out.output
    csv_rows = list(csv.DictReader(io.StringIO(cli("table", "--csv").stdout)))
    flags = {(r["task"], r["method"]): r["all_codes_identical"] for r in csv_rows}
    assert flags[("i2t", "flat")] == "1" and flags[("i2t", "fine")] == "0"
    latex = cli("table", "--latex").output
    assert "0.4000$^{0}$" in latex and "$^{0}$ all codes identical" in latex
    site = cli("report", "--out", str(default_store_path().parent / "site"))
    assert site.exit_code == 0 and "warning: 2 run(s)" in site.output
    html = (default_store_path().parent / "site" / "index.html").read_text()
    assert "0.4000⁰" in html and "all codes identical" in html
