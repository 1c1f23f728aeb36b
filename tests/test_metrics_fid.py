"""FID: the Frechet distance against a direct scipy computation, the streamed statistics
against numpy's, the network's plumbing and pytorch-fid's block changes with random
weights (the real weights cannot be downloaded here), and the weights cache."""
import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import linalg
from torchvision.models.inception import Inception3, InceptionA
from typer.testing import CliRunner

from conftest import tiny_params_dict, write_params
from facegan import weights as weights_module
from facegan.cli import app
from facegan.errors import UserError
from facegan.metrics.fid import fid, inception_stats, load_inception, staged_inception
from facegan.metrics.frechet import FeatureStats, frechet_distance
from facegan.metrics.inception import FIDInceptionA, FIDInceptionE, FIDInceptionV3
from facegan.params_file import load_params
from facegan.pgan.evaluate import evaluate_pgan
from facegan.pgan.model import Generator
from facegan.weights import (MissingWeightsError, WeightFile, cached_path, fetch, stage_weights, staged_path,
                             used_weights)
from test_metrics_cli import images, invoke, write_folder


def ref_frechet(mu_a, cov_a, mu_b, cov_b):
    """pytorch-fid's formula, done directly: scipy's sqrtm of the product."""
    covmean = linalg.sqrtm(cov_a @ cov_b).real
    return np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean)


def random_gaussian(dim, rank, seed):
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(dim, rank))
    return rng.normal(size=dim), factor @ factor.T / rank


@pytest.mark.parametrize("dim,rank", [(8, 8), (64, 64), (64, 200), (256, 300)])
def test_frechet_distance_matches_scipy_sqrtm(dim, rank):
    mu_a, cov_a = random_gaussian(dim, rank, 1)
    mu_b, cov_b = random_gaussian(dim, rank, 2)
    assert frechet_distance(mu_a, cov_a, mu_b, cov_b) == pytest.approx(ref_frechet(mu_a, cov_a, mu_b, cov_b), rel=1e-9)


def test_frechet_distance_of_singular_covariances_matches_scipy():
    """Fewer samples than dimensions (a small evaluation): covariances of rank 20 in 64-d."""
    features_a, features_b = (np.random.default_rng(s).normal(size=(21, 64)) for s in (3, 4))
    args = (features_a.mean(0), np.cov(features_a, rowvar=False), features_b.mean(0), np.cov(features_b, rowvar=False))
    assert frechet_distance(*args) == pytest.approx(ref_frechet(*args), rel=1e-6)


def test_known_values_identical_and_shifted_sets():
    features = np.random.default_rng(5).normal(size=(500, 32))
    stats = FeatureStats(32)
    stats.add(features)
    mean, cov = stats.mean_cov()
    assert abs(frechet_distance(mean, cov, mean, cov)) < 1e-9
    shifted = FeatureStats(32)
    shifted.add(features + 0.5)  # same covariance, mean moved by 0.5 in every dimension
    assert frechet_distance(mean, cov, *shifted.mean_cov()) == pytest.approx(32 * 0.25, rel=1e-9)


def test_streamed_statistics_equal_numpy_mean_and_unbiased_cov():
    features = np.random.default_rng(6).normal(3.0, 2.0, size=(301, 16))
    stats = FeatureStats(16)
    for start in range(0, 301, 64):
        stats.add(features[start : start + 64])
    mean, cov = stats.mean_cov()
    np.testing.assert_allclose(mean, features.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(features, rowvar=False), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="at least 2 images"):
        FeatureStats(4).mean_cov()


def random_inception(seed=0):
    """Random weights that keep activations alive through 90 layers (He init, identity BN)."""
    torch.manual_seed(seed)
    model = FIDInceptionV3()
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight)
    return model.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    torch.save(random_inception().state_dict(), path)
    return path


def test_state_dict_has_the_layout_of_pytorch_fids_file():
    """566 tensors (the count the 2015-12-05 file holds), torchvision's names, 1008 classes."""
    state = FIDInceptionV3().state_dict()
    reference = Inception3(num_classes=1008, aux_logits=False, init_weights=False).state_dict()
    assert len(state) == 566
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in reference.items()}
    assert state["fc.weight"].shape == (1008, 2048)


