"""A third-party plugin package, built and installed for real, then run through the CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hashbench-example-plugin"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    """Install the example package into a private folder that only the subprocesses see."""
    work = tmp_path_factory.mktemp("third-party")
    source = work / "src"
    shutil.copytree(EXAMPLE, source)
    site = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return site


def _hashbench(site: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = subprocess_env(PYTHONPATH=str(site), HASHBENCH_STORE=str(tmp_path / "s.sqlite"))
    return subprocess.run(
        [sys.executable, "-m", "hashbench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_installed_plugin_is_listed_and_runs(installed_example, tmp_path):
    listed = _hashbench(installed_example, tmp_path, "plugins")
    assert listed.returncode == 0, listed.stderr
    assert "hashbench-example-plugin" in listed.stdout and "0.1.0" in listed.stdout
    methods = _hashbench(installed_example, tmp_path, "list", "methods")
    assert "pca-sign" in methods.stdout
    run = _hashbench(
        installed_example,
        tmp_path,
        "run",
        "--methods",
        "pca-sign,lsh",
        "--dataset",
        "synth-mirflickr",
        "--bits",
        "16",
        "--scale",
        "0.05",
        "--budget",
        "quick",
    )
    assert run.returncode == 0, run.stderr
    assert "pca-sign" in run.stdout and "2 run(s) executed" in run.stderr
    blocked = subprocess.run(
        [sys.executable, "-m", "hashbench", "list", "methods"],
        capture_output=True,
        text=True,
        env=subprocess_env(PYTHONPATH=str(installed_example), HASHBENCH_BLOCK_PLUGINS="example"),
    )
    assert "pca-sign" not in blocked.stdout


def test_readme_shows_the_example_verbatim():
    readme = (ROOT / "README.md").read_text()
    for path in (EXAMPLE / "pyproject.toml", EXAMPLE / "hashbench_example" / "__init__.py"):
        assert path.read_text().strip() in readme, f"README is out of date with {path.name}"


def test_installed_plugin_search_space_is_tuned_through_the_cli(installed_example, tmp_path):
    tuned = _hashbench(
        installed_example,
        tmp_path,
        "tune",
        "--methods",
        "pca-sign",
        "--dataset",
        "synth-mirflickr",
        "--bits",
        "16",
        "--scale",
        "0.05",
        "--budget",
        "quick",
        "--trials",
        "4",
    )
    assert tuned.returncode == 0, tuned.stderr
    assert "pca-sign / synth-mirflickr@0.05 / 16 bits / seed 0: trial 3 complete" in tuned.stderr
    assert "text_weight=" in tuned.stderr and "center=" in tuned.stderr
    study = re.search(r"\bs[0-9a-f]{11}\b", tuned.stdout).group()  # the summary's study id
    shown = _hashbench(installed_example, tmp_path, "tune", "--show", study)
    assert shown.returncode == 0, shown.stderr
    assert "text_weight" in shown.stdout and "parameter importances" in shown.stdout
