"""The GPU check: every training path and metric on one GPU in a few minutes; any failure
stops it with exit code 1 and says what failed.

    .venv/bin/python tests/benchmarks/gpu_check.py          # CUDA, the paper preset (meant for < 8 min on one GPU)
    .venv/bin/python tests/benchmarks/gpu_check.py --device cpu --params params.yaml --iterations 4

What runs, with the train stages' own steps on random images (`bench_training.trainer`):
- PGAN at the params' last two scales, StarGAN and HiFaceGAN, each twice from the same
  weights and batches: fp32, then bf16 autocast + channels_last + torch.compile (compile
  where training uses it: not the critics under a gradient penalty). On a CPU the second
  run has every one of these the CPU supports: bf16 with AVX512-BF16 or AMX, compile with
  a C++ compiler (training says which it leaves out, and why).
- Checks: every loss of every step is finite; bf16 tracks fp32: the mean of each loss
  over the first --track steps (the same weights and batches in both) within 10%
  relative or 0.05 absolute.
- SWD, MS-SSIM and FID's InceptionV3 on the device, on random images (Inception's
  weights are random without --inception FILE: its speed is what is measured).
Each row prints images/s (timed after the first quarter of the steps, which holds
compilation and warm-up; the losses are read back after the timed steps, so a step that
waits for the GPU shows in it) and peak memory (CUDA: max allocated; CPU: the process's
peak RSS), with the device and versions above the table.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from bench_training import machine_lines, peak_mib, synchronize, trainer
from facegan.metrics.fid import inception_stats, load_inception
from facegan.metrics.inception import FIDInceptionV3
from facegan.metrics.ms_ssim import ms_ssim
from facegan.metrics.swd import sliced_wasserstein
from facegan.params import Loaded
from facegan.params_file import load_params
from facegan.tables import print_table
from facegan.training.batch_loader import batch_loader
from facegan.training.compute import ComputeParams, computing

TRACKED = ("loss_d", "loss_g")
RELATIVE, ABSOLUTE = 0.10, 0.05  # how closely bf16's early losses follow fp32's


class CheckFailed(Exception):
    """A loss that is not finite, bf16 off fp32's track, or a metric that is not finite."""


