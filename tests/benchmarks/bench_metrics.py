"""Images/s and peak RSS of our SWD and MS-SSIM against plain in-memory numpy, side by side.

What it measures, per metric, image count and implementation:

- ours: `facegan.metrics.swd.sliced_wasserstein` and `facegan.metrics.ms_ssim.ms_ssim`,
  fed a generator of batches read from disk, so they never hold the whole set;
- numpy: the in-memory numpy/scipy implementations of the same protocols in
  tests/reference_metrics.py (`numpy_swd`; `ref_ms_ssim` with the separable filter), given
  the whole array, with every descriptor or filtered map of the set in memory at once;
- ours before (with --before SRC): ours as the `facegan` package under SRC has it (the
  src/ folder of another checkout, e.g. a `git worktree` of an older commit);
- sort floor (SWD): what `np.sort` alone takes, on one thread, for as many float32 values
  as SWD sorts (2 sets x levels x N x 128 descriptors x 512 directions), freshly drawn
  from a normal distribution before each timed sort. SWD cannot sort less, so this is
  its floor on one thread; sorting on several threads, SWD can go under it.
- sort+GEMM floor (SWD): what no exact SWD can beat on this machine: the projections
  alone (torch.mm of as many random descriptors through 512 directions per set and level)
  plus sorting them on all threads. Only building the descriptors is left out.

SWD compares a "real" and a "fake" set of N images each (2N images read); MS-SSIM takes
the N images of the fake set as N/2 consecutive pairs. Both implementations get the same
seeds, so their values must agree (SWD up to our float16 descriptor storage, ~1e-4).

How:

- Images are synthetic, deterministic uint8 RGB with structure at every scale: a coarse
  layout shared by all (as aligned faces share one) plus noise octaves from 4 px to full
  resolution; the fake set has weaker fine octaves, as a blurry generator would. They are
  generated once, batch by batch from the seed, into raw files in a temporary directory,
  for the largest size (smaller sizes read a prefix); that time is reported on its own.
- Each (metric, implementation, size) runs in a fresh subprocess (this script with the
  hidden --worker option), so its peak RSS (VmHWM; see `peak_rss_kb`) is that of the
  configuration alone. A baseline worker imports the same modules and does no work:
  subtract its RSS to get the memory of the work itself.
- Ours reads its batches with plain file reads, not mmap (mapped pages would count in its
  RSS); numpy reads the whole set into memory before its clock starts. Each clock times
  the metric call only.
- The parent polls each worker's RSS and kills it above --memory-limit-gib; a worker that
  is killed or crashes is a failed row with the reason, and the run goes on.
- numpy computes in float64 where its estimated peak fits the limit, else in float32; the
  dtype column says which.

Threads: whatever the environment gives (OMP_NUM_THREADS etc.); the header prints them.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: reference_metrics

from benchreport import peak_rss_kb
from facegan.tables import print_table
from reference_metrics import CHUNK, numpy_swd, ref_ms_ssim, separable_blur

from facegan.machine import cpu_model
from facegan.metrics.ms_ssim import ms_ssim
from facegan.metrics.swd import PATCH, PROJECTION_BYTES, pyramid_shapes, sliced_wasserstein, subseed

GIB = 1 << 30
GENERATE_BATCH = 256
PATCHES = 128  # the protocol's defaults, as the evaluation stage runs them
DIRECTIONS = 128
POLL_SECONDS = 0.1
MIN_RATIO_KB = 16 << 10  # smaller RSS differences are noise of the imports' peak
DTYPES = {"float64": np.float64, "float32": np.float32}
FLOORS = {"sort floor": "np.sort, 1 thread",
          "sort+GEMM floor": f"projection GEMMs and np.sort, {torch.get_num_threads()} threads"}


# ---- synthetic images -------------------------------------------------------------------

def octaves(seed: int, stream: list[int], count: int, amplitudes: list[float]) -> torch.Tensor:
    """(count, 3, size, size) float32 with size = 2 ** (1 + len(amplitudes)): noise at 4 px,
    then upsampled x2 (bilinear) with new noise added, octave after octave, so every scale
    has structure."""
    rng = np.random.default_rng([seed, *stream])
    images = torch.zeros(count, 3, 2, 2)
    for amplitude in amplitudes:
        images = F.interpolate(images, scale_factor=2, mode="bilinear", align_corners=False)
        images += amplitude * torch.from_numpy(rng.uniform(-1, 1, images.shape).astype(np.float32))
    return images


def synthetic_batch(seed: int, fake: bool, index: int, count: int, resolution: int) -> np.ndarray:
    """Batch `index` of a set, from its own random stream: any batch is reproducible alone.

    A coarse layout shared by every image of both sets (as aligned faces share one, which
    gives MS-SSIM pairs something in common), plus each image's octaves, weaker with each
    finer octave; the fake set's two finest octaves are halved, as from a blurry generator."""
    count_octaves = resolution.bit_length() - 2  # 4 px .. resolution
    layout = F.interpolate(octaves(seed, [0], 1, [60]), size=resolution, mode="bilinear", align_corners=False)
    amplitudes = [70 * 0.7**k * (0.5 if fake and k >= count_octaves - 2 else 1) for k in range(count_octaves)]
    images = 128 + layout + octaves(seed, [1 + fake, index], count, amplitudes)
    return images.clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def generate(path: Path, seed: int, fake: bool, count: int, resolution: int) -> None:
    with open(path, "wb") as handle:
        for index, start in enumerate(range(0, count, GENERATE_BATCH)):
            batch = synthetic_batch(seed, fake, index, min(GENERATE_BATCH, count - start), resolution)
            handle.write(batch.tobytes())


