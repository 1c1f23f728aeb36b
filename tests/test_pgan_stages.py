"""The PGAN stages as DVC runs them (separate processes), on tiny params."""
import json
import shutil
import sys

import pytest
import torch

from conftest import (REPO, check_resumes_only_the_same_inputs, free_endpoint, interrupt, kill_mid_run, perturb_array,
                      perturb_model, run_stage, tiny_params_dict, write_params)
from facegan.checkpoint import load_checkpoint
from facegan.entrypoints import NOTHING_HALF_WRITTEN
from facegan.training.log import read_log
from facegan.training.loop import previous_checkpoint

pytestmark = pytest.mark.slow  # runs stages or trains: make test-fast leaves it out


@pytest.fixture(scope="module")
def trained_to_4(tmp_path_factory):
    """A work folder with tiny params, the sample prepared and scale 4 trained (made once)."""
    workdir = tmp_path_factory.mktemp("template")
    write_params(workdir / "params.yaml", _long_scale_8(tiny_params_dict(8)))
    run_stage("download.py", "celeba", cwd=workdir)
    run_stage("prepare.py", "celeba", cwd=workdir)
    run_stage("train.py", "pgan-init", cwd=workdir)
    run_stage("train.py", "pgan", "4", cwd=workdir)
    return workdir


def _copy(template, destination):
    shutil.copytree(template, destination)
    return destination


def _long_scale_8(params):
    params["pgan"]["scales"]["8"].update(iterations=120, fade_iterations=60)
    return params


@pytest.fixture(scope="module")
def uninterrupted_scale_8(tmp_path_factory, trained_to_4):
    fresh = _copy(trained_to_4, tmp_path_factory.mktemp("fresh") / "work")
    run_stage("train.py", "pgan", "8", cwd=fresh)
    return load_checkpoint(fresh / "data/pgan/8/model.pt")


