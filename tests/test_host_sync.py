"""Training waits for the device once per log interval, not at every step: each model's
training, on tiny params, reads values back to the host (`.item()`, `.tolist()`, `float()`,
`int()`, `bool()` of a tensor) and all-reduces them across processes at most once per
logged row. On a GPU each of these waits for the queued work to finish.

Counted: the calls that the project's own code makes while `run_loop` runs, but for the
checkpoints it writes (saving weights reads them back, once per checkpoint). torch's own
calls are left out: Adam reads its step counts with `.item()`, but they are host tensors.
The processes are two as `Compute` sees them, in a process group of this one alone (the
all_reduce then sums this process's values only): enough to run the averaging across them.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

import facegan
from conftest import tiny_params_dict, write_params
from facegan.checkpoint import save_checkpoint
from facegan.hifacegan.data import PreparedFFHQ
from facegan.hifacegan.train import train_hifacegan
from facegan.params import Loaded
from facegan.params_file import load_params
from facegan.pgan.train import ScalePaths, init_networks, train_scale
from facegan.stargan.classifier import train_classifier
from facegan.stargan.data import PreparedStarGAN
from facegan.stargan.train import train_stargan
from facegan.training import loop
from facegan.training.compute import Compute

pytestmark = pytest.mark.slow  # trains four models: half a minute
TEST_INPUTS = {"test": "inputs"}  # the runs' input record (a stage's is `stage_inputs`)
READ_BACKS = ("item", "tolist", "__float__", "__int__", "__bool__")  # tensor -> host: each waits for the device
OWN_CODE = str(Path(facegan.__file__).parent)
SAVING = {loop.LoopState.snapshot.__code__, loop.save_checkpoint.__code__}


class SyncCounter:
    """Counts the read-backs and all_reduces that the project's code makes in the training loop."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.counts: Counter[str] = Counter()
        for name in READ_BACKS:
            monkeypatch.setattr(torch.Tensor, name, self._counting(name, getattr(torch.Tensor, name)))
        monkeypatch.setattr(dist, "all_reduce", self._counting("all_reduce", dist.all_reduce))

    def _counting(self, name: str, original):
        def counted(*args, **kwargs):
            if _in_training_steps(sys._getframe(1)):
                self.counts[name] += 1
            return original(*args, **kwargs)

        return counted


def _in_training_steps(caller) -> bool:
    """`caller` is the project's code, run by run_loop, and no checkpoint is being written."""
    if not caller.f_code.co_filename.startswith(OWN_CODE):
        return False
    codes = []
    frame = caller
    while frame is not None:
        codes.append(frame.f_code)
        frame = frame.f_back
    return loop.run_loop.__code__ in codes and not SAVING.intersection(codes)


@pytest.fixture
def two_processes():
    """A Compute of 2 processes whose collectives run in a process group of this process alone."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield Compute(torch.device("cpu"), rank=0, world=2)
    dist.destroy_process_group()


def _params(tmp_path: Path, iterations: int, log_every: int) -> Loaded:
    """Tiny params: each model logs every `log_every` of its `iterations`, writes its checkpoint
    at the end only (the classifier's log interval is iterations // 50: 100 iterations log every 2)."""
    raw = tiny_params_dict(8)
    raw["pgan"]["train"].update(log_every=log_every, checkpoint_every=iterations)
    raw["pgan"]["scales"]["4"]["iterations"] = iterations
    for model in ("stargan", "hifacegan"):
        raw[model]["train"].update(iterations=iterations, decay_start=iterations // 2, log_every=log_every,
                                   checkpoint_every=iterations)
    raw["stargan"]["classifier"]["iterations"] = 100
    return load_params(write_params(tmp_path / "params.yaml", raw))


def _images(count: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, *shape), dtype=np.uint8)


def _stargan_data(tmp_path: Path, params: Loaded) -> PreparedStarGAN:
    attributes, size = params.stargan.data.attributes, params.stargan.data.image_size
    labels = (np.random.default_rng(1).random((32, len(attributes))) < 0.5).astype(np.float32)
    return PreparedStarGAN(tmp_path, {"stargan": {"attributes": list(attributes)}}, _images(32, size, size, 3), labels,
                           split=np.repeat(np.uint8([0, 1]), [24, 8]))


def _train(model: str, tmp_path: Path, params: Loaded, compute: Compute) -> None:
    paths = loop.RunPaths(tmp_path / model)
    if model == "pgan":
        save_checkpoint(tmp_path / "init.pt", init_networks(params.pgan, TEST_INPUTS))
        train_scale(params.pgan, params.lr, "4", _images(32, 4, 4, 3),
                    ScalePaths(out_dir=paths.out_dir, previous=tmp_path / "init.pt"), TEST_INPUTS, compute)
    elif model == "stargan":
        train_stargan(params.stargan, _stargan_data(tmp_path, params), paths, TEST_INPUTS, compute)
    elif model == "classifier":
        train_classifier(params.stargan.classifier, _stargan_data(tmp_path, params), paths, TEST_INPUTS, compute)
    else:
        size = params.hifacegan.data.image_size
        pairs = {split: _images(count, 2, size, size, 3) for split, count in (("train", 16), ("test", 4))}
        train_hifacegan(params.hifacegan, PreparedFFHQ(tmp_path, {"image_size": size}, pairs), paths, TEST_INPUTS,
                        compute)


@pytest.mark.parametrize("model", ["pgan", "stargan", "classifier", "hifacegan"])
def test_training_reads_back_once_per_log_interval(model, tmp_path, monkeypatch, two_processes):
    params = _params(tmp_path, iterations=4, log_every=2)
    counter = SyncCounter(monkeypatch)
    _train(model, tmp_path, params, two_processes)
    rows = len((tmp_path / model / "work" / "loss.tsv").read_text().splitlines()) - 1
    assert rows == (50 if model == "classifier" else 2)
    counts = {name: counter.counts[name] for name in (*READ_BACKS, "all_reduce")}
    assert counts["all_reduce"] == rows and all(count <= rows for count in counts.values()), (rows, counts)
