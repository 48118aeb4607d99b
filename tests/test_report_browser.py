"""The results site in a real browser: headless Chromium (Debian's `chromium`, installed by
.ci/run; never downloaded) opens the report of a small stored sweep from disk. The page loads
with no console message, its script builds the tables' state, sorting and filtering work and
every figure renders. Skipped, saying why, where no Chromium is installed.

The page's script honours `?sort=TABLE:COLUMN:DIR`, `?filter=KEY:VALUES` and `?bench=1` and
marks <body> with data-ready, data-figures and the bench timings, so `--dump-dom` shows what the
script did.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from hashbench.cli import main

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome", "chromium-headless-shell")
SWEEP = (
    "run", "--methods", "lsh,cca-itq", "--dataset", "synth-mirflickr", "--scale", "0.05",
    "--budget", "quick", "--bits", "16,32",
)  # fmt: skip


def _browser() -> str | None:
    given = os.environ.get("HASHBENCH_CHROMIUM")
    if given:
        return shutil.which(given)  # a name on PATH or a path to an executable; else skip
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


BROWSER = _browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium installed (apt-get install chromium, as .ci/run does; or point "
    "HASHBENCH_CHROMIUM at one)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory, cache_dir) -> Path:
    """index.html of the report of a small stored sweep."""
    root = tmp_path_factory.mktemp("report-browser")
    env = {"HASHBENCH_CACHE": str(cache_dir)}
    store = root / "hashbench.sqlite"
    runner = CliRunner()
    result = runner.invoke(main, [*SWEEP, "--store", str(store)], env=env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["report", "--store", str(store), "--out", str(root / "site")])
    assert result.exit_code == 0, result.output
    return root / "site" / "index.html"


def dump_dom(page: Path, query: str, tmp_path: Path) -> tuple[str, list[str]]:
    """(the DOM after the page's script ran, console messages) of `page?query`."""
    url = page.resolve().as_uri() + (f"?{query}" if query else "")
    done = subprocess.run(
        [
            BROWSER,
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,2000",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = re.findall(r":CONSOLE[^\]]*\] (.*)", done.stderr)
    return done.stdout, console


def body_attrs(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)[1]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def first_cells(dom: str, table_id: str, column: int) -> list[str]:
    """Text of column `column` of each visible body row of a table, in DOM order."""
    body = dom.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = []
    for row in re.findall(r"<tr\b([^>]*)>(.*?)</tr>", body, flags=re.S):
        if "hidden" in row[0]:
            continue
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row[1], flags=re.S)
        out.append(re.sub(r"<[^>]+>", "", cells[column]).strip())
    return out


def test_page_loads_without_console_messages_and_draws_every_figure(site, tmp_path):
    dom, console = dump_dom(site, "", tmp_path)
    assert console == [], console
    attrs = body_attrs(dom)
    assert attrs.get("data-ready") == "1", "the page's script did not finish"
    # vs bits, P@K, PR, accuracy-efficiency plane, critical-difference diagram
    assert attrs.get("data-figures") == "5"
    assert "2 of 2 shown" in dom and "4 of 4 shown" in dom  # counts the script wrote


def test_sorting_by_a_column(site, tmp_path):
    dom, console = dump_dom(site, "sort=runs-table:3:asc", tmp_path)
    assert console == []
    assert first_cells(dom, "runs-table", 3) == ["16", "16", "32", "32"]
    assert 'aria-sort="ascending"' in dom
    dom, _ = dump_dom(site, "sort=cmp-i2t:1:asc", tmp_path)
    assert first_cells(dom, "cmp-i2t", 0) == ["LSH", "CCA-ITQ"]  # lower mAP first
    dom, _ = dump_dom(site, "sort=cmp-i2t:1:desc", tmp_path)
    assert first_cells(dom, "cmp-i2t", 0) == ["CCA-ITQ", "LSH"]


def test_filtering_by_method_and_code_length(site, tmp_path):
    dom, console = dump_dom(site, "filter=method:lsh;bits:32", tmp_path)
    assert console == []
    assert first_cells(dom, "runs-table", 1) == ["LSH"]  # display names
    assert first_cells(dom, "efficiency-table", 0) == ["LSH"]
    assert "1 of 4 shown" in dom
    header = re.search(r'<th class="group"[^>]*>', dom)[0]
    assert 'colspan="1"' in header  # the dataset's header spans the one code length left


def test_sorting_and_filtering_are_timed(site, tmp_path):
    dom, console = dump_dom(site, "bench=1", tmp_path)
    assert len(console) == 1 and console[0].startswith('"hashbench bench:'), console
    attrs = body_attrs(dom)
    assert float(attrs["data-bench-sort-ms"]) < 1000 and float(attrs["data-bench-filter-ms"]) < 1000
