"""The DVS datasets' files: what each name means (`DVSInfo`, `DVS_DATASETS`: spikingjelly's
class, folder names, class folders, split, how to get the data) and reading them through
spikingjelly without ever downloading: `locate` finds the earliest stage present (integrated
frames, converted events or verified archives), `spikingjelly_samples` lists the frame files with
their class and split, `pooled_frames` reads and sum-pools the frames. `dvs.py` turns these into
the benchmark's dataset (cache, protocol split, metadata); its docstring describes the layout.
"""

from __future__ import annotations

import functools
import hashlib
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashbench.data.unimodal_common import by_class
from hashbench.errors import InputError

from .cifar import CLASS_NAMES as CIFAR10_CLASSES

MODALITY = "events"
FRAMES = 16
SIZE = 32
SENSOR = 128
RETRIEVAL_DEPTH = 100
STAGES = ("integrated frames", "events_np", "download")


@dataclass(frozen=True)
class DVSInfo:
    """What a DVS dataset name means: spikingjelly's class, folders and protocol."""

    name: str
    display: str
    spikingjelly_class: str
    folders: tuple[str, ...]  # tried under the data root, then the root itself
    class_names: tuple[str, ...]
    class_folders: tuple[str, ...]  # spikingjelly's class folder names, in label order
    official_split: bool  # spikingjelly's train/test folders; else a per-class ratio split
    train_ratio: float
    protocol_sizes: Mapping[str, int]
    get_data: str
    label_groups: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    frames: int = FRAMES
    size: int = SIZE
    sensor: int = SENSOR
    retrieval_depth: int = RETRIEVAL_DEPTH

    @property
    def frames_dir(self) -> str:
        return f"frames_number_{self.frames}_split_by_number"


GESTURE_CLASSES = (
    "hand-clap",
    "right-hand-wave",
    "left-hand-wave",
    "right-arm-clockwise",
    "right-arm-counterclockwise",
    "left-arm-clockwise",
    "left-arm-counterclockwise",
    "arm-roll",
    "air-drums",
    "air-guitar",
    "other",
)

DVS_DATASETS = {
    "dvs128-gesture": DVSInfo(
        name="dvs128-gesture",
        display="DVS128 Gesture",
        spikingjelly_class="DVS128Gesture",
        folders=("dvs128-gesture", "DVS128Gesture", "dvs_gesture"),
        class_names=GESTURE_CLASSES,
        class_folders=tuple(str(c) for c in range(11)),
        official_split=True,
        train_ratio=0.0,
        protocol_sizes={"query": 288, "retrieval": 1176, "train": 1176},
        get_data=(
            "DVS128 Gesture cannot be downloaded by a script (IBM's licence): download "
            "DvsGesture.tar.gz, gesture_mapping.csv, LICENSE.txt and README.txt from IBM "
            "(https://research.ibm.com/interactive/dvsgesture/) into {folder}/download/; "
            "spikingjelly checks their MD5 sums, extracts and converts them there."
        ),
        # clockwise and counter-clockwise arm rotations are each other's time reversal
        label_groups={"right-arm cw/ccw": (3, 4), "left-arm cw/ccw": (5, 6)},
    ),
    "cifar10-dvs": DVSInfo(
        name="cifar10-dvs",
        display="CIFAR10-DVS",
        spikingjelly_class="CIFAR10DVS",
        folders=("cifar10-dvs", "CIFAR10DVS", "cifar10_dvs"),
        class_names=CIFAR10_CLASSES,
        class_folders=CIFAR10_CLASSES,
        official_split=False,
        train_ratio=0.9,
        protocol_sizes={"query": 1000, "retrieval": 9000, "train": 9000},
        get_data=(
            "Download the ten class archives airplane.zip ... truck.zip of CIFAR10-DVS from "
            "figshare (the URLs and MD5 sums are in spikingjelly's "
            "CIFAR10DVS.resource_url_md5()) into {folder}/download/; spikingjelly checks, "
            "extracts and converts them there."
        ),
    ),
}


def _resources(info: DVSInfo) -> list[tuple[str, str, str]]:
    return list(_spikingjelly_class(info.name).resource_url_md5())


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_downloads(info: DVSInfo, download: Path) -> None:
    """Every archive spikingjelly needs is in `download` with its MD5 sum, or InputError."""
    resources = _resources(info)
    missing = [name for name, _, _ in resources if not (download / name).is_file()]
    if missing:
        raise InputError(
            f"dataset '{info.name}': {download} lacks {', '.join(missing)}. "
            + info.get_data.format(folder=download.parent)
            + " hashbench never downloads."
        )
    for file_name, _, md5 in resources:
        path = download / file_name
        if _md5(path) != md5:
            raise InputError(
                f"dataset '{info.name}': {path} is damaged or not the original (MD5 differs "
                f"from {md5}); download it again. hashbench never downloads."
            )