def test_pooling_branches_follow_pytorch_fid():
    """A's (and 7b's) pool averages over valid pixels only; 7c's pool is a max."""
    torch.manual_seed(0)
    x = torch.rand(1, 192, 7, 7)
    block = FIDInceptionA(192, pool_features=32).eval()
    pool = block(x)[:, -32:]
    assert torch.allclose(pool, block.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)))
    original = InceptionA(192, pool_features=32).eval()
    original.load_state_dict(block.state_dict())
    differs = (original(x)[:, -32:] - pool).abs().amax(dim=(0, 1)) > 1e-6
    assert differs[0].all() and differs[-1].all() and not differs[1:-1, 1:-1].any()  # only at the border
    block_7c = FIDInceptionE(2048, max_pool=True).eval()
    x = torch.rand(1, 2048, 4, 4)
    assert torch.allclose(block_7c(x)[:, -192:], block_7c.branch_pool(F.max_pool2d(x, 3, 1, 1)))


def test_pool3_features_any_size_batch_invariant():
    model = random_inception()
    x = torch.rand(3, 3, 40, 24)
    features = model.pool3(x)
    assert features.shape == (3, 2048) and torch.isfinite(features).all() and features.std(0).mean() > 0
    assert torch.allclose(torch.cat([model.pool3(x[:1]), model.pool3(x[1:])]), features, atol=1e-5)
    resized = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    assert torch.allclose(model.pool3(resized), features, atol=1e-5)  # 299 px is taken as it is


def test_fid_of_image_streams(weights_file):
    model = load_inception(weights_file)
    a, b = images(6, 32, 1), images(5, 32, 2)
    result = fid([a[:4], a[4:]], [b], model=model)
    stats_a, stats_b = inception_stats([a], model), inception_stats([b], model)
    assert result == {"fid": pytest.approx(frechet_distance(*stats_a.mean_cov(), *stats_b.mean_cov()), rel=1e-6),
                      "images": [6, 5]}
    assert result["fid"] > 0
    assert abs(fid([a], [a], model=model)["fid"]) < 1e-6 * result["fid"]
    assert fid([a], [a[::-1]], model=model)["fid"] == pytest.approx(0, abs=1e-6)  # the order of images is no matter


def test_pgan_evaluation_measures_fid_when_given_the_network(tmp_path, weights_file):
    params = load_params(write_params(tmp_path / "params.yaml", tiny_params_dict(16)))
    G = Generator(16, [16, 16, 8], depth=3)
    reals = images(20, 16, 3)
    metrics = evaluate_pgan(G, reals, params.eval.pgan, tmp_path, load_inception(weights_file))
    assert metrics["fid"] > 0 and metrics["images"]["fid_each"] == 16 and "fid" not in metrics["missing"]


