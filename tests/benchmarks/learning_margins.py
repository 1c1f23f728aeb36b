"""The learning tests' margins under several training seeds: where each test's thresholds
come from. Runs each test's own `measure(tmp_path, seed)` (its config, its data) per seed
and prints every quantity a test asserts on, with its threshold, per seed and as
min / mean +- std, and the machine it ran on. Run it once as is and once under another
kind of kernels, then set each threshold so that its distance to the worst seed exceeds
the spread seen:

    .venv/bin/python tests/benchmarks/learning_margins.py --seeds 0 1 2 3 4
    ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python tests/benchmarks/learning_margins.py --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))  # the test modules import conftest

from facegan.tables import print_table  # noqa: E402
from facegan.machine import describe, describe_machine  # noqa: E402
from facegan.spread import Summary  # noqa: E402

# Per test: (quantity, how it is read off measure()'s result, the test's bound: "> x" or "< x").
QUANTITIES = {
    "pgan": ("test_pgan_learning", [
        ("SWD trained / untrained", lambda r: r["ratio"], "< 0.5"),
    ]),
    "stargan": ("test_stargan_learning", [
        ("classifier real accuracy", lambda r: r["real_accuracy"]["mean"], "> 0.8"),
        ("attr accuracy gain", lambda r: r["attr_accuracy"]["mean"] - r["untrained"]["attr_accuracy"], "> 0.25"),
        ("self-reconstruction gain dB",
         lambda r: r["self_reconstruction_psnr"] - r["untrained"]["self_reconstruction_psnr"], "> 3"),
        ("fd_classifier trained / untrained", lambda r: r["fd_classifier"] / r["untrained"]["fd_classifier"],
         "< 0.3333"),
        ("fd_classifier - real floor", lambda r: r["fd_classifier"] - r["fd_classifier_real_floor"], "> 0"),
    ]),
    "hifacegan": ("test_hifacegan_learning", [
        ("gain.psnr dB", lambda r: r["trained"]["gain"]["psnr"], "> 0.3"),
        ("gain.ssim", lambda r: r["trained"]["gain"]["ssim"], "> 0.2"),
        ("psnr trained - untrained dB", lambda r: r["trained"]["psnr"] - r["untrained"]["psnr"], "> 5"),
    ]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", default=list(QUANTITIES), choices=list(QUANTITIES))
    parser.add_argument("--json", type=Path, help="also write the values here")
    args = parser.parse_args()
    machine = describe_machine()
    print(f"machine: {describe(machine)}")
    values: dict[str, dict[str, list[float]]] = {}
    for model in args.models:
        module_name, quantities = QUANTITIES[model]
        module = importlib.import_module(module_name)
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as folder:
                result = module.measure(Path(folder), seed)
            for name, read, _ in quantities:
                values.setdefault(model, {}).setdefault(name, []).append(float(read(result)))
            print(f"{model} seed {seed}: " + ", ".join(f"{n} {values[model][n][-1]:.4g}" for n, _, _ in quantities),
                  flush=True)
    rows = []
    for model in args.models:
        for name, _, bound in QUANTITIES[model][1]:
            summary = Summary.of(values[model][name])
            worst = summary.max if bound.startswith("<") else summary.min
            rows.append([model, name, bound, " ".join(f"{v:.4g}" for v in values[model][name]),
                         f"{worst:.4g}", f"{summary.mean:.4g} ± {round(summary.std, 12):.3g}",
                         f"{abs(worst - float(bound[2:])):.3g}"])
    print()
    print_table(["model", "quantity", "test", "per seed", "worst", "mean ± std", "margin"], rows)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "seeds": args.seeds, "values": values}, indent=1))


if __name__ == "__main__":
    main()
