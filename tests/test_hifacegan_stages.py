"""The HiFaceGAN stages as DVC runs them (separate processes), on tiny params, and `facegan restore`."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from conftest import (check_resumes_only_the_same_inputs, interrupt_and_rerun, kill_mid_run, perturb_array, run_stage,
                      tiny_params_dict, write_params, write_photos)
from facegan.cli import app
from facegan.checkpoint import load_checkpoint
from facegan.hifacegan.inference import load_hifacegan
from facegan.hifacegan.model import restore
from facegan.hifacegan.train import LOG_COLUMNS
from facegan.training.log import WALL_CLOCK, read_curves, read_log

pytestmark = pytest.mark.slow  # runs stages or trains: make test-fast leaves it out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A work folder with tiny params and the sample's degraded pairs (made once)."""
    workdir = tmp_path_factory.mktemp("hifacegan")
    write_params(workdir / "params.yaml", tiny_params_dict())
    run_stage("download.py", "ffhq", cwd=workdir)
    run_stage("prepare.py", "ffhq", cwd=workdir)
    run_stage("download.py", "weights", cwd=workdir)
    return workdir


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("trained") / "work"
    shutil.copytree(prepared, workdir)
    run_stage("train.py", "hifacegan", cwd=workdir)
    return workdir


def test_the_degrade_stage_packs_train_and_test_pairs(prepared):
    manifest = json.loads((prepared / "data/prepared/ffhq/manifest.json").read_text())
    assert manifest["counts"] == {"train": 20, "test": 10, "skipped": 0}
    assert manifest["files"]["test"][0] == "65000"
    assert manifest["degradation"]["type"] == tiny_params_dict()["hifacegan"]["data"]["degradation"]
    assert np.load(prepared / "data/prepared/ffhq/train.npy", mmap_mode="r").shape == (20, 2, 64, 64, 3)


def test_training_writes_model_log_and_grid(trained):
    model = load_checkpoint(trained / "data/hifacegan/model.pt")
    assert model["iteration"] == 20 and set(model) == {"config", "fingerprint", "iteration", "G", "choice"}
    log = read_log(trained / "data/hifacegan/work/loss.tsv")
    assert [row["iteration"] for row in log] == [5, 10, 15, 20]
    assert list(log[0]) == ["iteration", *LOG_COLUMNS, WALL_CLOCK]
    assert all(np.isfinite(row["loss_g"]) and np.isfinite(row["loss_d"]) for row in log)
    assert all(row["g_vgg"] == 0 for row in log)  # the sample default trains without VGG19 ...
    assert all(row["g_l1"] > 0 for row in log)  # ... and with the pixel loss in its place
    plotted = ["iteration", *(name for name in LOG_COLUMNS if name not in ("g_vgg", "learning_rate"))]  # no VGG, no lr
    assert read_curves(trained / "data/hifacegan/curves") == [{key: row[key] for key in plotted} for row in log]
    grid = Image.open(trained / "data/hifacegan/samples.png")
    assert grid.height > grid.width  # 4 faces x (degraded | restored | clean)


def test_the_model_is_the_snapshot_that_restores_the_validation_pairs_best(trained):
    """Snapshots at the last 3 checkpoints (every 5 of 20 iterations), scored on the last 4
    training pairs (held out), never on the test pairs; model.pt is the best one."""
    model = load_checkpoint(trained / "data/hifacegan/model.pt")
    choice = model["choice"]
    assert list(choice["scores"]) == ["10", "15", "20"] and choice["validation_images"] == 4
    assert choice["chosen_iteration"] == int(max(choice["scores"], key=choice["scores"].get))
    snapshots = sorted((trained / "data/hifacegan/work/snapshots").iterdir())
    assert [path.name for path in snapshots] == ["G-00000010.pt", "G-00000015.pt", "G-00000020.pt"]
    chosen = load_checkpoint(trained / f"data/hifacegan/work/snapshots/G-{choice['chosen_iteration']:08d}.pt")
    assert all(torch.equal(chosen["G"][key], value) for key, value in model["G"].items())
    # The chosen score, recomputed from model.pt on the last 4 training pairs.
    validation = np.load(trained / "data/prepared/ffhq/train.npy")[-4:]
    G = load_hifacegan(trained / "data/hifacegan/model.pt", "cpu").network
    restored = restore(G, validation[:, 0]).astype(np.float64) / 255
    psnr = 10 * np.log10(1 / ((restored - validation[:, 1] / 255) ** 2).mean(axis=(1, 2, 3)))
    assert psnr.mean() == pytest.approx(choice["scores"][str(choice["chosen_iteration"])], rel=1e-6)


def test_killed_training_resumes_and_ends_like_an_uninterrupted_run(prepared, trained, tmp_path):
    killed = tmp_path / "killed"
    shutil.copytree(prepared, killed)
    work = killed / "data/hifacegan/work/checkpoint.pt"
    killed_at = kill_mid_run("train.py", "hifacegan", cwd=killed, work=work, at_least=5, total=20)
    resumed = run_stage("train.py", "hifacegan", cwd=killed)
    assert f"resuming HiFaceGAN from iteration {killed_at}" in resumed.stderr
    a, b = (load_checkpoint(root / "data/hifacegan/model.pt") for root in (killed, trained))
    assert a["choice"]["chosen_iteration"] == b["choice"]["chosen_iteration"]
    for key in b["G"]:
        torch.testing.assert_close(a["G"][key], b["G"][key], rtol=1e-5, atol=1e-6)


