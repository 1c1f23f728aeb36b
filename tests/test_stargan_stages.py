"""The StarGAN stages as DVC runs them (separate processes), on tiny params, and `facegan edit`."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from conftest import (FIXTURES, FIXTURES_ABSENT, check_resumes_only_the_same_inputs, interrupt_and_rerun, kill_mid_run,
                      perturb_array, run_stage, tiny_params_dict, write_params, write_photos)
from facegan.checkpoint import load_checkpoint
from facegan.cli import app
from facegan.stargan.train import LOG_COLUMNS
from facegan.training.conditional_gan import lr_at
from facegan.training.log import WALL_CLOCK, read_curves, read_log

pytestmark = pytest.mark.slow  # runs stages or trains: make test-fast leaves it out

PHOTO = FIXTURES / "celeba_aligned_32" / "img_align_celeba" / "000001.jpg"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A work folder with tiny params and the sample prepared for StarGAN (made once)."""
    workdir = tmp_path_factory.mktemp("stargan")
    params = tiny_params_dict()
    params["stargan"]["train"].update(iterations=200, decay_start=100, checkpoint_every=10)
    write_params(workdir / "params.yaml", params)
    run_stage("download.py", "celeba", cwd=workdir)
    run_stage("prepare.py", "stargan", cwd=workdir)
    return workdir


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("trained") / "work"
    shutil.copytree(prepared, workdir)
    run_stage("train.py", "stargan", cwd=workdir)
    run_stage("train.py", "stargan-classifier", cwd=workdir)
    return workdir


def test_training_writes_model_log_and_grid(trained):
    model = load_checkpoint(trained / "data/stargan/model.pt")
    assert model["iteration"] == 200 and set(model) == {"config", "fingerprint", "iteration", "G", "D"}
    assert model["config"]["attributes"] == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    log = read_log(trained / "data/stargan/work/loss.tsv")
    assert [row["iteration"] for row in log] == list(range(5, 201, 5))
    assert list(log[0]) == ["iteration", *LOG_COLUMNS, WALL_CLOCK]
    curves = read_curves(trained / "data/stargan/curves")  # what DVC plots: all but lr
    assert curves == [{key: row[key] for key in ["iteration", *LOG_COLUMNS[:-1]]} for row in log]
    # G trains every 5th critic step: each 5-step row holds one generator step, never a NaN.
    assert all(np.isfinite(row["loss_g"]) and np.isfinite(row["g_rec"]) for row in log)
    assert log[-1]["learning_rate"] < log[0]["learning_rate"]  # decays over the second half
    grid = Image.open(trained / "data/stargan/samples.png")
    assert grid.width > grid.height  # 4 faces x (input + 5 edits)
    assert load_checkpoint(trained / "data/stargan/classifier/model.pt")["iteration"] == 20


def test_learning_rate_decays_linearly_to_zero_over_the_second_half():
    assert [lr_at(i, 1e-4, 100, 50) for i in (0, 49, 50, 75, 99)] == pytest.approx([1e-4, 1e-4, 1e-4, 5e-5, 2e-6])


def test_killed_training_resumes_and_ends_like_an_uninterrupted_run(prepared, trained, tmp_path):
    killed = tmp_path / "killed"
    shutil.copytree(prepared, killed)
    work = killed / "data/stargan/work/checkpoint.pt"
    killed_at = kill_mid_run("train.py", "stargan", cwd=killed, work=work, at_least=20, total=200)
    resumed = run_stage("train.py", "stargan", cwd=killed)
    assert f"resuming StarGAN from iteration {killed_at}" in resumed.stderr
    a = load_checkpoint(killed / "data/stargan/model.pt")
    b = load_checkpoint(trained / "data/stargan/model.pt")
    for key in b["G"]:
        torch.testing.assert_close(a["G"][key], b["G"][key], rtol=1e-5, atol=1e-6)


