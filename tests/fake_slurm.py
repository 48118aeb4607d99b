"""Stand-ins for SLURM's `sbatch`, `srun` and `sacct` on one machine, so that the `slurm`
executor's SLURM path (submitit's sbatch script, job ids, the job environment, sacct states)
runs in tests without a cluster.

`sbatch FILE` runs FILE with bash in the background as job N (SLURM_JOB_ID and the other
variables a one-task job has) and prints "Submitted batch job N"; `srun OPTIONS COMMAND` runs
COMMAND with its --output/--error files; `sacct ... -j N` reports RUNNING while the job's
process lives, then COMPLETED, or FAILED when it exited non-zero. Queues, partitions, limits
and requeueing are not imitated.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

SBATCH = r"""
import os, subprocess, sys
from pathlib import Path
state = Path(os.environ["FAKE_SLURM_STATE"])
state.mkdir(parents=True, exist_ok=True)
counter = state / "next"
job = int(counter.read_text()) if counter.exists() else 1000
counter.write_text(str(job + 1))
env = dict(os.environ, SLURM_JOB_ID=str(job), SLURM_NTASKS="1", SLURM_JOB_NUM_NODES="1",
           SLURM_NODEID="0", SLURM_PROCID="0", SLURM_LOCALID="0", SLURM_JOB_NODELIST="fake")
rc = state / f"{job}.rc"
script = f'bash {sys.argv[-1]}; echo $? > {rc}.tmp; mv {rc}.tmp {rc}'
process = subprocess.Popen(["bash", "-c", script], env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
(state / f"{job}.pid").write_text(str(process.pid))
print(f"Submitted batch job {job}")
"""

SRUN = r"""
import os, sys
args = sys.argv[1:]
files = {}
while args and args[0].startswith("--"):
    option = args.pop(0)
    if option in ("--output", "--error"):
        files[option] = args.pop(0).replace("%j", os.environ["SLURM_JOB_ID"]).replace("%t", "0")
for option, fd in (("--output", 1), ("--error", 2)):
    if option in files:
        os.dup2(os.open(files[option], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), fd)
os.execvp(args[0], args)
"""

SACCT = r"""
import os, sys
from pathlib import Path
state = Path(os.environ["FAKE_SLURM_STATE"])
jobs = [sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "-j"]
print("JobID|State|NodeList")
for job in jobs:
    rc = state / f"{job}.rc"
    if not (state / f"{job}.pid").exists():
        continue
    if rc.exists():
        print(f"{job}|{'COMPLETED' if rc.read_text().strip() == '0' else 'FAILED'}|fake")
    else:
        print(f"{job}|RUNNING|fake")
"""


def install(folder: Path) -> tuple[Path, Path]:
    """Writes the three commands into `folder`/bin; returns (that folder, for PATH; the state
    folder, for $FAKE_SLURM_STATE)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in (("sbatch", SBATCH), ("srun", SRUN), ("sacct", SACCT)):
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{body.lstrip()}")
        path.chmod(0o755)
    state = folder / "state"
    state.mkdir(exist_ok=True)
    # job ids never seen before in this process: submitit's sacct watcher is shared by all jobs
    (state / "next").write_text(str(int(time.time() * 1000) % 10**9))
    return bin_dir, state
