"""synth-events: a generated event-stream dataset for unimodal (event) retrieval.

Each item is an event stream integrated into T frames of 2 polarities (ON, OFF) on an H x W
grid, stored flattened (the data model's 2-D float32 features) with the per-item shape
(T, 2, H, W) declared in the dataset's meta. Labels are one-hot over 8 classes, arranged as
four *temporally mirrored pairs*:

    expand / contract        a disk or square whose size grows / shrinks
    right / left             a disk or square translating right / left
    appear / vanish          a jittering disk or square that appears / disappears
    rotate-cw / rotate-ccw   a bar rotating clockwise / counter-clockwise

Generative model (deterministic from the seed):

1. A brightness video I_0..I_T (T + 1 frames, background 0) shows one object of contrast
   c * a, with c = +1 or -1 (bright or dark object, probability 1/2 each) and a ~ U(0.6, 1).
   Shape, position, size, speed and angles are drawn per item.
2. The second class of each pair is the exact time reversal of a video drawn from the first
   class's generator: J_t = I_{T-t}.
3. Events: frame t (1..T) has an ON event where I_t - I_{t-1} > 0.15 and an OFF event where it
   is < -0.15, plus independent noise events (probability `noise` per pixel, polarity, frame).

Reversing time swaps polarities (J_t - J_{t-1} = -(I_{T-t+1} - I_{T-t})), and the random
contrast sign makes a polarity swap invisible in distribution. So the *set* of event frames
of "contract" has exactly the distribution of that of "expand", and likewise for every pair: a
model that ignores the order of the frames (e.g. sums them) cannot separate the two classes
of a pair; only the frame order can. The four pairs differ in their spatial patterns, so
separating pairs from each other is easy and separating classes within a pair is the test.

Splits follow the cross-modal protocol's shape: a query set and a retrieval set, with the
training items drawn from the retrieval set (they stay in it); every split is balanced over
the classes. mAP is reported at R = `RETRIEVAL_DEPTH` (100).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from hashbench.data.array_cache import cache_folder, read_cache, write_cache
from hashbench.data.types import CrossModalDataset, DatasetOptions, Split, fingerprint_arrays
from hashbench.errors import InputError

# Bump when the generator's output changes, so stale caches are never read.
EVENTS_GENERATOR_VERSION = 1
MODALITY = "events"
RETRIEVAL_DEPTH = 100
CLASS_NAMES = (
    "expand",
    "contract",
    "right",
    "left",
    "appear",
    "vanish",
    "rotate-cw",
    "rotate-ccw",
)
# (first class, its time reversal): the temporally mirrored pairs
MIRRORED_PAIRS = {"expand/contract": (0, 1), "right/left": (2, 3), "appear/vanish": (4, 5)}
MIRRORED_PAIRS["rotate-cw/rotate-ccw"] = (6, 7)
EVENT_THRESHOLD = 0.15


@dataclass(frozen=True)
class EventsConfig:
    """Sizes of one generated event dataset (per class; every split is class-balanced)."""

    name: str = "synth-events"
    protocol: str = "events"
    frames: int = 8
    height: int = 32
    width: int = 32
    query_per_class: int = 50
    retrieval_per_class: int = 250
    train_per_class: int = 150
    noise: float = 0.005


EVENTS_CONFIGS = {"synth-events": EventsConfig()}


def _rng(config: EventsConfig, seed: int, stream: str) -> np.random.Generator:
    entropy = [seed, zlib.crc32(config.name.encode()), zlib.crc32(stream.encode())]
    return np.random.default_rng(entropy)


def _mask(dist: np.ndarray) -> np.ndarray:
    """Anti-aliased inside-mask from a signed distance (negative inside), about 1 px wide."""
    return np.clip(0.5 - dist, 0.0, 1.0)


def _shape_mask(kind: int, yy, xx, cy, cx, size) -> np.ndarray:
    """Disk (kind 0) or axis-aligned square (kind 1) of radius / half-side `size`."""
    if kind == 0:
        return _mask(np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) - size)
    return _mask(np.maximum(np.abs(yy - cy), np.abs(xx - cx)) - size)


def _video(cls: int, rng: np.random.Generator, config: EventsConfig) -> np.ndarray:
    """Brightness video (T + 1, H, W) of the first class of class `cls`'s pair."""
    n, h, w = config.frames + 1, config.height, config.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = np.linspace(0.0, 1.0, n)
    kind = int(rng.integers(2))
    frames = np.zeros((n, h, w))
    base = cls - cls % 2
    if base == 0:  # expand
        cy, cx = rng.uniform(0.35, 0.65, 2) * (h, w)
        r0, r1 = rng.uniform(2.5, 4.5), rng.uniform(9.0, 12.0)
        for i in range(n):
            frames[i] = _shape_mask(kind, yy, xx, cy, cx, r0 + (r1 - r0) * t[i])
    elif base == 2:  # right
        size = rng.uniform(3.5, 6.0)
        cy = rng.uniform(0.3, 0.7) * h
        dist = rng.uniform(0.35, 0.55) * w
        x0 = rng.uniform(size + 1, w - size - 1 - dist)
        for i in range(n):
            frames[i] = _shape_mask(kind, yy, xx, cy, x0 + dist * t[i], size)
    elif base == 4:  # appear (with a small random walk, so a present object makes events)
        size = rng.uniform(4.5, 8.0)
        cy, cx = rng.uniform(0.35, 0.65, 2) * (h, w)
        steps = np.cumsum(rng.uniform(-1.2, 1.2, (n, 2)), axis=0)
        onset = int(rng.integers(2, n - 2))
        for i in range(onset, n):
            frames[i] = _shape_mask(kind, yy, xx, cy + steps[i, 0], cx + steps[i, 1], size)
    else:  # rotate clockwise (in image coordinates, y down): a bar through a random centre
        cy, cx = rng.uniform(0.4, 0.6, 2) * (h, w)
        half_len, half_wid = rng.uniform(8.0, 12.0), rng.uniform(1.5, 2.5)
        a0, sweep = rng.uniform(0, np.pi), rng.uniform(0.4, 0.6) * np.pi
        for i in range(n):
            a = a0 + sweep * t[i]
            along = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
            across = -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
            frames[i] = _mask(np.maximum(np.abs(along) - half_len, np.abs(across) - half_wid))
    contrast = rng.choice((-1.0, 1.0)) * rng.uniform(0.6, 1.0)
    frames *= contrast
    return frames[::-1] if cls % 2 else frames  # the second class: the time reversal


