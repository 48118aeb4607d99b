"""Real unimodal datasets from user files: cifar10 (python-format pickles, read without trust)
and dvs128-gesture / cifar10-dvs through spikingjelly (never downloading)."""

from __future__ import annotations

import os
import pickle
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
from hashbench_plugins.datasets import cifar, dvs

from hashbench.data.safe_pickle import safe_load
from hashbench.data.types import DatasetOptions
from hashbench.errors import InputError
from hashbench.store import ResultStore

TEST_PER_CLASS, TRAIN_PER_CLASS, CLASSES = 4, 12, 10
TINY = 0.02  # 2 queries and 10 training items per class, R = 100


# --- fake CIFAR-10 python-format files ----------------------------------------------------


def _py2_str(b: bytes) -> bytes:
    """A Python 2 str (SHORT_BINSTRING / BINSTRING), unpickled as bytes."""
    if len(b) < 256:
        return b"U" + bytes([len(b)]) + b
    return b"T" + struct.pack("<i", len(b)) + b


def _py2_int(v: int) -> bytes:
    return b"J" + struct.pack("<i", v)


def py2_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled as Python 2's cPickle wrote CIFAR-10 (protocol 2, numpy 1 names)."""
    array = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _py2_int(0) + b"\x85"
    array += _py2_str(b"b") + b"\x87R(" + _py2_int(1) + _py2_int(data.shape[0])
    array += _py2_int(data.shape[1]) + b"\x86cnumpy\ndtype\n" + _py2_str(b"u1")
    array += _py2_int(0) + _py2_int(1) + b"\x87R(" + _py2_int(3) + _py2_str(b"|") + b"NNN"
    array += _py2_int(-1) + _py2_int(-1) + _py2_int(0) + b"tb\x89" + _py2_str(data.tobytes())
    array += b"tb"
    ids = b"](" + b"".join(_py2_int(int(v)) for v in labels) + b"e"
    return b"\x80\x02}(" + _py2_str(b"data") + array + _py2_str(b"labels") + ids + b"u."


