"""`hashbench report`: a self-contained static results site, one HTML file that opens from disk.

`build_site` turns stored records (and failed runs) into a `Site`: the comparison tables of
`hashbench table` per task, figures per dataset as inline SVG, the efficiency table, per-run
details with the command that reproduces each run, the environments runs were measured in, and
what is missing. `render_site` fills the jinja2 template (`templates/report.html.j2`, with its
CSS and vanilla JavaScript inlined: sorting, filtering, nothing fetched) and `write_site` writes
`index.html` atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hashbench import __version__
from hashbench.errors import InputError
from hashbench.profile import EnergyModel
from hashbench.report.cd_diagram import OverallRanking, overall_ranking
from hashbench.report.comparison import TASK_NAMES, ComparisonTable
from hashbench.report.names import Names
from hashbench.report.site_figures import FigureView, Legend, PRSource, curves, metric_vs_bits
from hashbench.report.site_model import (
    EFFICIENCY_HEADERS,
    EfficiencyPoint,
    Missing,
    TaskTable,
    efficiency_cells,
    efficiency_points,
    task_tables,
)
from hashbench.report.site_plane import plane
from hashbench.report.site_runs import (
    Environment,
    RunDetail,
    environments,
    run_details,
    split_dataset_name,
)
from hashbench.report.variants import AS_RELEASED, variant_labels
from hashbench.store import RunRecord

TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class PluginFacts:
    """What installed plugins say about stored names, for runs whose records do not say it."""

    spiking: frozenset[str] = frozenset()  # methods declared spiking
    real_datasets: frozenset[str] = frozenset()  # datasets read from files (need --data-root)


@dataclass(frozen=True)
class SiteOptions:
    """What the page shows and how: the metric, names, curves, energy, plugin facts."""

    metric: str = "map@50"
    names: Names = field(default_factory=Names.cli)
    energy: EnergyModel | None = None
    curve_bits: int | None = None  # P@K and PR curves at this code length (default: longest)
    pr_source: PRSource | None = None  # PR curves of runs stored without pooled counts
    facts: PluginFacts = field(default_factory=PluginFacts)
    command: str = "hashbench report"
    title: str = "hashbench results"


@dataclass(frozen=True)
class FailureView:
    run_id: str
    method: str
    dataset: str
    bits: int
    seed: int
    budget: str
    message: str  # the traceback's last line
    traceback: str


@dataclass
class DatasetFigures:
    dataset: str
    figures: list[FigureView] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # figures that could not be drawn, and why


@dataclass
class Site:
    title: str
    store: str
    metric: str
    version: str
    energy_formula: str
    command: str
    runs_total: int
    latest: str
    filters: list[tuple[str, str, list[tuple[str, str]]]]  # key, name, (value, shown)
    tasks: list[tuple[str, str]]
    display: dict[str, dict[str, str]]  # what: {stored name: name shown}
    tables: list[TaskTable]
    table_notes: list[str]
    figures: list[DatasetFigures]
    efficiency: list[tuple[EfficiencyPoint, list[tuple[str, float | None]]]]
    efficiency_headers: tuple[str, ...]
    runs: list[RunDetail]
    run_tasks: list[str]
    environments: list[Environment]
    failures: list[FailureView]
    missing: list[str]
    overall: OverallRanking | None = None  # average ranks over all columns, CD diagram


def _failure_views(failures: Iterable[RunRecord]) -> list[FailureView]:
    out = []
    for r in failures:
        lines = [line for line in (r.error or "").strip().splitlines() if line.strip()]
        out.append(
            FailureView(
                r.run_id,
                r.method,
                r.dataset,
                r.bits,
                r.seed,
                r.budget,
                lines[-1] if lines else "no traceback stored",
                r.error or "",
            )
        )
    return out


def _add(entry: DatasetFigures, figure: FigureView | None, why: str) -> None:
    if figure is None:
        entry.absent.append(why)
    else:
        entry.figures.append(figure)


def _figures(
    records: Sequence[RunRecord],
    labels: dict[str, str],
    points: Sequence[EfficiencyPoint],
    options: SiteOptions,
    energy: EnergyModel,
) -> list[DatasetFigures]:
    by_dataset: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        by_dataset[r.dataset].append(r)
    metric, shown = options.metric, options.names.metric(options.metric)
    out = []
    for n, (dataset, recs) in enumerate(sorted(by_dataset.items())):
        legend = Legend(
            options.names,
            frozenset(labels[r.run_id] for r in recs if r.pair_fused),
            frozenset(
                labels[r.run_id] for r in recs if r.provenance.get("supervision") == "supervised"
            ),
        )
        entry = DatasetFigures(dataset)
        salt = f"d{n}"
        _add(
            entry,
            metric_vs_bits(recs, labels, metric, legend, f"{salt}b"),
            f"{shown} vs code length: no run stores {metric}",
        )
        bits = options.curve_bits or max(r.bits for r in recs)
        for kind, name in (("pk", "P@K curves"), ("pr", "PR curves")):
            figure, left_out = curves(
                recs, labels, bits, kind, legend, f"{salt}{kind}", options.pr_source
            )
            why = "no run at this code length" if not left_out else f"{left_out} run(s) lack them"
            _add(entry, figure, f"{name} at {bits} bits: {why}")
        mine = [p for p in points if p.dataset == dataset]
        _add(
            entry,
            plane(mine, metric, energy.formula(), legend, f"{salt}p"),
            "accuracy-efficiency plane: no run of this dataset has an efficiency profile",
        )
        out.append(entry)
    return out


def _display(records: Sequence[RunRecord], labels: dict[str, str], names: Names) -> dict:
    """{"dataset" | "method" | "label": {stored name: name shown}} for the template."""
    return {
        "dataset": {r.dataset: names.dataset(r.dataset) for r in records},
        "method": {r.method: names.method(r.method) for r in records},
        "label": {label: names.method(label) for label in labels.values()},
    }


def build_site(
    records: Sequence[RunRecord],
    failures: Sequence[RunRecord],
    table: ComparisonTable | None,
    *,
    store: str,
    options: SiteOptions = SiteOptions(),
    missing: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
) -> Site:
    """Everything the page shows. `table` is `build_table`'s comparison table of `records`
    (None when there are no finished runs); `missing` adds lines to "what is missing";
    `labels`: each run's row label, the table's (default: `variant_labels(records)`)."""
    energy = options.energy or EnergyModel()
    names, facts = options.names, options.facts
    gaps = Missing(list(missing))
    labels = dict(labels) if labels is not None else variant_labels(records)
    if not records:
        gaps.add(
            "No finished runs: there are no tables, figures or efficiency numbers yet"
            + (f"; {len(failures)} run(s) failed (listed below)." if failures else ".")
        )
    elif failures:
        gaps.add(f"{len(failures)} run(s) failed and are not in the tables (listed below).")
    # an as-released run has its default run's network: a duplicate point, and not a fair one
    fair = [r for r in records if r.protocol != AS_RELEASED]
    points = efficiency_points(fair, labels, options.metric, energy, set(facts.spiking), gaps)
    envs, env_of = environments(records)
    real = set(facts.real_datasets)
    runs = run_details(records, labels, options.metric, env_of, real)
    methods_of = {labels[r.run_id]: r.method for r in records}
    tables = task_tables(table, methods_of, names) if table is not None else []
    for dataset in sorted({split_dataset_name(r.dataset)[0] for r in records} & real):
        if table is not None and not table.reference_sources:
            gaps.add(f"No published reference numbers match {dataset} at the stored code lengths.")
    present_tasks = {t for r in records for t in r.task_metrics()}
    ordered_tasks = [t for t in TASK_NAMES if t in present_tasks]
    ordered_tasks += sorted(present_tasks - set(ordered_tasks))

    def by(field_name: str) -> set:
        return {getattr(r, field_name) for r in records}

    return Site(
        title=options.title,
        store=store,
        metric=names.metric(options.metric),
        version=__version__,
        energy_formula=energy.formula(),
        command=options.command,
        runs_total=len(records),
        latest=max((r.created_at for r in records), default=""),
        filters=[
            ("dataset", "Dataset", [(d, names.dataset(d)) for d in sorted(by("dataset"))]),
            ("bits", "Code length", [(str(b), str(b)) for b in sorted(by("bits"))]),
            ("task", "Task", [(t, names.task(t)) for t in ordered_tasks]),
            ("method", "Method", [(m, names.method(m)) for m in sorted(by("method"))]),
        ],
        tasks=[(t, names.task(t)) for t in ordered_tasks],
        display=_display(records, labels, names),
        tables=tables,
        table_notes=table.notes() if table is not None else [],
        figures=_figures(records, labels, points, options, energy) if records else [],
        efficiency=[(p, efficiency_cells(p)) for p in points],
        efficiency_headers=EFFICIENCY_HEADERS,
        runs=runs,
        run_tasks=ordered_tasks,
        environments=envs,
        failures=_failure_views(failures),
        missing=gaps.lines,
        overall=(
            overall_ranking(table, names, table.significance.alpha if table.significance else 0.05)
            if table is not None
            else None
        ),
    )


def render_site(site: Site) -> str:
    """The page: the template with its stylesheet and script inlined."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hashbench.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    assets = {name: env.loader.get_source(env, f"report.{name}")[0] for name in ("css", "js")}
    return env.get_template(TEMPLATE).render(site=site, **assets)


def write_site(html: str, out_dir: Path) -> Path:
    """Write `out_dir/index.html` (under a temporary name, then renamed into place)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".index.", suffix=".html", dir=out_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(html)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would: readable by others
            target = out_dir / "index.html"
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise InputError(
            f"--out {out_dir}: cannot write the report: {exc.strerror or exc}"
        ) from None
    return target
