"""Degradation throughput: ms per image for each type, and images/s of the packing stage
with 1..N worker processes.

    .venv/bin/python tests/benchmarks/bench_degrade.py --images 64 --size 512 --workers 1 2

Faces are the synthetic FFHQ sample (256 px, resized up to --size like any source), written
once to a temporary folder. Per type: the median time of `Degrader.pair` over the images
in this process (resize + degradation). Stage: `degrade_ffhq` on all images as one split,
wall time including the worker start-up, for each worker count, with `full`.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from facegan.data.ffhq import list_raw_ffhq, write_ffhq_sample
from facegan.hifacegan.data import DEGRADATIONS, Degrader, imgaug_version, degrade_ffhq
from facegan.images import read_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"numpy {np.__version__}, {imgaug_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        write_ffhq_sample(Path(tmp) / "raw", list(range(args.images)), seed=0, size=256)
        files = {f"{i:05d}": path for i, path in sorted(list_raw_ffhq(Path(tmp) / "raw").items())}
        images = {name: read_image(path) for name, path in files.items()}
        print(f"\n{args.images} faces at {args.size} px, one process")
        print("| type | median ms per image | images/s |\n| --- | ---: | ---: |")
        for kind in DEGRADATIONS:
            degrader, times = Degrader(kind, args.size, 0, True), []
            degrader.pair("warm-up", next(iter(images.values())))
            for name, image in images.items():
                start = time.perf_counter()
                degrader.pair(name, image)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            print(f"| {kind} | {median * 1e3:.1f} | {1 / median:.1f} |")
        print(f"\ndegrade_ffhq ('full', {args.images} faces at {args.size} px, wall time incl. worker start-up)")
        print("| workers | seconds | images/s |\n| ---: | ---: | ---: |")
        for workers in args.workers:
            start = time.perf_counter()
            degrade_ffhq({"train": files}, Path(tmp) / f"out{workers}", Degrader("full", args.size, 0, True),
                         max_bad_fraction=0.0, workers=workers)
            seconds = time.perf_counter() - start
            print(f"| {workers} | {seconds:.1f} | {args.images / seconds:.1f} |")


if __name__ == "__main__":
    main()
