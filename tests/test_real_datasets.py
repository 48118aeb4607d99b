"""Real datasets from files: every layout gives the same data and mAP; bad files fail clearly."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from hashbench_plugins.datasets.real import load_real

from hashbench.data.files import standard_split_indices
from hashbench.data.types import DatasetOptions
from hashbench.errors import InputError
from hashbench.store import ResultStore

N_QUERY, N_TRAIN, N_RETRIEVAL, N_LABELS = 150, 300, 700, 24
CIRH_KEYS = {"train": "tr", "query": "te", "retrieval": "db"}
CIRH_FILES = {"train": "train", "query": "query", "retrieval": "database"}


def make_content(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Small paired features with label structure; train rows are drawn from retrieval."""
    rng = np.random.default_rng(seed)
    n = N_QUERY + N_RETRIEVAL
    labels = (rng.random((n, N_LABELS)) < 0.15).astype(np.uint8)
    labels[np.arange(n), rng.integers(0, N_LABELS, n)] = 1
    protos_i, protos_t = rng.normal(size=(N_LABELS, 32)), rng.normal(size=(N_LABELS, 24))
    image = (labels @ protos_i + rng.normal(scale=1.5, size=(n, 32))).astype(np.float32)
    text = (labels @ protos_t + rng.normal(scale=1.5, size=(n, 24))).astype(np.float32)
    query = slice(0, N_QUERY)
    retrieval = slice(N_QUERY, n)
    train_idx = N_QUERY + np.sort(rng.choice(N_RETRIEVAL, N_TRAIN, replace=False))
    return {
        "train": {"image": image[train_idx], "text": text[train_idx], "labels": labels[train_idx]},
        "query": {"image": image[query], "text": text[query], "labels": labels[query]},
        "retrieval": {
            "image": image[retrieval],
            "text": text[retrieval],
            "labels": labels[retrieval],
        },
    }


def write_ucmfh(root: Path, content) -> None:
    folder = root / "mirflickr"
    folder.mkdir(parents=True, exist_ok=True)
    for split, arrays in content.items():
        with open(folder / f"{split}.pkl", "wb") as fh:
            pickle.dump(
                {"image": arrays["image"], "text": arrays["text"], "label": arrays["labels"]}, fh
            )


def cirh_arrays(content, split: str) -> dict[str, np.ndarray]:
    k = CIRH_KEYS[split]
    arrays = content[split]
    # MATLAB files usually hold doubles; the loader converts them to float32.
    return {
        f"I_{k}": arrays["image"].astype(np.float64),
        f"T_{k}": arrays["text"].astype(np.float64),
        f"L_{k}": arrays["labels"].astype(np.float64),
    }


