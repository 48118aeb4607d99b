"""`hashbench profile`: parameters, MACs, SOPs, firing rates and energy of methods' models."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hashbench.cli.app import App, main, stdout
from hashbench.cli.options import ENERGY, SCALE, energy_model, split, store_option
from hashbench.data.types import DatasetOptions
from hashbench.report.efficiency import model_counts
from hashbench.runner.grid import dataset_label
from hashbench.runner.profiling import fresh_profile, stored_profile
from hashbench.runner.spec import parse_bits
from hashbench.seeding import resolve_device
from hashbench.store import ResultStore, default_store_path


@main.command()
@click.option("--methods", "-m", required=True, help="Comma-separated method names.")
@click.option("--bits", "-b", default="128", show_default=True, help="Code lengths.")
@click.option(
    "--dataset",
    "-d",
    default="synth-mirflickr",
    show_default=True,
    help="Dataset whose query pairs are fed through the model.",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=SCALE,
    help="Dataset scale, as for `run` (a stored run is looked up at this scale).",
)
@store_option
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--e-mac", default=4.6, show_default=True, type=ENERGY, help="pJ per MAC.")
@click.option(
    "--e-ac",
    default=0.9,
    show_default=True,
    type=ENERGY,
    help="pJ per synaptic operation (accumulate).",
)
@click.option("--layers", is_flag=True, help="Also print the per-layer breakdown.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def profile(
    app: App,
    methods: str,
    bits: str,
    dataset: str,
    scale: float,
    store: Path | None,
    device: str,
    e_mac: float,
    e_ac: float,
    layers: bool,
    as_json: bool,
) -> None:
    """Parameters, MACs, SOPs, firing rates and energy per image-text pair.

    Uses the profile of a stored trained run when the store has one for the same method,
    dataset and bits; otherwise profiles a briefly fitted model (counts do not depend on
    training; firing rates of spiking models do).

    \b
    Example:
      hashbench profile --methods lsh,cca-itq --bits 128
    """
    registry = app.registry()
    names = split(methods)
    for name in names:
        registry.method(name)
    registry.dataset(dataset)
    energy = energy_model(e_mac, e_ac)
    path = store or default_store_path()
    results = ResultStore(path, readonly=True) if Path(path).exists() else None
    reports = []
    loaded = None
    try:
        for name in names:
            for b in parse_bits(split(bits)):
                label = dataset_label(dataset, scale)
                report = stored_profile(results, name, label, b) if results else None
                if report is None:
                    if loaded is None:
                        loaded = registry.dataset(dataset).load(DatasetOptions(scale=scale))
                    report = fresh_profile(
                        registry.method(name), loaded, b, resolve_device(device), energy=energy
                    )
                reports.append(report)
    finally:
        if results is not None:
            results.close()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "method": r.method,
                        "dataset": r.dataset,
                        "bits": r.bits,
                        "source": r.source,
                        "energy_model": {
                            "e_mac_pj": e_mac,
                            "e_ac_pj": e_ac,
                            "formula": energy.formula(),
                        },
                        "summary": model_counts(r.profile, energy),
                        "profile": r.profile,
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
        return
    from rich.table import Table

    out = Table(
        "method",
        "bits",
        "params",
        "MACs/pair",
        "SOPs/pair",
        "firing rate",
        "energy uJ/pair",
        "source",
        title=f"Efficiency per image-text pair ({dataset})",
        caption=energy.formula(),
    )
    for r in reports:
        c = model_counts(r.profile, energy)
        if c["params"] is None:
            reason = r.profile.get("error") or "the method has no torch model to count"
            out.add_row(r.method, str(r.bits), "-", "-", "-", "-", "-", f"{r.source}; {reason}")
            continue
        out.add_row(
            r.method,
            str(r.bits),
            f"{c['params']:,}",
            f"{c['macs']:,.0f}",
            f"{c['sops']:,.0f}",
            "-" if c["firing_rate"] is None else f"{c['firing_rate']:.4f}",
            f"{c['energy_uj']:.2f}",
            r.source,
        )
    stdout.print(out)
    if layers:
        for r in reports:
            ops = (r.profile.get("model") or {}).get("ops") or {}
            firing = {
                f["path"]: f["rate"]
                for f in ((r.profile.get("model") or {}).get("firing") or {}).get("layers", [])
            }
            table_ = Table(
                "layer",
                "type",
                "MACs/pair",
                "SOPs/pair",
                "firing rate",
                title=f"{r.method}, {r.bits} bits: per layer",
            )
            for layer in ops.get("layers", []):
                rate = firing.get(layer["path"])
                table_.add_row(
                    layer["path"],
                    layer["module_type"],
                    f"{layer['macs']:,.0f}",
                    f"{layer['sops']:,.0f}",
                    "-" if rate is None else f"{rate:.4f}",
                )
            stdout.print(table_)
