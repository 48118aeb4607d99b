"""Options and parsing helpers several commands share: the store, name filters, the real-data
options, comma-separated lists, the sweep file and the energy model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hashbench.errors import InputError
from hashbench.runner.sweep_config import load_sweep

if TYPE_CHECKING:  # imported where used: `--help` never loads numpy or torch
    from hashbench.profile import EnergyModel
    from hashbench.runner.grid import GridSpec
    from hashbench.store import ResultStore

# hashbench.data.files.DATA_ENV, spelled out so that building the options imports no numpy
# (tests/test_cli_lazy.py checks that the two agree)
DATA_ENV = "HASHBENCH_DATA"



class Bounded(click.FloatRange):
    """A number in a closed range; NaN and infinity are refused (click's FloatRange lets NaN
    through: every comparison with it is false). A bad value fails as one line naming the
    option, the value, the allowed range and (`why`) the reason for the range."""

    name = "number"

    def __init__(self, low: float, high: float, *, integer: bool = False, why: str = "") -> None:
        super().__init__(low, high)
        self.integer, self.why = integer, why
        self.name = "integer" if integer else "float"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        import math

        number: float | int | None = None
        if isinstance(value, float | int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip()) if self.integer else float(str(value).strip())
            except ValueError:
                pass
        ok = number is not None and (not isinstance(number, float) or math.isfinite(number))
        if not ok or not self.min <= number <= self.max:  # type: ignore[operator]
            name = param.opts[0] if param is not None and param.opts else "value"
            kind = "a whole number" if self.integer else "a finite number"
            why = f" ({self.why})" if self.why else ""
            raise InputError(f"{name} {value}: must be {kind} in {self.describe()}{why}")
        return int(number) if self.integer else float(number)  # type: ignore[arg-type]

    def describe(self) -> str:
        return f"[{self.min:,}, {self.max:,}]" if self.integer else f"[{self.min:g}, {self.max:g}]"

    def _describe_range(self) -> str:  # click's help text: "[default: 10000; 100 to 10,000,000]"
        return self.describe()[1:-1].replace(", ", " to ", 1)

    def __repr__(self) -> str:
        return f"Bounded({self.describe()})"


def bounded_int(low: int, high: int, why: str = "") -> Bounded:
    return Bounded(low, high, integer=True, why=why)


# Ranges of the numeric options (README, "hashbench run" options), and why:
RESAMPLES = bounded_int(
    100, 10_000_000, "fewer cannot give p < 0.01; more takes minutes per table and GBs"
)
SEED = bounded_int(0, 2**32 - 1, "numpy's seed range")
LEVEL = Bounded(0.5, 0.999, why="0.999 already leaves 5 of 10,000 resamples per tail")
ALPHA = Bounded(0.0001, 0.5, why="a significance level")
SCALE = Bounded(
    0.005, 1.0, why="at 0.005 the synthetic datasets keep 10 of 2000 queries; smaller scales "
    "would be clamped to the same data under another name"
)
ENERGY = Bounded(0.0, 1e6, why="pJ per operation; published values lie between 0.03 and 50")
CODE_BITS = bounded_int(1, 1024, "code lengths go from 1 to 1024 bits")
BATCH = bounded_int(1, 1 << 20, "items encoded at once")
WORKERS = bounded_int(1, 1024, "worker processes")
TRIALS = bounded_int(1, 10_000, "a study needs at least 1 trial; trial 0 is the method's defaults")
TRIAL_BATCH = bounded_int(1, 1_000, "trials asked together")
VAL_FRACTION = Bounded(0.01, 0.9, why="the validation share of the training pairs")
VAL_QUERIES = bounded_int(1, 1_000_000, "validation queries")
LOG_INTERVAL = Bounded(0.0, 86_400.0, why="seconds between progress lines, up to a day")

store_option = click.option(
    "--store", type=click.Path(path_type=Path), default=None, help="Results database."
)


def name_filters(command):
    """Add --datasets and --methods: only these names (comma-separated)."""
    command = click.option("--methods", default=None, help="Only these methods (comma-separated).")(
        command
    )
    return click.option("--datasets", default=None, help="Only these datasets (comma-separated).")(
        command
    )


def record_filters(command):
    """Add --datasets, --methods, --bits, --budget and --protocol: which stored runs to show."""
    command = click.option(
        "--protocol",
        type=click.Choice(["default", "tuned", "as-released"]),
        default=None,
        help="Only runs at default or at tuned parameters, or selected as the released code "
        "selects (as-released) [default: all, side by side; as-released rows apart].",
    )(command)
    command = click.option(
        "--budget", default=None, help="Only runs of this budget (paper or quick)."
    )(command)
    command = click.option(
        "--bits", default=None, help="Only these code lengths (comma-separated)."
    )(command)
    return name_filters(command)


def run_protocol_option(command):
    """--protocol default|as-released of `run` and `status` (not the tables' --protocol filter:
    `record_filters`)."""
    return click.option(
        "--protocol",
        default="default",
        show_default=True,
        help="default: the suite's protocol (the model after the last epoch). as-released: "
        "select the snapshot as each method's released code does, scored by the harness on its "
        "declared split (stored apart; see docs/methods.md).",
    )(command)


def sweep_file_option(help_text: str):
    """--config FILE: a TOML file whose values become the command's option defaults."""
    return click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=lambda ctx, param, value: apply_sweep_file(ctx, value),
        help=help_text,
    )


