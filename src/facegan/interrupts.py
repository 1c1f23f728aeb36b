"""Ctrl-C and SIGTERM as an `Interrupted` error that unwinds (removing temporary files) to
`run_cli`, which prints one line; held off while a temporary file is being made, so that
none is ever left without a name to remove it by."""
from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

from facegan.errors import Interrupted

_held = 0  # how deep in `held()` blocks the running code is
_pending = False  # a signal came while held


def _interrupt(signum: int, frame: object) -> None:
    global _pending
    if _held:
        _pending = True
        return
    raise Interrupted()


def install() -> None:
    """Make SIGINT and SIGTERM raise Interrupted in this process (main thread only)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)


@contextmanager
def held() -> Iterator[None]:
    """Defer an interrupt that comes inside the block to its end (with `install`ed handlers)."""
    global _held, _pending
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if not _held and _pending:
            _pending = False
            raise Interrupted()
