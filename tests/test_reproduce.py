"""`facegan reproduce-check`: bitwise on the machine kind that made the committed metrics,
the seed band elsewhere, and it says which ran. Metrics committed in a git repository made
here."""
import json
import subprocess

import pytest

from facegan.errors import UserError
from conftest import REPO
from facegan.reproduce import MODELS, reproduce_check, seed_band

XEON = {"cpu": "Intel(R) Xeon(R) Processor", "torch_cpu_capability": "AVX512", "onednn_isa": "AMX", "threads": 2,
        "versions": {"torch": "2.14.1"}}
AVX2 = {**XEON, "onednn_isa": "Intel AVX2"}
HEADLINE = {"pgan": {"swd": {"avg": 40.0}, "fid": None}, "stargan": {"fd_classifier": 3.3},
            "hifacegan": {"gain": {"psnr": 1.0}}}
SPREAD = {"metrics": {"pgan": {"swd.avg": {"training": {"n": 5, "mean": 40.0, "std": 2.0, "min": 37.0, "max": 43.0}}},
                      "stargan": {"fd_classifier": {"training": {"n": 5, "mean": 3.3, "std": 0.05, "min": 3.2,
                                                                 "max": 3.4}}},
                      "hifacegan": {"gain.psnr": {"training": {"n": 5, "mean": 1.0, "std": 0.2, "min": 0.8,
                                                               "max": 1.2}}}}}


def _write(metrics, headline, machine):
    for model in MODELS:
        (metrics / f"{model}.json").write_text(json.dumps(headline[model]))
        (metrics / f"{model}.details.json").write_text(json.dumps({**headline[model], "machine": machine}))


@pytest.fixture
def repo(tmp_path):
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    _write(metrics, HEADLINE, XEON)
    (metrics / "seed_spread.json").write_text(json.dumps(SPREAD))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(git + ["add", "."], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "metrics"], cwd=tmp_path, check=True)
    return metrics


def _rerun(metrics, machine, **changes):
    headline = json.loads(json.dumps(HEADLINE))
    for model, values in changes.items():
        headline[model].update(values)
    _write(metrics, headline, machine)
    return reproduce_check(metrics, metrics / "seed_spread.json")


def test_same_machine_needs_every_byte(repo):
    check, lines, failures = _rerun(repo, XEON)
    assert check == "bitwise" and not failures and "bitwise check" in lines[0]
    check, _, failures = _rerun(repo, XEON, hifacegan={"gain": {"psnr": 1.0000001}})
    assert check == "bitwise" and failures == [f"{repo / 'hifacegan.json'} differs from HEAD's",
                                               f"{repo / 'hifacegan.details.json'} differs from HEAD's"]


def test_another_machine_checks_the_seed_band(repo):
    check, lines, failures = _rerun(repo, AVX2, pgan={"swd": {"avg": 44.0}})  # 2 std off: inside
    assert check == "seed-band" and not failures and "seed-band check" in lines[0] and "Intel AVX2" in lines[0]
    assert any(line.startswith("pgan.swd.avg") and line.endswith("ok") for line in lines)
    assert any(line.startswith("pgan.fid") and "missing, as in the spread" in line for line in lines)


def test_the_band_catches_a_model_that_stopped_learning(repo):
    _, lines, failures = _rerun(repo, AVX2, pgan={"swd": {"avg": 120.0}})
    assert len(failures) == 1 and "pgan.swd.avg = 120 lies outside its seed band" in failures[0]
    _, _, failures = _rerun(repo, AVX2, stargan={"fd_classifier": None})
    assert failures == ["stargan.fd_classifier is null but the spread has numbers for it"]


def test_a_metric_without_a_spread_fails_and_says_how_to_measure_it(repo):
    _, _, failures = _rerun(repo, AVX2, hifacegan={"psnr": 20.3})
    assert failures == ["hifacegan.psnr has no measured spread: run 'make spread'"]
    (repo / "seed_spread.json").unlink()
    with pytest.raises(UserError, match="make spread"):
        _rerun(repo, AVX2)


# Measured: seed 0 of the sample on a 2-core AMD EPYC (the issue that asked for the band) and
# on the Xeon with oneDNN held to AVX2; the untrained generators' numbers, from the committed
# details (StarGAN) and the learning test's run (HiFaceGAN: 7.2 dB or more below the trained).
OTHER_MACHINES = {"epyc": {"pgan.swd.avg": 44.83, "pgan.swd.32": 57.15, "pgan.ms_ssim": 0.229,
                           "hifacegan.gain.psnr": 0.79, "stargan.self_reconstruction_psnr": 22.50,
                           "stargan.fd_classifier": 3.37},
                  "avx2": {"pgan.swd.avg": 37.53, "pgan.swd.16": 30.00, "hifacegan.gain.psnr": 1.324,
                           "stargan.fd_classifier": 3.608}}
UNTRAINED = {"stargan.fd_classifier": 182.2, "stargan.self_reconstruction_psnr": 10.57,
             "hifacegan.gain.psnr": 1.20 - 7.2}


@pytest.mark.parametrize("machine", OTHER_MACHINES)
def test_the_committed_band_holds_other_machines_and_not_untrained_models(machine):
    spread = json.loads((REPO / "metrics" / "seed_spread.json").read_text())["metrics"]
    checked = sum(len(metrics) for metrics in spread.values())

    def inside(name, value):
        model, metric = name.split(".", 1)
        low, high = seed_band(spread[model][metric], checked)
        return low <= value <= high

    assert all(inside(name, value) for name, value in OTHER_MACHINES[machine].items())
    assert not any(inside(name, value) for name, value in UNTRAINED.items())
