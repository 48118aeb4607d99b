"""Shared fixtures: an isolated dataset cache and results store for every test."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from hashbench.cli import main


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hashbench-cache")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path, cache_dir):
    """Never touch the user's cache, results or MLflow; never inherit blocked plugins."""
    monkeypatch.setenv("HASHBENCH_CACHE", str(cache_dir))
    monkeypatch.setenv("HASHBENCH_STORE", str(tmp_path / "results" / "hashbench.sqlite"))
    monkeypatch.delenv("HASHBENCH_BLOCK_PLUGINS", raising=False)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"):  # never log to the user's
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def one_torch_thread():
    """Small models on a shared 2-core machine: one torch thread avoids OpenMP contention
    stalls (the caller's setting is restored). Test modules opt in with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def cli():
    """Invoke the CLI in-process: cli("run", "--methods", ...) -> click Result."""
    runner = CliRunner()

    def invoke(*args: str, **kwargs):
        return runner.invoke(main, list(args), catch_exceptions=False, **kwargs)

    return invoke


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def pinned_signs(method, features, rows: int = 6) -> dict[str, list[str]]:
    """{modality: codes of the first `rows` items as "+-" strings}, for tests that pin a
    method's codes for a fixed seed (int8 codes, as the built-in methods return)."""
    import torch

    out = {}
    for modality in ("image", "text"):
        codes = method.encode(modality, {modality: features[modality][:rows]})
        assert codes.dtype == torch.int8
        out[modality] = ["".join("+" if v > 0 else "-" for v in row) for row in codes.tolist()]
    return out
