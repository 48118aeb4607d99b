"""The synthetic datasets: sizes, determinism, label statistics, modality structure, cache."""

from __future__ import annotations

import numpy as np
import pytest

from hashbench.data.synthetic import SYNTHETIC_CONFIGS, generate, load_cached, split_sizes
from hashbench.data.types import DatasetOptions
from hashbench.errors import InputError


@pytest.mark.parametrize("name", sorted(SYNTHETIC_CONFIGS))
def test_protocol_sizes_and_label_statistics(name):
    config = SYNTHETIC_CONFIGS[name]
    data = generate(config, seed=0, scale=0.05)
    n_query, n_train, n_retrieval = split_sizes(config, 0.05)
    assert (len(data.query), len(data.train), len(data.retrieval)) == (
        n_query,
        n_train,
        n_retrieval,
    )
    data.check()
    assert data.num_labels == config.num_labels
    assert data.feature_dims == {"image": 512, "text": 512}
    every_label = np.concatenate([data.query.labels, data.retrieval.labels])
    assert every_label.sum(1).min() >= 1, "every item has at least one label"
    assert every_label.sum(1).mean() == pytest.approx(config.mean_labels, rel=0.1)
    for split in (data.train, data.query, data.retrieval):
        for feats in split.features.values():
            np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, rtol=1e-5)


def test_full_scale_sizes_mirror_the_real_protocol():
    assert split_sizes(SYNTHETIC_CONFIGS["synth-mirflickr"], 1.0) == (2000, 5000, 18015)
    assert split_sizes(SYNTHETIC_CONFIGS["synth-nuswide"], 1.0) == (2000, 5000, 184577)
    assert split_sizes(SYNTHETIC_CONFIGS["synth-mscoco"], 1.0) == (2000, 5000, 121287)


def test_training_items_are_drawn_from_the_retrieval_set():
    data = generate(SYNTHETIC_CONFIGS["synth-mirflickr"], seed=0, scale=0.05)
    retrieval = {row.tobytes() for row in data.retrieval.features["image"]}
    query = {row.tobytes() for row in data.query.features["image"]}
    train = [row.tobytes() for row in data.train.features["image"]]
    assert all(row in retrieval for row in train)
    assert not query & retrieval


def test_same_seed_same_bytes_other_seed_other_bytes():
    config = SYNTHETIC_CONFIGS["synth-nuswide"]
    a, b = generate(config, seed=3, scale=0.02), generate(config, seed=3, scale=0.02)
    c = generate(config, seed=4, scale=0.02)
    assert a.fingerprint == b.fingerprint
    assert np.array_equal(a.query.features["text"], b.query.features["text"])
    assert a.fingerprint != c.fingerprint


def test_pairs_are_closer_than_random_but_not_identical():
    data = generate(SYNTHETIC_CONFIGS["synth-mscoco"], seed=0, scale=0.05)
    image, text = data.query.features["image"], data.query.features["text"]
    paired = (image * text).sum(1)
    shuffled = (image * np.roll(text, 1, axis=0)).sum(1)
    assert paired.mean() > shuffled.mean() + 0.05
    assert paired.max() < 0.9, "a caption is never a copy of its image"


def test_labels_co_occur():
    """Labels are correlated, as in real data (not independent coin flips)."""
    data = generate(SYNTHETIC_CONFIGS["synth-mirflickr"], seed=0, scale=0.2)
    corr = np.corrcoef(data.retrieval.labels.T.astype(float))
    off_diagonal = np.abs(corr[~np.eye(len(corr), dtype=bool)])
    assert off_diagonal.max() > 0.2


def test_cache_returns_the_same_dataset(tmp_path):
    config = SYNTHETIC_CONFIGS["synth-mirflickr"]
    options = DatasetOptions(scale=0.05, cache_dir=tmp_path)
    first = load_cached(config, options)
    assert any((tmp_path / "datasets").iterdir())
    second = load_cached(config, options)
    assert second.fingerprint == first.fingerprint
    assert np.array_equal(second.train.features["image"], first.train.features["image"])


def test_damaged_cache_is_regenerated(tmp_path):
    config = SYNTHETIC_CONFIGS["synth-mirflickr"]
    options = DatasetOptions(scale=0.05, cache_dir=tmp_path)
    first = load_cached(config, options)
    entry = next((tmp_path / "datasets").iterdir())
    (entry / "query.image.npy").write_bytes(b"garbage")
    assert load_cached(config, options).fingerprint == first.fingerprint


def test_scale_out_of_range_is_an_input_error():
    with pytest.raises(InputError, match="--scale"):
        split_sizes(SYNTHETIC_CONFIGS["synth-mirflickr"], 1.5)
