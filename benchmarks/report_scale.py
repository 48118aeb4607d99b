"""Scale of `hashbench report` (a script, not a test): 2,000 stored runs, the report's time and
the page's responsiveness.

Fabricates a store of N runs (default 2,000: 5 datasets x 10 methods x 4 code lengths x 5 seeds
x 2 budgets) with realistic records: the standard metric set with P@K and PR curves for both
tasks, efficiency profiles shaped like the profiler's (per-layer ops, firing rates of spiking
layers, inference timing), provenance, and small codes files. Then, measured in this run:

  (a) `hashbench table` on the store, in a subprocess     the baseline: read + one table
  (b) `hashbench report` on the store, in a subprocess    the whole command, CLI start included
  (c) the page in headless Chromium with ?bench=1         time to a ready page (performance.now()
      at the end of the script's init, from navigation start), the slowest of sorting the
      largest table (the runs table) by each of its columns, and one filter change

and prints (b) against the 30 s goal and the ratio (b) / (a). Chromium is found on PATH
(`chromium`) or through HASHBENCH_CHROMIUM; without it (c) is skipped, saying so.

    python benchmarks/report_scale.py                     # 2,000 runs in a temporary folder
    python benchmarks/report_scale.py --runs 500 --keep /tmp/scale   # keep store and page
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hashbench.store import ResultStore, RunRecord

GOAL_S = 30.0
DATASETS = ("synth-mirflickr", "synth-nuswide", "synth-mscoco", "mirflickr", "mscoco")
# name: (spiking, base mAP, params at 128 bits, MACs per pair at 128 bits)
METHODS = {
    "lsh": (False, 0.55, 65_536, 65_536),
    "cca-itq": (False, 0.70, 131_200, 131_072),
    "ucmfh": (False, 0.72, 22_100_000, 22_024_192),
    "ucmfh-strict": (False, 0.66, 22_100_000, 22_024_192),
    "cirh-like": (False, 0.74, 3_400_000, 3_300_000),
    "ddss-like": (False, 0.75, 24_000_000, 23_500_000),
    "ddss-like-strict": (False, 0.69, 24_000_000, 23_500_000),
    "spikehash": (True, 0.73, 2_240_000, 1_048_576),
    "spikehash-strict": (True, 0.67, 2_240_000, 1_048_576),
    "spikinghash-xm": (True, 0.68, 1_600_000, 786_432),
}
BITS = (16, 32, 64, 128)
SEEDS = range(5)
BUDGETS = ("quick", "paper")


def _metrics(rng: np.random.Generator, base: float, bits: int) -> dict:
    out = {}
    for task in ("i2t", "t2i"):
        value = float(np.clip(base + 0.03 * np.log2(bits / 16) + rng.normal(0, 0.01), 0, 1))
        k = [1, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
        pk = sorted(np.clip(value + 0.2 - 0.04 * np.arange(len(k)), 0, 1), reverse=True)
        recall = np.linspace(0, 1, bits + 1) ** 2
        out[task] = {
            "map@50": value,
            "map@50:relevant_first": value + 0.02,
            "map@50:relevant_last": value - 0.02,
            "map@all": value - 0.1,
            "tie_aware_ap@all": value - 0.1,
            "acg@50": 1.2 * value,
            "ndcg@50": 0.4 * value,
            "precision@radius2": 0.3 * value,
            "curves": {
                "pk": {"k": k, "precision": [float(p) for p in pk]},
                "pr": {
                    "radius": list(range(bits + 1)),
                    "recall": [float(r) for r in recall],
                    "precision": [float(value + 0.3 * (1 - r)) for r in recall],
                    "pooled_recall": [float(r) for r in recall],
                    "pooled_precision": [None] + [float(value + 0.3 * (1 - r)) for r in recall[1:]],
                },
            },
        }
    return out


def _profile(rng: np.random.Generator, spiking: bool, params: int, macs: int, bits: int) -> dict:
    scale = bits / 128
    macs_item = macs * (0.6 + 0.4 * scale)
    sops_item = 2.2e6 * scale * (1 + 0.05 * rng.normal()) if spiking else 0.0
    layers = [
        {"path": f"net.layer{i}", "module_type": "Linear", "macs": macs_item / 6 * 100,
         "sops": sops_item / 6 * 100, "flops": macs_item / 3 * 100, "norm_macs": 0.0}
        for i in range(6)
    ]  # fmt: skip
    firing_layers = (
        [
            {
                "path": f"net.lif{i}",
                "module_type": "ParametricLIFNode",
                "neuron_steps": 409600,
                "rate": float(rng.uniform(0.1, 0.3)),
                "spikes": 80000.0,
            }
            for i in range(6)
        ]  # fmt: skip
        if spiking
        else []
    )
    latency = 1e-3 * (0.2 + macs_item / 2e6 + (sops_item / 1e6 if spiking else 0))
    energy_uj = (4.6 * macs_item + 0.9 * sops_item) * 1e-6
    return {
        "model": {
            "bits": bits,
            "items": 512,
            "params": {"total": int(params * (0.9 + 0.1 * scale)), "trainable": params},
            "ops": {"macs_per_item": macs_item, "sops_per_item": sops_item, "layers": layers},
            "firing": {
                "layers": firing_layers,
                "neuron_steps": 409600 * len(firing_layers),
                "overall": float(np.mean([f["rate"] for f in firing_layers])) if spiking else None,
            },
            "energy": {"total_uj": energy_uj, "macs": macs_item, "sops": sops_item},
        },
        "inference": {
            "timing": {
                "items_per_call": 512,
                "latency_median_s": latency * 512 / 100,
                "latencies_s": [latency * 512 / 100] * 5,
            }
        },
        "run": {"train_s": float(rng.uniform(1, 60)), "encode_items_per_s": 1e4 / (1 + latency)},
    }


def fabricate(path: Path, runs: int) -> int:
    """Store up to `runs` fabricated runs at `path`; returns how many were stored."""
    rng = np.random.default_rng(0)
    grid = itertools.product(BUDGETS, DATASETS, METHODS, BITS, SEEDS)
    arrays = {"codes.query.image": np.zeros((8, 16), np.uint8), "shape": np.array([128, 8])}
    provenance = {
        "cpu": "AMD EPYC", "cpu_count": 2, "device": "cpu", "python": "3.11.7",
        "git": {"commit": "2b3ed3c21101e2991fa3d9b159d0a90469a8c18c", "dirty": False},
        "platform": "Linux-x86_64", "supervision": "unsupervised",
        "versions": {"hashbench": "0.1.0", "torch": "2.14.1", "numpy": "2.4.6"},
    }  # fmt: skip
    stored = 0
    with ResultStore(path) as store:
        for budget, dataset, method, bits, seed in itertools.islice(grid, runs):
            spiking, base, params, macs = METHODS[method]
            record = RunRecord(
                run_id=f"{stored:016x}",
                method=method,
                dataset=dataset,
                dataset_fingerprint=f"{hash(dataset) & 0xFFFFFFFF:032x}",
                bits=bits,
                seed=seed,
                budget=budget,
                params={"epochs": 8 if budget == "quick" else 50, "lr": 0.003, "hidden": 512},
                pair_fused=method in ("ucmfh", "ddss-like", "spikehash"),
                metrics=_metrics(rng, base + (0.02 if budget == "paper" else 0), bits),
                timings={"train_s": float(rng.uniform(1, 60)), "total_s": 70.0},
                provenance=provenance,
                profile=_profile(rng, spiking, params * bits // 128, macs * bits // 128, bits),
            )
            store.save(record, {**arrays, "shape": np.array([bits, 8])})
            stored += 1
    return stored


def _hashbench() -> list[str]:
    exe = Path(sys.executable).with_name("hashbench")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "hashbench"]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def browser_timings(page: Path, profile_dir: Path) -> dict[str, str] | None:
    browser = os.environ.get("HASHBENCH_CHROMIUM") or shutil.which("chromium")
    if not browser:
        return None
    done = subprocess.run(
        [
            browser,
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={profile_dir}",
            "--window-size=1400,2000",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.resolve().as_uri() + "?bench=1",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
    )
    body = re.search(r"<body([^>]*)>", done.stdout)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body[1])) if body else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--keep", type=Path, default=None, help="Folder to keep the store in.")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="hashbench-report-scale-"))
    store = root / "hashbench.sqlite"
    if not store.exists():
        start = time.perf_counter()
        n = fabricate(store, args.runs)
        print(f"fabricated {n} runs in {time.perf_counter() - start:.1f} s at {store}")
    table_s = timed([*_hashbench(), "table", "--store", str(store)])
    report_s = timed([*_hashbench(), "report", "--store", str(store), "--out", str(root / "site")])
    page = root / "site" / "index.html"
    print(f"(a) hashbench table:  {table_s:6.2f} s")
    verdict = "met" if report_s < GOAL_S else "MISSED"
    print(
        f"(b) hashbench report: {report_s:6.2f} s  (goal {GOAL_S:.0f} s: {verdict}); "
        f"(b)/(a) = {report_s / table_s:.1f}"
    )
    print(f"    page: {page.stat().st_size / 1e6:.1f} MB")
    found = browser_timings(page, root / "chromium-profile")
    if found is None:
        print("(c) skipped: no chromium on PATH (or HASHBENCH_CHROMIUM)")
    else:
        print(
            f"(c) page ready after {found.get('data-ready-ms', '?')} ms (script init "
            f"{found.get('data-init-ms', '?')} ms); sort of the {found.get('data-bench-rows')}"
            f"-row runs table: slowest column {found.get('data-bench-sort-ms')} ms; "
            f"filter change {found.get('data-bench-filter-ms')} ms"
        )
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
