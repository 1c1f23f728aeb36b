"""Training in several processes (DDP under torchrun, gloo on CPU) and on several machines
(c10d rendezvous) against one process, batch shares, mixed precision and the batch loader."""
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import free_endpoint, run_stage, tiny_params_dict, write_params
from facegan.batch_shares import BatchSplitError
from facegan.checkpoint import load_checkpoint
from facegan.errors import UserError
from facegan.params import Loaded, ParamsError
from facegan.params_file import load_params
from facegan.pgan.batch_groups import stddev_group_size
from facegan.pgan.layers import MinibatchStddev
from facegan.pgan.model import Discriminator
from facegan.training.batch_loader import TrainingBatches, batch_loader
from facegan.training.compute import ComputeParams
from facegan.training.compute import (PARAMS_DIGEST_VARIABLE, Compute, Network, bf16_missing, compiler_missing, computing,
                                      process_share, relaunch_under_torchrun)
from facegan.pgan.train import init_networks, new_state, scale_trainer
from facegan.training.log import read_curves
from facegan.training.wgan_gp import discriminator_loss


@pytest.mark.parametrize("batch, world", [(16, 1), (16, 2), (16, 4), (32, 2), (24, 3), (6, 2)])
def test_process_shares_keep_the_minibatch_stddev_groups(batch, world):
    """Each process's stddev layer, on its share, gives what one process gives on the whole batch."""
    group_size = stddev_group_size(batch)
    x = torch.randn(batch, 5, 4, 4, generator=torch.Generator().manual_seed(0))
    whole = MinibatchStddev(4)(x)
    positions = []
    for rank in range(world):
        share = process_share(batch, world, rank, group_size)
        torch.testing.assert_close(MinibatchStddev(4)(share.of(x)), share.of(whole), rtol=0, atol=0)
        positions += share.positions.tolist()
    assert sorted(positions) == list(range(batch))


def test_shares_without_groups_are_consecutive_slices():
    assert [process_share(6, 3, rank).positions.tolist() for rank in range(3)] == [[0, 1], [2, 3], [4, 5]]


def test_a_batch_that_cannot_be_shared_is_a_params_error(tmp_path):
    params = tiny_params_dict(8)
    params["compute"]["nproc"] = 2
    params["pgan"]["scales"]["8"]["batch"] = 10  # stddev groups of 2: 5 groups for 2 processes
    with pytest.raises(ParamsError, match=r"pgan\.scales\.8\.batch = 10 with compute\.nproc = 2: .*multiple of 8,"):
        load_params(write_params(tmp_path / "params.yaml", params))
    with pytest.raises(BatchSplitError, match="cannot be split over 3 processes"):
        process_share(8, 3, 0)
    params["compute"].update(nproc=1, nnodes=2, rdzv_endpoint="node001:29500")  # 2 machines: the same rule
    with pytest.raises(ParamsError, match=r"8\.batch = 10 with compute\.nproc x compute\.nnodes = 2: .*multiple of 8,"):
        load_params(write_params(tmp_path / "params.yaml", params))


@pytest.mark.parametrize("nnodes, endpoint, expected", [
    (2, "", r"compute\.rdzv_endpoint = '' with compute\.nnodes = 2: must be HOST:PORT"),
    (2, "node001", "must be HOST:PORT"),
    (1, "node001:29500", "one machine needs no rendezvous"),
])
def test_machines_and_their_meeting_point_are_checked(tmp_path, nnodes, endpoint, expected):
    params = tiny_params_dict(8)
    params["compute"].update(nnodes=nnodes, rdzv_endpoint=endpoint)
    with pytest.raises(ParamsError, match=expected):
        load_params(write_params(tmp_path / "params.yaml", params))


def _no_launcher(monkeypatch) -> None:
    """A process no launcher started; what a relaunch sets in os.environ is undone after the
    test (set first, so that monkeypatch restores the variables' absence)."""
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", PARAMS_DIGEST_VARIABLE):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_a_process_under_a_launcher_never_relaunches(monkeypatch):
    """torchrun, or srun exporting the three variables: the process is a worker already."""
    launched = []
    monkeypatch.setattr(os, "execv", lambda executable, command: launched.append(command))
    params = Loaded(compute=ComputeParams(nproc=2, amp=False, channels_last=True, compile=False, loader_workers=0))
    _no_launcher(monkeypatch)
    relaunch_under_torchrun(params, ["stages/train.py", "pgan", "8"])
    assert len(launched) == 1 and "--nproc-per-node=2" in launched[0]  # alone, it would become torchrun
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    relaunch_under_torchrun(params, ["stages/train.py", "pgan", "8"])
    assert len(launched) == 1