def test_killed_classifier_training_resumes_and_ends_like_an_uninterrupted_run(prepared, tmp_path):
    params = tiny_params_dict()
    params["stargan"]["classifier"]["iterations"] = 2000  # a working checkpoint every 400: seconds to kill it in
    whole, killed = (shutil.copytree(prepared, tmp_path / name) for name in ("whole", "killed"))
    for workdir in (whole, killed):
        write_params(workdir / "params.yaml", params)
    run_stage("train.py", "stargan-classifier", cwd=whole)
    work = killed / "data/stargan/classifier/work/checkpoint.pt"
    killed_at = kill_mid_run("train.py", "stargan-classifier", cwd=killed, work=work, at_least=400, total=2000)
    resumed = run_stage("train.py", "stargan-classifier", cwd=killed)
    assert f"resuming the attribute classifier from iteration {killed_at}" in resumed.stderr
    a, b = (load_checkpoint(workdir / "data/stargan/classifier/model.pt") for workdir in (killed, whole))
    for key in b["C"]:
        torch.testing.assert_close(a["C"][key], b["C"][key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("command, what, section, key, code", [
    ("stargan", "StarGAN", "train", "lambda_rec", "src/facegan/stargan/losses.py"),
    ("stargan-classifier", "the attribute classifier", "classifier", "lr", "src/facegan/stargan/classifier.py"),
])  # fmt: skip
def test_a_working_checkpoint_resumes_only_the_same_inputs(prepared, tmp_path, command, what, section, key, code):
    workdir = tmp_path / "work"
    shutil.copytree(prepared, workdir)
    params = tiny_params_dict()
    write_params(workdir / "params.yaml", params)

    def other_params():
        params["stargan"][section][key] /= 2
        write_params(workdir / "params.yaml", params)

    check_resumes_only_the_same_inputs(("train.py", command), what, workdir, tmp_path, {
        "data/prepared/stargan": lambda: perturb_array(workdir / "data/prepared/stargan/images_16.npy"),
        f"stargan.{section}": other_params,
        code: None,
    })  # fmt: skip


def test_export_and_evaluate(trained):
    exported = run_stage("export.py", "stargan", cwd=trained)
    assert "ONNX max |difference|" in exported.stdout
    info = json.loads((trained / "data/export/stargan/generator.json").read_text())
    assert [spec["name"] for spec in info["inputs"]] == ["image", "labels"] and info["resolution"] == 16
    exported = torch.export.load(trained / "data/export/stargan/generator.pt2").module()
    assert exported(torch.zeros(3, 3, 16, 16), torch.ones(3, 5)).shape == (3, 3, 16, 16)

    run_stage("download.py", "weights", cwd=trained)
    run_stage("evaluate.py", "stargan", cwd=trained)
    metrics = json.loads((trained / "metrics/stargan.json").read_text())
    details = json.loads((trained / "metrics/stargan.details.json").read_text())
    assert metrics == {"attr_accuracy": {"mean": details["attr_accuracy"]["mean"]},
                       **{key: details[key] for key in ("fd_classifier", "fid", "reconstruction_l1",
                                                        "self_reconstruction_psnr")}}
    names = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    assert list(details["attr_accuracy"]) == [*names, "mean"] and list(details["real_accuracy"]) == [*names, "mean"]
    assert all(0 <= value <= 1 for value in details["attr_accuracy"].values())
    # The floor takes as many training faces as there are edits, or all 48 when fewer.
    assert metrics["reconstruction_l1"] > 0 and details["images"] == {"test": 16, "edits": 80, "fd_floor": 48}
    assert 0 < metrics["self_reconstruction_psnr"] < 60 and metrics["fd_classifier"] > 0
    assert set(details["untrained"]) == {"attr_accuracy", "self_reconstruction_psnr", "fd_classifier"}
    assert metrics["fid"] is None and "pt_inception-2015-12-05-6726825d.pth" in details["missing"]["fid"]
    assert (trained / "data/eval/stargan/edits.png").exists()


def _edit(trained, *args):
    model, judge = trained / "data/stargan/model.pt", trained / "data/stargan/classifier/model.pt"
    return CliRunner().invoke(app, ["edit", *map(str, args), "--model", str(model), "--classifier", str(judge),
                                    "--device", "cpu"], env={"COLUMNS": "1000"})


@pytest.mark.skipif(not PHOTO.exists(), reason=f"{FIXTURES_ABSENT} {PHOTO.parent}")
def test_edit_a_photo_and_a_folder_with_a_corrupt_file(trained, tmp_path):
    result = _edit(trained, PHOTO, "--attrs", "Blond_Hair,Male=0", "--out", tmp_path / "edited.png")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "edited.png").size == (16, 16)  # centre square of 178x218, resized

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(PHOTO, folder / "a.jpg")
    Image.new("RGB", (300, 200), (90, 60, 40)).save(folder / "b.png")  # odd size: centre-cropped
    (folder / "c.jpg").write_bytes(b"not a jpeg")
    result = _edit(trained, folder, "--all", "--out", tmp_path / "grid.png")
    assert result.exit_code == 0, result.output
    assert "skipped: cannot read image" in result.stderr and "c.jpg" in result.stderr
    assert Image.open(tmp_path / "grid.png").width > Image.open(tmp_path / "grid.png").height


def test_edit_rejects_unknown_attributes_by_name(trained, tmp_path):
    Image.new("RGB", (178, 218), (90, 60, 40)).save(tmp_path / "face.png")
    result = _edit(trained, tmp_path / "face.png", "--attrs", "Blonde_Hair", "--out", tmp_path / "x.png")
    assert result.exit_code != 0
    message = str(result.exception)
    assert "unknown attribute 'Blonde_Hair'" in message and "Black_Hair, Blond_Hair, Brown_Hair, Male, Young" in message


@pytest.mark.skipif(not PHOTO.exists(), reason=f"{FIXTURES_ABSENT} {PHOTO.parent}")
def test_edit_out_follows_the_one_rule(trained, tmp_path):
    """An existing folder or a trailing /: into it, as <photo>.png; a folder of photos and a file path: an error."""
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "kept.png").write_bytes(b"kept")
    assert _edit(trained, PHOTO, "--attrs", "Young", "--out", tmp_path / "existing").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "existing").iterdir()) == ["000001.png", "kept.png"]
    assert _edit(trained, PHOTO, "--all", "--out", f"{tmp_path / 'new'}/").exit_code == 0
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["grid.png"]
    refused = _edit(trained, PHOTO.parent, "--attrs", "Young", "--out", tmp_path / "one.png")
    assert "is a file path" in str(refused.exception) and not (tmp_path / "one.png").exists()


@pytest.mark.skipif(not PHOTO.exists(), reason=f"{FIXTURES_ABSENT} {PHOTO.parent}")
def test_edit_outside_the_project_says_where_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["edit", str(PHOTO), "--attrs", "Male", "--out", "x.png"], env={"COLUMNS": "1000"})
    assert f"data/stargan/model.pt not found: {tmp_path} is not the project folder" in str(result.exception)


def test_edit_interrupted_keeps_complete_files_and_a_rerun_finishes(trained, tmp_path):
    photos = write_photos(tmp_path / "photos", 1500)
    out = tmp_path / "edited"
    _, rerun = interrupt_and_rerun(["edit", photos, "--attrs", "Young", "--out", f"{out}/",
                                    "--model", trained / "data/stargan/model.pt",
                                    "--classifier", trained / "data/stargan/classifier/model.pt", "--device", "cpu"],
                                   out, 1500)
    assert "of 16x16 px (the model's size)" in rerun.stdout
    assert Image.open(out / "01499.png").size == (16, 16)