def split(value: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated list."""
    return [item.strip() for item in value.split(",") if item.strip()]


def split_or_none(value: str | None) -> list[str] | None:
    """A filter's names, or None (no filter) when the option was not given."""
    return split(value) if value else None


def open_store(path: Path | None, *, readonly: bool = False) -> ResultStore:
    """The results store at `path`, or the default one.

    Commands that only read open it `readonly` (never created, changed or migrated, and no
    -wal/-shm file is created beside it, so a store in a read-only folder is read too; a file
    that is not a hashbench store is refused); commands that write create it at their first
    write, so one refused on bad input leaves no empty store behind.
    """
    from hashbench.store import ResultStore, default_store_path

    return ResultStore(path or default_store_path(), readonly=readonly, defer_create=True)


def existing_store_path(store: Path | None) -> Path:
    """The store to read: --store or the default; it must exist."""
    from hashbench.store import default_store_path

    path = Path(store or default_store_path())
    if not path.exists():
        raise InputError(
            f"no results store at {path}; run `hashbench run ...` first or pass --store"
        )
    return path


def apply_sweep_file(ctx: click.Context, path: Path | None) -> None:
    """--config: the file's values become the defaults of the command's other options."""
    if path is None:
        return
    names = [p.name for p in ctx.command.params if p.name]
    ctx.default_map = {**(ctx.default_map or {}), **load_sweep(path, names)}


def energy_model(e_mac: float, e_ac: float) -> EnergyModel:
    """The energy model of --e-mac / --e-ac (pJ per operation)."""
    if e_mac < 0 or e_ac < 0:
        raise InputError("--e-mac and --e-ac are energies per operation in pJ; they must be >= 0")
    from hashbench.profile import EnergyModel

    return EnergyModel(e_mac_pj=e_mac, e_ac_pj=e_ac)


def real_data_options(command):
    """Add --data-root, --trust-pickle, --ucmfh-quirks, --encoder and the CLIP options."""
    options = [
        click.option(
            "--data-root",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            help="Folder of real datasets (mirflickr, nuswide, mscoco, cifar10, dvs128-gesture, "
            f"cifar10-dvs) [default: ${DATA_ENV}].",
        ),
        click.option(
            "--trust-pickle",
            is_flag=True,
            help="Allow loading UCMFH .pkl files (a pickle runs code stored in it). "
            "Also HASHBENCH_TRUST_PICKLE=1.",
        ),
        click.option(
            "--ucmfh-quirks",
            is_flag=True,
            help="Reproduce UCMFH's released code: cut every split to a multiple of 128 rows "
            "(4992 train, 1920 queries).",
        ),
        click.option(
            "--encoder",
            default=None,
            metavar="NAME",
            help="Encode raw images and captions with this encoder (e.g. clip).",
        ),
        click.option(
            "--clip-model",
            default="ViT-B-32",
            show_default=True,
            help="open_clip model name, or local-dir:FOLDER.",
        ),
        click.option(
            "--clip-checkpoint",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="Local CLIP weights (.safetensors or a torch state dict); never downloaded.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_encoder(
    registry: Any,
    encoder: str | None,
    clip_model: str,
    clip_checkpoint: Path | None,
    device: Any = "auto",
) -> object | None:
    """The encoder object a dataset loader gets, or None for features stored in the files."""
    if encoder in (None, "", "precomputed"):
        if clip_checkpoint is not None:
            raise InputError("--clip-checkpoint needs --encoder clip")
        return None
    spec = registry.encoder(encoder)
    if encoder == "clip":
        return spec.create(model=clip_model, checkpoint=clip_checkpoint, device=device)
    return spec.create()


def dataset_options_kwargs(
    registry: Any,
    *,
    data_root: Path | None,
    trust_pickle: bool,
    ucmfh_quirks: bool,
    encoder: str | None,
    clip_model: str,
    clip_checkpoint: Path | None,
    device: Any = "auto",
) -> dict[str, Any]:
    """Keyword arguments of `DatasetOptions` from the shared CLI options."""
    return {
        "data_root": data_root,
        "trust_pickle": trust_pickle,
        "ucmfh_quirks": ucmfh_quirks,
        "encoder": build_encoder(registry, encoder, clip_model, clip_checkpoint, device),
    }


def display_names(app: Any, mode: str | None):
    """How tables and figures name methods and datasets: "cli" (as typed and stored) or
    "display" (the plugins' display names: SpikeHash, MS COCO (synthetic))."""
    from hashbench.errors import HashbenchError
    from hashbench.report.names import Names

    if mode == "cli":
        return Names.cli()
    try:
        return Names.from_registry(app.registry())
    except HashbenchError:  # plugins that do not load: their names stay as stored
        return Names()


def build_grid(
    method_names: list[str],
    dataset_names: list[str],
    bits: str,
    seeds: str,
    budget: str,
    params: tuple[str, ...],
    scale: float,
    protocol: str = "default",
) -> GridSpec:
    """The grid of the options `run` and `status` share."""
    from hashbench.runner.grid import GridSpec
    from hashbench.runner.spec import (
        parse_bits,
        parse_budgets,
        parse_param_overrides,
        parse_protocol,
        parse_seeds,
    )

    return GridSpec(
        methods=method_names,
        datasets=dataset_names,
        bits=parse_bits(split(bits)),
        seeds=parse_seeds(split(seeds)),
        budgets=parse_budgets(split(budget)),
        overrides=parse_param_overrides(params, method_names),
        scale=scale,
        protocol=parse_protocol(protocol),
    )


def prepare_grid(app: Any, grid: GridSpec, device: str, data_options: dict) -> tuple[Any, GridSpec]:
    """The registry, with every name and --param of the grid checked (they fail before any data
    or encoder is loaded), and the grid with the dataset options of the command line."""
    import dataclasses

    from hashbench.runner.grid import check_params
    from hashbench.seeding import resolve_device

    registry = app.registry()
    for name in grid.methods:
        registry.method(name)
    for name in grid.datasets:
        registry.dataset(name)
    check_params(grid, registry)  # a bad --param fails before the encoder is built
    kwargs = dataset_options_kwargs(registry, device=resolve_device(device), **data_options)
    return registry, dataclasses.replace(grid, dataset_options=kwargs)


def stored_runs(
    results: ResultStore, app: Any, budget: str | None = None, **filters: Any
) -> tuple[list, frozenset[str]]:
    """(finished runs matching `filters` and `--budget`, the methods whose budget changes
    nothing): a run of such a method counts for every budget, stored once (`report.budgets`;
    none when the plugins do not load: every run then keeps its stored budget)."""
    from hashbench.errors import HashbenchError
    from hashbench.report.budgets import budget_free_methods, select_budgets
    from hashbench.runner.spec import parse_budgets

    budgets = parse_budgets(split(budget)) if budget else None
    try:
        free = budget_free_methods(app.registry())
    except HashbenchError:
        free = frozenset()
    return select_budgets(results.records(**filters), budgets, free), free


def variant_reference(app: Any):
    """Each run's default parameters from the installed methods, so that row labels name
    exactly the values a run changed (`hashbench.report.variants`); None when the plugins do
    not load (labels then name every parameter in which a method's runs differ)."""
    from hashbench.errors import HashbenchError
    from hashbench.report.variants import registry_reference

    try:
        return registry_reference(app.registry())
    except HashbenchError:
        return None
