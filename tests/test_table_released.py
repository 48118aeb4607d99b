"""As-released rows (issue 29, item 2): shown apart with their symbol and footnote, never
marked, tested, ranked or averaged with fair rows; `hashbench table --inflation` sets each
as-released result beside its fair one."""

from __future__ import annotations

import csv
import io
import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashbench.errors import InputError
from hashbench.report.inflation import build_inflation
from hashbench.report.variants import variant_labels
from hashbench.store import ResultStore, RunRecord

N_QUERIES = 120
SEEDS = (0, 1, 2)
TASKS = ("i2t", "t2i")
FAIR_SHIFT = {"a": 0.0, "b": 0.0, "c": -0.1}  # a and b alike, c lower
RELEASED_SHIFT = 0.3  # as-released rows score above every fair row
SELECTION = {
    "a": {"split": "test", "keeps": "best", "every": 40, "released_epochs": 300},
    "c": {"split": "retrieval-head-self", "keeps": "best", "every": 1, "released_epochs": 100},
}
A_RELEASED, C_RELEASED = "a (as released)§", "c (as released)§"


def _selection(method: str, seed: int) -> dict:
    return {
        **SELECTION[method],
        "size": 2000,
        "metric": "map@50",
        "patience": None,
        "source": "owner/repo @0000000 train.py",
        "scored": [[1, 0.5], [2, 0.6]],
        "kept_epoch": 2 + seed,
        "epochs": 12,
        "stopped_early": False,
    }


def _record(method: str, protocol: str, seed: int, metrics: dict) -> RunRecord:
    return RunRecord(
        run_id=f"{method}-{protocol}-{seed}", method=method, dataset="planted",
        dataset_fingerprint="f", bits=32, seed=seed, budget="quick", params={"k": 1},
        pair_fused=False, metrics=metrics, timings={}, provenance={}, protocol=protocol,
    )  # fmt: skip


def _planted(path, released=("a", "c"), fair=("a", "b", "c"), extra_seed: bool = False) -> dict:
    """Fair runs of `fair`, as-released runs of `released` (shifted up), 3 seeds each, two
    tasks, stored per-query AP@50. The same draws whatever is stored, so a store without the
    as-released runs holds the same fair values. Returns (method, protocol, seed, task) -> mean.
    extra_seed: "a" also has an as-released run of seed 3, which has no fair counterpart."""
    rng = np.random.default_rng(29)
    base = {task: rng.beta(0.6, 0.7, size=N_QUERIES) for task in TASKS}
    means = {}
    with ResultStore(path) as store:
        for method, seed in itertools.product(("a", "b", "c"), (*SEEDS, 3)):
            offset = rng.normal(0, 0.01)
            for protocol in ("default", "as-released"):
                shift = FAIR_SHIFT[method] + offset + (RELEASED_SHIFT * (protocol != "default"))
                noise = {task: rng.normal(0, 0.04, N_QUERIES) for task in TASKS}
                wanted = released if protocol == "as-released" else fair
                if method not in wanted or (
                    seed == 3 and (protocol, method) != ("as-released", "a")
                ):
                    continue
                if seed == 3 and not extra_seed:
                    continue
                values = {
                    t: np.clip(base[t] + shift + noise[t], 0, 1).astype(np.float32) for t in TASKS
                }
                metrics = {t: {"map@50": float(v.mean())} for t, v in values.items()}
                if protocol == "as-released":
                    metrics["released_selection"] = _selection(method, seed)
                for task, v in metrics.items():
                    if task in TASKS:
                        means[(method, protocol, seed, task)] = v["map@50"]
                arrays = {"codes.query.image": np.zeros((N_QUERIES, 4), np.uint8)}
                arrays.update({f"perquery.{t}.map@50": v for t, v in values.items()})
                store.save(_record(method, protocol, seed, metrics), arrays)
    return means


@pytest.fixture
def stores(tmp_path):
    """(store with as-released runs, the same store without them, the planted means)."""
    both, fair = tmp_path / "both.sqlite", tmp_path / "fair.sqlite"
    means = _planted(both)
    _planted(fair, released=())
    return both, fair, means


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def _csv(cli, path, *options) -> list[dict]:
    return list(
        csv.DictReader(io.StringIO(_ok(cli("table", "--store", str(path), "--csv", *options))))
    )


