"""The whole DAG through DVC in a temporary clone, on tiny params."""
import hashlib
import json
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from browser import charts, rendered
from conftest import REPO, project_repo, run_in, tiny_params_dict, write_params

pytestmark = pytest.mark.slow


@pytest.fixture
def clone(tmp_path) -> Path:
    """The project's files (as git sees them) in a fresh git repository, with tiny params."""
    return project_repo(tmp_path, tiny_params_dict(16))  # 16 px: MS-SSIM's smallest size


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def readme_commands(after: str) -> list[str]:
    """The commands of the README's first code block after the line `after`, without their comments."""
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index(after):]
    block = block[block.index("```\n") + 4:]
    return [line.split("  #")[0].strip() for line in block[: block.index("```")].splitlines() if line.strip()]


def _what_next_runs_as_written(reproduced: Path) -> None:
    """The README's "What next" commands, run as written and in order in a reproduced clone:
    each ends well and writes what the next one reads."""
    commands = readme_commands("## What next")
    assert [command.split()[1] for command in commands] == ["generate", "edit", "degrade", "restore", "metrics",
                                                            "metrics"]
    said = [run_in(*shlex.split(command), cwd=reproduced) for command in commands]
    photos = sorted(p.stem for p in (reproduced / "docs/photos").iterdir())
    for folder in ("degraded", "clean", "restored"):
        assert sorted(p.stem for p in (reproduced / folder).iterdir()) == photos, folder
    for image in ("grid.png", "edits.png", *(f"{folder}/{photo}.png" for folder in ("degraded", "restored")
                                              for photo in photos)):
        Image.open(reproduced / image).load()
    for out in said[-2:]:  # restored, then degraded, against clean
        assert json.loads(next(line for line in out.splitlines() if line.startswith("{"))).keys() >= {"psnr", "ssim"}


def _own_photos_retrain_pgan(reproduced: Path) -> None:
    """What a user does first after `make repro`: data.celeba pointed at a folder of their
    own photos in CelebA's layout (here the sample's, upside down), then `dvc repro`. Every
    PGAN scale trains afresh on them, scale 4 too, which grows from the untrained init (the
    same for any data) and once resumed the sample's finished run as if trained on these."""
    scales = ("4", "8", "16")
    sample_models = {scale: _md5(reproduced / f"data/pgan/{scale}/model.pt") for scale in scales}
    photos = shutil.copytree(reproduced / "data/raw/celeba", reproduced.parent / "photos")
    for path in (photos / "img_align_celeba").glob("*.jpg"):
        Image.open(path).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(path, quality=95)
    params = yaml.safe_load((reproduced / "params.yaml").read_text())
    params["data"]["celeba"].update(source="local", local_dir=str(photos))
    write_params(reproduced / "params.yaml", params)
    out = run_in("dvc", "repro", "evaluate_pgan", cwd=reproduced)
    line = "ignoring data/pgan/4/work/checkpoint.pt: made from other data/prepared/celeba; training scale 4 afresh"
    assert line in out, out
    for scale in scales:
        assert f"resuming scale {scale}" not in out and f"training scale {scale} afresh" in out, out
        iterations = params["pgan"]["scales"][scale]["iterations"]
        assert f"scale {scale}: {{'iterations': {iterations}, 'trained_now': {iterations}," in out
        assert _md5(reproduced / f"data/pgan/{scale}/model.pt") != sample_models[scale], scale


def _stale_stages(repo: Path) -> set[str]:
    """The stages `dvc status` calls changed."""
    return {line.rstrip(":").strip() for line in run_in("dvc", "status", cwd=repo).splitlines()
            if line.endswith(":") and not line.startswith((" ", "\t"))}


