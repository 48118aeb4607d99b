"""LaTeX tables that fit the page (issue 31, item 3): short headers and row labels with the
details in footnotes, and a table of three datasets x four code lengths (the layout of
SpikeHash's Table I: I→T and T→I rows per method, columns dataset x bits) that compiles
without an overfull box in a one-column `article` (table) and a two-column one (table*) when
scaled to the line (`--latex-width linewidth`)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from hashbench.report.latex_layout import dataset_headers, row_labels
from hashbench.store import ResultStore, RunRecord

DATASETS = ("synth-mirflickr@0.2", "synth-nuswide@0.2", "synth-mscoco@0.2")
ROWS = (  # method, budget, protocol: two budgets name "(paper)"/"(quick)"; as released: "§"
    ("spikehash", "paper", "default"),
    ("spikehash", "quick", "default"),
    ("ucmfh", "paper", "default"),
    ("cca-itq", "paper", "default"),
    ("jdsh", "paper", "as-released"),
)
PAGE = "Text of a paper around the table, filling the line and the column as a page would. " * 8


def _store(path, seeds: int) -> None:
    rng = np.random.default_rng(0)
    with ResultStore(path) as store:
        for dataset in DATASETS:
            for bits in (16, 32, 64, 128):
                for (method, budget, protocol), seed in (
                    (row, s) for row in ROWS for s in range(seeds)
                ):
                    value = float(rng.uniform(0.5, 0.9))
                    record = RunRecord(
                        run_id=f"{method}-{budget}-{protocol}-{dataset}-{bits}-{seed}",
                        method=method, dataset=dataset, dataset_fingerprint="f", bits=bits,
                        seed=seed, budget=budget, params={}, pair_fused=False,
                        metrics={"i2t": {"map@50": value}, "t2i": {"map@50": value - 0.01}},
                        timings={}, provenance={"supervision": "unsupervised"}, protocol=protocol,
                    )  # fmt: skip
                    store.save(record, {"codes.query.image": np.zeros((4, 4), np.uint8)})


def _compile(tmp_path, name: str, document_class: str, environment: str, table: str) -> str:
    """The pdflatex log of `table` in a page of text (asserting it compiled)."""
    (tmp_path / "table.tex").write_text(table)
    (tmp_path / f"{name}.tex").write_text(
        f"\\documentclass{document_class}\n\\usepackage{{booktabs}}\n\\usepackage{{graphicx}}\n"
        f"\\begin{{document}}\n{PAGE}\n\n\\begin{{{environment}}}\\centering\n\\input{{table}}\n"
        f"\\caption{{Three datasets x four code lengths}}\n\\end{{{environment}}}\n"
        f"{PAGE}\n\n{PAGE}\n\\end{{document}}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    return (tmp_path / f"{name}.log").read_text(errors="replace")


@pytest.mark.parametrize("seeds", [1, 3])  # means only (as Table I), and mean ± std
def test_three_datasets_by_four_bits_fit_one_and_two_columns(cli, tmp_path, seeds):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (texlive-latex-base): the LaTeX is not compiled")
    path = tmp_path / "s.sqlite"
    _store(path, seeds)
    result = cli("table", "--store", str(path), "--latex", "--latex-width", "linewidth")
    assert result.exit_code == 0, result.output
    table = result.output
    assert r"\resizebox{\linewidth}{!}{%" in table and "graphicx" in table and "table*" in table
    header = next(line for line in table.splitlines() if r"\multicolumn{4}" in line)
    assert "scale" not in header and "{MS COCO (synthetic)}" in header  # scale: a footnote
    assert "MIRFlickr-25K, MS COCO, NUS-WIDE: scale 0.2." in table
    assert r"JDSH (paper)$^{\S}$" in table and "JDSH (paper, as released)" not in table
    assert r"I$\rightarrow$T &" in table and "T$\\rightarrow$I: text queries" in table
    for name, document_class, environment in (
        ("one", "{article}", "table"),
        ("two", "[twocolumn]{article}", "table*"),
    ):
        log = _compile(tmp_path, name, document_class, environment, table)
        assert "Overfull \\hbox" not in log, f"{name} column(s): " + log[log.find("Overfull") :]


def test_the_natural_table_is_not_scaled(cli, tmp_path):
    path = tmp_path / "s.sqlite"
    _store(path, 1)
    table = cli("table", "--store", str(path), "--latex").output
    assert table.startswith(r"\begin{tabular}{@{}l@{\hspace{6pt}}l") and "resizebox" not in table
    assert "Task & Method & 16 & 32 & 64 & 128 & 16" in table and "code length in bits" in table


def test_short_headers_keep_names_apart_and_labels_keep_marks():
    headers, notes = dataset_headers(
        {"a": "MIRFlickr-25K (synthetic, scale 0.2)", "b": "MIRFlickr-25K (synthetic, scale 0.05)"}
    )
    assert headers["a"] == "MIRFlickr-25K (synthetic, scale 0.2)" and notes == []  # look alike
    headers, notes = dataset_headers({"a": "MS COCO (synthetic)", "b": "NUS-WIDE (scale 0.1)"})
    assert headers == {"a": "MS COCO (synthetic)", "b": "NUS-WIDE"}  # synthetic stays in sight
    assert notes == ["NUS-WIDE: scale 0.1."]
    labels, notes = row_labels(
        ["SpikeHash (paper, default)", "UCMFH (paper, default)", "CCA-ITQ (tuned)",
         "JDSH (paper, as released)§", "CCA-ITQ [ridge=1.0]", "LSH", "DGCPN (as released)§*"]
    )  # fmt: skip
    assert labels["SpikeHash (paper, default)"] == "SpikeHash (v1)"
    assert labels["UCMFH (paper, default)"] == "UCMFH (v1)"  # one key per variant text
    assert labels["CCA-ITQ (tuned)"] == "CCA-ITQ (tuned)" and labels["LSH"] == "LSH"
    # § names "as released" itself (its footnote): the words leave the label
    assert labels["JDSH (paper, as released)§"] == "JDSH (paper)§"
    assert labels["DGCPN (as released)§*"] == "DGCPN§*"
    assert labels["CCA-ITQ [ridge=1.0]"] == "CCA-ITQ (v2)"
    assert notes == ["Row variants: v1 = paper, default; v2 = ridge=1.0."]


def test_options_and_code_spans_keep_their_hyphens_in_latex():
    """`--inflation` in a footnote must not print as an en dash, and a code span is set in
    typewriter type; an en dash typed as such still is one."""
    from hashbench.report.latex_text import latex_escape

    assert latex_escape("run `hashbench table --inflation`") == (
        r"run \texttt{hashbench table -{}-inflation}"
    )
    assert latex_escape("--protocol as-released") == "-{}-protocol as-released"
    assert latex_escape("16–128 bits, 95%") == r"16--128 bits, 95\%"
    assert latex_escape("a ` b") == r"a ` b"  # an unpaired backtick is left as it is