# Killed in 2 processes, or as 2 machines of 1 process each (torchrun's workers die with
# their launcher), resumed in 1: the weights match up to the rounding of the averaged
# gradient (tests/test_distributed.py), which 120 Adam steps carry to 4.5e-3 at most on
# weights up to 4.1 (measured on an AVX-512 Xeon); in 1 and 1, exactly up to float noise.
@pytest.mark.parametrize("nproc, nnodes, tolerance", [(1, 1, 1e-6), (2, 1, 1e-2), (1, 2, 1e-2)])
def test_killed_training_resumes_from_its_checkpoint(tmp_path, trained_to_4, uninterrupted_scale_8, nproc, nnodes,
                                                     tolerance):
    """SIGKILL mid-scale (every machine), run again (in one process): it resumes, and ends
    where an uninterrupted run ends."""
    killed = _copy(trained_to_4, tmp_path / "killed")
    params = _long_scale_8(tiny_params_dict(8))
    params["compute"].update(nproc=nproc, nnodes=nnodes, rdzv_endpoint=free_endpoint() if nnodes > 1 else "")
    write_params(killed / "params.yaml", params)
    work = killed / "data/pgan/8/work/checkpoint.pt"
    killed_at = kill_mid_run("train.py", "pgan", "8", cwd=killed, work=work, at_least=30, total=120, machines=nnodes)

    params["compute"].update(nproc=1, nnodes=1, rdzv_endpoint="")
    write_params(killed / "params.yaml", params)
    resumed = run_stage("train.py", "pgan", "8", cwd=killed)
    assert f"resuming scale 8 from iteration {killed_at}" in resumed.stderr
    log = read_log(killed / "data/pgan/8/curves/plots/metrics/loss_d.tsv")  # one curve, as DVC reads it
    iterations = [row["step"] for row in log]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 120

    a, b = load_checkpoint(killed / "data/pgan/8/model.pt"), uninterrupted_scale_8
    assert a["iteration"] == b["iteration"] == 120
    for key in b["G_ema"]:
        torch.testing.assert_close(a["G_ema"][key], b["G_ema"][key], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("damaged", ["checkpoint.pt", "both"])
def test_ctrl_c_a_damaged_checkpoint_and_leftovers_lose_nothing(tmp_path, trained_to_4, uninterrupted_scale_8, damaged):
    """Ctrl-C mid-scale: one line, no traceback, no temporary file. Then the working
    checkpoint is cut short, and a killed write's temporary file lies beside it: the rerun
    removes that file, falls back on the previous checkpoint (with both damaged, trains
    afresh), says so in a line each, and ends where an uninterrupted run ends."""
    workdir = _copy(trained_to_4, tmp_path / "work")
    write_params(workdir / "params.yaml", _long_scale_8(tiny_params_dict(8)))
    work = workdir / "data/pgan/8/work/checkpoint.pt"
    previous = previous_checkpoint(work)
    stopped = interrupt([sys.executable, REPO / "stages/train.py", "pgan", "8"], work.parent, workdir, after=3)
    assert stopped.returncode == 130 and "Traceback" not in stopped.stderr, stopped.stderr
    assert stopped.stderr.splitlines()[-1] == NOTHING_HALF_WRITTEN
    assert not [p.name for p in work.parent.iterdir() if p.name.endswith(".tmp")]
    assert previous.exists() and not (workdir / "data/pgan/8/model.pt").exists()

    previous_at = load_checkpoint(previous)["iteration"]
    for path in (work, previous) if damaged == "both" else (work,):
        # (Ctrl-C may have come between the two renames of a checkpoint write: then the last is the previous.)
        path.write_bytes((path.read_bytes() if path.exists() else bytes(5000))[:1000])
    leftover = work.with_name(".checkpoint.pt.k1ll3d.tmp")
    leftover.write_bytes(bytes(1000))
    resumed = run_stage("train.py", "pgan", "8", cwd=workdir)
    assert "removed 1 temporary file(s) that an interrupted run left" in resumed.stderr and not leftover.exists()
    assert "ignoring a damaged working checkpoint" in resumed.stderr
    if damaged == "both":
        assert "no readable working checkpoint" in resumed.stderr and "training scale 8 afresh" in resumed.stderr
    else:
        assert f"resuming scale 8 from iteration {previous_at} (data/pgan/8/work/{previous.name})" in resumed.stderr
    a, b = load_checkpoint(workdir / "data/pgan/8/model.pt"), uninterrupted_scale_8
    for key in b["G_ema"]:
        torch.testing.assert_close(a["G_ema"][key], b["G_ema"][key], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("scale, previous", [("4", "init"), ("8", "4")])
def test_a_working_checkpoint_resumes_only_the_same_inputs(tmp_path, trained_to_4, scale, previous):
    """Scale 4 grows from the untrained init, the same for any data: its data must count too."""
    workdir = _copy(trained_to_4, tmp_path / "work")
    params = tiny_params_dict(8)
    write_params(workdir / "params.yaml", params)

    def other_params():
        params["pgan"]["train"]["gp_weight"] = 5.0
        write_params(workdir / "params.yaml", params)

    check_resumes_only_the_same_inputs(("train.py", "pgan", scale), f"scale {scale}", workdir, tmp_path, {
        "data/prepared/celeba": lambda: perturb_array(workdir / f"data/prepared/celeba/images_{scale}.npy"),
        "pgan.train": other_params,
        f"data/pgan/{previous}/model.pt": lambda: perturb_model(workdir / f"data/pgan/{previous}/model.pt"),
        "src/facegan/training/wgan_gp.py": None,
    })  # fmt: skip


def test_export_and_evaluate_write_checked_models_and_metrics(tmp_path, trained_to_4):
    workdir = _copy(trained_to_4, tmp_path / "work")
    write_params(workdir / "params.yaml", tiny_params_dict(8))
    run_stage("train.py", "pgan", "8", cwd=workdir)
    exported = run_stage("export.py", "pgan", cwd=workdir)
    assert "ONNX max |difference|" in exported.stdout
    exported = torch.export.load(workdir / "data/export/pgan/generator.pt2").module()
    assert exported(torch.randn(5, 16)).shape == (5, 3, 8, 8)

    weights = run_stage("download.py", "weights", cwd=workdir)  # tiny params: no download, an empty cache
    assert "inception: MISSING" in weights.stdout
    run_stage("evaluate.py", "pgan", cwd=workdir)
    metrics = json.loads((workdir / "metrics/pgan.json").read_text())
    details = json.loads((workdir / "metrics/pgan.details.json").read_text())
    assert metrics == {key: details[key] for key in ("fid", "ms_ssim", "swd")}
    assert set(metrics["swd"]) == {"8", "avg"} and metrics["swd"]["avg"] > 0
    assert details["images"]["swd_fake"] == 32
    # 8 px is too small for MS-SSIM's five scales: reported missing, with the reason.
    assert metrics["ms_ssim"] is None and "at least 16 px" in details["missing"]["ms_ssim"]
    # Without the Inception weights FID is missing too, and the reason says how to get them.
    assert metrics["fid"] is None and details["images"]["fid_each"] == 0
    assert "pt_inception-2015-12-05-6726825d.pth" in details["missing"]["fid"]
    assert "facegan weights fetch inception" in details["missing"]["fid"]
    assert (workdir / "data/eval/pgan/fakes.png").exists()


def test_unknown_scale_and_missing_previous_scale_fail_clearly(tmp_path):
    params = tiny_params_dict(8)
    write_params(tmp_path / "params.yaml", params)
    unknown = run_stage("train.py", "pgan", "64", cwd=tmp_path, check=False)
    assert unknown.returncode == 2 and "scale '64' is not in pgan.scales (4, 8)" in unknown.stderr
    missing = run_stage("train.py", "pgan", "8", cwd=tmp_path, check=False)
    assert missing.returncode == 2 and "manifest.json is missing: run the prepare_celeba stage" in missing.stderr
    assert "Traceback" not in missing.stderr
