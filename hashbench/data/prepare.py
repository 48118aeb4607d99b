"""`hashbench data prepare`: raw images + captions/tags + labels -> the generic layout.

Inputs understood (detected from what is given):

- captions: a COCO captions JSON (`images` + `annotations` with `caption`; an image's captions
  are joined), a folder of MIRFlickr tag files (`tags<N>.txt` for image `im<N>.jpg`), or a text
  file with one item per line, `<image key> <text...>` (NUS-WIDE `All_Tags.txt` style).
- labels: a COCO instances JSON (categories of an image's annotations), a folder of
  `<label>.txt` files listing the image keys carrying that label (MIRFlickr `annotations/`;
  `*_r1.txt` and README files are skipped), or a text file `<image key> 0 1 0 ...` whose
  optional first line `# name name ...` names the label columns.

An image key matches an image file by relative path, file name, stem, or the number at the end
of the stem (`1234` matches `im1234.jpg`). Items without text or without any label are dropped
(as in the reference data). The output is `<root>/<name>/hashbench.json` with `items.jsonl`
(image path and text of each item) and `data.npz` (labels, plus features when an encoder is
given).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench.data.files import STANDARD_QUERY, STANDARD_TRAIN
from hashbench.data.manifest import MANIFEST, MANIFEST_FORMAT
from hashbench.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_TRAILING_NUMBER = re.compile(r"(\d+)$")


class ImageIndex:
    """Finds image files under a folder by relative path, name, stem or trailing number."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise InputError(f"--images {root}: not a directory")
        self.root = root
        self.by_key: dict[str, Path] = {}
        ambiguous: set[str] = set()
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            keys = {str(path.relative_to(root)), path.name, path.stem}
            match = _TRAILING_NUMBER.search(path.stem)
            if match:
                keys.add(str(int(match.group(1))))
            for key in keys:
                if key in self.by_key and self.by_key[key] != path:
                    ambiguous.add(key)
                self.by_key.setdefault(key, path)
        for key in ambiguous:
            del self.by_key[key]
        if not self.by_key:
            raise InputError(f"--images {root}: no image files ({', '.join(IMAGE_SUFFIXES)})")

    def find(self, key: str) -> Path | None:
        key = key.strip()
        if key in self.by_key:
            return self.by_key[key]
        stem = Path(key).stem
        if stem in self.by_key:
            return self.by_key[stem]
        match = _TRAILING_NUMBER.search(stem)
        return self.by_key.get(str(int(match.group(1)))) if match else None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def _coco_file_names(path: Path, data: dict) -> dict[int, str]:
    images = data.get("images")
    if not isinstance(images, list):
        raise InputError(f"{path}: missing key 'images' (a COCO annotation file)")
    return {int(img["id"]): str(img["file_name"]) for img in images}


def read_captions(path: Path, index: ImageIndex) -> dict[Path, str]:
    """Image file -> text, from any of the caption/tag formats."""
    texts: dict[Path, list[str]] = defaultdict(list)
    unmatched = 0
    if path.is_dir():  # MIRFlickr tags<N>.txt
        for tag_file in sorted(path.glob("tags*.txt")):
            image = index.find(tag_file.stem[len("tags") :])
            if image is None:
                unmatched += 1
                continue
            tags = tag_file.read_text(encoding="utf-8", errors="replace").split()
            texts[image].extend(tags)
        if not texts and unmatched == 0:
            raise InputError(f"--captions {path}: no tags<N>.txt files in this folder")
    elif path.suffix.lower() == ".json":
        data = _read_json(path)
        names = _coco_file_names(path, data)
        for ann in data.get("annotations", []):
            if "caption" not in ann:
                raise InputError(f"{path}: annotations lack key 'caption' (a COCO captions file?)")
            image = index.find(names.get(int(ann["image_id"]), ""))
            if image is None:
                unmatched += 1
                continue
            texts[image].append(str(ann["caption"]).strip())
    elif path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, text = (
                line.strip().partition("\t") if "\t" in line else line.strip().partition(" ")
            )
            if not key:
                continue
            image = index.find(key)
            if image is None:
                unmatched += 1
                continue
            texts[image].append(text.strip())
    else:
        raise InputError(f"--captions {path}: no such file or folder")
    return {image: " ".join(t for t in parts if t) for image, parts in texts.items()}