def train_run(model: str, scale: str, params: Loaded, settings: ComputeParams, device: str,
              iterations: int) -> dict:
    """`iterations` steps of one model from seeded weights; every step's losses, images/s, peak memory."""
    with computing(settings, device) as compute, tempfile.TemporaryDirectory() as folder:
        if compute.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(compute.device)
        torch.manual_seed(0)  # PGAN's networks: the same start for both runs
        step, batches, batch, state = trainer(model, scale, params, compute, Path(folder))
        steps, untimed = [], max(1, iterations // 4)
        for index, images in enumerate(batch_loader(batches, 0, iterations, compute)):
            if index == untimed:
                synchronize(compute.device)
                started = time.perf_counter()
            steps.append(step(images))  # tensors on the device: reading them here would wait for it
            state.iteration += 1
        synchronize(compute.device)
        rate = batch * (iterations - untimed) / (time.perf_counter() - started)
        losses = [{key: float(value) for key, value in values.items()} for values in steps]
        for index, values in enumerate(losses):
            bad = {key: value for key, value in values.items() if not math.isfinite(value)}
            if bad:
                raise CheckFailed(f"{model} {scale}: step {index + 1} gave {bad}")
        label = "+".join(["bf16" if compute.amp else "fp32", *(["channels_last"] * compute.channels_last),
                          *(["compile"] * compute.compile)])
        return {"losses": losses, "images_per_s": rate, "peak_mib": peak_mib(compute.device), "label": label}


def check_tracking(name: str, fp32: dict, bf16: dict, steps: int) -> str:
    """The mean of each tracked loss over the first `steps` steps, bf16 against fp32."""
    notes = []
    for key in TRACKED:
        ours, theirs = (float(np.mean([step[key] for step in run["losses"][:steps] if key in step]))
                        for run in (bf16, fp32))
        if abs(ours - theirs) > max(RELATIVE * abs(theirs), ABSOLUTE):
            raise CheckFailed(f"{name}: {key} over the first {steps} steps is {ours:.4g} in {bf16['label']}, "
                              f"{theirs:.4g} in fp32")
        notes.append(f"{key} {theirs:.3g}/{ours:.3g}")
    return ", ".join(notes)


def metric_rows(device: torch.device, images: int, size: int, inception: Path | None) -> list[list[str]]:
    """SWD, MS-SSIM and FID's network on `images` random uint8 images of `size` px."""
    batch = 64
    network = load_inception(inception, device) if inception else FIDInceptionV3().eval().to(device)

    def batches(seed: int):
        generator = np.random.default_rng(seed)
        for start in range(0, images, batch):
            yield generator.integers(0, 256, (min(batch, images - start), size, size, 3), dtype=np.uint8)

    rows = []
    for name, run in (
        ("SWD", lambda: sliced_wasserstein(batches(1), batches(2), seed=0, device=device)["avg"]),
        ("MS-SSIM", lambda: ms_ssim(batches(3), device=device)),
        ("FID network", lambda: float(inception_stats(batches(4), network).mean_cov()[0].mean())),  # mean feature
    ):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        synchronize(device)
        started = time.perf_counter()
        value = run()
        synchronize(device)
        seconds = time.perf_counter() - started
        if not math.isfinite(value):
            raise CheckFailed(f"{name} on {device} gave {value}")
        rows.append([name, f"{images} x {size} px", f"{images / seconds:,.1f}", f"{peak_mib(device):,.0f}",
                     f"{value:.4g}"])
    return rows


def check(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CheckFailed("--device cuda, but torch sees no CUDA device; use --device cpu for the CPU fallback")
    params = load_params(args.params)
    print("\n".join(machine_lines(device)))
    print(f"command   {' '.join(sys.argv)}\n")
    base = dict(nproc=1, loader_workers=0)
    fp32 = ComputeParams(amp=False, channels_last=False, compile=False, **base)
    fast = ComputeParams(amp=True, channels_last=True, compile=not args.no_compile, **base)
    rows = []
    for model, scale in [*(("pgan", key) for key in list(params.pgan.scales)[-2:]), ("stargan", "-"),
                         ("hifacegan", "-")]:
        runs = [train_run(model, scale, params, settings, args.device, args.iterations) for settings in (fp32, fast)]
        tracking = check_tracking(f"{model} {scale}", *runs, min(args.track, args.iterations))
        for run in runs:
            rows.append([f"{model} {scale}".strip(" -"), run["label"], f"{run['images_per_s']:,.1f}",
                         f"{run['peak_mib']:,.0f}", tracking if run is runs[1] else ""])
        print("  ".join(rows[-1]), file=sys.stderr, flush=True)
    memory = "peak MiB (CUDA allocated)" if device.type == "cuda" else "peak RSS MiB"
    tracked = min(args.track, args.iterations)
    print_table(["training", "precision", "images/s", memory, f"first {tracked} steps: fp32/other"], rows)
    print()
    print_table(["metric", "images", "images/s", memory, "value (FID network: mean feature)"],
                metric_rows(device, args.metric_images, args.metric_size, args.inception))
    print("\ngpu check passed")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda[:N], or cpu for the fallback the tests run")
    parser.add_argument("--params", type=Path, default=Path("configs/celeba128-paper.yaml"))
    parser.add_argument("--iterations", type=int, default=200, help="training steps per run")
    parser.add_argument("--track", type=int, default=5, help="early steps where bf16 must follow fp32")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out of the bf16 runs")
    parser.add_argument("--metric-images", type=int, default=2048)
    parser.add_argument("--metric-size", type=int, default=128)
    parser.add_argument("--inception", type=Path, help="FID's weights (default: random; speed only)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        check(args)
    except Exception as error:  # every failure, loudly, with where it happened
        traceback.print_exc()
        print(f"gpu check FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
