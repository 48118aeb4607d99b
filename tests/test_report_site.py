"""`hashbench report`: the static results site, from a small stored sweep and from fabricated
stores (no runs, failed runs only, runs without efficiency profiles); the Pareto front and the
reproduce command as units. The real-browser checks are in test_report_browser.py."""

from __future__ import annotations

import re
import shlex
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hashbench.cli import main
from hashbench.report.pareto import front_steps, pareto_front
from hashbench.report.site_runs import reproduce_command, split_dataset_name
from hashbench.store import ResultStore, RunRecord

SWEEP = (
    "run", "--methods", "lsh,cca-itq", "--dataset", "synth-mirflickr", "--scale", "0.05",
    "--budget", "quick", "--bits", "16,32",
)  # fmt: skip
# Namespace names in inline SVG: identifiers, never fetched.
XML_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory, cache_dir) -> Path:
    """The brief's small sweep, stored once for the module."""
    store = tmp_path_factory.mktemp("report-sweep") / "hashbench.sqlite"
    result = CliRunner().invoke(
        main, [*SWEEP, "--store", str(store)], env={"HASHBENCH_CACHE": str(cache_dir)}
    )
    assert result.exit_code == 0, result.output
    return store


class _Page(HTMLParser):
    """Tags with their attributes, in document order, and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def by_id(page: _Page, tag: str) -> list[dict]:
    return [attrs for name, attrs in page.tags if name == tag]


def table_rows(html: str, table_id: str) -> list[str]:
    """The <tr> elements of a table's body, as HTML."""
    body = html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr\b.*?</tr>", body, flags=re.S)