def _schema_and_module_added(repo: Path, model: str, schema: str) -> set[str]:
    """The stages out of date once `model`'s params class `schema` has a new field (with a
    default: params.yaml unchanged) and its training imports a new module of the model's own,
    dvc.yaml's code deps rewritten as `make deps` does; the edits are then undone."""
    params_module = repo / f"src/facegan/{model}/params.py"
    text = params_module.read_text()
    end = text.index("\n\n\n", re.search(rf"class {schema}\b", text).start())
    params_module.write_text(text[:end] + "\n    new_knob: int = setting(0, low=0)" + text[end:])
    (repo / f"src/facegan/{model}/helper.py").write_text('"""A helper only this model uses."""\nHELPER = 1\n')
    with open(repo / f"src/facegan/{model}/train.py", "a") as handle:
        handle.write(f"from facegan.{model}.helper import HELPER  # noqa: E402,F401\n")
    run_in("python", "-m", "facegan.stage_deps", cwd=repo, env={**os.environ, "PYTHONPATH": str(repo / "src")})
    stale = _stale_stages(repo)
    run_in("git", "checkout", "--", ".", cwd=repo)
    run_in("git", "clean", "-fdq", "src", cwd=repo)
    return stale


def _plots_diff_overlays_the_runs(page: Path) -> None:
    """The page of the README's `dvc plots diff` after `dvc exp run -S lr=0.003`, in a browser
    with no network: every train stage's losses as charts, each with the last commit's line
    and the workspace's, and the sample grids."""
    text = page.read_text()
    assert "facegan: loss curves and sample grids" in text and not re.search(r"<script[^>]+src=", text)
    drawn = charts(rendered(page, screenshot=page.with_suffix(".png")))
    for trained in ("pgan_4", "pgan_8", "pgan_16", "stargan", "stargan_classifier", "hifacegan"):
        assert f"data_{trained}_curves_plots_metrics_loss" in " ".join(drawn), trained
    line = re.compile(r'<path aria-label="iteration: [^"]*rev: (\w+)"[^>]*aria-roledescription="line mark"')
    for chart, svg in drawn.items():
        assert set(line.findall(svg)) == {"HEAD", "workspace"}, chart
    assert "data/eval/pgan/fakes.png" in text