def read_labels(path: Path, index: ImageIndex) -> tuple[dict[Path, set[int]], list[str]]:
    """Image file -> set of label columns, and the label names."""
    found: dict[Path, set[int]] = defaultdict(set)
    if path.is_dir():  # one file per label listing image keys
        files = sorted(
            p
            for p in path.glob("*.txt")
            if not p.stem.endswith("_r1") and p.stem.lower() != "readme"
        )
        if not files:
            raise InputError(f"--labels {path}: no <label>.txt files in this folder")
        names = [p.stem for p in files]
        for column, label_file in enumerate(files):
            for key in label_file.read_text(encoding="utf-8", errors="replace").split():
                image = index.find(key)
                if image is not None:
                    found[image].add(column)
        return found, names
    if path.suffix.lower() == ".json":
        data = _read_json(path)
        names_by_id = _coco_file_names(path, data)
        categories = data.get("categories")
        if not isinstance(categories, list):
            raise InputError(f"{path}: missing key 'categories' (a COCO instances file?)")
        ids = sorted(int(c["id"]) for c in categories)
        column = {cid: i for i, cid in enumerate(ids)}
        label_names = {int(c["id"]): str(c.get("name", c["id"])) for c in categories}
        for ann in data.get("annotations", []):
            if "category_id" not in ann:
                raise InputError(f"{path}: annotations lack key 'category_id'")
            image = index.find(names_by_id.get(int(ann["image_id"]), ""))
            if image is not None:
                found[image].add(column[int(ann["category_id"])])
        return found, [label_names[i] for i in ids]
    if not path.is_file():
        raise InputError(f"--labels {path}: no such file or folder")
    lines = path.read_text(encoding="utf-8").splitlines()
    names: list[str] = []
    if lines and lines[0].startswith("#"):
        names = lines[0].lstrip("#").split()
        lines = lines[1:]
    width = None
    for number, line in enumerate(lines, 1 + bool(names)):
        parts = line.split()
        if not parts:
            continue
        try:
            values = [int(v) for v in parts[1:]]
        except ValueError:
            raise InputError(f"{path}: line {number}: expected '<image key> 0 1 0 ...'") from None
        if width is None:
            width = len(values)
        if len(values) != width or any(v not in (0, 1) for v in values):
            raise InputError(f"{path}: line {number}: expected {width} values, each 0 or 1")
        image = index.find(parts[0])
        if image is not None:
            found[image] = {i for i, v in enumerate(values) if v}
    width = width or 0
    if names and len(names) != width:
        raise InputError(f"{path}: the header names {len(names)} labels, rows have {width}")
    return found, names or [f"label{c:02d}" for c in range(width)]


@dataclass
class PrepareResult:
    directory: Path
    items: int
    dropped_no_text: int
    dropped_no_label: int
    num_labels: int
    encoded: bool


def prepare(
    name: str,
    root: Path,
    images: Path,
    captions: Path,
    labels: Path,
    *,
    encoder: object | None = None,
    num_query: int = STANDARD_QUERY,
    num_train: int = STANDARD_TRAIN,
    overwrite: bool = False,
) -> PrepareResult:
    """Write `<root>/<name>/` in the generic layout from raw files."""
    index = ImageIndex(images)
    texts = read_captions(captions, index)
    label_sets, label_names = read_labels(labels, index)
    all_images = sorted(set(index.by_key.values()))
    kept = [p for p in all_images if texts.get(p) and label_sets.get(p)]
    no_text = sum(1 for p in all_images if not texts.get(p))
    no_label = sum(1 for p in all_images if texts.get(p) and not label_sets.get(p))
    if not kept:
        raise InputError(
            f"no image has both a text ({captions}) and a label ({labels}); check that the keys "
            f"in those files match the file names under {images}"
        )
    out = root / name
    manifest_path = out / MANIFEST
    if manifest_path.exists() and not overwrite:
        raise InputError(f"{manifest_path} exists; pass --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)
    label_matrix = np.zeros((len(kept), len(label_names)), dtype=np.uint8)
    for row, image in enumerate(kept):
        label_matrix[row, sorted(label_sets[image])] = 1
    item_texts = [texts[p] for p in kept]
    with open(out / "items.jsonl", "w", encoding="utf-8") as fh:
        for image, text in zip(kept, item_texts, strict=True):
            fh.write(json.dumps({"image": str(image.relative_to(images)), "text": text}) + "\n")
    arrays = {"labels": label_matrix}
    manifest: dict = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "file": "data.npz",
        "arrays": {"labels": "labels"},
        "label_names": label_names,
        "split": {"query": num_query, "train": num_train},
        "raw": {"items": "items.jsonl", "image_dir": str(images.resolve())},
    }
    if encoder is not None:
        arrays["image"] = encoder.encode("image", kept)
        arrays["text"] = encoder.encode("text", item_texts)
        manifest["arrays"].update(image="image", text="text")
        manifest["encoder"] = getattr(encoder, "identity", type(encoder).__name__)
    np.savez(out / "data.npz", **arrays)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return PrepareResult(out, len(kept), no_text, no_label, len(label_names), encoder is not None)
