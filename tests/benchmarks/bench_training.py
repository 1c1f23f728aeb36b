"""Training throughput: images/s and peak memory of every model (and PGAN scale) for fp32
and bf16 autocast, eager and torch.compile, 1 and N processes, and the batch loader's
images/s on its own.

    .venv/bin/python tests/benchmarks/bench_training.py --nproc 1 2
    .venv/bin/python tests/benchmarks/bench_training.py --nproc 1 --precision fp32 bf16 --compile off on
    .venv/bin/python tests/benchmarks/bench_training.py --params configs/celeba128-paper.yaml --project

What runs: the train stages' own steps (`scale_trainer`, `stargan_trainer`,
`hifacegan_trainer`: the same Network wrappers, loader, DDP and autocast as training) on
networks built from the params, freshly initialised (speed does not depend on the
weights; HiFaceGAN's VGG19 too), fed by the batch loader from a memory-mapped file of
random uint8 images in the prepared data's layout. Each configuration is its own process
(N processes under torchrun): --warmup steps, then --repeats blocks of --steps steps, each
block timed whole (CUDA synchronised), so StarGAN's generator step every n_critic-th
iteration is counted at its share. images/s = global batch x steps / block time, the
median block. PGAN scales run in their stable phase (alpha 0).

Peak memory: on CUDA, torch.cuda.max_memory_allocated of the first process; on CPU its
peak RSS (VmHWM), imports included. bf16 rows run where training autocasts: CUDA, or a
CPU with AVX512-BF16 or AMX. Compiled rows compile in the warm-up steps (give enough of
them: the first step of each network compiles). --project prints the wall time of the params' whole PGAN schedule
(iterations x batch / images/s, per scale, at the fastest setting measured).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchreport import peak_rss_kb
from facegan.hifacegan import model as hifacegan_models, train as hifacegan
from facegan.machine import cpu_model, pick_device
from facegan.params import Loaded
from facegan.params_file import load_params
from facegan.pgan import train as pgan
from facegan.pretrained import VGG19Features
from facegan.stargan import model as stargan_models, train as stargan
from facegan.tables import print_table
from facegan.training.batch_loader import TrainingBatches, batch_loader
from facegan.training.compute import Compute, ComputeParams, bf16_missing, computing, torchrun_command
from facegan.training.conditional_gan import setup_gan
from facegan.training.loop import RunPaths

BENCHMARK = {"benchmark": "inputs"}  # the runs' input record (a stage's is `stage_inputs`)
DATA_BYTES = 256 << 20  # synthetic images per model: at most this much, at least 64 items


def synthetic(folder: Path, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A memory-mapped uint8 array of `shape` (items first) filled with random bytes."""
    count = max(64, min(4096, DATA_BYTES // int(np.prod(shape))))
    array = np.lib.format.open_memmap(folder / f"{name}.npy", "w+", np.uint8, (count, *shape))
    rng = np.random.default_rng(0)
    for start in range(0, count, 64):
        array[start : start + 64] = rng.integers(0, 256, array[start : start + 64].shape, dtype=np.uint8)
    array.flush()
    return np.load(folder / f"{name}.npy", mmap_mode="r")


def trainer(model: str, scale: str, params: Loaded, compute: Compute, folder: Path):
    """(step, batches, global batch, state) of one model as its train stage builds them."""
    if model == "pgan":
        config = params.pgan
        depth, size = config.depth_of(scale), int(scale)
        G, D = pgan.build_networks(config, max(depth - 1, 1))
        previous = {"config": pgan.network_config(config, max(depth - 1, 1)), "G": G.state_dict(),
                    "D": D.state_dict(), "G_ema": G.state_dict()}
        state = pgan.new_state(config, params.lr, scale, previous, compute.device, BENCHMARK)
        state.iteration = config.scales[scale].fade_iterations  # the stable phase
        step, batches = pgan.scale_trainer(state, config, scale, compute, synthetic(folder, "pgan", (size, size, 3)))
        return step, batches, config.scales[scale].batch, state
    if model == "stargan":
        config, size = params.stargan, params.stargan.data.image_size
        builders = (stargan_models.build_generator, stargan_models.build_discriminator)
        state = setup_gan(config.train, stargan.network_config(config), builders, BENCHMARK, RunPaths(folder / "stargan"),
                          compute.device, "StarGAN", announce=False)
        images = synthetic(folder, "stargan", (size, size, 3))
        labels = (np.random.default_rng(1).random((len(images), len(config.data.attributes))) < 0.5).astype(np.float32)
        step, batches = stargan.stargan_trainer(state, config, compute, images, labels, np.arange(len(images)))
        return step, batches, config.train.batch, state
    config, size = params.hifacegan, params.hifacegan.data.image_size
    builders = (hifacegan_models.build_generator, hifacegan_models.build_discriminator)
    state = setup_gan(config.train, hifacegan.network_config(config), builders, BENCHMARK, RunPaths(folder / "hifacegan"),
                      compute.device, "HiFaceGAN", announce=False)
    vgg = VGG19Features() if config.train.lambda_vgg > 0 else None
    step, batches = hifacegan.hifacegan_trainer(state, config, compute, synthetic(folder, "pairs", (2, size, size, 3)),
                                                vgg)
    return step, batches, config.train.batch, state


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_mib(device: torch.device) -> float:
    """Peak memory: on CUDA, max allocated since the last reset; on CPU, the process's peak RSS."""
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_kb() / 1024


def worker(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    settings = ComputeParams(nproc=1, amp=args.precision == ["bf16"], channels_last=args.channels_last,
                                  compile=args.compile == ["on"], loader_workers=args.loader_workers[0])
    with computing(settings, args.device) as compute, tempfile.TemporaryDirectory() as tmp:
        step, batches, batch, state = trainer(args.model, args.scale, params, compute, Path(tmp))
        total = args.warmup + args.repeats * args.steps
        loader = iter(batch_loader(batches, 0, total, compute))
        rates = []
        for block in range(-1, args.repeats):
            count = args.warmup if block < 0 else args.steps
            synchronize(compute.device)
            started = time.perf_counter()
            for _ in range(count):
                step(next(loader))
                state.iteration += 1
            synchronize(compute.device)
            if block >= 0:
                rates.append(batch * count / (time.perf_counter() - started))
            elif compute.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(compute.device)
        if compute.main:
            Path(args.out).write_text(json.dumps({"images_per_s": statistics.median(rates), "rates": rates,
                                                  "peak_mib": peak_mib(compute.device), "device": str(compute.device),
                                                  "amp": compute.amp, "world": compute.world}))


def run_config(args: argparse.Namespace, model: str, scale: str, nproc: int, precision: str, compile_: str) -> dict:
    """One configuration in its own process(es); its result, or the reason it failed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        script = [__file__, "--worker", "--out", str(out), "--model", model, "--scale", scale, "--precision", precision,
                  "--compile", compile_,
                  "--params", str(args.params), "--device", args.device, "--steps", str(args.steps),
                  "--repeats", str(args.repeats), "--warmup", str(args.warmup),
                  "--loader-workers", str(args.train_loader_workers), *(["--channels-last"] * args.channels_last)]
        launcher = torchrun_command(nproc) if nproc > 1 else [sys.executable]
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, torch.get_num_threads() // nproc))}
        done = subprocess.run([*launcher, *script], capture_output=True, text=True, env=env)
        if done.returncode or not out.exists():
            return {"failed": (done.stderr.strip().splitlines() or ["no output"])[-1]}
        return json.loads(out.read_text())


def loader_rate(batches: TrainingBatches, batch: int, workers: int, device: torch.device, items: int) -> float:
    """images/s of the batch loader alone (into pinned memory when `device` is CUDA)."""
    loader = iter(batch_loader(batches, 0, items + 4, Compute(device, loader_workers=workers)))
    for _ in range(4):  # workers started, first batches read
        next(loader)
    started = time.perf_counter()
    for _ in range(items):
        next(loader)
    return batch * items / (time.perf_counter() - started)


def loader_rows(args: argparse.Namespace, params: Loaded, device: torch.device) -> list[list[str]]:
    shapes = {f"pgan {key}": ((int(key), int(key), 3), scale.batch) for key, scale in params.pgan.scales.items()}
    stargan_size, hifacegan_size = params.stargan.data.image_size, params.hifacegan.data.image_size
    shapes["stargan"] = ((stargan_size, stargan_size, 3), params.stargan.train.batch)
    shapes["hifacegan"] = ((2, hifacegan_size, hifacegan_size, 3), params.hifacegan.train.batch)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (shape, batch) in shapes.items():
            images = synthetic(Path(tmp), name.replace(" ", "_"), shape)
            batches = TrainingBatches(images, Compute(device).share(batch), seed=0, mirror=True)
            rates = [statistics.median(loader_rate(batches, batch, workers, device, args.loader_items)
                                       for _ in range(args.repeats)) for workers in args.loader_workers]
            rows.append([name, "x".join(map(str, shape)), str(batch), *(f"{rate:,.0f}" for rate in rates)])
    return rows


def machine_lines(device: torch.device) -> list[str]:
    cpu = cpu_model()
    gpu = (f"{torch.cuda.get_device_name(device)}, {torch.cuda.device_count()} visible, CUDA {torch.version.cuda}"
           if device.type == "cuda" else "none")
    return [f"date      {datetime.datetime.now().isoformat(timespec='seconds')}",
            f"cpu       {cpu}, {os.cpu_count()} cores",
            f"gpu       {gpu}",
            f"versions  python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}",
            f"threads   torch {torch.get_num_threads()} (split between the processes of a multi-process row)"]


def rate_text(images_per_s: float) -> str:
    """Images/s with three significant digits at least (CPU rates of big scales are < 1)."""
    return f"{images_per_s:,.1f}" if images_per_s >= 10 else f"{images_per_s:.3g}"


def projection(params: Loaded, results: dict) -> list[list[str]]:
    """The whole PGAN schedule at each scale's fastest measured setting."""
    rows, total, unmeasured = [], 0.0, []
    for key, scale in params.pgan.scales.items():
        measured = [r for (model, s, *_), r in results.items() if model == "pgan" and s == key and "images_per_s" in r]
        if not measured:
            unmeasured.append(key)
            continue
        rate = max(r["images_per_s"] for r in measured)
        seconds = scale.iterations * scale.batch / rate
        total += seconds
        rows.append([key, f"{scale.iterations:,}", str(scale.batch), f"{scale.iterations * scale.batch / 1000:,.0f}",
                     rate_text(rate), f"{seconds / 3600:,.1f}"])
    whole = f"all but {', '.join(unmeasured)} (not measured)" if unmeasured else "all"
    rows.append([whole, "", "", "", "", f"{total / 3600:,.1f}"])
    return rows


def benchmark(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    device = pick_device(args.device)
    print("\n".join(machine_lines(device)))
    print(f"command   {' '.join(sys.argv)}\n")
    configs = [("pgan", key) for key in params.pgan.scales if args.scales is None or key in args.scales]
    configs += [(model, "-") for model in ("stargan", "hifacegan")]
    configs = [c for c in configs if c[0] in args.models]
    no_bf16 = bf16_missing(device)
    precisions = [p for p in args.precision if p == "fp32" or no_bf16 is None]
    results, rows = {}, []
    for model, scale in configs:
        for nproc in args.nproc:
            for precision in precisions:
                for compile_ in args.compile:
                    result = results[model, scale, nproc, precision, compile_] = run_config(
                        args, model, scale, nproc, precision, compile_)
                    figures = ([rate_text(result["images_per_s"]), f"{result['peak_mib']:,.0f}"]
                               if "images_per_s" in result else ["failed", result["failed"]])
                    rows.append([model, scale, str(nproc), precision, compile_, *figures])
                    print(" ".join(rows[-1]), file=sys.stderr, flush=True)
    memory = "peak MiB (CUDA allocated)" if device.type == "cuda" else "peak RSS MiB"
    print_table(["model", "scale", "procs", "precision", "compile", "images/s", memory], rows)
    if "bf16" in args.precision and no_bf16 is not None:
        print(f"bf16: not measured ({no_bf16})")
    print(f"\nloader alone ({args.loader_items} batches after 4, median of {args.repeats}; images/s by workers)")
    print_table(["data", "item", "batch", *(f"workers {w}" for w in args.loader_workers)],
                loader_rows(args, params, device))
    if args.project:
        print(f"\nprojected PGAN schedule of {args.params} on this machine")
        print_table(["scale", "iterations", "batch", "kimg", "images/s", "hours"], projection(params, results))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--models", nargs="+", default=["pgan", "stargan", "hifacegan"])
    parser.add_argument("--scales", nargs="+", default=None, help="PGAN scales (default: all in the params)")
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"], help="torch.compile (compute.compile)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks (the median is reported)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--train-loader-workers", type=int, default=0, help="loader workers while training")
    parser.add_argument("--loader-workers", type=int, nargs="+", default=[0, 2], help="loader-alone rows")
    parser.add_argument("--loader-items", type=int, default=50, help="batches per loader-alone measurement")
    parser.add_argument("--project", action="store_true", help="project the PGAN schedule's wall time")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--scale", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
