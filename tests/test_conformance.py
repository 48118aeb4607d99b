"""Conformance of every registered method to the method contract (see hashbench.testing)."""

from __future__ import annotations

import pytest
import torch

import hashbench
from hashbench.errors import PluginError
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.testing import check_encode_pairs, check_method_conformance, run_tiny

REGISTRY = Registry.from_plugin_manager(create_plugin_manager())


# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", REGISTRY.list_methods())
def test_method_conforms(name):
    check_method_conformance(REGISTRY.method(name))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", REGISTRY.list_methods())
def test_method_conforms_on_cuda(name):
    """Every method trains and encodes on a GPU: no device is hard-coded (the harness moves
    the data; the method puts its modules on its context's device)."""
    check_method_conformance(REGISTRY.method(name), device="cuda")


@pytest.mark.parametrize(
    "name", [n for n in REGISTRY.list_methods() if REGISTRY.method(n).info.pair_fused]
)
def test_encode_pairs_equals_encode_per_modality(name):
    """A pair-fused method's one-pass `encode_pairs` (used by the harness when it returns
    codes) must give exactly the codes of `encode` called for each modality (the check that
    `check_method_conformance` runs for third parties too)."""
    cls = REGISTRY.method(name)
    check_encode_pairs(cls, overrides=dict(cls.test_params))


class _Spy(hashbench.Method):
    """Records what the harness shows it."""

    info = hashbench.MethodInfo(name="spy", display_name="Spy", reference="test", summary="spy")
    seen: list = []

    def fit(self, train):
        type(self).seen.append(("fit", train.labels, train.size))

    def encode(self, modality, inputs):
        type(self).seen.append(("encode", modality, tuple(inputs)))
        return torch.ones(len(inputs[modality]), self.bits)


def test_unsupervised_methods_never_see_labels_and_encode_per_modality():
    _Spy.seen = []
    run_tiny(_Spy)
    fit_calls = [s for s in _Spy.seen if s[0] == "fit"]
    assert fit_calls == [("fit", None, 250)], "training split only, no labels"
    encodes = {s for s in _Spy.seen if s[0] == "encode"}
    assert encodes == {("encode", "image", ("image",)), ("encode", "text", ("text",))}


def test_pair_fused_methods_get_both_modalities_and_are_flagged():
    class Fused(_Spy):
        info = hashbench.MethodInfo(
            name="fused", display_name="F", reference="t", summary="f", pair_fused=True
        )

    Fused.seen = []
    record, _ = run_tiny(Fused)
    encodes = {s for s in Fused.seen if s[0] == "encode"}
    assert encodes == {
        ("encode", "image", ("image", "text")),
        ("encode", "text", ("image", "text")),
    }
    assert record.pair_fused is True


def test_encode_pairs_is_used_once_per_batch_and_checked():
    class Pairs(_Spy):
        info = hashbench.MethodInfo(
            name="pairs", display_name="P", reference="t", summary="p", pair_fused=True
        )
        keys: tuple = ("image", "text")

        def encode_pairs(self, inputs):
            type(self).seen.append(("encode_pairs", tuple(inputs)))
            n = len(inputs["image"])
            return {m: torch.ones(n, self.bits) for m in type(self).keys}

    Pairs.seen = []
    record, arrays = run_tiny(Pairs)
    assert not [s for s in Pairs.seen if s[0] == "encode"]  # the one-pass path replaced it
    assert {s for s in Pairs.seen if s[0] == "encode_pairs"} == {
        ("encode_pairs", ("image", "text"))
    }
    assert record.pair_fused is True and "codes.query.text" in arrays

    class Incomplete(Pairs):
        info = hashbench.MethodInfo(
            name="incomplete", display_name="I", reference="t", summary="i", pair_fused=True
        )
        keys = ("image",)

    with pytest.raises(PluginError, match="incomplete.*returned modalities"):
        run_tiny(Incomplete)


def test_supervised_methods_get_training_labels_only():
    class Supervised(_Spy):
        info = hashbench.MethodInfo(
            name="sup", display_name="S", reference="t", summary="s", supervision="supervised"
        )

    Supervised.seen = []
    run_tiny(Supervised)
    (fit_call,) = [s for s in Supervised.seen if s[0] == "fit"]
    assert fit_call[1] is not None and fit_call[1].shape[0] == 250


def test_conformance_applies_test_params_then_overrides():
    class Quick(_Spy):
        info = hashbench.MethodInfo(name="quick", display_name="Q", reference="t", summary="q")
        default_params = {"epochs": 100, "width": 8}
        test_params = {"epochs": 1}
        used: list = []

        def fit(self, train):
            type(self).used.append(dict(self.params))

    check_method_conformance(Quick)
    assert Quick.used[0] == {"epochs": 1, "width": 8}
    Quick.used = []
    check_method_conformance(Quick, overrides={"width": 4})
    assert Quick.used[0] == {"epochs": 1, "width": 4}
    assert Quick.resolve_params("mirflickr", "quick")["epochs"] == 100  # never a budget


def test_conformance_refuses_nonsense_reported_to_epoch_end():
    from tests.adversarial_toys import NonsenseEpochs

    with pytest.raises(PluginError, match=r"epoch=-1, epochs=3.*Call self.epoch_end\(epoch"):
        check_method_conformance(NonsenseEpochs)


def test_conformance_refuses_a_method_that_changes_the_dataset():
    from tests.adversarial_toys import PoisonsDataset

    with pytest.raises(PluginError, match="changed the dataset object in place"):
        check_method_conformance(PoisonsDataset)
