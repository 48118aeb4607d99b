"""Error types that reach people: each says what was wrong, where, and how to fix it.

The CLI turns every `HashbenchError` into a one-line message and a non-zero exit code;
anything else is treated as an internal error (full traceback only with `--debug`).
"""

from __future__ import annotations


class HashbenchError(Exception):
    """Base class of every error meant for a user rather than a developer."""


class InputError(HashbenchError, ValueError):
    """A bad argument or bad data: names the argument and what would be valid."""


class UnknownNameError(InputError):
    """An unknown method, dataset, encoder or plugin name."""


class PluginError(HashbenchError):
    """A plugin raised, or returned something that breaks the method contract."""


class StoreError(HashbenchError):
    """The results database cannot be opened, read or written."""


class RunFailedError(HashbenchError):
    """A run of a sweep failed in a worker (the message carries its traceback)."""