def test_workers_stop_when_the_params_file_changed_after_the_launch(monkeypatch):
    """The launching process passes the digest of what it parsed; a worker that parses other
    params (the file edited in between) stops instead of training on them."""
    monkeypatch.setattr(os, "execv", lambda executable, command: None)
    settings = ComputeParams(nproc=2, amp=False, channels_last=True, compile=False, loader_workers=0)
    _no_launcher(monkeypatch)
    relaunch_under_torchrun(Loaded(lr=0.002, compute=settings), ["stages/train.py", "pgan", "8"])
    for name, value in (("RANK", "1"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "1")):
        monkeypatch.setenv(name, value)
    relaunch_under_torchrun(Loaded(lr=0.002, compute=settings), ["stages/train.py", "pgan", "8"])  # the same params
    with pytest.raises(UserError, match="the params file changed after this run was launched"):
        relaunch_under_torchrun(Loaded(lr=0.003, compute=settings), ["stages/train.py", "pgan", "8"])


def test_bf16_and_compile_run_where_they_can_and_say_so_where_they_cannot(monkeypatch, capsys):
    settings = ComputeParams(nproc=1, amp=True, channels_last=True, compile=True, loader_workers=0)
    with computing(settings, "cpu") as compute:
        assert (compute.amp, compute.channels_last, compute.compile, compute.world) == (
            bf16_missing(torch.device("cpu")) is None, True, compiler_missing(torch.device("cpu")) is None, 1)
    monkeypatch.setenv("CXX", "no-such-compiler")
    with computing(settings, "cpu") as compute:
        assert not compute.compile
    assert "compute.compile: no C++ compiler `no-such-compiler` on PATH" in capsys.readouterr().err
    # A CPU without bf16 instructions, as oneDNN sees one when told to use AVX2 at most.
    code = ("from facegan.training.compute import ComputeParams, computing\n"
            "with computing(ComputeParams(nproc=1, amp=True, channels_last=False, compile=False, "
            "loader_workers=0), 'cpu') as compute: print(compute.amp)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert run.stdout == "False\n" and "compute.amp: this CPU has no bf16 instructions" in run.stderr


def test_channels_last_trains_as_nchw_up_to_rounding(tmp_path):
    """A few PGAN steps in NHWC and in NCHW from the same start: the same losses and weights
    but for the rounding of a different summation order."""
    pgan = load_params(write_params(tmp_path / "params.yaml", tiny_params_dict())).pgan
    images = np.random.default_rng(0).integers(0, 256, (32, 8, 8, 3), dtype=np.uint8)
    previous = init_networks(pgan, {"test": "inputs"})
    runs = {}
    for layout in (False, True):
        compute = Compute(torch.device("cpu"), channels_last=layout)
        state = new_state(pgan, 1e-3, "8", previous, compute.device, {"test": "inputs"})
        step, batches = scale_trainer(state, pgan, "8", compute, images)
        losses = []
        for batch in batch_loader(batches, 0, 6, compute):
            losses.append(step(batch)["loss_d"])
            state.iteration += 1
        runs[layout] = losses, state.G.state_dict()
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=1e-4)
    for name, value in runs[False][1].items():
        torch.testing.assert_close(runs[True][1][name].contiguous(), value, rtol=1e-3, atol=1e-4)