def test_labels_name_as_released_apart_and_never_rename_fair_rows():
    records = [
        _record("m", "default", 0, {}),
        _record("m", "as-released", 0, {}),
        _record("n", "default", 0, {}),
    ]
    labels = variant_labels(records, lambda r: {"k": 1})
    assert labels == {"m-default-0": "m", "m-as-released-0": "m (as released)§", "n-default-0": "n"}
    tuned = _record("m", "tuned", 0, {})
    labels = variant_labels([*records, tuned], lambda r: {"k": 1})
    assert (
        labels["m-default-0"] == "m (default)" and labels["m-as-released-0"] == "m (as released)§"
    )
    records[1].budget = "paper"
    assert (
        variant_labels(records, lambda r: {"k": 1})["m-as-released-0"] == "m (paper, as released)§"
    )


def test_as_released_rows_come_last_unmarked_with_symbol_and_footnote(cli, stores):
    both, _, _ = stores
    rows = _csv(cli, both)
    for task in TASKS:
        order = [r["method"] for r in rows if r["task"] == task]
        assert order == ["a", "b", "c", A_RELEASED, C_RELEASED]
        by = {r["method"]: r for r in rows if r["task"] == task}
        assert by["a"]["rank"] in ("1", "2") and by["c"]["rank"] == "3"  # fair rows ranked
        for label in (A_RELEASED, C_RELEASED):  # highest values, yet never marked
            assert by[label]["rank"] == "" and by[label]["marks"] == ""
            assert by[label]["unmarked"] == "as-released" and by[label]["as_released"] == "1"
            assert float(by[label]["mean"]) > max(float(by[m]["mean"]) for m in "abc")
        assert {by[m]["as_released"] for m in "abc"} == {"0"}

    markdown = _ok(cli("table", "--store", str(both), "--markdown", "--names", "cli"))
    released = [line for line in markdown.splitlines() if "(as released)§ |" in line]
    assert len(released) == 4 and not any("*" in line for line in released)
    table_lines = markdown.split("\n\n")[0].splitlines()
    for task in ("Image -> Text", "Text -> Image"):
        mine = [line for line in table_lines if line.startswith(f"| {task} ")]
        kinds = ["§" in line for line in mine]
        assert kinds == sorted(kinds) and kinds.count(True) == 2  # fair rows first
    assert "§ as released: a: selected on the test queries, as the released code does" in markdown
    assert "; c: selected on labelled retrieval items (the first 2,000, as queries" in markdown

    latex = _ok(cli("table", "--store", str(both), "--latex", "--names", "cli")).splitlines()
    released_tex = [line for line in latex if r"(as released)$^{\S}$" in line]
    assert len(released_tex) == 4
    assert not any(
        s in line for line in released_tex for s in (r"\textbf", r"\underline", r"\textit")
    )
    for line in released_tex[::2]:  # each task's first as-released row follows a light rule
        assert latex[latex.index(line) - 1] == r"\cmidrule(lr){2-3}"
    assert any(r"\textbf{" in line for line in latex)  # the fair best is marked
    assert any(line.startswith(r"$^{\S}$ as released:") for line in latex)

    terminal = _ok(cli("table", "--store", str(both)))
    assert "§ as released:" in terminal
    assert terminal.index(A_RELEASED) > terminal.index("│ c ") > terminal.index("│ b ")


def test_terminal_render_colours_no_as_released_cell(stores):
    from hashbench.report.table import build_table, to_rich

    both, _, _ = stores
    with ResultStore(both) as store:
        records = store.records()
    table = to_rich(build_table(records, "map@50"))
    methods = list(table.columns[1]._cells)
    cells = list(table.columns[2]._cells)
    marked = {m for m, text in zip(methods, cells, strict=True) if text.startswith("[")}
    assert marked and not any("§" in m for m in marked)
    assert table.rows[methods.index("c")].end_section  # a rule before the as-released rows


