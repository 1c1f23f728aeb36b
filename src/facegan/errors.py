"""What stops a command early, and how it says so.

Errors a user can fix: stage scripts and the `facegan` command print their message (which
says what was wrong and how to fix it) and exit with code 2, no traceback.

Ctrl-C and SIGTERM: with `install_interrupts`, an `Interrupted` error that unwinds
(removing temporary files) to the entry point, which prints one line; held off while a
temporary file is being made (`interrupts_held`), so that none is ever left without a name
to remove it by.
"""
from __future__ import annotations

import pickle
import signal
from contextlib import contextmanager
from typing import Iterator


class UserError(Exception):
    """Bad input, params or files; the message says what to change."""


def cause(error: BaseException) -> str:
    """The first line of another library's error message, for a one-line UserError
    (torch's load errors run to a dozen lines of advice meant for its own developers), and
    of a long line its first sentence."""
    if isinstance(error, pickle.UnpicklingError):  # torch's weights_only refusal: its text suggests unsafe loading
        return "not a file of tensors that torch loads without running code"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > 120 and ". " in first:  # torch's one-line paragraphs: their first sentence says what failed
        first = first[: first.index(". ") + 1]
    return f"{type(error).__name__}: {first}"


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM stopped a command; the message, when there is one, says what is
    complete on disk. A BaseException, as KeyboardInterrupt is, so that no `except
    Exception` takes it for a damaged file; and not a KeyboardInterrupt, which Click
    would turn into "Aborted!"."""


_held = 0  # how deep in `interrupts_held()` blocks the running code is
_pending = False  # a signal came while held


def _interrupt(signum: int, frame: object) -> None:
    global _pending
    if _held:
        _pending = True
        return
    raise Interrupted()


def install_interrupts() -> None:
    """Make SIGINT and SIGTERM raise Interrupted in this process (main thread only)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Defer an interrupt that comes inside the block to its end (with `install_interrupts`)."""
    global _held, _pending
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if not _held and _pending:
            _pending = False
            raise Interrupted()