def write_cirh_v5(root: Path, content, edit=None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for split in CIRH_KEYS:
        arrays = cirh_arrays(content, split)
        if edit:
            edit(split, arrays)
        scipy.io.savemat(root / f"mir_{CIRH_FILES[split]}.mat", arrays)


def write_mat_v73(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 file: HDF5 after a 512-byte MATLAB header; arrays stored column-major."""
    with h5py.File(path, "w", userblock_size=512) as fh:
        for key, value in arrays.items():
            fh.create_dataset(key, data=np.ascontiguousarray(value.T))
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: hashbench test HDF5 schema 1.00 ."
    )
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")


def write_cirh_v73(root: Path, content) -> None:
    folder = root / "mir"
    folder.mkdir(parents=True, exist_ok=True)
    for split in CIRH_KEYS:
        write_mat_v73(folder / f"mir_{CIRH_FILES[split]}.mat", cirh_arrays(content, split))


def write_generic(root: Path, content, suffix: str) -> None:
    folder = root / "mirflickr"
    folder.mkdir(parents=True, exist_ok=True)
    flat = {f"{s}_{k}": v for s, arrays in content.items() for k, v in arrays.items()}
    if suffix == ".npz":
        np.savez(folder / "data.npz", **flat)
    else:
        with h5py.File(folder / "data.h5", "w") as fh:
            for key, value in flat.items():
                fh.create_dataset(key, data=value)
    manifest = {
        "format": "hashbench-dataset",
        "version": 1,
        "file": f"data{suffix}",
        "splits": {s: {k: f"{s}_{k}" for k in ("image", "text", "labels")} for s in content},
    }
    (folder / "hashbench.json").write_text(json.dumps(manifest))


LAYOUTS = {
    "ucmfh": write_ucmfh,
    "cirh-v5": write_cirh_v5,
    "cirh-v73": write_cirh_v73,
    "generic-npz": lambda root, content: write_generic(root, content, ".npz"),
    "generic-h5": lambda root, content: write_generic(root, content, ".h5"),
}


def test_every_layout_gives_the_same_map(cli, tmp_path):
    content = make_content()
    maps, fingerprints = {}, set()
    for layout, write in LAYOUTS.items():
        root = tmp_path / layout
        write(root, content)
        store = root / "s.sqlite"
        args = ["run", "--methods", "lsh", "--dataset", "mirflickr", "--data-root", str(root)]
        args += ["--store", str(store), "--bits", "16,32"]
        if layout == "ucmfh":
            args.append("--trust-pickle")
        result = cli(*args)
        assert result.exit_code == 0, result.output
        with ResultStore(store) as results:
            records = results.records()
        assert len(records) == 2
        fingerprints.update(r.dataset_fingerprint for r in records)
        maps[layout] = sorted(
            (r.bits, r.metrics["i2t"]["map@50"], r.metrics["t2i"]["map@50"]) for r in records
        )
    assert len(fingerprints) == 1, fingerprints
    first = maps["ucmfh"]
    assert all(0.0 < m < 1.0 for _, i2t, t2i in first for m in (i2t, t2i))
    for layout, values in maps.items():
        assert values == first, layout


def test_v73_transposition_and_dtypes(tmp_path):
    content = make_content()
    write_cirh_v73(tmp_path, content)
    dataset = load_real("mirflickr", DatasetOptions(data_root=tmp_path))
    assert dataset.meta["layout"] == "cirh"
    assert dataset.train.features["image"].shape == (N_TRAIN, 32)
    assert dataset.train.features["image"].dtype == np.float32
    assert dataset.query.labels.dtype == np.uint8
    np.testing.assert_array_equal(dataset.retrieval.features["text"], content["retrieval"]["text"])


def test_different_content_gives_a_different_fingerprint(tmp_path):
    write_cirh_v5(tmp_path / "a", make_content(0))
    write_cirh_v5(tmp_path / "b", make_content(1))
    fa = load_real("mirflickr", DatasetOptions(data_root=tmp_path / "a")).fingerprint
    fb = load_real("mirflickr", DatasetOptions(data_root=tmp_path / "b")).fingerprint
    assert fa != fb


def write_unsplit(root: Path, content, sizes=(100, 200)) -> dict[str, np.ndarray]:
    folder = root / "mscoco"
    folder.mkdir(parents=True)
    arrays = {
        key: np.concatenate([content["query"][key], content["retrieval"][key]])
        for key in ("image", "text", "labels")
    }
    np.savez(
        folder / "all.npz", feats_i=arrays["image"], feats_t=arrays["text"], y=arrays["labels"]
    )
    manifest = {
        "format": "hashbench-dataset",
        "file": "all.npz",
        "arrays": {"image": "feats_i", "text": "feats_t", "labels": "y"},
        "split": {"query": sizes[0], "train": sizes[1]},
    }
    (folder / "hashbench.json").write_text(json.dumps(manifest))
    return arrays


def test_unsplit_data_gets_the_standard_split_with_stored_indices(tmp_path):
    arrays = write_unsplit(tmp_path / "root", make_content())
    options = DatasetOptions(data_root=tmp_path / "root", cache_dir=tmp_path / "cache")
    dataset = load_real("mscoco", options)
    assert (len(dataset.query), len(dataset.train), len(dataset.retrieval)) == (100, 200, 750)
    stored = Path(dataset.meta["split"]["indices_file"])
    with np.load(stored) as indices:
        query, retrieval, train = indices["query"], indices["retrieval"], indices["train"]
    assert not set(query) & set(retrieval)
    assert set(train) <= set(retrieval)
    assert len(set(query) | set(retrieval)) == len(arrays["labels"])
    np.testing.assert_array_equal(dataset.query.features["image"], arrays["image"][query])
    np.testing.assert_array_equal(dataset.train.labels, arrays["labels"][train])
    again = load_real("mscoco", options)
    assert again.fingerprint == dataset.fingerprint
    other_seed = load_real("mscoco", DatasetOptions(data_root=tmp_path / "root", seed=1))
    assert other_seed.fingerprint != dataset.fingerprint


def test_standard_split_sizes_and_too_small_data():
    idx = standard_split_indices(10000, 2000, 5000, seed=0)
    assert (idx["query"].size, idx["retrieval"].size, idx["train"].size) == (2000, 8000, 5000)
    with pytest.raises(InputError, match="only 1500 items"):
        standard_split_indices(1500, 2000, 5000, seed=0)


def test_ucmfh_quirks_cut_every_split_to_multiples_of_128(tmp_path):
    write_cirh_v5(tmp_path, make_content())
    plain = load_real("mirflickr", DatasetOptions(data_root=tmp_path))
    quirky = load_real("mirflickr", DatasetOptions(data_root=tmp_path, ucmfh_quirks=True))
    assert (len(quirky.train), len(quirky.query), len(quirky.retrieval)) == (256, 128, 640)
    np.testing.assert_array_equal(quirky.train.labels, plain.train.labels[:256])
    assert quirky.fingerprint != plain.fingerprint
    # the real sizes: 5000 -> 4992 training rows, 2000 -> 1920 queries
    assert 5000 // 128 * 128 == 4992 and 2000 // 128 * 128 == 1920


def test_data_check_prints_a_summary(cli, tmp_path):
    write_cirh_v5(tmp_path, make_content())
    result = cli("data", "check", "mirflickr", "--data-root", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "cirh layout" in result.output
    assert "no query item is in the retrieval set" in result.output
    assert "100.0% of training items are in the retrieval set" in result.output
    assert "query split has 150 items; the protocol uses 2000" in result.output
    assert "mirflickr: OK" in result.output


def test_env_data_root_and_pickle_trust_env(cli, tmp_path, monkeypatch):
    write_ucmfh(tmp_path, make_content())
    monkeypatch.setenv("HASHBENCH_DATA", str(tmp_path))
    refused = cli("data", "check", "mirflickr")
    assert refused.exit_code != 0
    assert "train.pkl is a pickle" in refused.output and "--trust-pickle" in refused.output
    monkeypatch.setenv("HASHBENCH_TRUST_PICKLE", "1")
    assert cli("data", "check", "mirflickr").exit_code == 0


def test_missing_files_list_what_was_looked_for(cli, tmp_path):
    result = cli("run", "--methods", "lsh", "--dataset", "nuswide", "--data-root", str(tmp_path))
    assert result.exit_code != 0
    out = result.output
    assert str(tmp_path / "nus-wide" / "hashbench.json") in out
    assert "nus_{train,query,database}.mat" in out
    assert "{train,query,retrieval}.pkl" in out
    assert "hashbench data prepare nuswide" in out and "synth-nuswide" in out
    assert "Traceback" not in out


def _v5_edit(split_name, fn):
    def edit(split, arrays):
        if split == split_name:
            fn(arrays)

    return edit


def _set(key, value_fn):
    return lambda arrays: arrays.__setitem__(key, value_fn(arrays[key]))


def _nan(a):
    a = a.copy()
    a[3, 5] = np.nan
    return a


MALFORMED = {
    "missing key": (
        _v5_edit("query", lambda arrays: arrays.pop("T_te")),
        ["mir_query.mat", "missing key 'T_te'"],
    ),
    "wrong shape": (
        _v5_edit("retrieval", _set("L_db", lambda a: a[:, 0].reshape(1, 1, -1))),
        ["mir_database.mat", "'L_db'", "shape"],
    ),
    "NaN": (_v5_edit("train", _set("I_tr", _nan)), ["mir_train.mat", "'I_tr'", "NaN"]),
    "labels all zero": (
        _v5_edit("query", _set("L_te", np.zeros_like)),
        ["mir_query.mat", "'L_te'", "every label zero"],
    ),
    "mismatched rows": (
        _v5_edit("train", _set("T_tr", lambda a: a[:-7])),
        ["mir_train.mat", "row counts differ", "'T_tr' 293", "'I_tr' 300"],
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_mat_files_give_a_clear_error(cli, tmp_path, case):
    edit, expected = MALFORMED[case]
    write_cirh_v5(tmp_path, make_content(), edit=edit)
    for command in (
        ("data", "check", "mirflickr", "--data-root", str(tmp_path)),
        ("run", "--methods", "lsh", "--dataset", "mirflickr", "--data-root", str(tmp_path)),
    ):
        result = cli(*command)
        assert result.exit_code != 0
        for fragment in expected:
            assert fragment in result.output, (fragment, result.output)
        assert "Traceback" not in result.output and "internal error" not in result.output


def test_truncated_hdf5_names_the_file(cli, tmp_path):
    write_cirh_v73(tmp_path, make_content())
    path = tmp_path / "mir" / "mir_database.mat"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = cli("data", "check", "mirflickr", "--data-root", str(tmp_path))
    assert result.exit_code != 0
    assert "mir_database.mat" in result.output and "truncated" in result.output
    assert "Traceback" not in result.output


def test_truncated_npz_and_missing_generic_key(cli, tmp_path):
    content = make_content()
    write_generic(tmp_path, content, ".npz")
    manifest_path = tmp_path / "mirflickr" / "hashbench.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["splits"]["query"]["text"] = "no_such_array"
    manifest_path.write_text(json.dumps(manifest))
    result = cli("data", "check", "mirflickr", "--data-root", str(tmp_path))
    assert result.exit_code != 0
    assert "data.npz: missing key 'no_such_array'" in result.output
    npz = tmp_path / "mirflickr" / "data.npz"
    npz.write_bytes(npz.read_bytes()[:2000])
    result = cli("data", "check", "mirflickr", "--data-root", str(tmp_path))
    assert result.exit_code != 0 and "data.npz" in result.output
    assert "Traceback" not in result.output


def test_query_items_inside_the_retrieval_set_is_an_error(cli, tmp_path):
    content = make_content()
    for key in ("image", "text", "labels"):  # retrieval row 10 := query row 4
        content["retrieval"][key][10] = content["query"][key][4]
    write_cirh_v5(tmp_path, content)
    result = cli("data", "check", "mirflickr", "--data-root", str(tmp_path))
    assert result.exit_code != 0
    assert "1 query item(s) also appear in the retrieval set (first: query row 4)" in result.output


def test_prepare_reads_coco_json_mirflickr_tags_and_label_folders(tmp_path):
    """The raw caption / tag / label formats of `hashbench data prepare`, one by one."""
    from hashbench.data.prepare import ImageIndex, read_captions, read_labels

    images = tmp_path / "images"
    images.mkdir()
    for n in (1, 2, 3):
        (images / f"COCO_val2014_00000000000{n}.jpg").write_bytes(b"\xff\xd8")  # content unused
    index = ImageIndex(images)
    coco = {
        "images": [{"id": n, "file_name": f"COCO_val2014_00000000000{n}.jpg"} for n in (1, 2, 3)],
        "annotations": [
            {"image_id": 1, "caption": "a dog "},
            {"image_id": 1, "caption": "on grass"},
            {"image_id": 3, "caption": "a cat"},
            {"image_id": 9, "caption": "no such image"},
        ],
    }
    (tmp_path / "captions.json").write_text(json.dumps(coco))
    texts = read_captions(tmp_path / "captions.json", index)
    assert {p.name[-5:]: t for p, t in texts.items()} == {
        "1.jpg": "a dog on grass",
        "3.jpg": "a cat",
    }
    instances = {
        "images": coco["images"],
        "categories": [{"id": 18, "name": "dog"}, {"id": 17, "name": "cat"}],
        "annotations": [
            {"image_id": 1, "category_id": 18},
            {"image_id": 3, "category_id": 17},
            {"image_id": 3, "category_id": 18},
        ],
    }
    (tmp_path / "instances.json").write_text(json.dumps(instances))
    labels, names = read_labels(tmp_path / "instances.json", index)
    assert names == ["cat", "dog"]  # columns in category-id order
    assert {p.name[-5:]: c for p, c in labels.items()} == {"1.jpg": {1}, "3.jpg": {0, 1}}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"annotations": []}))
    with pytest.raises(InputError, match="missing key 'images'"):
        read_captions(broken, index)

    # MIRFlickr: tags<N>.txt for im<N>.jpg; label folder: one <label>.txt of image numbers each
    mir = tmp_path / "mir"
    mir.mkdir()
    for n in (1, 2):
        (mir / f"im{n}.jpg").write_bytes(b"\xff\xd8")
    tags = tmp_path / "tags"
    tags.mkdir()
    (tags / "tags1.txt").write_text("sky\nsea\n")
    (tags / "tags2.txt").write_text("tree\n")
    mindex = ImageIndex(mir)
    assert {p.name: t for p, t in read_captions(tags, mindex).items()} == {
        "im1.jpg": "sky sea",
        "im2.jpg": "tree",
    }
    annotations = tmp_path / "annotations"
    annotations.mkdir()
    (annotations / "sea.txt").write_text("1\n")
    (annotations / "sea_r1.txt").write_text("1\n")  # the "relevant" variant is not a label
    (annotations / "tree.txt").write_text("2\n1\n")
    labels, names = read_labels(annotations, mindex)
    assert names == ["sea", "tree"]
    assert {p.name: c for p, c in labels.items()} == {"im1.jpg": {0, 1}, "im2.jpg": {1}}


@pytest.mark.parametrize("kind", ["parent", "absolute", "raw-items"])
def test_manifest_paths_outside_the_dataset_folder_are_refused(tmp_path, kind):
    """A manifest (perhaps from a downloaded archive) must not make hashbench read files
    outside the dataset's folder, e.g. `"file": "../../../etc/passwd"`."""
    root = tmp_path / "root"
    write_generic(root, make_content(), ".npz")
    folder = root / "mirflickr"
    manifest = json.loads((folder / "hashbench.json").read_text())
    outside = root / "outside.npz"  # a valid data file, one level above the folder
    outside.write_bytes((folder / "data.npz").read_bytes())
    encoder = None
    if kind == "parent":
        manifest["file"] = "../outside.npz"
    elif kind == "absolute":
        manifest["file"] = str(outside)
    else:  # raw items to encode, listed in a file above the folder
        (root / "items.jsonl").write_text("")
        del manifest["splits"]
        manifest["arrays"] = {"labels": "train_labels"}
        manifest["raw"] = {"items": "../items.jsonl"}
        encoder = object()
    (folder / "hashbench.json").write_text(json.dumps(manifest))
    options = DatasetOptions(data_root=root, encoder=encoder)
    with pytest.raises(InputError, match="outside the dataset folder") as caught:
        load_real("mirflickr", options)
    message = str(caught.value)
    assert "\n" not in message and str(folder) in message and "relative" in message