FAIR_KEYS = ("rank", "letters", "marks", "p_adjusted", "p_versus", "unmarked", "ci_low", "ci_high")


@pytest.mark.parametrize(
    "options",
    [(), ("--significance",), ("--ci", "--significance"), ("--significance", "seeds")],
    ids=["display", "queries", "ci-queries", "seeds"],
)
def test_fair_marks_and_letters_do_not_change_with_as_released_rows(cli, stores, options):
    both, fair, _ = stores
    with_released, without = _csv(cli, both, *options), _csv(cli, fair, *options)
    kept = {(r["task"], r["method"]): r for r in with_released}
    assert {key for key in kept if "§" not in key[1]} == {(r["task"], r["method"]) for r in without}
    for row in without:
        shown = kept[(row["task"], row["method"])]
        assert {k: shown[k] for k in FAIR_KEYS} == {k: row[k] for k in FAIR_KEYS}
    if "--significance" in options:
        assert any(r["letters"] for r in without)  # the test marked the fair rows
    for key, row in kept.items():
        if "§" in key[1]:
            assert row["letters"] == row["rank"] == row["p_adjusted"] == row["p_versus"] == ""


def test_ranks_and_cd_diagram_leave_as_released_rows_out(cli, stores):
    from hashbench.report.ranks_table import table_ranking
    from hashbench.report.table import build_table

    both, fair, _ = stores
    assert _ok(cli("table", "--ranks", "--csv", "--store", str(both))) == _ok(
        cli("table", "--ranks", "--csv", "--store", str(fair))
    )
    with ResultStore(both) as store:
        ranking = table_ranking(build_table(store.records(), "map@50"))
    assert set(ranking.methods) == {"a", "b", "c"}


def _hand_inflation(means: dict, method: str, task: str, seeds=SEEDS) -> tuple[float, float]:
    released = np.mean([means[(method, "as-released", s, task)] for s in seeds])
    fair = np.mean([means[(method, "default", s, task)] for s in seeds])
    return released, fair


def test_inflation_equals_hand_computed_differences(cli, tmp_path):
    path = tmp_path / "extra.sqlite"
    means = _planted(path, extra_seed=True)  # a's as-released seed 3 has no fair run
    result = cli("table", "--inflation", "--csv", "--store", str(path))
    _ok(result)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))  # the note goes to stderr
    assert [(r["method"], r["task"]) for r in rows] == [
        ("a", "i2t"), ("a", "t2i"), ("c", "i2t"), ("c", "t2i")
    ]  # fmt: skip
    for row in rows:
        released, fair = _hand_inflation(means, row["method"], row["task"])
        assert float(row["as_released"]) == pytest.approx(released, abs=1e-12)
        assert float(row["fair"]) == pytest.approx(fair, abs=1e-12)
        assert float(row["difference"]) == pytest.approx(released - fair, abs=1e-12)
        assert float(row["difference"]) > 0.2  # the planted shift
        assert (
            row["seeds"] == "0;1;2"
            and row["kept_epochs"] == "2;3;4"
            and row["epochs"] == "12;12;12"
        )
    assert "seed 3" in result.stderr and "left out" in result.stderr

    markdown = _ok(
        cli("table", "--inflation", "--markdown", "--names", "cli", "--store", str(path))
    )
    released, fair = _hand_inflation(means, "c", "t2i")
    assert f"| {released:.4f} | {fair:.4f} | {released - fair:+.4f} |" in markdown
    assert "paired by seed; 3 seed(s) per cell" in markdown and "2, 3, 4 of 12" in markdown
    terminal = _ok(cli("table", "--inflation", "--store", str(path), "--methods", "a"))
    assert f"{_hand_inflation(means, 'a', 'i2t')[1]:.4f}" in terminal and "c (as" not in terminal
    latex = _ok(cli("table", "--inflation", "--latex", "--store", str(path)))
    assert r"\toprule" in latex and r"As released$^{\S}$" in latex


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.booleans()), min_size=1, max_size=5))
def test_inflation_is_the_mean_of_paired_differences(pairs):
    """Seeds where the fair run is missing are never paired; the difference is the mean over
    the paired seeds of as-released minus fair."""
    records = []
    for seed, (released, fair, has_fair) in enumerate(pairs):
        records.append(_record("m", "as-released", seed, {"i2t": {"map@50": released}}))
        if has_fair:
            records.append(_record("m", "default", seed, {"i2t": {"map@50": fair}}))
    paired = [(r, f) for r, f, has in pairs if has]
    if not paired:
        with pytest.raises(InputError, match="has a fair counterpart"):
            build_inflation(records, "map@50")
        return
    (row,) = build_inflation(records, "map@50").rows
    assert row.seeds == tuple(s for s, p in enumerate(pairs) if p[2])
    expected = float(np.mean([r - f for r, f in paired]))
    assert row.difference == pytest.approx(expected, abs=1e-9)