def test_repro_then_experiment_with_another_lr(clone):
    out = run_in("dvc", "repro", cwd=clone)
    for stage in ("download_celeba", "prepare_celeba", "train_pgan_init", "train_pgan@4", "train_pgan@8",
                  "train_pgan@16", "export_pgan", "evaluate_pgan", "prepare_stargan", "train_stargan",
                  "train_stargan_classifier", "export_stargan", "evaluate_stargan", "download_ffhq", "degrade_ffhq"):
        assert f"Running stage '{stage}'" in out
    assert "Running stage 'download_weights'" in out
    lock = (clone / "dvc.lock").read_text()
    # Nothing timed or folder-dependent in any output: the same inputs give the same lock file. Rerun: both
    # preparations, a PGAN scale with its fade-in, every trainer, an export and an evaluation (all 20 stages
    # took 67 s, these 8 about 35).
    run_in("dvc", "repro", "--force", "--single-item", "prepare_celeba", "degrade_ffhq", "train_pgan@8",
         "train_stargan", "train_stargan_classifier", "train_hifacegan", "export_hifacegan", "evaluate_stargan",
         cwd=clone)  # fmt: skip
    assert (clone / "dvc.lock").read_text() == lock
    reproduced = shutil.copytree(clone, clone.parent / "user" / "clone", symlinks=True)
    _what_next_runs_as_written(reproduced)
    _own_photos_retrain_pgan(reproduced)
    metrics = json.loads((clone / "metrics/pgan.json").read_text())
    assert metrics["swd"]["avg"] > 0 and 0 < metrics["ms_ssim"] <= 1
    details = json.loads((clone / "metrics/pgan.details.json").read_text())
    assert metrics["fid"] is None and "InceptionV3" in details["missing"]["fid"]  # no weights in the test cache
    assert "swd.avg" in run_in("dvc", "metrics", "show", cwd=clone)
    assert run_in("dvc", "status", cwd=clone).strip() == "Data and pipelines are up to date."
    plots = run_in("dvc", "plots", "show", "--json", cwd=clone)
    assert "data/eval/pgan/fakes.png" in plots
    for trained in ("pgan/4", "pgan/8", "pgan/16", "stargan", "stargan/classifier", "hifacegan"):
        assert f"data/{trained}/curves/plots/metrics/loss" in plots, trained  # every train stage's losses

    run_in("git", "add", "-A", cwd=clone)
    run_in("git", "commit", "-qm", "baseline", cwd=clone)
    # One model's code edited: only that model's stages are out of date.
    for edited, stale in (("stargan/train.py", {"train_stargan"}),
                          ("pgan/inference.py", {"export_pgan", "evaluate_pgan"})):
        with open(clone / "src/facegan" / edited, "a") as handle:
            handle.write("# an edit\n")
        assert _stale_stages(clone) == stale, edited
        run_in("git", "checkout", "--", f"src/facegan/{edited}", cwd=clone)
    # One model's params schema grown and a module of its own added: that model's stages only.
    pgan = {"train_pgan_init", "train_pgan@4", "train_pgan@8", "train_pgan@16", "export_pgan", "evaluate_pgan"}
    stargan = {"prepare_stargan", "train_stargan", "train_stargan_classifier", "export_stargan", "evaluate_stargan"}
    hifacegan = {"download_weights", "degrade_ffhq", "train_hifacegan", "export_hifacegan", "evaluate_hifacegan"}
    for model, schema, own in (("hifacegan", "HiFaceGANTrain", hifacegan), ("pgan", "PGANTrain", pgan)):
        stale = _schema_and_module_added(clone, model, schema)
        assert f"train_{model}" in " ".join(stale) and stale <= own, (model, stale)
        assert not stale & (pgan | stargan | hifacegan) - own, (model, stale)
    assert run_in("dvc", "status", cwd=clone).strip() == "Data and pipelines are up to date."
    # The README's experiment commands, as written and in order; its table in 120 columns.
    commands = readme_commands("Experiments are DVC's:")
    assert [" ".join(command.split()[:3]) for command in commands] == [
        "dvc metrics show", "dvc exp run", "dvc metrics diff", "dvc plots diff", "dvc exp show"]
    said = [run_in(*shlex.split(command), cwd=clone, columns=120) for command in commands]
    shown, experiment, diff, _, table = said
    assert "swd.avg" in shown and "ms_ssim" in shown
    for stage in ("train_pgan@4", "train_pgan@8", "train_pgan@16", "export_pgan", "evaluate_pgan"):
        assert f"Running stage '{stage}'" in experiment
    for stage in ("download_celeba", "prepare_celeba", "train_pgan_init"):
        assert f"Running stage '{stage}'" not in experiment
    assert "lr" in run_in("dvc", "params", "diff", cwd=clone) and "swd.avg" in diff
    assert "…" not in table and max(map(len, table.splitlines())) <= 120, table
    assert all(column in table for column in ("lr", "swd.avg", "attr_accuracy.mean", "psnr", "0.003")), table

    # A seed sweep through DVC's queue retrains PGAN only, and `facegan compare` counts it.
    run_in("git", "checkout", "--", ".", cwd=clone)  # the workspace back at the baseline, which the queue starts from
    run_in("dvc", "exp", "run", "--queue", "-S", "pgan.train.seed=range(1,2)", cwd=clone)  # Hydra's sweep syntax
    sweep = run_in("dvc", "exp", "run", "--run-all", "--jobs", "1", cwd=clone)
    assert sweep.count("Running stage 'train_pgan@16'") == 1 and "Running stage 'train_stargan'" not in sweep
    assert "Running stage 'train_hifacegan'" not in sweep and "Running stage 'train_pgan_init'" in sweep
    compared = json.loads(run_in("facegan", "compare", "--json", cwd=clone))
    baseline, other = compared["settings"]
    assert baseline["baseline"] and len(baseline["runs"]) == 2 and other["params"] == {"lr": 0.003}
    seeds, single = compared["metrics"]["pgan.swd.avg"]
    assert seeds["n"] == 2 and seeds["std"] > 0 and single["n"] == 1 and single["within_noise"] is None
    assert "stargan.self_reconstruction_psnr" in compared["unchanged"]  # one StarGAN, reused by every run
    text = run_in("facegan", "compare", cwd=clone)
    assert "pgan.swd.avg" in text and max(map(len, text.splitlines())) <= 120, text
    # Last, as it skips where there is no browser: the page that the README's `dvc plots diff` wrote.
    _plots_diff_overlays_the_runs(clone / "dvc_plots/index.html")
