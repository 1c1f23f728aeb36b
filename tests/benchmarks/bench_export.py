"""Exported generators against the eager module: load time and images/s of each generator
as a model.pt (the module rebuilt, weights loaded), as the torch.export program
(generator.pt2) and as the ONNX graph under onnxruntime (CPU), at the sizes of one or more
params files (default: the sample's params.yaml and the paper preset).

    .venv/bin/python tests/benchmarks/bench_export.py
    .venv/bin/python tests/benchmarks/bench_export.py --params params.yaml --batch 16 --repeats 5

The networks are built from the params, seeded and untrained (speed does not depend on
the weights), written as the train stages write model.pt, and exported by the export
stage's own code (`facegan.export`), in a temporary folder. Load time: from the file to a
network that runs, the median of --repeats loads. images/s: --batch inputs per call, the
median of --repeats calls after one untimed call.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime
import torch

from bench_training import machine_lines, rate_text
from facegan.checkpoint import save_checkpoint
from facegan.export import export_generator
from facegan.hifacegan import train as hifacegan
from facegan.hifacegan.inference import export_spec as hifacegan_spec, load_hifacegan
from facegan.hifacegan.model import build_generator as hifacegan_generator
from facegan.inference import TrainedModel
from facegan.params import Loaded
from facegan.params_file import load_params
from facegan.pgan import train as pgan
from facegan.pgan.inference import export_spec as pgan_spec, load_pgan
from facegan.pgan.model import build_generator as pgan_generator
from facegan.stargan import train as stargan
from facegan.stargan.inference import export_spec as stargan_spec, load_stargan
from facegan.stargan.model import build_generator as stargan_generator
from facegan.tables import print_table

# model: (config of the params, builder, weights entry of model.pt, export spec, loader)
MODELS = {
    "pgan": (lambda p: pgan.network_config(p.pgan, len(p.pgan.scales)), pgan_generator, "G_ema", pgan_spec, load_pgan),
    "stargan": (lambda p: stargan.network_config(p.stargan), stargan_generator, "G", stargan_spec, load_stargan),
    "hifacegan": (lambda p: hifacegan.network_config(p.hifacegan), hifacegan_generator, "G", hifacegan_spec,
                  load_hifacegan),
}


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rows_for(name: str, params: Loaded, label: str, folder: Path, batch: int, repeats: int) -> list[list[str]]:
    make_config, build, weights, spec_of, load = MODELS[name]
    config = make_config(params)
    torch.manual_seed(0)
    network = build(config).eval()
    save_checkpoint(folder / "model.pt", {"config": config, weights: network.state_dict(), "iteration": 0,
                                          "fingerprint": "benchmark"})
    spec = spec_of(TrainedModel(network, config, 0, "benchmark"), "benchmark")
    started = time.perf_counter()
    export_generator(spec, folder)
    export_seconds = time.perf_counter() - started
    inputs = [torch.randn(batch, *entry.shape, generator=torch.Generator().manual_seed(1)) for entry in spec.inputs]
    feeds = {entry.name: tensor.numpy() for entry, tensor in zip(spec.inputs, inputs)}
    size = f"{config.get('image_size') or 4 * 2 ** (config['depth'] - 1)} px"
    megabytes = (folder / "generator.pt2").stat().st_size / 2**20
    rows = []
    for form, loader in (
        ("eager (model.pt)", lambda: load(folder / "model.pt", "cpu").network),
        ("torch.export (.pt2)", lambda: load(folder / "generator.pt2", "cpu").network),
        ("ONNX (onnxruntime)", lambda: onnxruntime.InferenceSession(str(folder / "generator.onnx"),
                                                                    providers=["CPUExecutionProvider"])),
    ):
        load_seconds = median_seconds(loader, repeats)
        runner = loader()
        if isinstance(runner, onnxruntime.InferenceSession):
            call = lambda: runner.run(["images"], feeds)  # noqa: E731
        else:
            call = lambda: runner(*inputs)  # noqa: E731
        with torch.no_grad():
            call()  # untimed: first-call work (allocations, oneDNN primitives)
            rate = batch / median_seconds(call, repeats)
        rows.append([name, label, size, form, f"{load_seconds:.3f}", rate_text(rate)])
    rows[0].append(f"export {export_seconds:.1f} s, .pt2 {megabytes:,.1f} MB")
    for row in rows[1:]:
        row.append("")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, nargs="+",
                        default=[Path("params.yaml"), Path("configs/celeba128-paper.yaml")])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("\n".join(machine_lines(torch.device("cpu"))))
    print(f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__}")
    print(f"command   {' '.join(sys.argv)}\n")
    rows = []
    for params_file in args.params:
        params = load_params(params_file)
        for name in args.models:
            with tempfile.TemporaryDirectory() as folder:
                rows += rows_for(name, params, params_file.stem, Path(folder), args.batch, args.repeats)
                print("  ".join(rows[-1][:6]), file=sys.stderr, flush=True)
    print_table(["model", "params", "size", "form", "load s", "images/s", "note"], rows)


if __name__ == "__main__":
    main()