def test_inflation_bad_input_gets_one_line(cli, tmp_path, stores):
    both, fair, _ = stores
    none = cli("table", "--inflation", "--store", str(fair))
    assert none.exit_code != 0
    assert f"no as-released runs in {fair}" in none.output
    assert "hashbench run --protocol as-released" in none.output and "Traceback" not in none.output
    alone = tmp_path / "alone.sqlite"
    _planted(alone, fair=())
    lonely = cli("table", "--inflation", "--store", str(alone))
    assert lonely.exit_code != 0 and "no as-released run has a fair counterpart" in lonely.output
    assert "a on planted, 32 bits, quick budget, seed 0" in lonely.output
    for extra in (("--ranks",), ("--significance",), ("--protocol", "default")):
        refused = cli("table", "--inflation", "--store", str(both), *extra)
        assert refused.exit_code != 0 and "--inflation" in refused.output
    assert len(none.output.strip().splitlines()) == 1


def _compare(cli, path, *args):
    return cli(
        "compare", *args, "--dataset", "planted", "--bits", "32", "--store", str(path), "--json"
    )


def test_compare_never_averages_as_released_with_fair_runs(cli, stores, tmp_path):
    both, _, means = stores
    found = json.loads(_ok(_compare(cli, both, "a", "b")))
    assert found["settings"]["a"]["runs"] == ["a-default-0", "a-default-1", "a-default-2"]
    fair_a = np.mean([means[("a", "default", s, "i2t")] for s in SEEDS])
    assert found["tasks"]["i2t"]["mean_a"] == pytest.approx(fair_a, abs=1e-6)
    named = json.loads(_ok(_compare(cli, both, "a (as released)", "a")))  # § may be left out
    assert named["a"] == A_RELEASED and named["settings"]["a"]["protocol"] == "as-released"
    assert named["tasks"]["i2t"]["difference"] > 0.2
    text = _ok(cli("compare", A_RELEASED, "a", "--dataset", "planted", "--bits", "32",
                   "--store", str(both)))  # fmt: skip
    assert "not a fair comparison" in text
    picked = json.loads(_ok(_compare(cli, both, "a", "c", "--protocol", "as-released")))
    assert (picked["a"], picked["b"]) == (A_RELEASED, C_RELEASED)
    alone = tmp_path / "alone.sqlite"
    _planted(alone, fair=("b",))
    refused = _compare(cli, alone, "a", "b")
    assert refused.exit_code != 0 and "only as-released runs" in refused.output


def test_report_shows_as_released_rows_apart_and_unranked(cli, stores, tmp_path):
    both, _, _ = stores
    _ok(cli("report", "--store", str(both), "--names", "cli", "--out", str(tmp_path / "site")))
    html = (tmp_path / "site" / "index.html").read_text()
    released = [row for row in html.split("<tr") if "(as released)§" in row.split("</td>")[0]]
    assert len(released) == 4 and all('class="as-released"' in row for row in released)
    assert not any("rank-" in row for row in released)  # never marked
    assert "rank-1" in html  # the fair rows are
    ranks = html[html.index('<table id="ranks">') :].split("</table>")[0]
    assert "as released" not in ranks and '<td class="text">c</td>' in ranks
    assert "§ as released: a: selected on the test queries" in html
    assert 'data-task="released_selection"' not in html and 'value="released_selection"' not in html
