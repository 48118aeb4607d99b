"""Compact letter display (Piepho 2004) and the marks it implies.

From the set of pairs a test separates, `compact_letters` gives every method a string of
letters such that two methods share a letter exactly when the test does not separate them
(Piepho's insert-and-absorb algorithm: start with one letter for all; for each separated pair
(i, j), split every letter holding both into a copy without i and a copy without j; drop any
letter whose methods are a subset of another's). Letters are named in order of their best
member, so "a" always holds the best method.

Marks follow the letters: letter a = the best mark, b = second, c = third; a method carries the
mark of each of its letters (in LaTeX e.g. bold and underlined for "ab"). Hence two methods the
test cannot separate always share a mark (or both lie beyond the third letter), and two methods
it separates never share one: no chain through a third method can give them different marks.
"""

from __future__ import annotations

import string
from collections.abc import Iterable

_ALPHABET = string.ascii_lowercase + string.ascii_uppercase


def _letter(k: int) -> str:
    return _ALPHABET[k] if k < len(_ALPHABET) else f"[{k + 1}]"


def compact_letters(order: list[str], separated: Iterable[tuple[str, str]]) -> dict[str, str]:
    """method -> letters; `order`: best first (names letters), `separated`: pairs to split."""
    position = {m: i for i, m in enumerate(order)}
    pairs = sorted(
        {tuple(sorted(p, key=position.__getitem__)) for p in separated},
        key=lambda p: (position[p[0]], position[p[1]]),
    )
    groups: list[frozenset[str]] = [frozenset(order)] if order else []
    for i, j in pairs:
        split: list[frozenset[str]] = []
        for group in groups:
            if i in group and j in group:
                split += [group - {i}, group - {j}]
            else:
                split.append(group)
        groups = _absorb(split)
    groups.sort(key=lambda g: sorted(position[m] for m in g))
    letters = dict.fromkeys(order, "")
    for k, group in enumerate(groups):
        for method in group:
            letters[method] += _letter(k)
    return letters


def _absorb(groups: list[frozenset[str]]) -> list[frozenset[str]]:
    """Drop duplicates and every group contained in another."""
    unique = list(dict.fromkeys(groups))
    return [g for g in unique if not any(g < h for h in unique)]


def letter_marks(
    order: list[str], separated: Iterable[tuple[str, str]], n_marks: int
) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """(letters, marks): marks[m] = the 1-based indexes of m's letters among the first n_marks."""
    letters = compact_letters(order, separated)
    groups: list[set[str]] = []
    # recover each letter's members in letter order
    names = sorted({ch for v in letters.values() for ch in _split(v)}, key=_index)
    for name in names:
        groups.append({m for m, v in letters.items() if name in _split(v)})
    marks = {
        m: tuple(k + 1 for k, g in enumerate(groups) if k < n_marks and m in g) for m in order
    }
    return letters, marks


def _split(letters: str) -> list[str]:
    out, k = [], 0
    while k < len(letters):
        if letters[k] == "[":
            end = letters.index("]", k)
            out.append(letters[k : end + 1])
            k = end + 1
        else:
            out.append(letters[k])
            k += 1
    return out


def _index(name: str) -> int:
    return int(name[1:-1]) - 1 if name.startswith("[") else _ALPHABET.find(name)
