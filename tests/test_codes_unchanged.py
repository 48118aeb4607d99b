"""Every registered method's codes for a fixed seed, pinned by digest, so that refactoring the
methods into shared building blocks (plugins/methods/_crossmodal_common.py, _pair_fusion.py,
...) provably changes no code bit.

Each method is run through the harness (`hashbench.testing.run_tiny`) with its `test_params`, 16
bits and seed 0, on the tiny generated dataset of each task it declares, as the conformance
checks build them (cross-modal: a tiny synth-mirflickr; unimodal: a tiny synth-events). The
digest of one split and modality is the first 16 hex digits of the sha256 of the int8 -1/+1 code
matrix (C order); `EXPECTED` holds them for query and retrieval, per modality, and a digest of
the trained inference model's parameters and buffers (see `code_digests`).

The table was generated from the tree at commit 0203ac5, before the shared blocks were folded
(`PYTHONPATH=<checkout of 0203ac5> python tests/test_codes_unchanged.py`, with that checkout's
`plugins/` importable as `hashbench_plugins`), and the current tree gives the same digests.

The digests pin codes ON THE MACHINE THAT GENERATED THEM (a 2-core x86-64 Xeon, torch 2.14.1,
CPU kernels dispatched for AVX512) with ONE torch thread: torch's CPU kernels choose summation
orders by CPU features and thread count, so another CPU or torch build can give other codes
although nothing changed. The test therefore fixes the thread count itself, and skips (saying
why) where torch's version or CPU capability differs from `PINNED_ON`; there, regenerate the
table from a commit known to be good (`python tests/test_codes_unchanged.py` prints it) before
using it to check a refactor. A method added after the pin is skipped with that instruction
(it has no earlier codes to keep); a pinned method that is no longer registered fails.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest
import torch

from hashbench.codes import unpack_codes
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.testing import run_tiny, tiny_dataset, tiny_unimodal_dataset

REGISTRY = Registry.from_plugin_manager(create_plugin_manager())
BITS, SEED, THREADS = 16, 0, 1
#: where the table was generated: torch's version and the CPU capability its kernels dispatch on
PINNED_ON = {"torch": "2.14.1", "cpu_capability": "AVX512"}


def _platform() -> dict[str, str]:
    return {
        "torch": torch.__version__.split("+")[0],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


# {"method/task": {"split.modality": sha256 prefix of the int8 codes}}, from commit 0203ac5.
EXPECTED: dict[str, dict[str, str]] = {
    "cca-itq/cross-modal": {
        "query.image": "2fd58b70f2a72fec",
        "query.text": "927e61eb8d0cd3c3",
        "retrieval.image": "dc4b0a07613839a0",
        "retrieval.text": "dc4b631d6d74117e",
        "weights": "97de239c7934117b",
    },
    "cirh-like/cross-modal": {
        "query.image": "065a5f34ab6029e3",
        "query.text": "bf55c4a2024437ba",
        "retrieval.image": "07efa667f593d6e9",
        "retrieval.text": "20e276c49c0d6384",
        "weights": "7fab501c9b831b4e",
    },
    "ddss-like/cross-modal": {
        "query.image": "945645f0cfb400a8",
        "query.text": "2e0fd3e5695de8e7",
        "retrieval.image": "ec1c6a58fe597a7e",
        "retrieval.text": "75932be37b112330",
        "weights": "051d92b4d75e0d94",
    },
    "ddss-like-strict/cross-modal": {
        "query.image": "945645f0cfb400a8",
        "query.text": "d3b2534983f447e4",
        "retrieval.image": "ec1c6a58fe597a7e",
        "retrieval.text": "f70dee7c9b455be4",
        "weights": "051d92b4d75e0d94",
    },
    "dgcpn/cross-modal": {
        "query.image": "fb1ee7db0d8b6706",
        "query.text": "85e59eb0687cc39f",
        "retrieval.image": "2906846b37f9ab81",
        "retrieval.text": "01f276503a5b7545",
        "weights": "353a24c4dae1c1db",
    },
    "djsrh/cross-modal": {
        "query.image": "54f4d8cb381239c9",
        "query.text": "55f4e17e2d72bc41",
        "retrieval.image": "e8c38e928347879b",
        "retrieval.text": "bc882543a3f87cb4",
        "weights": "bf0c7d6da6a273db",
    },
    "dpsh-cnn/unimodal": {
        "query.events": "4ffa241a50f270ba",
        "retrieval.events": "69c6150209c93cfd",
        "weights": "c0a80e13f273aab5",
    },
    "jdsh/cross-modal": {
        "query.image": "fdc0babee0486730",
        "query.text": "99974bb3d1677f74",
        "retrieval.image": "cc94ac3b964d509c",
        "retrieval.text": "353a6e49ecba50da",
        "weights": "1d6d41af057500a2",
    },
    "lsh/cross-modal": {
        "query.image": "de36778a13b357b2",
        "query.text": "122c45c480c7af4e",
        "retrieval.image": "b8449e095a6f2812",
        "retrieval.text": "93115b5334509832",
        "weights": "8f1a80dc84268c2a",
    },
    "lsh/unimodal": {
        "query.events": "4e0e669e77fb5b3c",
        "retrieval.events": "483c85175fa2cab0",
        "weights": "d310011fdebe45bd",
    },
    "spikehash/cross-modal": {
        "query.image": "2cb36f04a075a7aa",
        "query.text": "b9f5c124fa2da893",
        "retrieval.image": "77d45af3870dd80a",
        "retrieval.text": "851ebd5afb99480a",
        "weights": "a73d8bcf36691cd8",
    },
    "spikehash-strict/cross-modal": {
        "query.image": "178b6bba4a4554fd",
        "query.text": "839c481722adafdb",
        "retrieval.image": "67acc734525d1ce8",
        "retrieval.text": "e94fe615135d1bbf",
        "weights": "78b033f9a732c73e",
    },
    "spikinghash/unimodal": {
        "query.events": "9f56cda75fefeab9",
        "retrieval.events": "2b6e99ee899e1515",
        "weights": "c7d8afd5254c6a49",
    },
    # pinned when it was added (issue 29), not from the earlier tree
    "spikinghash-released/unimodal": {
        "query.events": "a549bca36c88d45b",
        "retrieval.events": "b191b6b16a4121ee",
        "weights": "09eb8af9b9c7f02d",
    },
    "spikinghash-xm/cross-modal": {
        "query.image": "eac3349c2bcfb431",
        "query.text": "eac3349c2bcfb431",
        "retrieval.image": "a1617e6fc76ec8b0",
        "retrieval.text": "a1617e6fc76ec8b0",
        "weights": "828eb485b4d64e2f",
    },
    "ucch/cross-modal": {
        "query.image": "5d3f3205cefdaf6d",
        "query.text": "7ecb5853d999bdfe",
        "retrieval.image": "eab2f66bb51c2539",
        "retrieval.text": "9b6e946b4ba3e5a7",
        "weights": "4efd89f6c984d3c1",
    },
    "ucmfh/cross-modal": {
        "query.image": "07b7ede9fc1ec453",
        "query.text": "7110cdc49673fa08",
        "retrieval.image": "e0d98a3582839c8b",
        "retrieval.text": "ceff03d710855ecd",
        "weights": "08b073ab39caa0e7",
    },
    "ucmfh-strict/cross-modal": {
        "query.image": "2bd7b560b878f025",
        "query.text": "7110cdc49673fa08",
        "retrieval.image": "6a5426e5be56aa66",
        "retrieval.text": "ceff03d710855ecd",
        "weights": "705cbd9c44f1648d",
    },
}


def _cases() -> list[tuple[str, str]]:
    """(method, task) for every registered method and task it declares."""
    return [
        (name, task)
        for name in REGISTRY.list_methods()
        for task in REGISTRY.method(name).info.tasks
    ]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def weights_digest(model: torch.nn.Module) -> str:
    """Digest of the values of every parameter and buffer, independent of their names and
    order (the sorted digests of the tensors): renaming a module or moving it into a shared
    block keeps it; any changed value, initialisation order or random draw changes it."""
    tensors = [*model.parameters(), *model.buffers()]
    parts = sorted(
        _sha(
            repr((t.dtype, tuple(t.shape))).encode()
            + t.detach().cpu().contiguous().numpy().tobytes()
        )
        for t in tensors
    )
    return _sha("".join(parts).encode())


def code_digests(name: str, task: str) -> dict[str, str]:
    """{"split.modality": digest of the codes, "weights": digest of the trained inference
    model (methods with a torch model)} that `name` gives on the tiny dataset of `task`.

    The weights are pinned too because on such tiny data several deep methods give nearly
    constant codes after their one test epoch; the weights see every change the codes miss.
    """
    cls = REGISTRY.method(name)
    built: list = []

    class Capture(cls):  # the same method; keeps the instance the harness builds
        def __init__(self, context):
            super().__init__(context)
            built.append(self)

    dataset = tiny_dataset() if task == "cross-modal" else tiny_unimodal_dataset()
    _, arrays = run_tiny(
        Capture, bits=BITS, seed=SEED, overrides=dict(cls.test_params), dataset=dataset
    )
    out = {}
    for key in sorted(k for k in arrays if k.startswith("codes.")):
        codes = np.ascontiguousarray(unpack_codes(arrays[key], BITS), dtype=np.int8)
        out[key.removeprefix("codes.")] = _sha(codes.tobytes())
    model = built[-1].inference_model()
    if model is not None:
        out["weights"] = weights_digest(model)
    return out


@pytest.fixture
def fixed_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("fixed_threads")
@pytest.mark.parametrize(("name", "task"), _cases(), ids=[f"{n}/{t}" for n, t in _cases()])
def test_codes_are_unchanged_for_a_fixed_seed(name, task):
    key = f"{name}/{task}"
    if _platform() != PINNED_ON:
        pytest.skip(
            f"digests pinned on {PINNED_ON}, this is {_platform()}: CPU kernels may sum in "
            "another order; regenerate the table here from a known-good commit to use it"
        )
    if key not in EXPECTED:
        pytest.skip(
            f"'{name}' ({task}) was added after the pin: no earlier codes to keep. Pin it once it "
            "is settled: `python tests/test_codes_unchanged.py` prints its row for EXPECTED"
        )
    got, expected = code_digests(name, task), EXPECTED[key]
    changed = sorted(k for k in got.keys() | expected.keys() if got.get(k) != expected.get(k))
    assert not changed, (
        f"method '{name}' ({task}, {BITS} bits, seed {SEED}) gives other {', '.join(changed)} "
        "than at the pin: a refactor must keep codes and trained weights bit-identical (for an "
        "intended change, re-pin as the module docstring says)"
    )


def test_the_table_names_only_registered_methods():
    stale = sorted(set(EXPECTED) - {f"{n}/{t}" for n, t in _cases()})
    assert not stale, f"EXPECTED names methods that are no longer registered: {stale}"


if __name__ == "__main__":  # print the table (see the module docstring)
    torch.set_num_threads(THREADS)
    print("EXPECTED = {")
    for name, task in _cases():
        print(f'    "{name}/{task}": {code_digests(name, task)!r},', flush=True)
    print("}")
    sys.exit(0)
