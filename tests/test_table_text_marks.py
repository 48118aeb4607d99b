"""Marks survive a pipe (issue 31, item 2): off a colour terminal and in Markdown every marked
cell ends in its rank, " (1)", " (2)", " (3)", and the legend names that scheme; a colour
terminal keeps the colours alone; reference (†) and as-released (§) rows stay unmarked."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from hashbench.report.table import build_table, to_markdown, to_rich
from hashbench.store import ResultStore, RunRecord

SCORES = {"lsh": 0.5, "cca-itq": 0.7, "spectral": 0.6, "pca-itq": 0.4}


def _store(path) -> None:
    with ResultStore(path) as store:
        for method, value in SCORES.items():
            record = RunRecord(
                run_id=f"{method}-0", method=method, dataset="synth-mirflickr",
                dataset_fingerprint="f", bits=32, seed=0, budget="quick", params={},
                pair_fused=False, metrics={"i2t": {"map@50": value}}, timings={},
                provenance={"supervision": "unsupervised"},
            )  # fmt: skip
            store.save(record, {"codes.query.image": np.zeros((4, 4), np.uint8)})


def _row(output: str, method: str) -> str:
    return next(line for line in output.splitlines() if f" {method} " in line)


def test_piped_table_marks_cells_with_text_and_says_so(cli, tmp_path):
    path = tmp_path / "s.sqlite"
    _store(path)
    result = cli("table", "--store", str(path))  # CliRunner: stdout is not a terminal
    assert result.exit_code == 0, result.output
    out = result.output
    assert "0.7000 (1)" in _row(out, "cca-itq") and "0.6000 (2)" in _row(out, "spectral")
    assert "0.5000 (3)" in _row(out, "lsh") and "(" not in _row(out, "pca-itq")
    assert "best (1), second (2), third (3)" in " ".join(out.split())  # the caption wraps


def test_markdown_marks_are_emphasis_and_rank(cli, tmp_path):
    path = tmp_path / "s.sqlite"
    _store(path)
    out = cli("table", "--store", str(path), "--markdown", "--names", "cli").output
    assert "| **0.7000** (1) |" in _row(out, "cca-itq")
    assert "| *0.6000* (2) |" in _row(out, "spectral")
    assert "| 0.5000 (3) |" in _row(out, "lsh") and "| 0.4000 |" in _row(out, "pca-itq")
    assert "best **bold** (1), second *italic* (2), third (3)" in out


def test_colour_terminal_keeps_colours_without_rank_text():
    records = [
        RunRecord(
            run_id=m,
            method=m,
            dataset="d",
            dataset_fingerprint="f",
            bits=32,
            seed=0,
            budget="quick",
            params={},
            pair_fused=False,
            metrics={"i2t": {"map@50": v}},
            timings={},
            provenance={},
        )  # fmt: skip
        for m, v in SCORES.items()
    ]
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=200)
    console.print(to_rich(build_table(records)))
    out = buffer.getvalue()
    assert "\x1b[" in out and "0.7000" in out  # coloured
    assert "(1)" not in out and "(2)" not in out and "Marks: " in out


def test_reference_and_released_rows_carry_no_rank_text():
    table = build_table(
        [
            RunRecord(
                run_id=f"{m}-{p}",
                method=m,
                dataset="d",
                dataset_fingerprint="f",
                bits=32,
                seed=0,
                budget="quick",
                params={},
                pair_fused=False,
                metrics={"i2t": {"map@50": v + (0.2 if p == "as-released" else 0)}},
                timings={},
                provenance={},
                protocol=p,
            )  # fmt: skip
            for m, v in SCORES.items()
            for p in ("default", "as-released")
        ]
    )
    md = to_markdown(table)
    released = [line for line in md.splitlines() if "§" in line and line.startswith("|")]
    assert released and not any("(1)" in line or "**" in line for line in released)
    assert "**0.7000** (1)" in md  # the fair rows still ranked among themselves
