"""A bad `--param` (unknown name, wrong type, out of the declared range) is refused by `run`,
`tune` and `status` before any dataset loads or any encoder is built, with the one-line message
that planning a run gives (`hashbench.runner.spec.resolve_params`)."""

from __future__ import annotations

import dataclasses

import pytest

from hashbench.cli import options
from hashbench.errors import InputError
from hashbench.params import Float, Int
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.grid import GridSpec, check_params
from hashbench.runner.spec import resolve_params
from hashbench.store import ResultStore, default_store_path

REGISTRY = Registry.from_plugin_manager(create_plugin_manager())
METHODS = REGISTRY.list_methods()


class LoadedData(Exception):
    """Raised by the patched loaders: reaching one means data loaded before the check."""


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """Every dataset loader (it then fails the command) and encoder built is recorded here."""
    calls: list[str] = []
    lookup = Registry.dataset

    def dataset(self, name):
        spec = lookup(self, name)

        def load(options):
            calls.append(f"dataset {name}")
            raise LoadedData(name)

        return dataclasses.replace(spec, load=load)

    build = options.build_encoder

    def build_encoder(*args, **kwargs):
        calls.append("encoder")
        return build(*args, **kwargs)

    monkeypatch.setattr(Registry, "dataset", dataset)
    monkeypatch.setattr(options, "build_encoder", build_encoder)
    return calls


def _dataset_for(method: str) -> str:
    """A dataset of the method's task (the first one listed)."""
    tasks = REGISTRY.method(method).info.tasks
    return next(n for n in REGISTRY.list_datasets() if REGISTRY.dataset(n).task in tasks)


def _message(method: str, dataset: str, name: str, value: str) -> str:
    """What planning the run says about `--param method.name=value` (after loading)."""
    protocol = REGISTRY.dataset(dataset).protocol
    with pytest.raises(InputError) as caught:
        resolve_params(REGISTRY.method(method), protocol, "paper", {name: value})
    return str(caught.value)


def _wrong_type(method: str) -> tuple[str, str] | None:
    """A parameter that takes a number or a boolean, and a value of neither."""
    defaults = REGISTRY.method(method).default_params
    typed = [k for k, v in defaults.items() if isinstance(v, (bool, int, float))]
    return (typed[0], "not-a-number") if typed else None


def _out_of_range(method: str) -> tuple[str, str] | None:
    """A numeric parameter with a declared bound, and a value beyond it."""
    for name, domain in REGISTRY.method(method).param_ranges.items():
        if isinstance(domain, (Float, Int)) and domain.low is not None:
            value = domain.low - 1000
            if domain.check(value):
                return name, str(value)
        if isinstance(domain, (Float, Int)) and domain.high is not None:
            value = domain.high + 1000
            if domain.check(value):
                return name, str(value)
    return None


def _bad_params(method: str) -> list[tuple[str, str]]:
    found = [("no_such_parameter", "1"), _wrong_type(method), _out_of_range(method)]
    return [p for p in found if p is not None]


def _refused(result, message: str, loads: list[str]) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert message in result.output, result.output
    assert loads == [], f"loaded before refusing: {loads}"


@pytest.mark.parametrize("method", METHODS)
def test_run_refuses_a_bad_param_before_loading(cli, loads, method):
    dataset = _dataset_for(method)
    for name, value in _bad_params(method):
        result = cli(
            "run", "--methods", method, "--dataset", dataset, "--bits", "16",
            "--param", f"{method}.{name}={value}",
        )  # fmt: skip
        _refused(result, _message(method, dataset, name, value), loads)


@pytest.mark.parametrize("method", ["cca-itq", "ucmfh"])
def test_tune_refuses_a_bad_param_before_loading(cli, loads, method):
    dataset = _dataset_for(method)
    for name, value in _bad_params(method):
        result = cli(
            "tune", "--methods", method, "--dataset", dataset, "--bits", "16",
            "--param", f"{method}.{name}={value}",
        )  # fmt: skip
        _refused(result, _message(method, dataset, name, value), loads)


@pytest.mark.parametrize("method", ["cca-itq", "ucmfh"])
def test_status_refuses_a_bad_param_before_loading(cli, loads, method):
    with ResultStore(default_store_path()):
        pass  # status reads an existing store
    dataset = _dataset_for(method)
    for name, value in _bad_params(method):
        result = cli(
            "status", "--methods", method, "--dataset", dataset, "--bits", "16",
            "--param", f"{method}.{name}={value}",
        )  # fmt: skip
        _refused(result, _message(method, dataset, name, value), loads)


def test_a_good_param_passes_and_loading_starts(cli, loads):
    """The control: a valid value is not refused, and the patched loader sees the load (so the
    tests above would notice one)."""
    result = cli(
        "run", "--methods", "ucmfh", "--dataset", "synth-mirflickr,synth-mscoco",
        "--bits", "16", "--param", "ucmfh.epochs=2",
    )  # fmt: skip
    assert loads == ["encoder", "dataset synth-mirflickr"], result.output


class _Toy:
    """A method whose parameter `k` is free (None) by default and a whole number on mscoco."""

    default_params = {"k": None}
    dataset_params = {"mscoco": {"k": 3}}
    budget_params: dict = {}
    param_ranges: dict = {}
    info = type("Info", (), {"name": "toy"})

    @classmethod
    def resolve_params(cls, protocol, budget):
        return {**cls.default_params, **cls.dataset_params.get(protocol, {})}


class _Registry:
    def method(self, name):
        return _Toy

    def dataset(self, name):
        return REGISTRY.dataset(name)


@pytest.mark.parametrize(
    ("datasets", "refused"),
    [(["synth-events"], False), (["synth-mscoco"], True), (["synth-events", "synth-mscoco"], True)],
)
def test_a_value_is_typed_by_the_default_of_each_datasets_protocol(datasets, refused):
    grid = GridSpec(methods=["toy"], datasets=datasets, bits=[16], overrides={"toy": {"k": "x"}})
    if refused:
        with pytest.raises(InputError, match="toy.k=x: expected a whole number"):
            check_params(grid, _Registry())
    else:
        check_params(grid, _Registry())