def make_cifar(seed: int = 0, test: int = TEST_PER_CLASS, train: int = TRAIN_PER_CLASS):
    """Class-structured uint8 images: (train images, train labels, test images, test labels)."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 256, (CLASSES, 3072))

    def part(per_class: int):
        labels = np.repeat(np.arange(CLASSES), per_class)
        rng.shuffle(labels)
        noise = rng.integers(-60, 61, (labels.size, 3072))
        return np.clip(protos[labels] + noise, 0, 255).astype(np.uint8), labels

    return (*part(train), *part(test))


def write_cifar(root: Path, content=None, style="py2") -> Path:
    """cifar-10-batches-py/ under root; style 'py2' (as the real files) or a protocol number."""
    train_x, train_y, test_x, test_y = content or make_cifar()
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    chunks = np.array_split(np.arange(train_y.size), 5)
    files = [(f"data_batch_{i + 1}", train_x[c], train_y[c]) for i, c in enumerate(chunks)]
    files.append(("test_batch", test_x, test_y))
    for name, x, y in files:
        if style == "py2":
            blob = py2_batch(x, [int(v) for v in y])
        else:
            batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": x}
            blob = pickle.dumps(batch, protocol=style)
        (folder / name).write_bytes(blob)
    meta = {b"label_names": [n.encode() for n in cifar.CLASS_NAMES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def load(root: Path, scale: float = TINY, seed: int = 0):
    return cifar.load_cifar10(DatasetOptions(data_root=root, scale=scale, seed=seed))


def rows(x: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in x}


def test_cifar10_shapes_labels_and_split(tmp_path):
    content = make_cifar()
    train_x, _, test_x, _ = content
    write_cifar(tmp_path, content)
    data = load(tmp_path)
    assert data.task == "unimodal" and data.modalities == ("image",)
    assert data.protocol == "cifar10" and data.label_names == cifar.CLASS_NAMES
    assert data.input_shapes == {"image": (3, 32, 32)} and data.retrieval_depth == 100
    for split, per_class in ((data.query, 2), (data.train, 10), (data.retrieval, 14)):
        x = split.features["image"]
        assert x.dtype == np.float32 and x.shape == (per_class * CLASSES, 3072)
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert split.labels.sum(1).tolist() == [1] * len(split)
        assert split.labels.sum(0).tolist() == [per_class] * CLASSES
    # pixels are uint8 / 255; queries come from the test batch, training items from the
    # training batches; training items are in the database, queries are not
    as_uint8 = (data.query.features["image"] * 255).round().astype(np.uint8)
    assert rows(as_uint8) <= rows(test_x)
    train_uint8 = (data.train.features["image"] * 255).round().astype(np.uint8)
    assert rows(train_uint8) <= rows(train_x)
    assert rows(data.train.features["image"]) <= rows(data.retrieval.features["image"])
    assert not rows(data.query.features["image"]) & rows(data.retrieval.features["image"])
    assert len(rows(data.query.features["image"]) | rows(data.retrieval.features["image"])) == (
        (TEST_PER_CLASS + TRAIN_PER_CLASS) * CLASSES
    )


def test_cifar10_pixel_layout_is_channel_first(tmp_path):
    train_x, train_y, test_x, test_y = make_cifar()
    planes = np.zeros((3, 32, 32), np.uint8)
    planes[0, 0, 1], planes[1, 2, 3], planes[2, 31, 30] = 255, 128, 51
    train_x[:] = planes.reshape(-1)  # every image the same: R, G, B planes, row-major
    write_cifar(tmp_path, (train_x, train_y, test_x, test_y))
    first = load(tmp_path).train.features["image"][0].reshape(3, 32, 32)
    assert first[0, 0, 1] == 1.0 and first[1, 2, 3] == pytest.approx(128 / 255)
    assert first[2, 31, 30] == pytest.approx(0.2) and first.sum() == pytest.approx(1 + 0.7020, 1e-3)


def test_cifar10_is_deterministic_per_seed(tmp_path):
    write_cifar(tmp_path)
    a, b, other = load(tmp_path, seed=1), load(tmp_path, seed=1), load(tmp_path, seed=2)
    assert a.fingerprint == b.fingerprint
    np.testing.assert_array_equal(a.query.features["image"], b.query.features["image"])
    assert other.fingerprint != a.fingerprint
    assert rows(other.query.features["image"]) != rows(a.query.features["image"])


@pytest.mark.parametrize("style", [2, 5])
def test_cifar10_reads_python3_pickles_too(tmp_path, style):
    content = make_cifar()
    write_cifar(tmp_path / "py2", content, "py2")
    write_cifar(tmp_path / "py3", content, style)
    assert load(tmp_path / "py2").fingerprint == load(tmp_path / "py3").fingerprint


def test_cifar10_full_protocol_sizes():
    """The protocol on CIFAR-10's real sizes (labels only): 1,000 / 5,000 / 59,000."""
    labels = np.concatenate([np.repeat(np.arange(10), 5000), np.repeat(np.arange(10), 1000)])
    is_test = np.arange(labels.size) >= 50000
    splits = cifar.protocol_split(labels, is_test, 1.0, 0, "test")
    assert [splits[k].size for k in ("query", "train", "retrieval")] == [1000, 5000, 59000]
    assert is_test[splits["query"]].all() and not is_test[splits["train"]].any()
    assert np.bincount(labels[splits["query"]]).tolist() == [100] * 10
    assert np.bincount(labels[splits["train"]]).tolist() == [500] * 10
    assert np.isin(splits["train"], splits["retrieval"]).all()
    everything = np.sort(np.concatenate([splits["query"], splits["retrieval"]]))
    np.testing.assert_array_equal(everything, np.arange(labels.size))
    small = cifar.protocol_split(labels, is_test, 0.1, 0, "test")
    assert [small[k].size for k in ("query", "train", "retrieval")] == [100, 500, 5900]
    assert np.isin(small["train"], small["retrieval"]).all()


def test_cifar10_too_small_for_the_protocol_suggests_a_scale(tmp_path):
    write_cifar(tmp_path)
    with pytest.raises(InputError, match=r"--scale 0\.024 or less") as info:
        load(tmp_path, scale=1.0)
    assert "100 queries per class from test_batch" in str(info.value)