def test_bf16_autocast_leaves_the_gradient_penalty_in_fp32():
    """Under compute.amp the critic's scores come from bf16 forwards, the gradient penalty's
    forward and double backward from fp32 ones (Network.fp32): on a Xeon with AMX, oneDNN's
    bf16 kernels gave 3x3 conv weight gradients in that double backward at cosine 0.08-0.35
    to fp32's (measured; 0.997 with AMX off). So the penalty is fp32's to the bit, and the
    critic's gradient differs by the bf16 rounding of its scores' part only."""
    reals, fakes = (torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(s)) * 2 - 1 for s in (1, 2))
    u = torch.rand(8, generator=torch.Generator().manual_seed(3))
    results = {}
    for amp in (False, True):
        torch.manual_seed(0)
        D = Discriminator([16, 16, 16], 3)
        dtypes = []
        D.tail[1].register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
        critic = Network(D, Compute(torch.device("cpu"), amp=amp), compilable=False)
        loss, parts = discriminator_loss(critic, reals, fakes, u, gp_weight=10.0, drift_weight=1e-3,
                                         penalty_critic=critic.fp32)
        loss.backward()
        # real, fake, then the penalty's x_hat
        assert loss.dtype == torch.float32 and dtypes == [torch.bfloat16] * 2 * amp + [torch.float32] * (3 - 2 * amp)
        results[amp] = parts, torch.cat([p.grad.flatten() for p in D.parameters() if p.grad is not None])
    (parts32, grad32), (parts16, grad16) = results[False], results[True]
    assert parts16["gp"] == parts32["gp"] and parts16["wasserstein"] != parts32["wasserstein"]
    assert torch.nn.functional.cosine_similarity(grad16, grad32, dim=0) > 0.99
    assert (grad16 - grad32).norm() < 0.1 * grad32.norm()


def test_batches_depend_only_on_seed_and_iteration_and_workers_read_the_same():
    images = np.random.default_rng(0).integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)
    shares = [process_share(8, 2, rank) for rank in range(2)]
    one = TrainingBatches(images, process_share(8, 1, 0), seed=5, mirror=True)
    halves = [TrainingBatches(images, share, seed=5, mirror=True) for share in shares]
    for iteration in (0, 7):
        whole = one[iteration]
        assert torch.equal(torch.cat([half[iteration]["images"] for half in halves]), whole["images"])
        assert all(torch.equal(half[iteration]["rows"], whole["rows"]) for half in halves)
    assert not torch.equal(one[0]["rows"], one[1]["rows"])
    mirrored = [row for row, image in zip(one[0]["rows"], one[0]["images"]) if not torch.equal(
        image, torch.from_numpy(images[row]))]
    assert mirrored and all(torch.equal(one[0]["images"][list(one[0]["rows"]).index(row)],
                                        torch.from_numpy(images[row][:, ::-1].copy())) for row in mirrored)

    in_process = list(batch_loader(one, 3, 9, Compute(torch.device("cpu"))))
    read_ahead = list(batch_loader(one, 3, 9, Compute(torch.device("cpu"), loader_workers=2)))
    assert len(in_process) == 6 and all(torch.equal(a["images"], b["images"]) for a, b in zip(in_process, read_ahead))
    assert torch.equal(in_process[0]["images"], one[3]["images"])


# ---------------------------------------------------------------- the stages in 2 processes


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Tiny params logging every iteration, the samples prepared, PGAN's scale 4 trained."""
    workdir = tmp_path_factory.mktemp("prepared")
    params = tiny_params_dict(8)
    params["pgan"]["train"]["log_every"] = 1
    params["pgan"]["scales"]["4"]["iterations"] = 4
    params["pgan"]["scales"]["8"].update(iterations=12, fade_iterations=6)
    # The papers' learning rates (the sample default's are 10x): Adam's steps bound how far rounding can move a weight.
    params["stargan"]["train"].update(iterations=10, decay_start=5, log_every=1, g_lr=1e-4, d_lr=1e-4)
    params["hifacegan"]["train"].update(iterations=3, decay_start=2, batch=4, log_every=1, g_lr=1e-4, d_lr=4e-4)
    write_params(workdir / "params.yaml", params)
    stages = [("download.py", "celeba"), ("prepare.py", "celeba"), ("prepare.py", "stargan"), ("download.py", "ffhq"),
              ("prepare.py", "ffhq"), ("train.py", "pgan-init"), ("train.py", "pgan", "4")]
    for stage in stages:
        run_stage(*stage, cwd=workdir)
    return workdir, params


def _run_with(prepared, destination, nproc: int, stage: tuple[str, ...]):
    template, params = prepared
    workdir = shutil.copytree(template, destination)
    write_params(workdir / "params.yaml", {**params, "compute": {**params["compute"], "nproc": nproc}})
    return run_stage("train.py", *stage, cwd=workdir), workdir


