"""compute.amp and compute.compile on the CPU: bf16 autocast training, and compiled training,
follow eager fp32 from the same weights and batches, by the GPU check's own test (the mean
of each loss over the first 5 steps within 10% relative or 0.05 absolute). bf16 for every
model, skipped with the reason on a CPU whose oneDNN has no bf16 instructions (AVX512-BF16,
AMX); compile for PGAN and StarGAN (their generators; the critics stay eager under the
gradient penalty), skipped with the reason without a C++ compiler."""
import sys

import pytest
import torch

from conftest import REPO, tiny_params_dict, write_params
from facegan.params_file import load_params
from facegan.training.compute import ComputeParams, bf16_missing, compiler_missing

sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
from gpu_check import check_tracking, train_run  # noqa: E402  (a script's folder, not a package)

pytestmark = pytest.mark.slow  # trains (and compiles): make test-fast leaves it out
NO_BF16 = bf16_missing(torch.device("cpu"))
NO_COMPILER = compiler_missing(torch.device("cpu"))
STEPS = 8


def _runs(tmp_path, model: str, scale: str, **fast) -> tuple[dict, dict]:
    """STEPS steps in eager fp32, then with the `fast` settings, from the same start."""
    params = load_params(write_params(tmp_path / "params.yaml", tiny_params_dict(8)))
    settings = dict(nproc=1, amp=False, channels_last=False, compile=False, loader_workers=0)
    return tuple(train_run(model, scale, params, ComputeParams(**{**settings, **changes}), "cpu", STEPS)
                 for changes in ({}, fast))


@pytest.mark.skipif(NO_BF16 is not None, reason=f"bf16 training cannot run here: {NO_BF16}")
@pytest.mark.parametrize("model, scale", [("pgan", "8"), ("stargan", "-"), ("hifacegan", "-")])
def test_bf16_training_follows_fp32(tmp_path, model, scale):
    fp32, bf16 = _runs(tmp_path, model, scale, amp=True)
    assert (fp32["label"], bf16["label"]) == ("fp32", "bf16")
    assert bf16["losses"] != fp32["losses"]  # bf16 did run: its rounding shows in the losses
    check_tracking(model, fp32, bf16, steps=5)  # raises CheckFailed when bf16 leaves fp32's track


# HiFaceGAN's networks take 95 s to compile cold on the 2-core Xeon (PGAN's 20, StarGAN's 15): the
# GPU check compiles them (`tests/benchmarks/gpu_check.py --device cpu`), the test suite does not.
@pytest.mark.skipif(NO_COMPILER is not None, reason=f"compiled training cannot run here: {NO_COMPILER}")
@pytest.mark.parametrize("model, scale", [("pgan", "8"), ("stargan", "-")])
def test_compiled_training_follows_eager(tmp_path, model, scale):
    eager, compiled = _runs(tmp_path, model, scale, compile=True)
    assert compiled["label"] == "fp32+compile"
    check_tracking(f"{model} compiled", eager, compiled, steps=5)
