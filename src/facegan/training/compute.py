"""Where and how a train stage computes: device, processes, precision.

One process, or `compute.nproc` processes on each of `compute.nnodes` machines under torchrun
with DistributedDataParallel (NCCL on CUDA, gloo on CPU). The batch sizes in params are global: every process draws
the same random numbers for the whole batch (which images, flips, latents, mixing
factors, target labels) and computes on its share of it (`process_share`). So every
process holds the random state a single process would, DDP's averaged gradient is the
gradient of the whole batch's mean loss, and the checkpoints are a single process's (up
to the rounding of that average). Only the first process writes files.

bf16 autocast runs the network forwards in bf16 on CUDA and on a CPU with bf16 instructions
(AVX512-BF16 or AMX, through oneDNN); the losses, the optimizers and the whole gradient
penalty (its forward and double backward: AMX's bf16 convolution gradients came out wrong
there when measured) stay in fp32. Elsewhere it says so and trains in fp32.
torch.compile runs on CUDA and on the CPU, where Inductor builds C++ kernels: without a C++
compiler it says so and trains eagerly. channels_last (NHWC) works on both: oneDNN's CPU
convolutions are faster in it too.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from facegan.batch_shares import groups_per_process
from facegan.errors import UserError
from facegan.images import to_float
from facegan.machine import pick_device
from facegan.params import Loaded, fingerprint, setting

PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class ComputeParams:
    """How every train stage computes, not what it learns (this module)."""

    nproc: int = setting(low=1, high=64)  # per machine
    amp: bool = setting()
    channels_last: bool = setting()
    compile: bool = setting()
    loader_workers: int = setting(low=0, high=64)
    nnodes: int = setting(1, low=1, high=4096)
    rdzv_endpoint: str = setting("")  # host:port where the machines meet (torchrun's c10d rendezvous)

    def rules(self, prefix: str) -> list[str]:
        """Several machines need the host:port where they meet; one machine needs none."""
        host, _, port = self.rdzv_endpoint.rpartition(":")
        if self.nnodes > 1 and not (host and port.isdigit()):
            return [f"{prefix}.rdzv_endpoint = {self.rdzv_endpoint!r} with {prefix}.nnodes = {self.nnodes}: must be "
                    "HOST:PORT, a machine of the run that every other one reaches (e.g. node001:29500)"]
        if self.nnodes == 1 and self.rdzv_endpoint:
            return [f"{prefix}.rdzv_endpoint = {self.rdzv_endpoint!r} with {prefix}.nnodes = 1: one machine needs "
                    "no rendezvous; set it to \"\" or raise compute.nnodes"]
        return []


@dataclass(frozen=True)
class BatchShare:
    """A global batch of `size` and the positions in it that this process computes on."""

    size: int
    positions: torch.Tensor

    def of(self, draws: torch.Tensor) -> torch.Tensor:
        """This process's rows of something drawn for the whole batch."""
        return draws[self.positions]


def process_share(batch: int, world: int, rank: int, group_size: int = 1) -> BatchShare:
    """The share of a global batch that process `rank` of `world` computes on.

    Samples are in groups as PGAN's minibatch stddev forms them: sample i is in group
    i % (batch / group_size). Each process takes whole groups, ordered so that its own
    stddev layer forms the same groups from its share; with group_size 1 the shares are
    consecutive slices.
    """
    groups, per_process = batch // group_size, groups_per_process(batch, world, group_size)
    columns = torch.arange(rank * per_process, (rank + 1) * per_process)
    return BatchShare(batch, (torch.arange(group_size)[:, None] * groups + columns).flatten())