def file_batches(path: str, count: int, resolution: int, batch: int):
    """The first `count` images of a raw file, `batch` at a time, each in a fresh array
    (ms_ssim keeps an odd image across batches)."""
    with open(path, "rb") as handle:
        for start in range(0, count, batch):
            images = np.empty((min(batch, count - start), resolution, resolution, 3), np.uint8)
            handle.readinto(images)
            yield images


def load(path: str, count: int, resolution: int) -> np.ndarray:
    return np.fromfile(path, np.uint8, count=count * resolution * resolution * 3).reshape(count, resolution,
                                                                                         resolution, 3)


# ---- worker: one configuration in its own process ---------------------------------------

def floor_seconds(images: int, resolution: int, projections: bool) -> dict[str, float]:
    """Seconds of work SWD cannot skip, over as many float32 values as it sorts.

    projections=False, the sort floor: `np.sort` alone on one thread, the values freshly
    drawn (untimed) before each sort. projections=True, the machine's bound for any exact
    SWD: also the projections, as one torch.mm per set, level and chunk of directions,
    (directions, 147) x (147, N x 128) random descriptors, then their rows sorted in as
    many threads as torch has, each step on every thread."""
    values = images * PATCHES
    rows = np.empty((max(1, PROJECTION_BYTES // 2 // (4 * values)), values), np.float32)  # one set's, as ours
    threads = torch.get_num_threads() if projections else 1
    if projections:
        descriptors, directions = torch.randn(values, 3 * PATCH * PATCH), torch.randn(len(rows), 3 * PATCH * PATCH)
    rng, seconds = np.random.default_rng(0), 0.0
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(2 * len(pyramid_shapes(resolution, resolution))):  # sets x levels
            for start in range(0, 4 * DIRECTIONS, len(rows)):
                chunk = rows[: min(len(rows), 4 * DIRECTIONS - start)]
                if projections:
                    started = time.perf_counter()
                    torch.mm(directions[: len(chunk)], descriptors.T, out=torch.from_numpy(chunk))
                else:
                    chunk[:] = rng.standard_normal(chunk.shape, dtype=np.float32)
                    started = time.perf_counter()
                list(pool.map(lambda part: part.sort(axis=1), np.array_split(chunk, threads)))
                seconds += time.perf_counter() - started
    return {"seconds": seconds}


def prepare(spec: dict) -> Callable[[], dict[str, float]]:
    """The metric call of one configuration. numpy's whole arrays are loaded here, before
    the clock; ours reads its batches as it goes, as streaming does."""
    n, res, seed, batch = spec["images"], spec["resolution"], spec["seed"], spec["batch"]
    real, fake = spec["real"], spec["fake"]
    dtype = DTYPES.get(spec["dtype"])
    if spec["impl"] in FLOORS:
        return lambda: floor_seconds(n, res, projections=spec["impl"] == "sort+GEMM floor")
    if spec["impl"] in ("ours", "ours before") and spec["metric"] == "swd":
        return lambda: sliced_wasserstein(file_batches(real, n, res, batch), file_batches(fake, n, res, batch),
                                          seed=seed)
    if spec["impl"] in ("ours", "ours before"):
        return lambda: {"ms_ssim": ms_ssim(file_batches(fake, n, res, batch))}
    if spec["metric"] == "swd":
        real_images, fake_images = load(real, n, res), load(fake, n, res)
        # The seeds sliced_wasserstein derives for its two sets and its directions.
        seeds = [subseed(seed, stream) for stream in range(3)]
        return lambda: numpy_swd(real_images, fake_images, *seeds, per_image=PATCHES, dtype=dtype)
    images = load(fake, n, res)[: n // 2 * 2]
    return lambda: {"ms_ssim": ref_ms_ssim(images[0::2], images[1::2], blur=separable_blur, dtype=dtype).mean()}


def worker(spec: dict) -> None:
    result = {"values": {}, "seconds": 0.0}
    if spec["metric"] != "baseline":
        compute = prepare(spec)
        start = time.perf_counter()
        values = compute()
        seconds = values.pop("seconds", time.perf_counter() - start)  # the sort floor times itself
        result = {"values": {key: float(v) for key, v in values.items()}, "seconds": seconds}
    result["maxrss_kb"] = peak_rss_kb()
    print(json.dumps(result))


# ---- parent: memory estimates, subprocesses, report -------------------------------------

def numpy_peak_bytes(metric: str, images: int, resolution: int, itemsize: int) -> float:
    """Peak of the numpy implementation above the baseline, from what it holds at once
    (within ~15% above the measured peak at 512 and 1024 images of 128 px)."""
    pixels = images * resolution * resolution * 3
    if metric == "swd":
        descriptors = 2 * images * PATCHES * 3 * PATCH * PATCH * itemsize * len(pyramid_shapes(resolution, resolution))
        projections = 2 * DIRECTIONS * images * PATCHES * itemsize  # both sets' sorted projections of one repeat
        pyramid = 6 * CHUNK * resolution * resolution * 3 * 8  # float64 levels and temporaries of one chunk
        return 2 * pixels + descriptors + max(projections, pyramid)  # the last two never coexist
    # The uint8 set; at scale 0 the float pairs (one set's worth) and ~8 pair-sized maps (4 sets' worth).
    return pixels + 5 * pixels * itemsize


def rss_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:  # it has just exited
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) * 1024


def failure(returncode: int, stderr: str, over_limit: bool, limit_gib: float) -> str:
    if over_limit:
        return f"killed: RSS over the {limit_gib:g} GiB limit"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    lines = stderr.strip().splitlines()
    return f"exit {returncode}: {lines[-1] if lines else 'no message'}"


def launch(spec: dict, limit_gib: float, package: str | None = None) -> dict:
    """Run one worker, killing it above the memory limit; its result, or {"error": reason}.
    `package`: a folder holding the facegan package to import instead of this checkout's."""
    env = {**os.environ, "PYTHONPATH": package} if package else None
    process = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    over_limit = False
    while True:
        try:
            stdout, stderr = process.communicate(timeout=POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if rss_bytes(process.pid) > limit_gib * GIB:
                over_limit = True
                process.kill()
    if process.returncode != 0 or over_limit:
        return {"error": failure(process.returncode, stderr, over_limit, limit_gib)}
    return json.loads(stdout.strip().splitlines()[-1])


def choose_dtype(metric: str, images: int, resolution: int, limit_gib: float, baseline_gib: float) -> tuple[str, str]:
    """float64 where the numpy implementation's estimated peak fits the limit; else float32, with why."""
    estimate = numpy_peak_bytes(metric, images, resolution, 8) / GIB + baseline_gib
    if estimate <= limit_gib:
        return "float64", ""
    return "float32", f"float64 would need ~{estimate:.1f} GiB > {limit_gib:g} GiB limit"


def machine_facts(limit_gib: float) -> list[str]:
    cpu = cpu_model()
    mem_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    threads = {name: os.environ.get(name, "unset") for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return [
        f"date      {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"cpu       {cpu}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable)",
        f"memory    {mem_kb / (1 << 20):.1f} GiB total; worker limit {limit_gib:g} GiB",
        (f"versions  python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
         f"scipy {scipy.__version__}"),
        f"threads   torch {torch.get_num_threads()}; " + ", ".join(f"{k}={v}" for k, v in threads.items()),
    ]


def mib(kb: float) -> str:
    return f"{kb / 1024:.0f}"


def memory_ratio(ours: dict, numpy_run: dict, baseline_kb: int) -> str:
    """Ratio of the RSS above the baseline; none where numpy's is within the imports' own peak."""
    above_ours, above_numpy = (r["maxrss_kb"] - baseline_kb for r in (ours, numpy_run))
    return f"{max(above_ours, 0) / above_numpy:.2f}" if above_numpy >= MIN_RATIO_KB else "-"


def timing_rows(results: list[dict], baseline_kb: int) -> list[list[str]]:
    rows = [["baseline", "-", "-", "-", "-", "-", mib(baseline_kb), "0", "-", "-", "-", "imports only"]]

    def measured(impl: str, r: dict) -> dict | None:
        return next((o for o in results if o["impl"] == impl and o["metric"] == r["metric"]
                     and o["images"] == r["images"] and "error" not in o), None)

    for r in results:
        if "error" in r:
            note = "; ".join(filter(None, ["FAILED: " + r["error"], r["note"]]))
            rows.append([r["metric"], r["impl"], str(r["images"]), r["dtype"], *["-"] * 7, note])
            continue
        read = r["images"] * (2 if r["metric"] == "swd" else 1)  # SWD reads both sets
        ratios = ["-", "-", "-"]
        numpy_run, floor = measured("numpy", r), measured("sort floor", r)
        if r["impl"].startswith("ours") and numpy_run:
            ratios[:2] = [f"{r['seconds'] / numpy_run['seconds']:.2f}", memory_ratio(r, numpy_run, baseline_kb)]
        if floor:
            ratios[2] = f"{r['seconds'] / floor['seconds']:.2f}"
        rows.append([r["metric"], r["impl"], str(r["images"]), r["dtype"], f"{r['seconds']:.2f}",
                     f"{read / r['seconds']:.1f}", mib(r["maxrss_kb"]), mib(r["maxrss_kb"] - baseline_kb),
                     *ratios, r["note"]])
    return rows


def value_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for ours in (r for r in results if r["impl"] in ("ours", "ours before") and "error" not in r):
        numpy_run = next((o for o in results if o["impl"] == "numpy" and o["metric"] == ours["metric"]
                          and o["images"] == ours["images"] and "error" not in o), None)
        for key, value in ours["values"].items():
            theirs = numpy_run["values"][key] if numpy_run else float("nan")
            relative = abs(value - theirs) / max(abs(theirs), 1e-300)
            rows.append([ours["metric"], ours["impl"], key, str(ours["images"]), f"{value:.6g}", f"{theirs:.6g}",
                         f"{relative:.1e}"])
    return rows


def benchmark(args: argparse.Namespace) -> None:
    metrics = [args.only] if args.only else ["swd", "ms-ssim"]
    print("\n".join(machine_facts(args.memory_limit_gib)))
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as directory:
        paths = {fake: Path(directory) / f"{'fake' if fake else 'real'}.u8" for fake in (False, True)}
        start = time.perf_counter()
        for fake, path in paths.items():
            generate(path, args.seed, fake, max(args.sizes), args.resolution)
        print(f"images    {args.resolution}x{args.resolution} RGB uint8, 2 sets of {max(args.sizes)} generated in "
              f"{time.perf_counter() - start:.1f} s (not in the timings); streaming batch {args.batch}\n")
        common = {"resolution": args.resolution, "seed": args.seed, "batch": args.batch,
                  "real": str(paths[False]), "fake": str(paths[True])}
        baseline = launch(dict(common, metric="baseline", impl="-", images=0, dtype="-"), args.memory_limit_gib)
        baseline_gib = baseline["maxrss_kb"] / (1 << 20)
        results = []
        for metric in metrics:
            for images in args.sizes:
                dtype, why = choose_dtype(metric, images, args.resolution, args.memory_limit_gib, baseline_gib)
                impls = [("ours", "-", ""), *([("ours before", "-", str(args.before))] if args.before else []),
                         *([(floor, "float32", note) for floor, note in FLOORS.items()] if metric == "swd" else []),
                         ("numpy", dtype, why)]
                for impl, impl_dtype, note in impls:
                    spec = dict(common, metric=metric, impl=impl, images=images, dtype=impl_dtype)
                    print(f"running {metric} {impl} {images} ...", file=sys.stderr, flush=True)
                    package = str(args.before) if impl == "ours before" else None
                    results.append(dict(spec, note=note, **launch(spec, args.memory_limit_gib, package)))
    print_table(["metric", "impl", "images", "dtype", "seconds", "images/s", "peak RSS MiB", "above base MiB",
                 "time ours/np", "RSS ours/np", "time/floor", "note"], timing_rows(results, baseline["maxrss_kb"]))
    print("\nimages/s counts every image read: 2 x images for SWD (real and fake sets). "
          "RSS ours/np compares the RSS above the baseline.\n")
    print_table(["metric", "impl", "value", "images", "ours", "numpy", "rel. diff"], value_rows(results))


def parse_args() -> argparse.Namespace:
    total_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    parser = argparse.ArgumentParser(
        description="Images/s and peak RSS of facegan's streaming SWD and MS-SSIM against plain in-memory numpy "
                    "implementations of the same protocols, each configuration in its own subprocess.",
        epilog="16k images at 128 px take tens of minutes, ~16 GiB of RAM (numpy) and ~7 GB of temporary "
               "disk (the images, and our SWD's descriptor files) under TMPDIR.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 16384], metavar="N",
                        help="images per set (SWD: a real and a fake set of N each; MS-SSIM: N/2 pairs) "
                             "(default: 1000 16384)")
    parser.add_argument("--resolution", type=int, default=128,
                        help="image side in px, a power of two (default: 128)")
    parser.add_argument("--only", choices=["swd", "ms-ssim"], help="run one metric only")
    parser.add_argument("--before", type=Path, metavar="SRC",
                        help="also run 'ours before': the facegan package under SRC (another checkout's src/)")
    parser.add_argument("--batch", type=int, default=100, help="batch size streamed to ours (default: 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of images, patches and directions (default: 0)")
    parser.add_argument("--memory-limit-gib", type=float, default=round(0.75 * total_gib, 1),
                        help="kill a worker whose RSS goes above this; numpy uses float32 where float64 would "
                             "not fit (default: 75%% of RAM, %(default)s)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # JSON spec: run one configuration, print JSON
    args = parser.parse_args()
    if not args.worker and (min(args.sizes) < 2 or args.resolution < 16 or args.resolution & (args.resolution - 1)):
        parser.error("need at least 2 images per set and a power of two of at least 16 px (MS-SSIM's five scales)")
    return args


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(json.loads(args.worker))
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
