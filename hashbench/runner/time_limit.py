"""`--run-timeout`: a limit on one run's time, and how a run in this process is held to it.

In this process (`time_limit`), a SIGALRM timer raises `RunTimeout` in the main thread once the
limit passes (never in the middle of an import: it waits for it to end), and again every half
second after that, so a plugin that swallows it is interrupted again; a run that still returns
after its limit is failed all the same. What it cannot do:
interrupt a C call that never returns to Python (a signal handler runs between bytecodes), or
run outside the main thread or on a platform without SIGALRM. The process and Ray executors
therefore also end the worker itself a grace period after the limit (`hard_limit`).
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from hashbench.errors import InputError

_RETRY_S = 0.5  # after the limit, the alarm repeats until the run stops


class RunTimeout(BaseException):  # noqa: N818 -- not an Exception: `except Exception` in a plugin must not swallow it
    """Raised in the main thread when a run passes its `--run-timeout`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(timeout_reason(seconds))
        self.seconds = seconds


def timeout_reason(seconds: float) -> str:
    return f"exceeded --run-timeout of {seconds:g} s"


def check_run_timeout(seconds: float | None) -> float | None:
    """`seconds` when it is a usable limit (None: no limit); else a one-line InputError."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InputError(f"--run-timeout {seconds!r}: expected a number of seconds")
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(
            f"--run-timeout {seconds:g}: give a finite number of seconds > 0 "
            "(e.g. --run-timeout 3600), or leave it out for no limit"
        )
    return float(seconds)


def hard_limit(seconds: float) -> float:
    """When an executor ends a worker whose run passed `seconds` and did not stop itself: the
    worker's own timer had its chance, and loading the data counts too."""
    return seconds + max(5.0, 0.1 * seconds)


def can_interrupt() -> bool:
    """Whether `time_limit` works here: SIGALRM exists and this is the main thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _importing() -> bool:
    """Whether a module is being imported right now: an exception raised in the middle would
    leave it half-initialised in sys.modules, breaking every later run in this process."""
    for module in list(sys.modules.values()):
        if getattr(getattr(module, "__spec__", None), "_initializing", False):
            return True
    return False


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise `RunTimeout` in the block once `seconds` have passed (see the module docstring).

    No limit (None), or no way to interrupt here (`can_interrupt` is False): the block runs as
    it is, and the caller's executor must enforce the limit from outside.
    """
    if seconds is None or not can_interrupt():
        yield
        return
    fired, armed = False, True

    def on_alarm(signum, frame) -> None:
        nonlocal fired
        if armed and not _importing():  # never half-import a module: try again next tick
            fired = True
            raise RunTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, _RETRY_S)  # and again until disarmed
    try:
        yield
    finally:
        while True:  # the alarm may interrupt the disarming itself: retry until it is done
            try:
                armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except RunTimeout:
                continue
        if fired:  # also when the plugin caught it (and returned, or raised something else)
            raise RunTimeout(seconds)