@pytest.mark.slow
@pytest.mark.parametrize("stage, out, compared_iterations", [
    # Minibatch stddev, gradient penalty, fade-in (iterations 1-6), EMA. Rounding then grows with each
    # step: with 1 thread a process, one process and two differ by 3e-3 in loss_d at iteration 12 (Xeon).
    (("pgan", "8"), "pgan/8", 8),
    (("stargan",), "stargan", 10),  # target labels permuted across the processes' shares, n_critic 5
    # Synchronised batch norm. HiFaceGAN amplifies rounding: one process with 1 or 2 threads
    # already differs by 1e-2 after five iterations; three stay within 1e-5.
    (("hifacegan",), "hifacegan", 3),
])
def test_two_processes_train_as_one_process_with_the_whole_batch(tmp_path, prepared, stage, out, compared_iterations):
    one, one_dir = _run_with(prepared, tmp_path / "one", 1, stage)
    two, two_dir = _run_with(prepared, tmp_path / "two", 2, stage)
    assert "launching 2 processes" in two.stderr and "launching" not in one.stderr
    _assert_trained_alike(one_dir, two_dir, out, compared_iterations)


@pytest.mark.slow
def test_two_machines_of_one_process_train_as_one_process(tmp_path, prepared):
    """Two launchers on this machine stand for two machines: each starts the same stage
    command, which relaunches itself as a torchrun node; they meet through c10d on 127.0.0.1."""
    _, one_dir = _run_with(prepared, tmp_path / "one", 1, ("pgan", "8"))
    template, params = prepared
    nodes_dir = shutil.copytree(template, tmp_path / "nodes")  # the filesystem both machines share
    endpoint = free_endpoint()
    write_params(nodes_dir / "params.yaml",
                 {**params, "compute": {**params["compute"], "nproc": 1, "nnodes": 2, "rdzv_endpoint": endpoint}})
    with ThreadPoolExecutor(2) as pool:
        nodes = list(pool.map(lambda _: run_stage("train.py", "pgan", "8", cwd=nodes_dir, timeout=300), range(2)))
    for node in nodes:
        assert "launching 1 processes on each of 2 machines" in node.stderr
        assert f"--rdzv-backend=c10d --rdzv-endpoint={endpoint} --rdzv-id=facegan-train-pgan-8" in node.stderr
    _assert_trained_alike(one_dir, nodes_dir, "pgan/8", 8)


def _assert_trained_alike(one_dir: Path, two_dir: Path, out: str, compared_iterations: int) -> None:
    """The run in `two_dir` logged and saved what the one-process run in `one_dir` did, up to rounding
    (in the log: the first `compared_iterations`, before rounding has grown past it)."""
    log_one, log_two = (read_curves(d / "data" / out / "curves") for d in (one_dir, two_dir))
    assert len(log_one) == len(log_two) >= compared_iterations
    # Rounding only: the largest relative difference measured is 6e-4 (StarGAN's gp) on an
    # AVX-512 Xeon, 1e-5 on an AMD EPYC; HiFaceGAN with unsynchronised batch norm differs by 6e-2.
    for row_one, row_two in zip(log_one[:compared_iterations], log_two):
        for column in row_one:
            expected = pytest.approx(row_one[column], rel=2e-3, abs=1e-5, nan_ok=True)
            assert row_two[column] == expected, (row_one["iteration"], column)

    # The same checkpoint: same entries, config, fingerprint, iteration and random state;
    # the weights equal up to the rounding of the averaged gradients.
    work_one, work_two = (load_checkpoint(d / "data" / out / "work" / "checkpoint.pt") for d in (one_dir, two_dir))
    assert work_one.keys() == work_two.keys()
    assert all(work_two[key] == work_one[key] for key in ("config", "inputs", "fingerprint", "iteration"))
    rng_one, rng_two = work_one["rng"], work_two["rng"]
    assert torch.equal(rng_one["generator"], rng_two["generator"]) and torch.equal(rng_one["torch"], rng_two["torch"])
    network = "G_ema" if "G_ema" in work_one else "G"
    assert work_one[network].keys() == work_two[network].keys()
    # Adam turns rounding noise in a zero gradient (a conv bias before a norm) into steps of
    # about its learning rate (1e-4 to 4e-4 for StarGAN and HiFaceGAN here), and batch norm's
    # running averages follow: 2.7e-3 at most measured (Xeon), 0.14 with unsynchronised batch norm.
    for name, tensor in work_one[network].items():
        torch.testing.assert_close(work_two[network][name], tensor, rtol=1e-2, atol=5e-3)
    assert sorted(p.name for p in (two_dir / "data" / out).iterdir()) == sorted(
        p.name for p in (one_dir / "data" / out).iterdir())
