"""Progress reporting: a tqdm bar (rate, ETA) on a terminal, plain periodic lines otherwise.

CI logs and `dvc repro` piped to a file get one line every `every_seconds` instead of
carriage-return noise.
"""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(
    items: Iterable[T],
    total: int | None = None,
    desc: str = "",
    initial: int = 0,
    every_seconds: float = 10.0,
    stream=None,
) -> Iterator[T]:
    """Yield from `items`, reporting progress on `stream` (stderr by default)."""
    stream = stream or sys.stderr
    if stream.isatty():
        yield from tqdm(items, total=total, desc=desc, initial=initial, file=stream, dynamic_ncols=True)
        return
    start = last = time.monotonic()
    done = initial
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_seconds or (total is not None and done == total):
            rate = (done - initial) / max(now - start, 1e-9)
            eta = f", ETA {(total - done) / rate:.0f}s" if total and rate > 0 else ""
            of_total = f"/{total}" if total else ""
            print(f"{desc}: {done}{of_total} ({rate:.2f} it/s{eta})", file=stream, flush=True)
            last = now
