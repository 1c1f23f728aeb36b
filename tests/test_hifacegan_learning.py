"""A real learning check: a short run of the sample default restores faces with its default
degradation better than the degraded inputs themselves, by PSNR and SSIM (and far better
than the untrained generator)."""
import pytest
import torch
import yaml

from conftest import REPO, tiny_params_dict
from facegan.data.ffhq import fetch_ffhq, folder_range_ids, select_splits
from facegan.hifacegan.data import Degrader, degrade_ffhq, load_ffhq_pairs
from facegan.hifacegan.evaluate import evaluate_hifacegan
from facegan.hifacegan.inference import load_hifacegan
from facegan.hifacegan.model import build_generator
from facegan.hifacegan.train import network_config, train_hifacegan
from facegan.params_file import load_params
from facegan.training.compute import Compute
from facegan.training.loop import RunPaths

pytestmark = pytest.mark.slow  # runs stages or trains: make test-fast leaves it out

ON_CPU = Compute(torch.device("cpu"), channels_last=True)


def measure(tmp_path, seed: int) -> dict:
    """This test's run under training seed `seed`: the evaluation of the untrained and the
    trained generator on the 200 test pairs."""
    raw = tiny_params_dict()
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())["hifacegan"]
    raw["data"]["ffhq"].update(sample_per_folder=40, sample_size=256)  # 400 training and 200 test faces, as the DAG
    hifacegan = raw["hifacegan"]
    hifacegan["data"].update(workers=2)  # the default degradation and its ranges
    hifacegan["model"] = defaults["model"]
    # The default's losses, rates and schedule: its PSNR passes the input's late (measured: no gain yet after
    # 300 iterations with the decay from 150).
    # The model is chosen as the DAG's is: among the snapshots at its checkpoints, on the last 40 training pairs.
    hifacegan["train"] = {**defaults["train"], "log_every": 50, "seed": seed}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(tmp_path / "params.yaml")
    ffhq, data_params = params.data.ffhq, params.hifacegan.data
    ids = [i for folders in ffhq.ranges.values() for i in folder_range_ids(folders)]
    fetch_ffhq("sample", tmp_path / "raw", ids, per_folder=ffhq.sample_per_folder, sample_size=ffhq.sample_size,
               seed=ffhq.sample_seed, local_dir=None)
    degrade_ffhq(select_splits(tmp_path / "raw", ffhq.ranges), tmp_path / "pairs",
                 Degrader(data_params.degradation, data_params.image_size, data_params.seed, data_params.scale_ranges),
                 max_bad_fraction=0.0, workers=data_params.workers)
    data = load_ffhq_pairs(tmp_path / "pairs")
    train_hifacegan(params.hifacegan, data, RunPaths(tmp_path / "run"), {"test": "inputs"}, ON_CPU)

    trained = load_hifacegan(tmp_path / "run" / "model.pt", "cpu").network
    torch.manual_seed(params.hifacegan.train.seed)  # the generator training started from
    untrained = build_generator(network_config(params.hifacegan))
    assert data.manifest["degradation"]["type"] == defaults["data"]["degradation"]
    test = data.pairs["test"]
    assert len(test) == 200 and len(data.pairs["train"]) == 400
    before = evaluate_hifacegan(untrained, test, params.eval.hifacegan, tmp_path / "untrained")
    after = evaluate_hifacegan(trained, test, params.eval.hifacegan, tmp_path / "trained")
    return {"untrained": before, "trained": after}


def test_training_restores_degraded_faces_above_the_degraded_baseline(tmp_path):
    result = measure(tmp_path, seed=0)
    before, after = result["untrained"], result["trained"]
    print("untrained", before, "\ntrained", after)  # with -s: the margins
    # Measured (tests/benchmarks/learning_margins.py, seeds 0-4; the same run as the DAG's, so
    # metrics/seed_spread.json holds the Xeon's): PSNR gain 1.27 +- 0.22 dB on the 2-core Xeon (worst
    # 0.92), 1.42 +- 0.18 under ONEDNN_MAX_CPU_ISA=AVX2 (worst 1.12); a 2-core AMD EPYC gave 0.79 for
    # seed 0 before the snapshot choice (the Xeon then 1.20). So the bound is 0.3: 0.49 below the
    # EPYC's, over twice the std. The AVX2 run's SSIM gain: 0.306 +- 0.007, worst 0.2947 (margin 0.09);
    # its PSNR over the untrained G: 7.53 +- 0.18 dB, worst 7.23 (margin 2.2).
    assert after["gain"]["psnr"] > 0.3 and after["gain"]["ssim"] > 0.2, after
    assert after["psnr"] > before["psnr"] + 5, (before, after)