def test_cifar10_missing_and_partial_files(cli, tmp_path):
    result = cli("run", "--methods", "lsh", "--dataset", "cifar10", "--data-root", str(tmp_path))
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert str(tmp_path / "cifar-10-batches-py") in result.output
    assert "cifar-10-python.tar.gz" in result.output and "never downloads" in result.output
    folder = write_cifar(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(InputError, match="missing .*data_batch_3"):
        load(tmp_path)
    no_root = cli("run", "--methods", "lsh", "--dataset", "cifar10", env={"HASHBENCH_DATA": ""})
    assert no_root.exit_code != 0 and "--data-root DIR" in no_root.output


def test_malicious_pickle_is_refused_without_running_it(tmp_path, monkeypatch):
    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    folder = write_cifar(tmp_path)
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": Exploit()}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    calls = []  # had the pickle run, os.system would have been called
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    with pytest.raises(InputError, match="test_batch: refused .*not allowed"):
        load(tmp_path)
    assert calls == []
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        safe_load(evil)
    evil.write_bytes(pickle.dumps(np.array([1, "a"], dtype=object), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="object arrays"):
        safe_load(evil)


def test_run_lsh_on_cifar10_and_data_check(cli, tmp_path):
    write_cifar(tmp_path)
    store = tmp_path / "s.sqlite"
    args = ["run", "--methods", "lsh", "--dataset", "cifar10", "--data-root", str(tmp_path)]
    result = cli(*args, "--bits", "16", "--scale", str(TINY), "--store", str(store))
    assert result.exit_code == 0, result.output
    with ResultStore(store) as results:
        (record,) = results.records()
    assert record.dataset == f"cifar10@{TINY:g}"
    assert 0.1 < record.metrics["unimodal"]["map@100"] <= 1.0  # chance is 0.1
    check = cli("data", "check", "cifar10", "--data-root", str(tmp_path), "--scale", str(TINY))
    assert check.exit_code == 0, check.output
    assert "cifar10: OK" in check.output and "no query item has an exact copy" in check.output


# --- DVS datasets through spikingjelly ----------------------------------------------------


def _events(rng: np.random.Generator, n: int, cell: tuple[int, int] | None = None) -> dict:
    x = rng.integers(0, 128, n) if cell is None else np.full(n, cell[0])
    y = rng.integers(0, 128, n) if cell is None else np.full(n, cell[1])
    return {
        "t": np.sort(rng.integers(0, 10**6, n)).astype(np.int64),
        "x": x.astype(np.uint16),
        "y": y.astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


def write_gesture_events(folder: Path, per_class=(2, 1)) -> None:
    """events_np/{train,test}/<0..10>/*.npz; class c has 200 + 10 c events per sample."""
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "test"), per_class, strict=True):
        for c in range(11):
            (folder / "events_np" / split / str(c)).mkdir(parents=True)
            for i in range(count):
                events = _events(rng, 200 + 10 * c)
                np.savez(folder / "events_np" / split / str(c) / f"user01_{c}_{i}.npz", **events)


def write_cifar10_dvs_events(folder: Path, per_class: int = 10) -> None:
    rng = np.random.default_rng(1)
    for name in dvs.CIFAR10_CLASSES:
        (folder / "events_np" / name).mkdir(parents=True)
        for i in range(per_class):
            events = _events(rng, 100 + i)  # the item number is readable from the counts
            np.savez(folder / "events_np" / name / f"cifar10_{name}_{i}.npz", **events)


def test_dvs128_gesture_frames_labels_and_split(tmp_path):
    write_gesture_events(tmp_path / "dvs128-gesture")
    data = dvs.load_dvs("dvs128-gesture", DatasetOptions(data_root=tmp_path))
    assert (tmp_path / "dvs128-gesture" / "frames_number_16_split_by_number").is_dir()
    assert data.task == "unimodal" and data.modalities == ("events",)
    assert data.input_shapes == {"events": (16, 2, 32, 32)} and data.retrieval_depth == 100
    assert data.meta["label_groups"] == {"right-arm cw/ccw": [3, 4], "left-arm cw/ccw": [5, 6]}
    assert (len(data.query), len(data.retrieval), len(data.train)) == (11, 22, 22)
    frames = data.retrieval.features["events"].reshape(-1, 16, 2, 32, 32)
    assert frames.dtype == np.float32 and (frames >= 0).all()
    # every event lands in one frame; the class folder '10' is class 10 (not sorted as text)
    totals = frames.sum((1, 2, 3, 4))
    np.testing.assert_array_equal(totals, 200 + 10 * data.retrieval.labels.argmax(1))
    assert (frames.sum((2, 3, 4)) > 0).all()  # all 16 frames hold events


def test_dvs_frames_pool_4x4_blocks_per_polarity(tmp_path):
    folder = tmp_path / "dvs128-gesture"
    write_gesture_events(folder)
    target = folder / "events_np" / "test" / "0" / "user01_0_0.npz"
    events = _events(np.random.default_rng(5), 64, cell=(77, 9))  # x 77 -> 19, y 9 -> 2
    np.savez(target, **events)
    data = dvs.load_dvs("dvs128-gesture", DatasetOptions(data_root=tmp_path))
    first = data.query.features["events"][0].reshape(16, 2, 32, 32)
    assert first.sum() == 64 and first[:, :, 2, 19].sum() == 64
    np.testing.assert_array_equal(first[:, :, 2, 19].sum(0), np.bincount(events["p"] != 0))


def test_dvs_cache_is_reused_and_frames_alone_are_enough(tmp_path, monkeypatch):
    write_gesture_events(tmp_path / "dvs128-gesture")
    options = DatasetOptions(data_root=tmp_path)
    first = dvs.load_dvs("dvs128-gesture", options)
    assert Path(first.meta["cache"]).is_dir()

    def fail(*args, **kwargs):
        raise AssertionError("frames read again instead of the cache")

    monkeypatch.setattr(dvs, "pooled_frames", fail)
    assert dvs.load_dvs("dvs128-gesture", options).fingerprint == first.fingerprint
    monkeypatch.undo()
    # only the integrated frames left (no events, no cache): spikingjelly is not asked for more
    import shutil

    shutil.rmtree(tmp_path / "dvs128-gesture" / "events_np")
    shutil.rmtree(first.meta["cache"])
    again = dvs.load_dvs("dvs128-gesture", options)
    assert again.fingerprint == first.fingerprint
    assert "integrated frames" in again.meta["layout"]


def test_cifar10_dvs_nine_to_one_split_by_sorted_file_name(tmp_path):
    write_cifar10_dvs_events(tmp_path / "CIFAR10DVS")
    data = dvs.load_dvs("cifar10-dvs", DatasetOptions(data_root=tmp_path))
    assert data.input_shapes == {"events": (16, 2, 32, 32)} and data.num_labels == 10
    assert data.label_names == dvs.CIFAR10_CLASSES
    assert (len(data.query), len(data.retrieval)) == (10, 90)
    assert data.query.labels.sum(0).tolist() == [1] * 10
    # sorted names: _0, _1, _2, ..., _9; the last one (_9: 109 events) is the test item
    assert data.query.features["events"].sum(1).tolist() == [109.0] * 10
    scaled = dvs.load_dvs("cifar10-dvs", DatasetOptions(data_root=tmp_path, scale=0.5))
    assert (len(scaled.query), len(scaled.retrieval), scaled.retrieval_depth) == (10, 50, 50)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt is recorded and fails."""
    attempts = []

    def connect(self, address, *args):
        attempts.append(address)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return attempts


@pytest.mark.parametrize("name", ["dvs128-gesture", "cifar10-dvs"])
def test_dvs_missing_files_fail_clearly_without_network(cli, tmp_path, no_network, name):
    root = tmp_path / "data"
    root.mkdir()
    result = cli("run", "--methods", "lsh", "--dataset", name, "--data-root", str(root))
    assert result.exit_code != 0 and "Traceback" not in result.output
    out = result.output
    folder = root / dvs.DVS_DATASETS[name].folders[0]
    assert str(folder / "events_np") in out and str(folder / "download") in out
    assert "frames_number_16_split_by_number" in out and "never downloads" in out
    assert no_network == []
    assert list(root.iterdir()) == []  # spikingjelly created nothing


def test_dvs_damaged_archive_is_not_downloaded_again(tmp_path, no_network):
    download = tmp_path / "cifar10-dvs" / "download"
    download.mkdir(parents=True)
    (download / "airplane.zip").write_bytes(b"not the archive")
    with pytest.raises(InputError, match="lacks automobile.zip, bird.zip"):
        dvs.load_dvs("cifar10-dvs", DatasetOptions(data_root=tmp_path))
    for name, _, _ in dvs._resources(dvs.DVS_DATASETS["cifar10-dvs"]):
        if not (download / name).exists():
            (download / name).write_bytes(b"x")
    with pytest.raises(InputError, match=r"airplane.zip is damaged .*MD5"):
        dvs.load_dvs("cifar10-dvs", DatasetOptions(data_root=tmp_path))
    assert no_network == [] and (download / "airplane.zip").read_bytes() == b"not the archive"
    assert sorted(p.name for p in (tmp_path / "cifar10-dvs").iterdir()) == ["download"]


def test_dvs_download_hooks_are_replaced():
    cls = dvs._spikingjelly_class("cifar10-dvs")
    assert cls.downloadable() is False
    with pytest.raises(InputError, match="never downloads"):
        cls._download_all_files(Path("/nonexistent/download"))


def test_data_check_dvs128_gesture(cli, tmp_path):
    write_gesture_events(tmp_path / "DVS128Gesture")
    result = cli("data", "check", "dvs128-gesture", "--data-root", str(tmp_path))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "16x2x32x32 per item" in out and "mAP@100" in out
    assert "label group right-arm cw/ccw: classes [3, 4]" in out
    assert "query split has 11 items; the protocol on the full dataset has 288" in out
    assert "dvs128-gesture: OK" in out


def test_dvs_unfinished_spikingjelly_preparation_is_reported(tmp_path):
    folder = tmp_path / "dvs128-gesture"
    write_gesture_events(folder)
    (folder / "frames_number_16_split_by_number.building").touch()
    with pytest.raises(InputError, match="did not finish .*remove .*\\.building"):
        dvs.load_dvs("dvs128-gesture", DatasetOptions(data_root=tmp_path))