def test_a_working_checkpoint_resumes_only_the_same_inputs(prepared, tmp_path):
    workdir = tmp_path / "work"
    shutil.copytree(prepared, workdir)
    params = tiny_params_dict()

    def other_params():
        params["hifacegan"]["train"]["lambda_feat"] /= 2
        write_params(workdir / "params.yaml", params)

    check_resumes_only_the_same_inputs(("train.py", "hifacegan"), "HiFaceGAN", workdir, tmp_path, {
        "data/prepared/ffhq": lambda: perturb_array(workdir / "data/prepared/ffhq/train.npy"),
        "hifacegan.train": other_params,
        "src/facegan/hifacegan/losses.py": None,
    })  # fmt: skip


def test_perceptual_loss_without_the_vgg19_weights_stops_at_once(prepared, tmp_path):
    workdir = tmp_path / "vgg"
    shutil.copytree(prepared, workdir)
    params = tiny_params_dict()
    params["hifacegan"]["train"]["lambda_vgg"] = 10.0
    write_params(workdir / "params.yaml", params)
    result = run_stage("train.py", "hifacegan", cwd=workdir, check=False)
    assert result.returncode == 2
    assert "vgg19-dcbb9e9d.pth" in result.stderr and "facegan weights fetch vgg19" in result.stderr
    assert not (workdir / "data/hifacegan/work").exists()  # nothing started


def test_export_and_evaluate(trained):
    exported = run_stage("export.py", "hifacegan", cwd=trained)
    assert "ONNX max |difference|" in exported.stdout
    info = json.loads((trained / "data/export/hifacegan/generator.json").read_text())
    assert [spec["name"] for spec in info["inputs"]] == ["image"] and info["resolution"] == 64
    exported = torch.export.load(trained / "data/export/hifacegan/generator.pt2").module()
    assert exported(torch.zeros(2, 3, 64, 64)).shape == (2, 3, 64, 64)

    run_stage("evaluate.py", "hifacegan", cwd=trained)
    metrics = json.loads((trained / "metrics/hifacegan.json").read_text())
    details = json.loads((trained / "metrics/hifacegan.details.json").read_text())
    assert metrics == {key: details[key] for key in ("fid", "gain", "lpips", "psnr", "ssim")}
    chosen = load_checkpoint(trained / "data/hifacegan/model.pt")["choice"]
    assert details["checkpoint_choice"] == chosen == info["choice"]
    assert 0 < metrics["psnr"] < 60 and 0 < details["degraded"]["psnr"] < 60
    assert metrics["gain"]["psnr"] == pytest.approx(metrics["psnr"] - details["degraded"]["psnr"])
    assert -1 <= metrics["ssim"] <= 1 and details["images"] == {"test": 10}
    assert metrics["fid"] is None and "pt_inception" in details["missing"]["fid"]
    assert metrics["lpips"] is None and "alexnet-owt-7be5be79.pth" in details["missing"]["lpips"]
    assert details["perceptual_loss"].startswith("off") and details["pixel_loss"].startswith("on")
    assert details["degradation"] == tiny_params_dict()["hifacegan"]["data"]["degradation"]
    assert (trained / "data/eval/hifacegan/restorations.png").exists()


def test_restore_a_folder_with_a_corrupt_file_and_odd_sizes(trained, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 80, 3), np.uint8)).save(folder / "wide.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).save(folder / "square.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    for model in ("data/hifacegan/model.pt", "data/export/hifacegan/generator.pt2"):
        if not (trained / model).exists():
            continue  # the export test makes the .pt2
        out = tmp_path / f"out-{model.rsplit('.', 1)[-1]}"
        result = CliRunner().invoke(app, ["restore", str(folder), "--out", f"{out}/", "--model", str(trained / model),
                                          "--device", "cpu"])
        assert result.exit_code == 0, result.output
        assert "skipped" in result.stderr and "broken.png" in result.stderr
        assert Image.open(out / "wide.png").size == (80, 48)  # back at the photo's own size
        assert Image.open(out / "square.png").size == (64, 64)
        assert not (out / "broken.png").exists()
        assert (f"restored 2 photo(s) into {out}/ at their own sizes (1 at 64x64, 1 at 80x48 px), each through the "
                "model's 64 px") in result.stdout


def test_restore_out_follows_the_one_rule(trained, tmp_path):
    """One photo into a new folder (trailing /) or an existing one; a file path for a folder is refused."""
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(tmp_path / "face.png")
    model = str(trained / "data/hifacegan/model.pt")
    for out in (f"{tmp_path / 'new'}/", str(tmp_path / "new")):  # then the folder exists
        result = CliRunner().invoke(app, ["restore", str(tmp_path / "face.png"), "--out", out, "--model", model,
                                          "--device", "cpu"])
        assert result.exit_code == 0, result.output
        assert [p.name for p in (tmp_path / "new").iterdir()] == ["face.png"]
    (tmp_path / "photos").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photos" / name)
    refused = CliRunner().invoke(app, ["restore", str(tmp_path / "photos"), "--out", str(tmp_path / "x.png"),
                                       "--model", model, "--device", "cpu"])
    assert "is a file path, but there are 2 images" in str(refused.exception)


def test_restore_interrupted_keeps_complete_files_and_a_rerun_finishes(trained, tmp_path):
    photos = write_photos(tmp_path / "photos", 1000)
    out = tmp_path / "restored"
    interrupt_and_rerun(["restore", photos, "--out", f"{out}/", "--model", trained / "data/hifacegan/model.pt",
                         "--device", "cpu"], out, 1000)
    assert Image.open(out / "00999.png").size == (24, 24)
