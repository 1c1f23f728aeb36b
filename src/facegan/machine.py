"""What a run computed on: the facts that decide its last bits. Trained weights, and so the
metrics, are bitwise reproducible only where all of them match: the CPU, the kernels torch
(ATen) and oneDNN pick on it (ONEDNN_MAX_CPU_ISA=AVX2 alone changes oneDNN's convolutions),
the thread count and the numeric packages' versions. The evaluation records this beside
its numbers, and `facegan reproduce-check` compares bitwise only on a machine that matches.

Also the device a command runs on (`pick_device`). torch is imported where it is used, so
that the `facegan` commands that only describe the machine start at once."""
from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# The installed distributions whose arithmetic reaches a metric.
NUMERIC_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "pillow", "opencv-python", "pyimgaug")

# A convolution large enough for torch to hand it to oneDNN, which names its ISA on the
# first primitive when verbose (there is no Python call that returns it).
_ONEDNN_PROBE = """
import torch
x = torch.ones(2, 16, 16, 16).to(memory_format=torch.channels_last)
w = torch.ones(16, 16, 3, 3).to(memory_format=torch.channels_last)
with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
    torch.nn.functional.conv2d(x, w)
"""


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def onednn_isa() -> str:
    """The instruction set oneDNN dispatches to here, as its verbose header names it
    (run in a fresh interpreter: the header is printed once per process)."""
    result = subprocess.run([sys.executable, "-c", _ONEDNN_PROBE], capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if ",isa:" in line:
            return line.split(",isa:", 1)[1].strip()
    return "unknown (oneDNN printed no ISA)"


def describe_machine() -> dict:
    """The record that decides whether two runs can agree bitwise (see the module docstring)."""
    import torch

    versions = {"python": platform.python_version()}
    for name in NUMERIC_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu_model(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_isa": onednn_isa(),
        "threads": torch.get_num_threads(),
        "versions": versions,
    }


def describe(machine: dict) -> str:
    """One line for a person: `Intel(R) Xeon(R) Processor, torch AVX512, oneDNN ..., 2 threads`."""
    return (f"{machine['cpu']}, torch {machine['torch_cpu_capability']}, oneDNN {machine['onednn_isa']}, "
            f"{machine['threads']} threads")


def pick_device(name: str = "auto") -> torch.device:
    """The torch device `name` names; "auto": CUDA when present, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