def _events(video: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """(T, 2, H, W) uint8 ON/OFF event frames of a (T + 1, H, W) video, plus noise events."""
    diff = np.diff(video, axis=0)
    out = np.stack([diff > EVENT_THRESHOLD, diff < -EVENT_THRESHOLD], axis=1)
    out |= rng.random(out.shape) < noise
    return out.astype(np.uint8)


def _sample(config: EventsConfig, per_class: int, seed: int, stream: str) -> np.ndarray:
    """(per_class * classes, T, 2, H, W) uint8, classes in blocks of `per_class`."""
    rng = _rng(config, seed, stream)
    items = [
        _events(_video(c, rng, config), rng, config.noise)
        for c in range(len(CLASS_NAMES))
        for _ in range(per_class)
    ]
    return np.stack(items)


def split_sizes(config: EventsConfig, scale: float) -> tuple[int, int, int]:
    """(query, train, retrieval) items per class at `scale`."""
    if not 0 < scale <= 1:
        raise InputError(f"--scale must be in (0, 1], got {scale}")
    query = max(2, round(config.query_per_class * scale))
    train = max(4, round(config.train_per_class * scale))
    retrieval = max(train, round(config.retrieval_per_class * scale))
    return query, train, retrieval


def generate_arrays(config: EventsConfig, seed: int = 0, scale: float = 1.0) -> dict:
    """The compact arrays (uint8 events, labels, training indices) the dataset is built from."""
    n_query, n_train, n_retrieval = split_sizes(config, scale)
    classes = len(CLASS_NAMES)
    one_hot = np.eye(classes, dtype=np.uint8)
    pick = _rng(config, seed, "train")
    train_idx = [c * n_retrieval + pick.permutation(n_retrieval)[:n_train] for c in range(classes)]
    return {
        "query.events": _sample(config, n_query, seed, "query"),
        "query.labels": one_hot[np.repeat(np.arange(classes), n_query)],
        "retrieval.events": _sample(config, n_retrieval, seed, "retrieval"),
        "retrieval.labels": one_hot[np.repeat(np.arange(classes), n_retrieval)],
        "train.index": np.sort(np.concatenate(train_idx)),
    }


def generate(config: EventsConfig, seed: int = 0, scale: float = 1.0) -> CrossModalDataset:
    """Generate the dataset in memory (no cache)."""
    arrays = generate_arrays(config, seed, scale)
    return _assemble(config, arrays, fingerprint_arrays(arrays), seed, scale)


def _assemble(
    config: EventsConfig, arrays: dict[str, np.ndarray], fingerprint: str, seed: int, scale: float
) -> CrossModalDataset:
    def flat(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1).astype(np.float32)

    retrieval_x = flat(arrays["retrieval.events"])
    idx = arrays["train.index"]
    retrieval = Split({MODALITY: retrieval_x}, arrays["retrieval.labels"])
    train = Split({MODALITY: retrieval_x[idx]}, arrays["retrieval.labels"][idx])
    query = Split({MODALITY: flat(arrays["query.events"])}, arrays["query.labels"])
    shape = [config.frames, 2, config.height, config.width]
    return CrossModalDataset(
        name=config.name,
        protocol=config.protocol,
        train=train,
        query=query,
        retrieval=retrieval,
        label_names=CLASS_NAMES,
        fingerprint=fingerprint,
        synthetic=True,
        meta={
            "generator_version": EVENTS_GENERATOR_VERSION,
            "seed": seed,
            "scale": scale,
            "config": asdict(config),
            "input_shapes": {MODALITY: shape},
            "retrieval_depth": RETRIEVAL_DEPTH,
            "label_groups": {k: list(v) for k, v in MIRRORED_PAIRS.items()},
        },
        task="unimodal",
    )


def load_cached(config: EventsConfig, options: DatasetOptions) -> CrossModalDataset:
    """Load from the on-disk cache (uint8 events), generating and caching it on first use."""
    digest = zlib.crc32(json.dumps(asdict(config), sort_keys=True).encode())  # sizes, noise
    key = f"{config.name}-seed{options.seed}-scale{options.scale:g}-v{EVENTS_GENERATOR_VERSION}"
    folder = cache_folder(options, f"{key}-{digest:08x}")
    cached = read_cache(folder)
    if cached is not None:
        arrays, meta = cached
        return _assemble(config, arrays, meta["fingerprint"], options.seed, options.scale)
    arrays = generate_arrays(config, options.seed, options.scale)
    fingerprint = write_cache(folder, arrays)
    return _assemble(config, arrays, fingerprint, options.seed, options.scale)
