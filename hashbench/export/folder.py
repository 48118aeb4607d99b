"""The export folder, written atomically: everything goes into a staging folder beside it,
which is renamed into place once complete. An error removes the staging folder; a killed
process may leave it (a dot-name beside OUT, safe to delete), never a half-written OUT.

`--force` replaces only an earlier export (a folder with an export `manifest.json`), never a
folder of other files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hashbench.errors import InputError
from hashbench.export.reader import MANIFEST


def check_target(out: Path, force: bool) -> None:
    """Refuse an OUT that is a file, or a non-empty folder without --force (and with --force,
    one that is not an earlier export)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"OUT {out} is a file; pass a folder (new, or empty) to export into")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise InputError(
            f"OUT {out} is not empty; pass --force to replace an earlier export there, or "
            "choose a new folder"
        )
    if not _is_export(out):
        raise InputError(
            f"OUT {out} holds files that are not a hashbench export (no export {MANIFEST}); "
            "--force replaces only an earlier export: choose a new folder"
        )


def _is_export(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("kind") == "hashbench-export"


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A staging folder beside `out`; when the block ends without error it becomes `out`
    (an earlier `out` is moved aside first and removed after), otherwise it is removed."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    except OSError as exc:
        raise InputError(
            f"OUT {out}: cannot create a folder there: {exc.strerror or exc}"
        ) from None
    try:
        yield staging
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp's 0o700, as a plain mkdir would be
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _replace(staging: Path, out: Path) -> None:
    """Rename `staging` to `out`; an existing `out` is renamed aside first (and back if the
    second rename fails), then removed."""
    aside = None
    if out.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, aside)  # onto the empty folder mkdtemp made
    try:
        os.replace(staging, out)
    except OSError as exc:
        if aside is not None:
            os.replace(aside, out)
        raise InputError(f"OUT {out}: cannot write the export: {exc.strerror or exc}") from None
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