def test_load_inception_rejects_other_files(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    for name in ("junk.pth", "other.pth"):
        with pytest.raises(UserError, match=f"{name} is not a usable InceptionV3 weights file"):
            load_inception(tmp_path / name)


# ---------------------------------------------------------------- command line


def test_fid_command_with_a_weights_file(tmp_path, weights_file):
    a, b = images(4, 32, 1), images(4, 32, 2)
    result = invoke("fid", write_folder(tmp_path / "a", a), write_folder(tmp_path / "b", b), "--weights", weights_file)
    assert result.exit_code == 0, result.output
    assert "is not pytorch-fid's 2015-12-05 file" in result.stderr
    assert json.loads(result.stdout) == {"fid": pytest.approx(fid([a], [b], model=load_inception(weights_file))["fid"],
                                                              rel=1e-5), "images": [4, 4]}


def test_fid_command_without_weights_exits_2_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEGAN_WEIGHTS_DIR", str(tmp_path / "cache"))
    folder = write_folder(tmp_path / "a", images(2, 16, 1))
    result = invoke("fid", folder, folder)
    assert result.exit_code == 2
    assert "pt_inception-2015-12-05-6726825d.pth" in result.stderr
    assert f"puts it in {tmp_path / 'cache'}/" in result.stderr
    assert "facegan weights fetch inception --from FILE" in result.stderr


# ---------------------------------------------------------------- weights cache and stage


@pytest.fixture
def fake_official(tmp_path, monkeypatch):
    """A registry whose 'inception' is a small file we made, with its real sha256."""
    source = tmp_path / "downloads" / "weights.pth"
    source.parent.mkdir()
    source.write_bytes(b"pretend weights")
    entry = WeightFile("inception", "pt_inception-test.pth", source.as_uri(),
                       hashlib.sha256(source.read_bytes()).hexdigest(), "FID")
    monkeypatch.setattr(weights_module, "WEIGHTS", {"inception": entry})
    monkeypatch.setenv("FACEGAN_WEIGHTS_DIR", str(tmp_path / "cache"))
    return entry, source


def test_fetch_verifies_and_keeps_what_is_cached(fake_official, tmp_path):
    entry, source = fake_official
    with pytest.raises(MissingWeightsError, match="is not in"):
        cached_path("inception")
    path = fetch("inception")
    assert path == tmp_path / "cache" / entry.filename and path.read_bytes() == source.read_bytes()
    assert cached_path("inception") == path
    source.unlink()
    assert fetch("inception") == path  # already there: no download


def test_fetch_refuses_a_wrong_file_and_never_overwrites_an_altered_one(fake_official, tmp_path):
    entry, _ = fake_official
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(b"something else")
    with pytest.raises(MissingWeightsError, match="sha256 .* does not match the expected"):
        fetch("inception", wrong)
    assert not (tmp_path / "cache" / entry.filename).exists()
    (tmp_path / "cache" / entry.filename).write_bytes(b"altered")
    with pytest.raises(MissingWeightsError, match="not the official .* delete it"):
        fetch("inception")
    assert (tmp_path / "cache" / entry.filename).read_bytes() == b"altered"


def test_stage_weights_records_present_and_missing(fake_official, tmp_path):
    entry, source = fake_official
    manifest = stage_weights(tmp_path / "staged", download=[])
    assert manifest["inception"]["present"] is False and "fetch inception" in manifest["inception"]["reason"]
    with pytest.raises(MissingWeightsError, match="is not in"):
        staged_path("inception", tmp_path / "staged")
    model, reason = staged_inception(tmp_path / "staged")
    assert model is None and reason.startswith("FID needs the InceptionV3 weights: ")
    manifest = stage_weights(tmp_path / "staged", download=["inception"])
    assert manifest["inception"] == {"file": entry.filename, "present": True, "sha256": entry.sha256}
    assert staged_path("inception", tmp_path / "staged").read_bytes() == source.read_bytes()


def test_vgg19_is_used_only_with_the_perceptual_loss():
    assert used_weights(perceptual_loss=False) == ["inception", "alexnet", "lpips_alex"]
    assert used_weights(perceptual_loss=True) == ["inception", "vgg19", "alexnet", "lpips_alex"]


def test_weights_commands(fake_official, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["weights", "list"])
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[1].split() == ["name", "state", "file", "for"] and lines[2].split() == [
        "inception", "missing", "pt_inception-test.pth", "FID"]
    assert "inception: `facegan weights fetch inception` downloads it" in listed.stdout
    assert max(len(line) for line in lines[:3]) < 120  # a table, each file once
    fetched = runner.invoke(app, ["weights", "fetch", "inception"])
    assert fetched.exit_code == 0, fetched.output
    assert runner.invoke(app, ["weights", "list"]).stdout.splitlines()[2].split()[:2] == ["inception", "present"]
    (tmp_path / "cache" / "pt_inception-test.pth").write_bytes(b"altered")
    altered = runner.invoke(app, ["weights", "list"]).stdout
    assert altered.splitlines()[2].split()[:2] == ["inception", "ALTERED"] and "delete " in altered
    unknown = runner.invoke(app, ["weights", "fetch", "vgg99"])
    assert unknown.exit_code != 0 and "unknown weights 'vgg99'" in str(unknown.exception)


def test_a_file_that_is_not_weights_is_a_one_line_error(tmp_path):
    folder = write_folder(tmp_path / "a", images(2, 16, 1))
    (tmp_path / "bogus.pth").write_bytes(b"not weights")
    result = invoke("fid", folder, folder, "--weights", tmp_path / "bogus.pth")
    assert result.exit_code == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "bogus.pth is not a usable InceptionV3 weights file" in error[0]
    assert "weights_only" not in result.stderr and "file an issue" not in result.stderr
