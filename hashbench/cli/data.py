"""`hashbench data check` and `hashbench data prepare`: validate real datasets' files, or build
them from raw images, captions and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from hashbench.cli.app import main
from hashbench.cli.options import build_encoder, dataset_options_kwargs, real_data_options
from hashbench.data.files import DATA_ENV, data_root
from hashbench.data.types import DatasetOptions
from hashbench.errors import InputError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _preparable_name(registry: Any, name: str) -> str:
    """NAME of `data prepare`: a dataset that reads the generic layout the command writes."""
    valid = [n for n, spec in registry.datasets.items() if spec.preparable]
    if name not in valid:
        raise InputError(f"'{name}' is not a real dataset name; valid: {', '.join(valid)}")
    return name


def _real_unimodal(registry: Any) -> list[str]:
    """Registered unimodal datasets read from files (cifar10, dvs128-gesture, ...)."""
    return [
        name
        for name in registry.list_datasets()
        if registry.datasets[name].task == "unimodal" and not registry.datasets[name].synthetic
    ]


def _check_report(registry: Any, name: str, options: DatasetOptions):
    """The dataset's own check (its spec's `check`: the cross-modal real datasets); the generic
    check_unimodal for the other unimodal datasets read from files."""
    own = [n for n, spec in registry.datasets.items() if spec.check is not None]
    if name in own:
        return registry.dataset(name).check(options)
    unimodal = [n for n in _real_unimodal(registry) if n not in own]
    if name not in unimodal:
        valid = ", ".join([*own, *unimodal])
        raise InputError(f"'{name}' is not a real dataset name; valid: {valid}")
    from hashbench.data.unimodal_common import check_unimodal

    return check_unimodal(name, registry.dataset(name).load(options))


@main.group(name="data")
def data() -> None:
    """Real datasets: check files under a data root, or prepare them from raw images.

    \b
    Example:
      hashbench data check mirflickr --data-root ~/data
      hashbench data check cifar10 --data-root ~/data
      hashbench data prepare mscoco --images val2017 --captions captions_val2017.json \\
          --labels instances_val2017.json --encoder clip --clip-checkpoint vit-b-32.safetensors
    """


@data.command()
@click.argument("name")
@real_data_options
@click.option("--device", default="auto", show_default=True, help="Encoder device.")
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=float,
    help="Check the split `run --scale` would use (cifar10 and the DVS datasets).",
)
@click.pass_obj
def check(app, name: str, device: str, scale: float, **options) -> None:
    """Validate a real dataset's files and print a summary (non-zero exit on errors)."""
    registry = app.registry()
    kwargs = dataset_options_kwargs(registry, device=device, **options)
    report = _check_report(registry, name, DatasetOptions(scale=scale, **kwargs))
    for line in report.lines:
        out.print(escape(line))
    for warning in report.warnings:
        out.print(escape(f"warning: {warning}"))
    out.print(
        escape(f"{name}: OK") + (f" ({len(report.warnings)} warning(s))" if report.warnings else "")
    )


@data.command()
@click.argument("name")
@click.option(
    "--images", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "--captions",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="COCO captions JSON, a folder of MIRFlickr tags<N>.txt, or '<image key> <text>' lines.",
)
@click.option(
    "--labels",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="COCO instances JSON, a folder of <label>.txt files, or '<image key> 0 1 ...' lines.",
)
@real_data_options
@click.option("--num-query", default=2000, show_default=True, type=click.IntRange(1))
@click.option("--num-train", default=5000, show_default=True, type=click.IntRange(1))
@click.option("--overwrite", is_flag=True, help="Replace an existing prepared dataset.")
@click.option("--device", default="auto", show_default=True, help="Encoder device.")
@click.pass_obj
def prepare(
    app,
    name: str,
    images: Path,
    captions: Path,
    labels: Path,
    num_query: int,
    num_train: int,
    overwrite: bool,
    device: str,
    **options,
) -> None:
    """Build NAME under the data root from raw images, captions/tags and labels.

    Writes the generic layout (hashbench.json, items.jsonl, data.npz). With --encoder clip the
    CLIP features are computed now and stored; without it, pass --encoder clip to `run`.
    """
    from hashbench.data.prepare import prepare as prepare_dataset

    root = data_root(DatasetOptions(data_root=options["data_root"]))
    if root is None:
        raise InputError(f"pass --data-root DIR or set {DATA_ENV}: where to write the dataset")
    registry = app.registry()
    encoder = build_encoder(
        registry,
        options["encoder"],
        options["clip_model"],
        options["clip_checkpoint"],
        device,
    )
    result = prepare_dataset(
        _preparable_name(registry, name),
        root,
        images,
        captions,
        labels,
        encoder=encoder,
        num_query=num_query,
        num_train=num_train,
        overwrite=overwrite,
    )
    out.print(
        f"wrote {result.directory}: {result.items:,} items, {result.num_labels} labels"
        f"{', CLIP features stored' if result.encoded else ' (raw: run with --encoder clip)'}; "
        f"dropped {result.dropped_no_text} without text, {result.dropped_no_label} without labels"
    )
    out.print(f"next: hashbench data check {name} --data-root {root}")
