"""How fast `hashbench --help` answers (a script, not a test).

Each command runs in a fresh subprocess, the way a user types it; timed, best and median of
--repeat runs, all in this run:

  (a) python -c pass                          the interpreter's own start (the baseline)
  (b) python -c "import torch"                what one heavy import costs (for scale)
  (c) hashbench --help                        through the installed entry point
  (d) hashbench run --help                    the command with the most options

and prints (c) and (d) in seconds, as ratios to (a), and the CPU time (user + system) of each,
with the modules the help path imported that it should not (torch, numpy, matplotlib, the
runner, plugins: none is the goal). Goal: --help under 0.5 s on the project's 2-core machine;
the load average says how busy the machine was.

    python benchmarks/help_time.py
    python benchmarks/help_time.py --repeat 9
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_S = 0.5
HEAVY = ("torch", "numpy", "matplotlib", "scipy", "hashbench.runner.execute", "hashbench_plugins")


def _timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run of `argv`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _measure(argv: list[str], repeat: int) -> dict[str, float]:
    _timed(argv)  # warm the file cache: every case gets the same chance
    runs = [_timed(argv) for _ in range(repeat)]
    walls = [w for w, _ in runs]
    return {
        "best": min(walls),
        "median": statistics.median(walls),
        "cpu": statistics.median(c for _, c in runs),
    }


def _heavy_imports(args: list[str]) -> list[str]:
    """Heavy modules imported while the CLI prints `args`' help (in a fresh interpreter)."""
    code = (
        "import sys\n"
        "from hashbench.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("HEAVY:"))
    return [m for m in line[len("HEAVY:") :].split(",") if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    exe = shutil.which("hashbench") or str(Path(sys.executable).parent / "hashbench")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "hashbench --help": [exe, "--help"],
        "hashbench run --help": [exe, "run", "--help"],
    }
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} cores; best / median of {args.repeat} runs")  # fmt: skip
    results = {name: _measure(argv, args.repeat) for name, argv in cases.items()}
    base = results["python -c pass"]["best"]
    print(f"{'case':28} {'best s':>8} {'median s':>9} {'cpu s':>7} {'x python':>9}")
    for name, r in results.items():
        print(
            f"{name:28} {r['best']:8.3f} {r['median']:9.3f} {r['cpu']:7.3f} "
            f"{r['best'] / base:9.1f}"
        )
    for name, argv in (("--help", ["--help"]), ("run --help", ["run", "--help"])):
        heavy = _heavy_imports(argv)
        print(f"heavy modules imported by `hashbench {name}`: {', '.join(heavy) or 'none'}")
    worst = max(results["hashbench --help"]["best"], results["hashbench run --help"]["best"])
    verdict = "meets" if worst <= GOAL_S else "misses"
    print(f"goal: under {GOAL_S} s -> {verdict} it ({worst:.3f} s for the slower of the two)")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