def locate(info: DVSInfo, root: Path) -> tuple[Path, str]:
    """The folder and the earliest-needed stage found there, checked without side effects."""
    looked = []
    candidates = [root / f for f in info.folders] + [root]
    names = [name for name, _, _ in _resources(info)]
    for directory in candidates:
        frames, events, download = (
            directory / info.frames_dir,
            directory / "events_np",
            directory / "download",
        )
        for stage in (frames, events):
            marker = stage.with_name(stage.name + ".building")
            if marker.exists():
                raise InputError(
                    f"dataset '{info.name}': a spikingjelly preparation in {directory} did not "
                    f"finish (marker {marker}; or another process is preparing it now). If none "
                    f"is, remove {marker} and the half-built folder {stage}, then run again"
                )
        if frames.is_dir():
            return directory, STAGES[0]
        if events.is_dir():
            return directory, STAGES[1]
        if download.is_dir() and any((download / n).exists() for n in names):
            verify_downloads(info, download)
            return directory, STAGES[2]
        looked.append(f"  integrated frames: {frames}/")
        looked.append(f"  converted events:  {events}/")
        looked.append(f"  original archives: {download}/{{{', '.join(names)}}}")
    raise InputError(
        f"dataset '{info.name}' ({info.display}): no files found under {root}.\n"
        "Looked for spikingjelly's layout (any one of these stages is enough):\n"
        + "\n".join(looked)
        + "\n"
        + info.get_data.format(folder=root / info.folders[0])
        + " hashbench never downloads."
    )


@functools.cache
def _spikingjelly_class(name: str) -> type:
    """spikingjelly's dataset class with its download hooks replaced by errors."""
    import spikingjelly.datasets as sj

    info = DVS_DATASETS[name]
    base = getattr(sj, info.spikingjelly_class)

    class Offline(base):  # type: ignore[misc, valid-type]
        @classmethod
        def downloadable(cls) -> bool:
            return False

        @classmethod
        def _download_all_files(cls, download_root: Path) -> None:
            raise InputError(
                f"dataset '{info.name}': spikingjelly would download into {download_root}; "
                "hashbench never downloads. " + info.get_data.format(folder=download_root.parent)
            )

        @classmethod
        def _check_downloaded_files(cls, download_root: Path) -> None:
            verify_downloads(info, Path(download_root))

        def prepare_raw_dataset(self) -> None:
            if (self.cfg.root / info.frames_dir).is_dir():
                return  # frames already integrated: the raw stages are not needed
            super().prepare_raw_dataset()

        def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
            missing = [c for c in info.class_folders if not (Path(directory) / c).is_dir()]
            if missing:
                raise InputError(
                    f"dataset '{info.name}': {directory} lacks the class folder(s) "
                    f"{', '.join(missing)}"
                )
            return list(info.class_folders), {c: i for i, c in enumerate(info.class_folders)}

    Offline.__name__ = Offline.__qualname__ = f"Offline{info.spikingjelly_class}"
    return Offline


def spikingjelly_samples(info: DVSInfo, directory: Path) -> tuple[list, Callable]:
    """[(frame file, class id, is_test)] from spikingjelly (integrating events if needed)."""
    cls = _spikingjelly_class(info.name)
    kwargs = {"data_type": "frame", "frames_number": info.frames, "split_by": "number"}
    try:
        if info.official_split:
            parts = [(cls(str(directory), train=t, **kwargs), not t) for t in (True, False)]
            samples = [(p, y, test) for ds, test in parts for p, y in ds.samples]
            return samples, parts[0][0].loader
        dataset = cls(str(directory), **kwargs)
    except InputError:
        raise
    except PermissionError as exc:
        raise InputError(
            f"dataset '{info.name}': spikingjelly writes its integrated frames into {directory}, "
            f"which is not writable ({exc}); make it writable once, or copy the data elsewhere"
        ) from None
    except (OSError, RuntimeError, ValueError, NotImplementedError, EOFError) as exc:
        raise InputError(
            f"dataset '{info.name}': spikingjelly could not prepare {directory} "
            f"({type(exc).__name__}: {exc})"
        ) from None
    targets = np.asarray([y for _, y in dataset.samples], np.int64)
    test = np.zeros(targets.size, bool)
    for members in by_class(targets, len(info.class_names)):
        test[members[math.ceil(members.size * info.train_ratio) :]] = True
    samples = [(p, y, bool(t)) for (p, y), t in zip(dataset.samples, test, strict=True)]
    return samples, dataset.loader


def pooled_frames(
    info: DVSInfo, paths: list[str], loader: Callable, frames_dir: Path
) -> np.ndarray:
    """(n, T * 2 * size * size) event counts, sum-pooled from the sensor resolution."""
    factor = info.sensor // info.size
    expected = (info.frames, 2, info.sensor, info.sensor)
    out = np.zeros((len(paths), info.frames * 2 * info.size * info.size), np.uint16)
    for i, path in enumerate(paths):
        try:
            frames = np.asarray(loader(path), dtype=np.float64)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(
                f"{path}: cannot read spikingjelly's integrated frames ({type(exc).__name__}: "
                f"{exc}); delete {frames_dir} and spikingjelly rebuilds it from the events"
            ) from None
        if frames.shape != expected:
            raise InputError(f"{path}: frames have shape {frames.shape}; expected {expected}")
        shape = (info.frames, 2, info.size, factor, info.size, factor)
        pooled = frames.reshape(shape).sum(axis=(3, 5))
        if (pooled < 0).any() or not np.array_equal(pooled, np.floor(pooled)):
            raise InputError(f"{path}: frames must hold event counts (integers >= 0)")
        top = pooled.max(initial=0)
        if top > np.iinfo(out.dtype).max:
            if top > np.iinfo(np.uint32).max:
                raise InputError(f"{path}: event counts up to {top:g} are implausibly large")
            out = out.astype(np.uint32)
        out[i] = pooled.reshape(-1)
    return out
