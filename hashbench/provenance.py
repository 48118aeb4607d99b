"""Provenance recorded with every run: versions, git commit, interpreter, machine.

`host` says which machine ran it (its hostname and a short id derived from /etc/machine-id),
so that `hashbench merge` can tell a run redone on another machine from one redone on the same
one. None of it enters a run id.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path

import torch

_PACKAGES = ("hashbench", "torch", "numpy", "scipy", "faiss-cpu", "pluggy")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_state(folder: Path) -> dict[str, object]:
    """Commit and dirty flag of the checkout holding `folder`, if it is one."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def host_identity() -> dict[str, str | None]:
    """This machine: its hostname and a 16-hex-digit id hashed from its machine id (None where
    none is readable). Hashed with a hashbench-specific prefix, as systemd asks of programs
    that publish an id derived from the machine id (which is meant to stay private)."""
    machine_id = None
    for path in _MACHINE_ID_FILES:
        try:
            raw = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if raw:
            machine_id = hashlib.sha256(f"hashbench:{raw}".encode()).hexdigest()[:16]
            break
    return {"hostname": socket.gethostname() or None, "machine_id": machine_id}


def collect(device: torch.device | None = None) -> dict:
    """Everything needed to tell later where and with what a result was produced."""
    versions = {name: _version(name) for name in _PACKAGES}
    info: dict[str, object] = {
        "versions": versions,
        "git": _git_state(Path(__file__).resolve().parent),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device) if device is not None else None,
        "host": host_identity(),
    }
    if device is not None and device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
