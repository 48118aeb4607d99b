"""Tables and figures ready for a paper: display names, footnotes that render, no mark in a
column with one method, the parameters a run used, paper-sized vector figures, and a PR curve
without the empty-ball drop."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from hashbench import metrics as M
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.report.names import Names, metric_label
from hashbench.report.style import method_style
from hashbench.report.table import build_table, to_latex, to_markdown
from hashbench.runner.execute import PlannedRun
from hashbench.runner.spec import RunSpec
from hashbench.store import ResultStore, RunRecord, default_store_path
from hashbench.testing import tiny_dataset, tiny_unimodal_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")


@pytest.fixture(scope="module")
def registry():
    return Registry.from_plugin_manager(create_plugin_manager())


def _record(method, value, *, dataset="synth-mscoco", bits=32, seed=0, **kwargs) -> RunRecord:
    supervision = kwargs.pop("supervision", "unsupervised")
    return RunRecord(
        run_id=f"{method}-{dataset}-{bits}-{seed}", method=method, dataset=dataset,
        dataset_fingerprint="f", bits=bits, seed=seed, budget="quick", params={},
        pair_fused=kwargs.pop("pair_fused", False),
        metrics={"i2t": {"map@50": value}, "t2i": {"map@50": value - 0.01}}, timings={},
        provenance={"supervision": supervision}, **kwargs,
    )  # fmt: skip


def test_display_names_of_methods_and_datasets(registry):
    names = Names.from_registry(registry)
    assert [names.method(m) for m in ("spikehash", "ucmfh", "cca-itq")] == [
        "SpikeHash",
        "UCMFH",
        "CCA-ITQ",
    ]
    assert [names.dataset(d) for d in ("mirflickr", "nuswide", "mscoco")] == [
        "MIRFlickr-25K",
        "NUS-WIDE",
        "MS COCO",
    ]
    assert names.dataset("synth-mirflickr") == "MIRFlickr-25K (synthetic)"
    assert names.dataset("synth-nuswide@0.1") == "NUS-WIDE (synthetic, scale 0.1)"
    assert names.method("cirh-like (tuned)") == "CIRH-like (tuned)"
    assert names.method("cirh-like [epochs=10]") == "CIRH-like [epochs=10]"
    assert names.method("not-installed") == "not-installed"
    assert names.task("i2t") == "Image → Text" and Names.cli().task("i2t") == "Image -> Text"
    assert Names.cli().method("spikehash") == "spikehash"
    assert metric_label("map@50") == "mAP@50" and metric_label("ndcg@50") == "NDCG@50"
    every = [spec.display_name for spec in registry.datasets.values()]
    assert all(every) and len(set(every)) == len(every)


def _paper_table():
    records = [
        _record("spikehash", 0.62, pair_fused=True),
        _record("cca-itq", 0.58),
        _record("dpsh-cnn", 0.50, supervision="supervised"),
        _record("lsh", 0.45, dataset="mirflickr"),  # alone in its columns
    ]
    return build_table(records, supervised=["dpsh-cnn"])


def test_a_column_with_one_method_gets_no_mark():
    table = _paper_table()
    lonely = table.value(("i2t", "lsh"), ("mirflickr", 32))
    assert lonely is not None and lonely.rank is None
    assert table.value(("i2t", "spikehash"), ("synth-mscoco", 32)).rank == 1


def test_latex_and_markdown_use_display_names_and_explain_every_symbol(registry):
    names = Names.from_registry(registry)
    tex = to_latex(_paper_table(), names=names)
    assert r"\multicolumn{1}{c}{MS COCO (synthetic)}" in tex and "code length in bits" in tex
    assert "SpikeHash$^{*}$" in tex and r"DPSH (CNN)$^{\ddagger}$" in tex
    assert r"I$\rightarrow$T &" in tex and r"I$\rightarrow$T: image queries" in tex  # short
    notes = tex[tex.index(r"\end{tabular}") :]
    assert r"\footnotesize" in notes and "$^{*}$ pair-fused" in notes
    assert r"$^{\ddagger}$ supervised" in notes and "in bold" in notes
    assert not [line for line in tex.splitlines() if line.startswith("%")]  # nothing hidden
    md = to_markdown(_paper_table(), names=names)
    assert "| Image → Text | SpikeHash\\* |" in md and "| MS COCO (synthetic) 32 bits |" in md
    assert "\n\n\\* pair-fused" in md and "\n\n‡ supervised" in md
    typed = to_latex(_paper_table(), names=Names.cli())
    assert "spikehash$^{*}$" in typed and "synth-mscoco" in typed


def test_the_footnotes_render_in_the_pdf(registry, tmp_path):
    engine = shutil.which("pdflatex")
    if engine is None or shutil.which("pdftotext") is None:
        pytest.skip("needs pdflatex and pdftotext (texlive-latex-base, poppler-utils)")
    names = Names.from_registry(registry)
    records = [*_paper_table_records(), _record("ucmfh", 0.55, pair_fused=True)]
    from hashbench.report.reference import ReferenceValue

    reported = ReferenceValue("UCMFH 2023", "i2t", "UCMFH", "mirflickr", 32, "map@50", 0.953)
    table = build_table(records, supervised=["dpsh-cnn"], reference=[reported])
    doc = (
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        "\\begin{table}\\centering\n" + to_latex(table, names=names) + "\\end{table}\n"
        "\\end{document}\n"
    )
    (tmp_path / "t.tex").write_text(doc)
    done = subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    text = subprocess.run(
        ["pdftotext", "-layout", "t.pdf", "-"], cwd=tmp_path, capture_output=True, text=True
    ).stdout
    flat = re.sub(r"\s+", " ", text)
    for shown in ("SpikeHash", "MS COCO (synthetic)", "MIRFlickr-25K", "code length in bits"):
        assert shown in flat, shown
    for note in ("pair-fused: a query", "supervised: trained with", "reported: numbers published"):
        assert note in flat, note
    assert "Best per column and task in bold" in flat


def _paper_table_records():
    return [
        _record("spikehash", 0.62, pair_fused=True),
        _record("cca-itq", 0.58),
        _record("dpsh-cnn", 0.50, supervision="supervised"),
        _record("lsh", 0.45, dataset="mirflickr"),
    ]


def test_cli_names_option(cli):
    cli("run", "--methods", "lsh,cca-itq", *SMALL, "--bits", "16")
    shown = cli("table", "--latex").output
    assert "CCA-ITQ" in shown and "{MIRFlickr-25K (synthetic)}" in shown  # short header
    assert "MIRFlickr-25K: scale 0.05." in shown  # the scale in a footnote
    typed = cli("table", "--latex", "--names", "cli").output
    assert "cca-itq" in typed and "CCA-ITQ" not in typed and "synth-mirflickr@0.05" in typed
    terminal = cli("table").output  # the terminal keeps the names users type
    assert "cca-itq" in terminal


def test_stored_parameters_hold_the_values_used(registry, cli):
    spikehash = registry.method("spikehash")
    data = tiny_dataset()
    for bits, steps in ((16, 8), (32, 4), (128, 4)):
        spec = RunSpec(method="spikehash", dataset=data.name, bits=bits, seed=0, budget="quick")
        assert PlannedRun.resolve(spec, spikehash, data).params["time_steps"] == steps
    chosen = RunSpec("spikehash", data.name, 16, 0, "quick", overrides={"time_steps": "2"})
    assert PlannedRun.resolve(chosen, spikehash, data).params["time_steps"] == 2
    events = tiny_unimodal_dataset()
    spiking = registry.method("spikinghash")
    spec = RunSpec(method="spikinghash", dataset=events.name, bits=16, seed=0, budget="quick")
    frames = events.input_shapes["events"][0]
    assert PlannedRun.resolve(spec, spiking, events).params["time_steps"] == frames
    fast = ("--param", "spikehash.epochs=1", "--param", "spikehash.min_iterations=0",
            "--param", "spikehash.hidden=32")  # fmt: skip
    result = cli("run", "--methods", "spikehash", *SMALL, "--bits", "16,32", *fast)
    assert result.exit_code == 0, result.output
    with ResultStore(default_store_path()) as store:
        stored = {r.bits: r.params["time_steps"] for r in store.records()}
    assert stored == {16: 8, 32: 4}
    efficiency = cli("table", "--efficiency", "--markdown").output
    rows = [line for line in efficiency.splitlines() if "SpikeHash" in line]
    assert [re.split(r"\s*\|\s*", row)[4] for row in rows] == ["8", "4"]  # the T column
    assert "T: time steps" in efficiency


def test_figures_are_paper_sized_vector_pdfs_with_one_style_per_method(cli, tmp_path):
    cli("run", "--methods", "lsh,cca-itq", *SMALL, "--bits", "16,32")
    for layout, points in (("one-column", 252.0), ("two-column", 515.52)):
        out = tmp_path / layout
        result = cli("plot", "--layout", layout, "--out", str(out))
        assert result.exit_code == 0, result.output
        pdfs = sorted(out.glob("*.pdf"))
        assert {p.stem for p in pdfs} == {
            "cd_diagram",  # the overall ranking: paper-sized and embedded fonts as well
            "map_50_vs_bits_synth-mirflickr_0.05",
            "pk_synth-mirflickr_0.05_32",
            "pr_synth-mirflickr_0.05_32",
        }
        for pdf in pdfs:
            box = re.search(rb"/MediaBox \[ ?0 0 ([\d.]+) ([\d.]+) ?\]", pdf.read_bytes())
            assert box and float(box.group(1)) == pytest.approx(points, abs=0.5), pdf.name
            assert b"/FontFile2" in pdf.read_bytes()  # TrueType embedded: text stays text
    with ResultStore(default_store_path()) as store:  # as stored before pooled PR counts
        rows = store._conn.execute("SELECT run_id, metrics FROM runs").fetchall()
        with store._transaction():
            for run_id, text in rows:
                stored = json.loads(text)
                for task in ("i2t", "t2i"):
                    del stored[task]["curves"]["pr"]["pooled_precision"]
                    del stored[task]["curves"]["pr"]["pooled_recall"]
                store._conn.execute(  # an older row: no row digest either
                    "UPDATE runs SET metrics = ?, row_digest = '' WHERE run_id = ?",
                    (json.dumps(stored), run_id),
                )
    assert "pooled" not in str(ResultStore(default_store_path()).records()[0].metrics)
    old = cli("plot", "--out", str(tmp_path / "old"))
    assert "PR curves of 2 older run(s) recomputed" in old.output  # the 32-bit ones
    assert method_style("spikehash") == method_style("spikehash")
    assert method_style("spikehash").color == method_style("spikehash-strict").color
    assert method_style("spikehash-strict").linestyle == "--"
    assert method_style("cirh-like (tuned)").marker == method_style("cirh-like").marker
    assert len({method_style(m).color for m in ("lsh", "cca-itq", "ucmfh", "spikehash")}) == 4


def test_pooled_pr_curve_matches_a_direct_count_and_has_no_empty_ball_drop():
    rng = np.random.default_rng(3)
    q = rng.integers(0, 2, (30, 12))
    db = rng.integers(0, 2, (200, 12))
    ql = rng.integers(0, 2, (30, 5))
    dl = rng.integers(0, 2, (200, 5))
    pr = M.pr_curve(q, db, ql, dl)
    dist = (q[:, None, :] != db[None, :, :]).sum(-1)
    relevant = (ql @ dl.T) > 0
    for r in pr.radius:
        inside = dist <= r
        pairs = inside.sum()
        want = (inside & relevant).sum() / pairs if pairs else None
        got = pr.pooled_precision[r]
        assert (got is None) if want is None else got == pytest.approx(want)
        assert pr.pooled_recall[r] == pytest.approx((inside & relevant).sum() / relevant.sum())
    # radius 0 holds almost no pair: the per-query mean drops there, the pooled value does not
    assert pr.precision[0] < 0.2 and pr.pooled_precision[0] in (None, pytest.approx(
        (relevant & (dist == 0)).sum() / max(1, (dist == 0).sum())))  # fmt: skip
