"""An ordered, bounded map over threads or processes, for the data stages."""
from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def worth_processes(items: int, per_process: int = 100) -> int:
    """Processes worth starting for `items` pieces of work: one per `per_process` items, at
    most one per CPU (a spawned process costs about a second to start)."""
    return max(1, min(os.cpu_count() or 1, items // per_process))


def ordered_map(function: Callable[[T], R], items: Sequence[T], workers: int, processes: bool = False) -> Iterator[R]:
    """map() on `workers` threads (work that releases the GIL: Pillow decoding) or processes
    (pure-Python work: imgaug), results in order, at most 2 x `workers` items ahead.

    Processes start with "spawn": a forked child of a process that has started OpenMP or
    torch threads can deadlock. `function` and the items must pickle. They ignore Ctrl-C,
    which the terminal sends to them too: the caller stops, cancels the work not started
    and waits for the running items, with no traceback from each worker.
    """
    if workers <= 1:
        yield from map(function, items)
        return
    pool: Executor
    if processes:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))
    else:
        pool = ThreadPoolExecutor(workers)
    try:
        pending = [pool.submit(function, item) for item in items[: 2 * workers]]
        for index in range(len(items)):
            result = pending.pop(0).result()
            if index + 2 * workers < len(items):
                pending.append(pool.submit(function, items[index + 2 * workers]))
            yield result
    finally:
        pool.shutdown(cancel_futures=True)
