"""What one run is: its specification, resolved hyperparameters and content-addressed id."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hashbench.codes import MAX_BITS
from hashbench.errors import InputError, PluginError
from hashbench.methods import BUDGETS, Method
from hashbench.params import check_value, coerce

# torch and numpy take seeds below 2**63 and 2**32; one range serves all of them.
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class RunSpec:
    """One cell of a grid: a method on a dataset at a code length, seed and budget."""

    method: str
    dataset: str
    bits: int
    seed: int
    budget: str = "paper"
    overrides: Mapping[str, Any] = field(default_factory=dict)


def parse_bits(values: Iterable[str | int]) -> list[int]:
    """Validate code lengths: whole numbers from 1 to MAX_BITS."""
    out = []
    for raw in values:
        text = str(raw).strip()
        try:
            bits = int(text)
        except ValueError:
            raise InputError(
                f"--bits: '{text}' is not a whole number (e.g. --bits 16,32,64)"
            ) from None
        if not 1 <= bits <= MAX_BITS:
            raise InputError(
                f"--bits: {bits} is out of range; code lengths go from 1 to {MAX_BITS}"
            )
        out.append(bits)
    if not out:
        raise InputError("--bits is empty; give one or more code lengths, e.g. --bits 16,32")
    return sorted(set(out))


def parse_seeds(values: Iterable[str | int]) -> list[int]:
    out = []
    for raw in values:
        text = str(raw).strip()
        try:
            seed = int(text)
        except ValueError:
            raise InputError(
                f"--seeds: '{text}' is not a whole number (e.g. --seeds 0,1,2)"
            ) from None
        if not 0 <= seed <= MAX_SEED:
            raise InputError(f"--seeds: {seed} is out of range; seeds go from 0 to {MAX_SEED}")
        out.append(seed)
    if not out:
        raise InputError("--seeds is empty; give one or more seeds, e.g. --seeds 0,1,2")
    return sorted(set(out))


def parse_budget(budget: str) -> str:
    if budget not in BUDGETS:
        raise InputError(f"--budget: '{budget}' is not one of {', '.join(BUDGETS)}")
    return budget


def parse_budgets(values: list[str]) -> list[str]:
    """--budget quick,paper: every budget of the sweep, each one checked."""
    budgets = [parse_budget(v) for v in values]
    if not budgets:
        raise InputError(f"--budget needs at least one of {', '.join(BUDGETS)}")
    return list(dict.fromkeys(budgets))


# what `hashbench run --protocol` accepts ("tuned" and "trial" runs come from `hashbench tune`)
RUN_PROTOCOLS = ("default", "as-released")


def parse_protocol(protocol: str) -> str:
    if protocol not in RUN_PROTOCOLS:
        raise InputError(f"--protocol '{protocol}' is not one of {', '.join(RUN_PROTOCOLS)}")
    return protocol


def parse_param_overrides(
    items: Iterable[str], methods: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """`method.key=value` strings -> {method: {key: raw value}}.

    Values stay strings here: `resolve_params` types each by the method's default.
    """
    known = set(methods)
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        method, dot, key = target.partition(".")
        if not sep or not dot or not method or not key:
            raise InputError(f"--param '{item}': expected METHOD.NAME=VALUE, e.g. ucmfh.epochs=20")
        if method not in known:
            listed = ", ".join(sorted(known))
            raise InputError(
                f"--param '{item}': method '{method}' is not among --methods ({listed})"
            )
        out.setdefault(method, {})[key] = value
    return out


def resolve_params(
    method_cls: type[Method], protocol: str, budget: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The method's defaults for this protocol and budget, with the user's overrides applied.

    Each override is typed by its default (`hashbench.params.coerce`) and checked against the
    method's declared `param_ranges`; a bad value fails here, before any run starts.
    """
    params = method_cls.resolve_params(protocol, budget)
    name = method_cls.info.name
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        valid = ", ".join(sorted(params)) or "(this method has no hyperparameters)"
        raise InputError(
            f"--param: {method_cls.info.name} has no hyperparameter {', '.join(unknown)}; "
            f"valid: {valid}"
        )
    for key, raw in overrides.items():
        value = coerce(f"{name}.{key}", raw, params[key])
        check_value(name, key, value, method_cls.param_ranges.get(key))
        params[key] = value
    return params


def complete_params(
    method_cls: type[Method],
    params: Mapping[str, Any],
    bits: int,
    feature_dims: Mapping[str, int],
    input_shapes: Mapping[str, tuple[int, ...]],
) -> dict[str, Any]:
    """`Method.complete_params`: run-dependent values filled in (the stored parameters are the
    ones used), checked to keep the same names."""
    name = method_cls.info.name
    try:
        done = method_cls.complete_params(
            dict(params), bits=bits, feature_dims=dict(feature_dims), input_shapes=input_shapes
        )
    except Exception as exc:
        raise PluginError(
            f"method '{name}' raised in complete_params: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(done, Mapping) or set(done) != set(params):
        raise PluginError(
            f"method '{name}': complete_params must return the parameters with the same names"
        )
    return dict(done)


def run_id(
    spec: RunSpec,
    params: Mapping[str, Any],
    dataset_fingerprint: str,
    protocol: str = "default",
    selection: Mapping[str, Any] | None = None,
) -> str:
    """Content address of a run: same inputs, same id, on any machine.

    A run of another protocol than "default" (`--protocol as-released`, with the declared
    selection that decides its result) adds them to the payload; a default run's id is the one
    it always had.
    """
    payload: dict[str, Any] = {
        "method": spec.method,
        "params": params,
        "dataset_fingerprint": dataset_fingerprint,
        "bits": spec.bits,
        "seed": spec.seed,
        "budget": spec.budget,
    }
    if protocol != "default":
        payload["protocol"] = protocol
        if selection is not None:
            payload["selection"] = dict(selection)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
