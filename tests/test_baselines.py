"""The baselines behave as baselines: cca-itq beats lsh everywhere; lsh is data-independent."""

from __future__ import annotations

import pytest
from hashbench_plugins.methods.baselines import CCAITQ, LSH

from hashbench.data.synthetic import SYNTHETIC_CONFIGS, generate
from hashbench.testing import run_tiny


@pytest.fixture(scope="module", params=sorted(SYNTHETIC_CONFIGS))
def dataset(request):
    return generate(SYNTHETIC_CONFIGS[request.param], seed=0, scale=0.1)


@pytest.mark.parametrize("bits", [16, 32, 64, 128])
def test_cca_itq_beats_lsh(dataset, bits):
    lsh, _ = run_tiny(LSH, bits=bits, dataset=dataset)
    cca, _ = run_tiny(CCAITQ, bits=bits, dataset=dataset)
    for task in ("i2t", "t2i"):
        assert cca.metrics[task]["map@50"] > lsh.metrics[task]["map@50"], (task, bits)
