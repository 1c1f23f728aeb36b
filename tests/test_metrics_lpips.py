"""LPIPS against the `lpips` package (the metric's reference code) with its real v0.1 lin
weights and a random AlexNet (ImageNet weights cannot be downloaded here); the lin
weights file against the registry's checksum; the command line and the evaluation."""
import json
from pathlib import Path

import lpips as lpips_package
import numpy as np
import pytest
import torch
from torchvision.models import alexnet

from facegan.errors import UserError
from facegan.hifacegan.evaluate import evaluate_hifacegan
from facegan.hifacegan.model import Generator
from facegan.hifacegan.params import HiFaceGANEvalParams
from facegan.metrics.lpips import LPIPSAlex, load_lpips, lpips
from facegan.weights import fetch
from test_metrics_cli import images, invoke, write_folder

PACKAGE_LINS = Path(lpips_package.__file__).parent / "weights" / "v0.1" / "alex.pth"


@pytest.fixture(scope="module")
def alexnet_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "alexnet.pth"
    torch.save(alexnet(weights=None).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def reference(alexnet_file):
    """The package's LPIPS with the same AlexNet weights as `alexnet_file`."""
    model = lpips_package.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    features = alexnet(weights=None)
    features.load_state_dict(torch.load(alexnet_file, weights_only=True))
    for index in range(1, 6):
        for name, layer in getattr(model.net, f"slice{index}").named_children():
            layer.load_state_dict(features.features[int(name)].state_dict())
    return model.eval()


@pytest.fixture(scope="module")
def model(alexnet_file):
    return load_lpips(alexnet_file, PACKAGE_LINS)


def test_lpips_equals_the_reference_package(model, reference):
    torch.manual_seed(1)
    a, b = torch.rand(3, 3, 64, 64) * 2 - 1, torch.rand(3, 3, 64, 64) * 2 - 1
    b[0] = a[0]
    with torch.no_grad():
        expected = reference(a, b).flatten()
        torch.testing.assert_close(model(a, b), expected, rtol=1e-5, atol=1e-7)
    assert expected[0] == 0 and (expected[1:] > 0).all()


def test_streamed_uint8_pairs_match_the_reference(model, reference):
    a, b = images(5, 48, 1), images(5, 48, 2)
    with torch.no_grad():
        expected = reference(*(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1 for x in (a, b)))
    result = lpips([(a[:2], b[:2]), (a[2:], b[2:])], model=model)
    assert result == {"lpips": pytest.approx(expected.mean().item(), rel=1e-5), "pairs": 5}


def test_lpips_rejects_bad_inputs(model, tmp_path):
    with pytest.raises(ValueError, match="at least 31x31 px"):
        lpips([(images(2, 16, 1), images(2, 16, 2))], model=model)
    with pytest.raises(ValueError, match="at least one image pair"):
        lpips([], model=model)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="is not LPIPS v0.1's AlexNet lin weights file"):
        LPIPSAlex().load_lins(tmp_path / "junk.pth")
    with pytest.raises(UserError, match="is not a usable torchvision alexnet weights file"):
        load_lpips(tmp_path / "junk.pth", PACKAGE_LINS)


def test_the_registry_checksum_is_that_of_the_published_lin_weights(tmp_path):
    assert fetch("lpips_alex", PACKAGE_LINS, tmp_path).read_bytes() == PACKAGE_LINS.read_bytes()


def test_lpips_command(tmp_path, alexnet_file, model):
    a, b = images(3, 32, 1), images(3, 32, 2)
    folders = write_folder(tmp_path / "a", a), write_folder(tmp_path / "b", b)
    result = invoke("lpips", *folders, "--alexnet", alexnet_file, "--lins", PACKAGE_LINS)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"lpips": pytest.approx(lpips([(a, b)], model=model)["lpips"], rel=1e-5),
                                         "pairs": 3}


def test_lpips_command_without_weights_exits_2_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEGAN_WEIGHTS_DIR", str(tmp_path / "cache"))
    folder = write_folder(tmp_path / "a", images(2, 32, 1))
    result = invoke("lpips", folder, folder)
    assert result.exit_code == 2
    assert "alexnet-owt-7be5be79.pth" in result.stderr and "facegan weights fetch alexnet" in result.stderr


def test_hifacegan_evaluation_reports_lpips_of_restored_and_degraded(model, tmp_path):
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 256, (4, 2, 64, 64, 3), dtype=np.uint8)
    G = Generator(ngf=2, spade_hidden=4)
    metrics = evaluate_hifacegan(G, pairs, HiFaceGANEvalParams(batch=2, fid_images=4), tmp_path, lpips_model=model)
    degraded, clean = pairs[:, 0], pairs[:, 1]
    assert metrics["degraded"]["lpips"] == pytest.approx(lpips([(degraded, clean)], model=model)["lpips"], rel=1e-6)
    assert metrics["lpips"] > 0 and "lpips" not in metrics["missing"]
