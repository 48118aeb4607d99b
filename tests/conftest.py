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
    """Never touch the user's cache or results; never inherit blocked plugins."""
    monkeypatch.setenv("HASHBENCH_CACHE", str(cache_dir))
    monkeypatch.setenv("HASHBENCH_STORE", str(tmp_path / "results" / "hashbench.sqlite"))
    monkeypatch.delenv("HASHBENCH_BLOCK_PLUGINS", raising=False)
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
