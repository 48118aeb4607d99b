"""The plain log of a real deep run shows progress inside epochs, and the README's sample log
lines keep the shape of what `hashbench run` prints (issue 31, items 1 and 8).

One tiny run of the README's command (the same methods, dataset, bits and budget; a smaller
scale, short epochs of small batches, progress lines every 0.05 s) serves both tests. A README
line is turned into a pattern by replacing its numbers, durations, clocks and run ids by
patterns (`line_pattern`); each must match a line of the real log, so a format change fails
here until the README shows the new format.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hashbench.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

README = Path(__file__).resolve().parents[1] / "README.md"
# The README's command, at a scale and with epochs that take a few seconds here.
COMMAND = (
    "run", "--methods", "cca-itq,spikehash", "--dataset", "synth-mscoco", "--bits", "16",
    "--budget", "quick", "--scale", "0.05", "--log-interval", "0.05",
    "-p", "spikehash.epochs=2", "-p", "spikehash.min_iterations=0",
    "-p", "spikehash.batch_size=16", "-p", "spikehash.hidden=32",
)  # fmt: skip

_TOKENS = re.compile(
    r"(?P<id>\b[0-9a-f]{16}\b)"
    r"|(?P<clock>\d+:\d\d:\d\d)"
    r"|(?P<duration>\b(?:\d+h\d\dm|\d+m\d\ds|\d+s)\b)"
    r"|(?P<number>-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?)"
)
_PATTERNS = {
    "id": r"[0-9a-f]{16}",
    "clock": r"\d+:\d\d:\d\d",
    "duration": r"(?:\d+h\d\dm|\d+m\d\ds|\d+s)",
    "number": r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?",
}


def line_pattern(line: str) -> re.Pattern[str]:
    """A README log line as a pattern: its text as is, its values as any value of their kind."""
    parts, end = [], 0
    for match in _TOKENS.finditer(line):
        parts += [re.escape(line[end : match.start()]), _PATTERNS[match.lastgroup or ""]]
        end = match.end()
    parts.append(re.escape(line[end:]))
    return re.compile("".join(parts))


def readme_sample() -> list[str]:
    """The lines of the README's sample log: the fenced block after "<!-- sample log -->"."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- sample log -->\s*```[a-z]*\n(.*?)```", text, re.S)
    assert block, "README.md has no sample log block (<!-- sample log --> then ```...```)"
    return [line for line in block.group(1).splitlines() if line.strip() and line != "..."]


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> str:
    store = tmp_path_factory.mktemp("store") / "results.sqlite"
    with pytest.MonkeyPatch.context() as patch:  # every batch reaches the log's observer
        patch.setattr("hashbench.runner.batches.DEFAULT_GAP_S", 0.0)
        result = CliRunner().invoke(main, [*COMMAND, "--store", str(store)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_line_patterns_keep_text_and_free_values():
    pattern = line_pattern("[0:01:09] progress x @0.1: train 2/40 epochs, loss 4.234, 20m07s left")
    assert pattern.fullmatch("[1:00:00] progress x @0.05: train 3/3 epochs, loss 1e-05, 4s left")
    assert not pattern.fullmatch("[0:01:09] progress x @0.1: train 2/40 epochs, loss 4.234")
    run = line_pattern("done in 38.5s x  run 4500bddad8a26bc9  (2/2 runs)")
    assert run.fullmatch("done in 1.0s x  run 0123456789abcdef  (1/2 runs)")


@pytest.mark.slow
def test_a_deep_run_logs_batches_epochs_and_time_left(log):
    run = r"^\[\d+:\d\d:\d\d\] progress spikehash / synth-mscoco@0\.05 / 16 bits / seed 0 / quick: "
    tail = r" \(\d+:\d\d:\d\d in this run; \d/2 runs finished; sweep \S+ left\)$"
    left = r", (\d+h\d\dm|\d+m\d\ds|\d+s) left"
    batches = re.findall(
        run + r"train epoch (\d)/2, batch (\d+)/(\d+)(, [\d,]+ items/s)?" + left + tail, log, re.M
    )
    epochs = re.findall(run + r"train (\d)/2 epochs, loss [-\d.e]+" + left + tail, log, re.M)
    assert {e for e, *_ in batches} == {"1", "2"}, log  # inside both epochs
    assert all(1 <= int(b) <= int(n) for _, b, n, *_ in batches)
    assert any(rate for *_, rate, _ in batches), log  # the items/s from an epoch's 2nd batch
    # every epoch end is written (interval 0.05 s); later lines repeat the latest step
    assert sorted({e for e, _ in epochs}) == ["1", "2"], log


@pytest.mark.slow
def test_the_readme_sample_log_has_the_shape_of_a_real_log(log):
    lines = log.splitlines()
    sample = readme_sample()
    assert len(sample) >= 5
    missing = [s for s in sample if not any(line_pattern(s).fullmatch(x) for x in lines)]
    assert not missing, (
        "README.md's sample log lines no longer look like `hashbench run`'s log; regenerate "
        "them with the command above the block. Lines with no match:\n"
        + "\n".join(missing)
        + "\n\nThe log of a tiny run:\n"
        + log
    )
