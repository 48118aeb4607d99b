"""Hyperparameter declarations: the values a method allows, and the ranges worth tuning.

A method may declare, next to its `default_params`:

- `param_ranges`: {name: domain} of the values a user may set with `--param` (a negative ridge,
  a learning rate of 0 or an unknown loss name are refused before any run starts);
- `search_space`: {name: domain} of the hyperparameters `hashbench tune` searches, each with a
  bounded range; a search domain must lie inside the parameter's allowed range. `UpToBudget(low)`
  (search only) reaches up to the value the budget gives the parameter (epochs within budget).

The three domain types serve both: `Float(low, high, log=...)`, `Int(low, high, log=...)` and
`Choice(options)`. A bound of None is open (allowed ranges only; search ranges need both).

`coerce` turns a command-line string into the type of the parameter's default (booleans accept
true/false/yes/no/1/0), so `--param m.center=no` arrives as False, never as the truthy "no".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hashbench.errors import InputError

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


@dataclass(frozen=True)
class Float:
    """A real number in [low, high] (None: unbounded on that side); `log` samples log-uniformly."""

    low: float | None = None
    high: float | None = None
    log: bool = False

    def problems(self) -> list[str]:
        out = []
        for side, bound in (("low", self.low), ("high", self.high)):
            if bound is not None and (
                isinstance(bound, bool)
                or not isinstance(bound, (int, float))
                or not math.isfinite(bound)
            ):
                out.append(f"{side} bound {bound!r} is not a finite number (None: open)")
        if out:
            return out
        if isinstance(self, Int) and any(
            b is not None and not float(b).is_integer() for b in (self.low, self.high)
        ):
            out.append(f"Int bounds must be whole numbers, got [{self.low}, {self.high}]")
        if self.low is not None and self.high is not None and self.low > self.high:
            out.append(f"empty range [{self.low}, {self.high}]")
        if self.log and (self.low is None or self.low <= 0):
            out.append("a log range needs low > 0")
        return out

    def check(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "a number"
        if not math.isfinite(value):
            return f"a finite number {self.describe()}"
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            return f"a number {self.describe()}"
        return None

    def describe(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"in [{low}, {high}]" + (" (log scale)" if self.log else "")

    def contains(self, other: Float | Int) -> bool:
        lo_ok = self.low is None or (other.low is not None and other.low >= self.low)
        hi_ok = self.high is None or (other.high is not None and other.high <= self.high)
        return lo_ok and hi_ok

    def suggest(self, trial: Any, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None


@dataclass(frozen=True)
class Int(Float):
    """A whole number in [low, high]."""

    low: int | None = None
    high: int | None = None

    def check(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"a whole number {self.describe()}"
        return super().check(value) and f"a whole number {self.describe()}"

    def suggest(self, trial: Any, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of values."""

    options: Sequence[Any]

    def problems(self) -> list[str]:
        return [] if len(self.options) else ["no options"]

    def check(self, value: Any) -> str | None:
        return None if value in list(self.options) else f"one of {self.describe()}"

    def describe(self) -> str:
        return ", ".join(json.dumps(o) for o in self.options)

    def contains(self, other: Any) -> bool:
        return isinstance(other, Choice) and all(o in list(self.options) for o in other.options)

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.options))

    @property
    def bounded(self) -> bool:
        return True


@dataclass(frozen=True)
class UpToBudget:
    """Search only: a whole number from `low` up to the parameter's value under the run's
    budget and dataset (e.g. `"epochs": UpToBudget(2)` never trains longer than the budget)."""

    low: int = 1
    log: bool = False

    def problems(self) -> list[str]:
        return [] if isinstance(self.low, int) and self.low >= 1 else ["low must be 1 or more"]

    def describe(self) -> str:
        return f"in [{self.low}, the budget's value]" + (" (log scale)" if self.log else "")

    def resolve(self, value: Any) -> Int:
        """The concrete range once the budget's value is known."""
        high = int(value)
        return Int(min(self.low, high), high, log=self.log)

    @property
    def bounded(self) -> bool:
        return True


Domain = Float | Int | Choice
SearchDomain = Float | Int | Choice | UpToBudget


def resolve_space(
    space: Mapping[str, SearchDomain], params: Mapping[str, Any]
) -> dict[str, Domain]:
    """A search space with every `UpToBudget` made concrete from the resolved `params`."""
    return {
        name: d.resolve(params[name]) if isinstance(d, UpToBudget) else d
        for name, d in space.items()
    }