@dataclass(frozen=True)
class Compute:
    device: torch.device
    rank: int = 0
    world: int = 1
    amp: bool = False  # bf16 autocast of the network forwards
    channels_last: bool = False
    compile: bool = False
    loader_workers: int = 0

    @property
    def main(self) -> bool:
        """The process that writes checkpoints, logs, models and samples."""
        return self.rank == 0

    def share(self, batch: int, group_size: int = 1) -> BatchShare:
        return process_share(batch, self.world, self.rank, group_size)

    def run(self, network: Callable, *args) -> Any:
        """network(*args) in bf16 autocast when mixed precision is on; outputs in fp32."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            return to_float32(network(*args))

    def images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC images from the loader as a [-1, 1] float NCHW batch on the device, in
        the networks' memory format (converted there: a quarter of the bytes to move)."""
        floats = to_float(images.to(self.device, non_blocking=True))
        return floats.contiguous(memory_format=torch.channels_last) if self.channels_last else floats

    def averaged(self, values: torch.Tensor) -> list[float]:
        """A 1-D tensor of every process's values averaged element-wise (equal shares: the
        whole batch's), read back to the host: one all_reduce, one wait for the device."""
        if self.world > 1:
            values = values.to(self._comm_device)
            dist.all_reduce(values)
            values = values / self.world
        return values.tolist()

    @property
    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")


def to_float32(outputs: Any) -> Any:
    """Network outputs (tensors, or tuples and lists of them) as fp32 for the losses."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float() if outputs.is_floating_point() else outputs
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(to_float32(item) for item in outputs)
    return outputs


class Network:
    """A network as train steps call it. `net(x)` is the pass whose gradients its own
    optimizer steps on: DDP-synchronised across processes, compiled when asked. `net.fixed(x)`
    is for passes that need only its outputs or the gradients to its inputs (the generator
    seen by the critic's step, the critic seen by the generator's step). Both autocast when
    mixed precision is on and return fp32. `net.module` is the plain module (checkpoints, EMA)."""

    def __init__(self, module: torch.nn.Module, compute: Compute, compilable: bool = True, partly_used: bool = False):
        """`compilable`: False for networks under a gradient penalty (torch.compile has no
        double backward). `partly_used`: some parameters get no gradient in some steps
        (PGAN's layers of earlier scales): DDP must look for them."""
        self.module, self.compute = module, compute
        if compute.channels_last:
            module.to(memory_format=torch.channels_last)
        trained: torch.nn.Module = module
        if compute.world > 1:
            device_ids = [compute.device] if compute.device.type == "cuda" else None
            # No buffer broadcast at each forward: batch-norm statistics are synchronised (SyncedBatchNorm2d).
            trained = DistributedDataParallel(module, device_ids=device_ids, forward_sync_buffers=False,
                                              find_unused_parameters=partly_used)
        self.trained = torch.compile(trained) if compute.compile and compilable else trained

    def __call__(self, *args):
        return self.compute.run(self.trained, *args)

    def fixed(self, *args):
        return self.compute.run(self.module, *args)

    def fp32(self, *args):
        """The trained pass without autocast: the gradient penalty's critic."""
        with torch.autocast(self.compute.device.type, enabled=False):
            return self.trained(*args)


@contextlib.contextmanager
def computing(settings: ComputeParams, device: str = "auto") -> Iterator[Compute]:
    """The Compute of this process from the `compute` params and torchrun's environment
    (RANK, WORLD_SIZE, LOCAL_RANK); joins the process group for the run's duration."""
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))
    torch_device = pick_device(device)
    if torch_device.type == "cuda" and torch_device.index is None:
        torch_device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    cuda = torch_device.type == "cuda"
    if world > 1:
        _stop_with_launcher()
        if cuda:
            torch.cuda.set_device(torch_device)
        dist.init_process_group("nccl" if cuda else "gloo", device_id=torch_device if cuda else None)
    try:
        say = rank == 0
        yield Compute(torch_device, rank, world,
                      amp=settings.amp and _available("compute.amp", bf16_missing(torch_device), say),
                      channels_last=settings.channels_last,
                      compile=settings.compile and _available("compute.compile", compiler_missing(torch_device), say),
                      loader_workers=settings.loader_workers)
    finally:
        if world > 1:
            dist.destroy_process_group()


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo's names for the native bf16 instructions


def bf16_missing(device: torch.device) -> str | None:
    """Why bf16 autocast cannot run natively on `device`, or None when it can. On a CPU:
    the CPU must have AVX512-BF16 or AMX (plain AVX-512 only emulates bf16, slower than
    fp32) and oneDNN must use them (ONEDNN_MAX_CPU_ISA can hold it below)."""
    if device.type == "cuda":
        return None if torch.cuda.is_bf16_supported() else f"{torch.cuda.get_device_name(device)} has no bf16"
    if _cpu_flags() & set(BF16_CPU_FLAGS) and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return None
    return "this CPU has no bf16 instructions that oneDNN uses (AVX512-BF16 or AMX)"


