"""The generic layout's manifest, `<dataset folder>/hashbench.json`: reading and checking it.

`hashbench data prepare` writes it; dataset plugins read it. It names one `.npz` / `.h5` file of
arrays (`file`) and, for raw data, a JSON-lines file of image paths and texts (`raw.items`); see
docs/datasets.md. Those files must lie inside the dataset's folder: a manifest, perhaps from a
downloaded archive, never makes hashbench read a file elsewhere (`raw.image_dir`, the folder of
the user's own images, may be anywhere).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hashbench.errors import InputError

MANIFEST = "hashbench.json"
MANIFEST_FORMAT = "hashbench-dataset"


def read_manifest(path: Path) -> dict:
    """The manifest at `path` as a dict, checked to be one of ours."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path}: key 'format' must be \"{MANIFEST_FORMAT}\"")
    return manifest


def inside_folder(manifest_path: Path, key: str, name: str) -> Path:
    """`name` (the manifest's value of `key`) as a path inside the manifest's folder.

    Absolute paths and paths that climb out with `..` are refused (checked on the path as
    written: links inside the folder are the user's own choice).
    """
    folder = manifest_path.parent
    climbed = os.path.normpath(name)
    if Path(name).is_absolute() or climbed == ".." or climbed.startswith(".." + os.sep):
        raise InputError(
            f"{manifest_path}: key '{key}' names {name!r}, outside the dataset folder {folder}; "
            "give a path relative to that folder (move or link the file into it)"
        )
    return folder / name


def arrays_file(manifest_path: Path, manifest: dict) -> Path:
    """The existing `.npz` / `.h5` file the manifest's `file` names, inside its folder."""
    data_file = manifest.get("file")
    if not isinstance(data_file, str):
        raise InputError(
            f"{manifest_path}: key 'file' is missing (the .npz or .h5 file, relative)"
        )
    arrays_path = inside_folder(manifest_path, "file", data_file).resolve()
    if not arrays_path.is_file():
        raise InputError(f"{manifest_path}: key 'file' names {arrays_path}, which does not exist")
    return arrays_path


def manifest_keys(manifest: dict, path: Path, where: str, need_features: bool) -> dict[str, str]:
    """The array names of `arrays` or of split `where`: image / text / labels."""
    keys = manifest.get(where) if where == "arrays" else manifest["splits"].get(where)
    if not isinstance(keys, dict):
        raise InputError(f"{path}: key '{where}' must map image/text/labels to array names")
    wanted = ("image", "text", "labels") if need_features else ("labels",)
    for name in wanted:
        if not isinstance(keys.get(name), str):
            raise InputError(f"{path}: key '{where}.{name}' is missing (the array's name)")
    return keys


def read_raw_items(manifest_path: Path, raw: dict) -> tuple[list[Path], list[str]]:
    """Image paths and texts of a manifest's `raw` section (a JSON-lines file of items)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), str):
        raise InputError(f"{manifest_path}: key 'raw.items' must name a JSON-lines file")
    items_path = inside_folder(manifest_path, "raw.items", raw["items"])
    image_dir = Path(raw.get("image_dir", "."))
    if not image_dir.is_absolute():
        image_dir = manifest_path.parent / image_dir
    images, texts = [], []
    try:
        lines = items_path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(
            f"{manifest_path}: key 'raw.items': cannot read {items_path} ({exc})"
        ) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            images.append(image_dir / item["image"])
            texts.append(str(item["text"]))
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f"{items_path}: line {number} must be JSON with keys 'image' and 'text'"
            ) from None
    missing = [p for p in images if not p.is_file()]
    if missing:
        raise InputError(f"{items_path}: {len(missing)} image(s) not found, first: {missing[0]}")
    return images, texts