def coerce(name: str, raw: Any, default: Any) -> Any:
    """`raw` (a command-line string, or a value from a sweep file) in the type of `default`."""
    if not isinstance(raw, str) or isinstance(default, str):
        value = raw
    elif isinstance(default, bool):
        word = raw.strip().lower()
        if word not in _TRUE + _FALSE:
            raise InputError(
                f"--param {name}={raw}: expected a boolean (true/false, yes/no or 1/0)"
            )
        return word in _TRUE
    elif isinstance(default, int):
        try:
            return int(raw.strip())
        except ValueError:
            pass
        try:  # 1e3 is a whole number too; the declared range then judges its size
            number = float(raw.strip())
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or not number.is_integer():
            raise InputError(f"--param {name}={raw}: expected a whole number") from None
        return int(number)
    elif isinstance(default, float):
        try:
            return float(raw.strip())
        except ValueError:
            raise InputError(f"--param {name}={raw}: expected a number") from None
    else:  # None, lists, dicts: JSON where it parses, else the bare word
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
    # values that come typed (sweep files): a bool for a number or a string for a bool is wrong
    if isinstance(default, bool) and not isinstance(value, bool):
        if isinstance(value, str):
            return coerce(name, value, default)
        raise InputError(f"--param {name}={value!r}: expected a boolean (true or false)")
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"--param {name}={value!r}: expected a number")
        if isinstance(default, int) and isinstance(value, float):
            if not value.is_integer():
                raise InputError(f"--param {name}={value!r}: expected a whole number")
            value = int(value)
        if isinstance(default, float):
            value = float(value)
    return value


def check_value(method: str, name: str, value: Any, domain: Domain | None) -> None:
    """Refuse `value` when the method's declared domain does not allow it; a NaN or infinite
    number is refused for every parameter (no declared range allows one)."""
    if _non_finite(value):
        raise InputError(
            f"--param {method}.{name}={json.dumps(value, default=str)}: not allowed; {name} "
            "must hold finite numbers only (no NaN or infinity)"
        )
    if domain is None:
        return
    wanted = domain.check(value)
    if wanted:
        raise InputError(
            f"--param {method}.{name}={json.dumps(value, default=str)}: not allowed; "
            f"{name} must be {wanted}"
        )


def _non_finite(value: Any) -> bool:
    """Whether `value` is, or holds (in a list or dict), a NaN or an infinity."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    return False


def declaration_problems(
    defaults: Mapping[str, Any],
    ranges: Mapping[str, Domain],
    search_space: Mapping[str, Domain],
) -> list[str]:
    """What is wrong with a method's declared ranges and search space (empty when fine)."""
    out = []
    bad: set[tuple[str, str]] = set()  # (kind, name): no further check compares its bounds
    for kind, table in (("param_ranges", ranges), ("search_space", search_space)):
        for name, domain in table.items():
            if name not in defaults:
                out.append(f"{kind} names '{name}', which is not in default_params")
                continue
            types = (Float, Choice, UpToBudget) if kind == "search_space" else (Float, Choice)
            if not isinstance(domain, types):
                out.append(f"{kind}['{name}'] is {domain!r}; use hashbench.Float, Int or Choice")
                bad.add((kind, name))
                continue
            found = domain.problems()
            out += [f"{kind}['{name}']: {p}" for p in found]
            if found:
                bad.add((kind, name))
    if bad:
        return out
    for name, domain in search_space.items():
        if isinstance(domain, UpToBudget):
            if name in defaults and (
                isinstance(defaults[name], bool) or not isinstance(defaults[name], int)
            ):
                out.append(f"search_space['{name}'] is UpToBudget, but its default is no int")
            allowed = ranges.get(name)
            if allowed is not None and allowed.check(domain.low):
                out.append(f"search_space['{name}'] starts at {domain.low}, outside param_ranges")
            continue
        if not isinstance(domain, (Float, Choice)):
            continue
        if not domain.bounded:
            out.append(f"search_space['{name}'] needs both bounds")
        allowed = ranges.get(name)
        if allowed is not None and not allowed.contains(domain):
            out.append(
                f"search_space['{name}'] ({domain.describe()}) is not inside its "
                f"param_ranges ({allowed.describe()})"
            )
    for name, domain in ranges.items():
        default = defaults.get(name)
        if isinstance(domain, (Float, Choice)) and default is not None and domain.check(default):
            out.append(f"default {name}={default!r} is outside its param_ranges")
    return out
