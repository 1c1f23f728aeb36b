"""A real learning check: a few hundred iterations on the sample bring the averaged
generator measurably closer to the real faces (SWD) than the untrained one."""
import copy

import numpy as np
import pytest
import torch

from conftest import tiny_params_dict
from facegan.checkpoint import save_checkpoint
from facegan.data.celeba import prepare_celeba
from facegan.data.prepared_celeba import load_prepared
from facegan.data.synthetic import write_celeba_sample
from facegan.images import array_batches
from facegan.metrics.swd import sliced_wasserstein
from facegan.params import Loaded
from facegan.params_file import load_params
from facegan.pgan.inference import generated_batches
from facegan.pgan.train import ScalePaths, grow_networks, init_networks, train_scale
from facegan.training.compute import Compute

pytestmark = pytest.mark.slow  # runs stages or trains: make test-fast leaves it out
TEST_INPUTS = {"test": "inputs"}  # the run's input record (a stage's is `stage_inputs`)


def _params(tmp_path, seed: int) -> Loaded:
    raw = tiny_params_dict(8)
    raw["pgan"]["train"]["seed"] = seed
    raw["lr"] = 0.003  # the PaddlePaddle run's base lr: learns fast enough to see in 400 steps
    raw["pgan"]["model"].update(latent_dim=32, channels=[32, 32])
    raw["pgan"]["train"].update(ema_decay=0.95, checkpoint_every=1000, log_every=50)
    raw["pgan"]["scales"]["4"].update(iterations=400, batch=16)
    raw["pgan"]["scales"]["8"].update(iterations=400, fade_iterations=130, batch=16)
    (tmp_path / "params.yaml").write_text(__import__("yaml").safe_dump(raw))
    return load_params(tmp_path / "params.yaml")


def _swd(G, reals) -> float:
    indices = np.arange(len(reals))
    fakes = generated_batches(G, G.latent_dim, len(reals), 64, seed=7)
    return sliced_wasserstein(array_batches(reals, indices, 64), fakes, seed=3)["avg"]


def measure(tmp_path, seed: int) -> dict:
    """This test's run under training seed `seed`: SWD x1e3 of the untrained and the trained G_ema."""
    params = _params(tmp_path, seed)
    write_celeba_sample(tmp_path / "raw", 256, seed=0)
    prepare_celeba(tmp_path / "raw", tmp_path / "prepared", resolution=8, max_bad_fraction=0.0)
    prepared = load_prepared(tmp_path / "prepared")
    save_checkpoint(tmp_path / "init" / "model.pt", init_networks(params.pgan, TEST_INPUTS))

    untrained, _, _ = grow_networks(params.pgan, torch.load(tmp_path / "init" / "model.pt", weights_only=True), 2)
    for key, previous in (("4", "init"), ("8", "4")):
        paths = ScalePaths(previous=tmp_path / previous / "model.pt", out_dir=tmp_path / key)
        train_scale(params.pgan, params.lr, key, prepared.images(int(key)), paths, TEST_INPUTS,
                    Compute(torch.device("cpu")))
    trained = torch.load(tmp_path / "8" / "model.pt", weights_only=True)
    G_ema = copy.deepcopy(untrained)
    G_ema.load_state_dict(trained["G_ema"])

    reals = prepared.images(8)
    before, after = _swd(untrained.eval(), reals), _swd(G_ema.eval(), reals)
    return {"untrained": before, "trained": after, "ratio": after / before}


def test_training_lowers_swd_against_the_real_faces(tmp_path):
    result = measure(tmp_path, seed=0)
    # Measured (tests/benchmarks/learning_margins.py, seeds 0-4, on the 2-core Xeon and under
    # ONEDNN_MAX_CPU_ISA=AVX2): trained / untrained 0.237 +- 0.032 and 0.242 +- 0.026, worst 0.278;
    # the bound leaves 0.22, seven times the spread.
    assert result["ratio"] < 0.5, result
