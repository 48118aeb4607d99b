"""The clip encoder with a tiny random-initialised open_clip model, offline, end to end."""

from __future__ import annotations

import json
import socket

import numpy as np
import open_clip
import pytest
import torch
from hashbench_plugins.encoders.clip import ClipEncoder
from PIL import Image
from safetensors.torch import save_file

from hashbench.errors import InputError
from hashbench.store import ResultStore

TINY = "hb-tiny-clip"
TINY_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
COLOURS = ["red", "green", "blue", "yellow"]
RGB = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220), "yellow": (230, 230, 0)}
N_ITEMS = 48


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """Register the tiny config with open_clip and save random weights as safetensors."""
    folder = tmp_path_factory.mktemp("tiny-clip")
    (folder / f"{TINY}.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder / f"{TINY}.json")
    torch.manual_seed(0)
    model = open_clip.create_model(TINY, pretrained=None)
    path = folder / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name fails loudly."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture
def raw_files(tmp_path):
    """Coloured images named im<N>.png, '<key> <caption>' lines and a label matrix file."""
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    captions, labels = [], ["# " + " ".join(COLOURS)]
    for i in range(1, N_ITEMS + 1):
        colour = COLOURS[i % 4]
        pixels = np.clip(np.array(RGB[colour]) + rng.normal(0, 25, (40, 40, 3)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(images / f"im{i}.png")
        captions.append(f"im{i}\ta {colour} square number {i}")
        labels.append(f"{i} " + " ".join("1" if c == colour else "0" for c in COLOURS))
    captions.append("im999\tan image that does not exist")
    (tmp_path / "captions.txt").write_text("\n".join(captions) + "\n")
    (tmp_path / "labels.txt").write_text("\n".join(labels) + "\n")
    return tmp_path


def clip_args(checkpoint):
    return ["--encoder", "clip", "--clip-model", TINY, "--clip-checkpoint", str(checkpoint)]


def test_encoder_features_are_normalised_cached_and_offline(tiny_checkpoint, raw_files, no_network):
    encoder = ClipEncoder(model=TINY, checkpoint=tiny_checkpoint, device="cpu", batch_size=16)
    paths = sorted((raw_files / "images").glob("*.png"))
    feats = encoder.encode("image", paths)
    texts = encoder.encode("text", ["a red square", "a blue square", "a red square"])
    assert feats.shape == (N_ITEMS, 16) and feats.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(texts[0], texts[2], rtol=1e-5)
    assert not np.allclose(texts[0], texts[1])
    assert encoder.cache_path("image", paths).is_file()

    def must_not_compute(*args):
        raise AssertionError("the cache should have been used")

    encoder._compute = must_not_compute
    np.testing.assert_array_equal(encoder.encode("image", paths), feats)
    (raw_files / "images" / "im1.png").write_bytes(b"changed")  # new content, new cache key
    with pytest.raises(AssertionError, match="cache should have been used"):
        encoder.encode("image", paths)
    assert no_network == []


def test_prepare_then_run_with_clip_offline(cli, tiny_checkpoint, raw_files, no_network):
    root = raw_files / "data"
    prepared = cli(
        "data", "prepare", "mscoco",
        "--images", str(raw_files / "images"),
        "--captions", str(raw_files / "captions.txt"),
        "--labels", str(raw_files / "labels.txt"),
        "--data-root", str(root), "--num-query", "8", "--num-train", "24",
    )  # fmt: skip
    assert prepared.exit_code == 0, prepared.output
    assert f"{N_ITEMS} items, 4 labels" in prepared.output
    needs_encoder = cli("run", "--methods", "lsh", "--dataset", "mscoco", "--data-root", str(root))
    assert needs_encoder.exit_code != 0 and "--encoder clip" in needs_encoder.output
    store = raw_files / "s.sqlite"
    result = cli(
        "run", "--methods", "lsh", "--dataset", "mscoco", "--data-root", str(root),
        "--bits", "8", "--store", str(store), "--device", "cpu", *clip_args(tiny_checkpoint),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with ResultStore(store) as results:
        (record,) = results.records()
    assert 0.0 < record.metrics["i2t"]["map@50"] <= 1.0
    assert no_network == []


def test_prepare_with_clip_stores_features_and_check_passes(
    cli, tiny_checkpoint, raw_files, no_network
):
    root = raw_files / "data"
    prepared = cli(
        "data", "prepare", "mirflickr",
        "--images", str(raw_files / "images"),
        "--captions", str(raw_files / "captions.txt"),
        "--labels", str(raw_files / "labels.txt"),
        "--data-root", str(root), "--num-query", "8", "--num-train", "24",
        *clip_args(tiny_checkpoint),
    )  # fmt: skip
    assert prepared.exit_code == 0, prepared.output
    with np.load(root / "mirflickr" / "data.npz") as npz:
        assert npz["image"].shape == (N_ITEMS, 16) and npz["labels"].shape == (N_ITEMS, 4)
    checked = cli("data", "check", "mirflickr", "--data-root", str(root))
    assert checked.exit_code == 0, checked.output
    assert "generic layout" in checked.output and "4 label columns" in checked.output
    assert no_network == []


def test_weights_are_never_downloaded_and_unsafe_pickles_are_refused(tiny_checkpoint, tmp_path):
    with pytest.raises(InputError, match="never downloads weights"):
        ClipEncoder(model=TINY, checkpoint=None)
    with pytest.raises(InputError, match="only reads local files"):
        ClipEncoder(model="ViT-B-32", checkpoint="openai")
    with pytest.raises(InputError, match="never downloads"):
        ClipEncoder(model="hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", checkpoint=None)
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": InputError("code")}, evil)
    encoder = ClipEncoder(model=TINY, checkpoint=evil, device="cpu")
    with pytest.raises(InputError, match="weights_only=True"):
        encoder.encode("text", ["hello"])
    wrong = tmp_path / "wrong.safetensors"
    save_file({"visual.proj": torch.zeros(2, 2)}, str(wrong))
    with pytest.raises(InputError, match="cannot load CLIP weights"):
        ClipEncoder(model=TINY, checkpoint=wrong, device="cpu").encode("text", ["hello"])


def test_local_dir_models_load_from_the_folder(tiny_checkpoint, tmp_path, no_network):
    folder = tmp_path / "saved"
    folder.mkdir()
    config = {"model_cfg": TINY_CONFIG, "preprocess_cfg": {}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    (folder / "open_clip_model.safetensors").write_bytes(tiny_checkpoint.read_bytes())
    from_dir = ClipEncoder(model=f"local-dir:{folder}", device="cpu")
    from_file = ClipEncoder(model=TINY, checkpoint=tiny_checkpoint, device="cpu")
    assert from_dir.checkpoint_hash == from_file.checkpoint_hash
    np.testing.assert_allclose(
        from_dir.encode("text", ["a red square"]),
        from_file.encode("text", ["a red square"]),
        rtol=1e-5,
        atol=1e-6,
    )
    assert no_network == []