def _cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (none known elsewhere)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next((set(line.split(":", 1)[1].split()) for line in cpuinfo if line.startswith("flags")), set())
    except OSError:
        return set()


def compiler_missing(device: torch.device) -> str | None:
    """Why torch.compile cannot run on `device`, or None when it can: on a CPU, Inductor builds
    its kernels with the C++ compiler $CXX names, else g++."""
    compiler = os.environ.get("CXX", "g++")
    if device.type == "cuda" or shutil.which(compiler):
        return None
    return f"no C++ compiler `{compiler}` on PATH, which torch.compile needs on a CPU (apt-get install g++, or set CXX)"


def _available(setting: str, missing: str | None, say: bool) -> bool:
    """True when nothing is `missing`; otherwise say (the first process) what the run does instead."""
    if missing is not None and say:
        print(f"{setting}: {missing}; training without it", file=sys.stderr, flush=True)
    return missing is None


def _stop_with_launcher() -> None:
    """Make this torchrun worker die with its launcher. torchrun stops its workers on SIGTERM
    or Ctrl-C, but a launcher killed outright (SIGKILL) would leave them training on and
    writing checkpoints under the next run; Linux can tie their lives (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the launcher died before the tie was made
        os._exit(1)


LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")  # what torchrun (or srun set up so) gives a worker


def torchrun_command(nproc: int, nnodes: int = 1, endpoint: str = "", run_id: str = "facegan") -> list[str]:
    """The command line that runs a script (appended, with its arguments) in `nproc`
    processes on this machine: torchrun as a module of this interpreter. Alone
    (--standalone), or as one of `nnodes` machines that meet at `endpoint` (host:port)
    through torchrun's c10d rendezvous, which numbers the machines as they join: every
    machine runs the same command, with the same `run_id`."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if nnodes == 1:
        return [*torchrun, "--standalone"]
    return [*torchrun, f"--nnodes={nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}",
            f"--rdzv-id={run_id}"]


# Set by the launching process for its workers: the digest of the params it parsed.
PARAMS_DIGEST_VARIABLE = "FACEGAN_PARAMS_DIGEST"


def relaunch_under_torchrun(params: Loaded, argv: list[str]) -> None:
    """With more than one process in all and no launcher around this one: replace this
    process with torchrun running `argv` (a stage script and its arguments) in
    `compute.nproc` processes here, on `compute.nnodes` machines. Replaced, not a child:
    a signal sent to the stage's process (SIGTERM, Ctrl-C) reaches torchrun, which stops
    its workers, and its exit code is the stage's. A process started by a launcher
    (torchrun, or srun with RANK, WORLD_SIZE and LOCAL_RANK set) is a worker already and
    never relaunches. Returns only when this process should train itself.

    Each worker parses the params file again; the digest of what the launching process
    parsed travels with them, so that a file edited in between stops them rather than
    training on other params than the stage's."""
    digest = fingerprint(vars(params))
    launched_with = os.environ.get(PARAMS_DIGEST_VARIABLE)
    if launched_with is not None and launched_with != digest:
        raise UserError("the params file changed after this run was launched: its processes would train on "
                        "other params than the launching one; rerun the stage")
    settings: ComputeParams = params.compute
    if settings.nproc * settings.nnodes <= 1 or any(name in os.environ for name in LAUNCHER_VARIABLES):
        return
    run_id = "-".join(["facegan", Path(argv[0]).stem, *argv[1:]])  # the same on every machine
    command = [*torchrun_command(settings.nproc, settings.nnodes, settings.rdzv_endpoint, run_id), *argv]
    where = f" on each of {settings.nnodes} machines" if settings.nnodes > 1 else ""
    print(f"launching {settings.nproc} processes{where}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.environ[PARAMS_DIGEST_VARIABLE] = digest
    os.execv(sys.executable, command)