def build(cli, store: Path, out: Path, *args: str) -> str:
    result = cli("report", "--store", str(store), "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("index.html")
    return (out / "index.html").read_text(encoding="utf-8")


# --- units ----------------------------------------------------------------------------------


def test_pareto_front_keeps_only_undominated_points():
    points = [(1.0, 0.5), (2.0, 0.7), (2.0, 0.6), (3.0, 0.65), (4.0, 0.9), (0.5, 0.4)]
    assert pareto_front(points) == [5, 0, 1, 4]
    xs, ys = front_steps(points)
    assert xs == [0.5, 1.0, 2.0, 4.0] and ys == [0.4, 0.5, 0.7, 0.9]
    assert pareto_front([(1.0, 0.5), (1.0, 0.5)]) == [0, 1]  # equal points: neither dominates
    assert pareto_front([]) == []


def _record(**changes) -> RunRecord:
    values = dict(
        run_id="0123456789abcdef", method="cca-itq", dataset="synth-mirflickr@0.05",
        dataset_fingerprint="f" * 32, bits=32, seed=1, budget="quick",
        params={"ridge": 0.5, "center": True, "layers": [2, 3], "steps": None},
        pair_fused=False, metrics={}, timings={}, provenance={"device": "cpu"},
    )  # fmt: skip
    values.update(changes)
    return RunRecord(**values)


def test_reproduce_command_names_every_stored_setting():
    words = shlex.split(reproduce_command(_record(), real_data=False))
    assert words[:2] == ["hashbench", "run"]
    pairs = dict(zip(words[2::2], words[3::2], strict=False))
    assert pairs["--dataset"] == "synth-mirflickr" and pairs["--scale"] == "0.05"
    assert pairs["--bits"] == "32" and pairs["--seeds"] == "1" and pairs["--budget"] == "quick"
    params = [words[i + 1] for i, w in enumerate(words) if w == "--param"]
    assert params == [
        "cca-itq.center=true", "cca-itq.layers=[2, 3]", "cca-itq.ridge=0.5", "cca-itq.steps=null",
    ]  # fmt: skip
    assert "--data-root" not in words
    real = reproduce_command(_record(dataset="mirflickr"), real_data=True)
    assert real.endswith("--data-root DIR") and "--scale" not in real
    assert split_dataset_name("synth-mscoco") == ("synth-mscoco", None)


# --- end to end through the CLI -------------------------------------------------------------


def test_report_of_a_stored_sweep(cli, sweep_store, tmp_path):
    html = build(cli, sweep_store, tmp_path / "site")
    page = parse(html)
    tables = {a.get("id") for a in by_id(page, "table")}
    assert {"cmp-i2t", "cmp-t2i", "efficiency-table", "runs-table", "env-table"} <= tables
    # comparison: both methods per task, one column per code length, the marks
    i2t = table_rows(html, "cmp-i2t")
    assert len(i2t) == 2 and any('data-method="lsh"' in r for r in i2t)
    assert html.count('class="rank-1"') >= 4  # the best of each of 2 columns x 2 tasks
    # the overall ranking's CD diagram, then per dataset: mAP vs bits, P@K, PR and the
    # accuracy-efficiency plane
    kinds = [a["class"] for a in by_id(page, "figure")]
    assert kinds == ["fig-cd", "fig-vs-bits", "fig-pk", "fig-pr", "fig-plane"]
    assert html.count("<svg") == 5 and "Pareto front" in html and "ANN" in html
    assert "E = 4.6 pJ x MACs + 0.9 pJ x SOPs" in html
    # every run, with the command that reproduces it
    assert len(table_rows(html, "runs-table")) == 4
    assert len(re.findall(r'<details class="run"', html)) == 4
    assert html.count("hashbench run --methods") == 4
    assert "What is missing" not in html  # everything is there


def test_every_figures_text_reads_at_the_size_the_page_shows_it(
    cli, sweep_store, tmp_path
):
    """Each inline figure is shown at most at its style's max-width: there its labels must come
    out at 11 px or more, exponents of log-scale ticks (70 % of their label) at 8 px or more
    (the print-sized CD diagram, 7 pt text, is zoomed for the page)."""
    html = build(cli, sweep_store, tmp_path / "site")
    figures = re.findall(r'<figure class="(fig-[a-z-]+)">\s*(<svg.*?</svg>)', html, flags=re.S)
    assert [kind for kind, _ in figures][:1] == ["fig-cd"] and len(figures) == 5
    for kind, svg in figures:
        shown = float(re.search(r'style="max-width:([0-9.]+)px"', svg).group(1))
        drawn = float(re.search(r'viewBox="0 0 ([0-9.]+) ', svg).group(1))  # points
        sizes = [float(x) for x in re.findall(r"font(?:-size)?:\s*([0-9.]+)px", svg)]
        px = sorted(size * shown / drawn for size in sizes)
        assert px and px[len(px) // 2] >= 11 and px[0] >= 8, (kind, px[0], px[len(px) // 2])


def test_report_loads_nothing_from_the_network(cli, sweep_store, tmp_path):
    html = build(cli, sweep_store, tmp_path / "site")
    page = parse(html)
    for _, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "data"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (name, value)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= XML_NAMESPACES
    assert "@import" not in html
    assert not re.findall(r"url\(\s*['\"]?(?!#)", html)  # only url(#id) of inline clip paths
    assert not by_id(page, "link") and not [a for a in by_id(page, "script") if "src" in a]


def test_the_reproduce_command_gives_the_same_run(cli, sweep_store, tmp_path):
    html = build(cli, sweep_store, tmp_path / "site")
    with ResultStore(sweep_store, readonly=True) as store:
        lsh16 = store.records(method="lsh", bits=16)[0]
    block = html.split(f'id="run-{lsh16.run_id}"', 1)[1]
    command = re.search(r'<pre class="cmd">(.*?)</pre>', block, flags=re.S)[1]
    words = shlex.split(command.replace("&#39;", "'").replace("&quot;", '"'))
    again = tmp_path / "again.sqlite"
    result = cli(*words[1:], "--store", str(again))
    assert result.exit_code == 0, result.output
    with ResultStore(again, readonly=True) as store:
        assert [r.run_id for r in store.records()] == [lsh16.run_id]


def test_report_filters_statistics_and_options(cli, sweep_store, tmp_path):
    html = build(cli, sweep_store, tmp_path / "a", "--methods", "lsh", "--bits", "32")
    assert len(table_rows(html, "runs-table")) == 1 and "cca-itq" not in html.lower()
    html = build(
        cli, sweep_store, tmp_path / "b", "--ci", "--significance", "seeds", "--curve-bits", "16"
    )
    assert "interval over seeds and queries" in html and "Precision@K, 16 bits" in html
    assert ">CCA-ITQ</td>" in html  # display names by default; --names cli keeps the typed ones
    html = build(cli, sweep_store, tmp_path / "c", "--names", "cli")
    assert ">cca-itq</td>" in html and ">CCA-ITQ</td>" not in html
    result = cli("report", "--store", str(sweep_store), "--datasets", "synth-nuswide")
    assert result.exit_code != 0 and "no runs match these filters" in result.output


def test_report_without_a_store_or_runs_is_one_line(cli, tmp_path):
    result = cli("report", "--store", str(tmp_path / "none.sqlite"))
    assert result.exit_code != 0 and "no results store" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    empty = tmp_path / "empty.sqlite"
    ResultStore(empty).close()
    result = cli("report", "--store", str(empty))
    assert result.exit_code != 0 and "no runs in" in result.output
    assert not (tmp_path / "report").exists()


def _stored_record(run_id: str, **changes) -> RunRecord:
    metrics = {
        t: {"map@50": 0.5 + i / 10, "curves": {"pk": {"k": [1, 10], "precision": [0.9, 0.8]}}}
        for i, t in enumerate(("i2t", "t2i"))
    }
    values = dict(
        run_id=run_id, method="lsh", dataset="synth-mirflickr@0.05", dataset_fingerprint="ab",
        bits=16, seed=0, budget="quick", params={}, pair_fused=False, metrics=metrics,
        timings={"train_s": 1.0, "total_s": 2.0}, provenance={"device": "cpu"}, profile={},
    )  # fmt: skip
    values.update(changes)
    return RunRecord(**values)


def _arrays() -> dict[str, np.ndarray]:
    return {"codes.query.image": np.zeros((4, 2), np.uint8), "shape": np.array([16, 4])}


def test_failed_runs_only_give_a_report_that_lists_them(cli, tmp_path):
    path = tmp_path / "failed.sqlite"
    with ResultStore(path) as store:
        failure = "Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory"
        store.save_failure(_stored_record("f" * 16), failure)
    result = cli("report", "--store", str(path), "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    html = (tmp_path / "site" / "index.html").read_text()
    assert "What is missing" in html and "No finished runs" in html
    assert "RuntimeError: CUDA out of memory" in html and 'id="failures-table"' in html
    assert 'id="cmp-i2t"' not in html


def test_runs_without_efficiency_profiles_say_so(cli, tmp_path):
    path = tmp_path / "noprofile.sqlite"
    with ResultStore(path) as store:
        store.save(_stored_record("a" * 16), _arrays())
        store.save(_stored_record("b" * 16, method="cca-itq", profile={"model": None}), _arrays())
    html = build(cli, path, tmp_path / "site")
    assert "What is missing" in html
    assert "stored without an efficiency profile" in html
    assert "the method has no torch inference model" in html
    assert "accuracy-efficiency plane: no run of this dataset has an efficiency profile" in html
    assert 'id="cmp-i2t"' in html and "fig-vs-bits" in html  # the rest is still there
