"""The GPU check (tests/benchmarks/gpu_check.py): its CPU fallback runs here so that the
script cannot rot, and asking it for CUDA where there is none fails loudly."""
import subprocess
import sys

import pytest
import torch

from conftest import REPO, tiny_params_dict, write_params
from facegan.training.compute import bf16_missing

pytestmark = pytest.mark.slow
SCRIPT = REPO / "tests" / "benchmarks" / "gpu_check.py"


def _check(tmp_path, *args: str) -> subprocess.CompletedProcess:
    write_params(tmp_path / "params.yaml", tiny_params_dict(16))
    return subprocess.run([sys.executable, str(SCRIPT), "--params", str(tmp_path / "params.yaml"), "--iterations", "4",
                           "--metric-images", "32", "--metric-size", "32", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_the_cpu_fallback_trains_every_model_both_ways_and_runs_every_metric(tmp_path):
    # --no-compile: compiling the four networks cold takes over 2 minutes here (compiled training has
    # its own test: tests/test_precision.py)
    result = _check(tmp_path, "--device", "cpu", "--no-compile")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    # fp32, then every fast setting this CPU supports but compile: bf16 with AVX512-BF16 or AMX
    fast = "+".join(["bf16" if bf16_missing(torch.device("cpu")) is None else "fp32", "channels_last"])
    for name in ("pgan 8", "pgan 16", "stargan", "hifacegan"):
        assert [row.split()[len(name.split())] for row in rows if row.startswith(f"{name} ")] == ["fp32", fast], rows
    for name in ("SWD", "MS-SSIM", "FID network"):
        assert any(row.startswith(name) for row in rows)
    assert rows[-1] == "gpu check passed" and "gpu       none" in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check would run")
def test_asking_for_cuda_without_it_fails_loudly(tmp_path):
    result = _check(tmp_path, "--device", "cuda")
    assert result.returncode == 1 and "gpu check passed" not in result.stdout
    assert "gpu check FAILED: CheckFailed: --device cuda, but torch sees no CUDA device" in result.stderr
