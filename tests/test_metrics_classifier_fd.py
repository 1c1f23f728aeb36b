"""fd_classifier (the Frechet distance in the attribute classifier's features) and StarGAN's
self-reconstruction PSNR, each against a direct computation: the features straight from
the classifier's trunk, numpy's covariances and scipy's sqrtm; PSNR from scikit-image."""
import numpy as np
import pytest
import torch
import yaml
from skimage.metrics import peak_signal_noise_ratio

from conftest import tiny_params_dict
from facegan.data.synthetic import write_celeba_sample
from facegan.images import to_uint8
from facegan.params_file import load_params
from facegan.stargan.classifier import train_classifier
from facegan.stargan.classifier_fd import classifier_fd
from facegan.stargan.data import load_stargan, prepare_stargan
from facegan.stargan.evaluate import evaluate_stargan
from facegan.stargan.inference import load_judge
from facegan.stargan.model import AttributeClassifier, Generator, edit_targets
from facegan.stargan.params import StarGANEvalParams
from facegan.training.compute import Compute
from facegan.training.loop import RunPaths
from test_metrics_fid import ref_frechet

ATTRIBUTES = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]


def direct_fd(classifier, images_a, images_b):
    """Features as the trunk's output averaged over positions, Gaussians by numpy, scipy's sqrtm."""
    stats = []
    with torch.no_grad():
        for images in (images_a, images_b):
            x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
            features = classifier.trunk(x).mean(dim=(2, 3)).double().numpy()
            stats += [features.mean(0), np.cov(features, rowvar=False)]
    return ref_frechet(*stats)


def random_images(count, size, seed):
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def test_fd_classifier_matches_a_direct_scipy_computation():
    torch.manual_seed(0)
    classifier = AttributeClassifier(16, 5, conv_dim=8, repeat_num=3).eval()  # 32 features
    smooth = np.repeat(np.repeat(random_images(90, 4, 1), 4, axis=1), 4, axis=2)  # another distribution
    a, b = random_images(70, 16, 2), smooth
    result = classifier_fd([a[:30], a[30:]], [b], classifier=classifier)
    assert result["images"] == [70, 90]
    assert result["fd_classifier"] == pytest.approx(direct_fd(classifier, a, b), rel=1e-6)
    assert classifier_fd([a], [a], classifier=classifier)["fd_classifier"] == pytest.approx(0.0, abs=1e-6)


def test_fd_classifier_rejects_float_images():
    classifier = AttributeClassifier(16, 5, conv_dim=8, repeat_num=3)
    with pytest.raises(ValueError, match="uint8 NHWC"):
        classifier_fd([np.zeros((4, 16, 16, 3), np.float32)], [random_images(4, 16, 0)], classifier=classifier)


def test_evaluation_numbers_against_direct_computations(tmp_path):
    """self_reconstruction_psnr is skimage's PSNR of G(x, c_own) against x, averaged over the
    faces; fd_classifier pools every attribute's edits against the real test faces."""
    torch.manual_seed(1)
    G, untrained = Generator(5, 8, 1).eval(), Generator(5, 8, 1).eval()
    classifier = AttributeClassifier(16, 5, conv_dim=8, repeat_num=3).eval()
    images, floor = random_images(12, 16, 3), random_images(60, 16, 4)
    labels = np.random.default_rng(5).integers(0, 2, (12, 5)).astype(np.float32)
    result = evaluate_stargan(G, untrained, classifier, images, labels, floor, ATTRIBUTES,
                              StarGANEvalParams(batch=5, fid_images=2), tmp_path)
    with torch.no_grad():
        x, c = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1, torch.from_numpy(labels)
        same = to_uint8(G(x, c))
        edits = np.concatenate([to_uint8(G(x, target)) for target in edit_targets(c, ATTRIBUTES)])
    expected_psnr = np.mean([peak_signal_noise_ratio(images[i], same[i], data_range=255) for i in range(12)])
    assert result["self_reconstruction_psnr"] == pytest.approx(expected_psnr, rel=1e-9)
    assert result["fd_classifier"] == pytest.approx(direct_fd(classifier, edits, images), rel=1e-6)
    assert result["fd_classifier_real_floor"] == pytest.approx(direct_fd(classifier, floor, images), rel=1e-6)
    assert result["untrained"]["self_reconstruction_psnr"] != result["self_reconstruction_psnr"]
    assert result["images"] == {"test": 12, "edits": 60, "fd_floor": 60}
    assert (tmp_path / "edits.png").exists()


@pytest.mark.slow
def test_noise_scores_far_from_real_faces(tmp_path):
    """A classifier trained on the synthetic faces puts uniform noise, and noise with the
    faces' own colour statistics, far from real faces: tens of times the distance between
    two disjoint sets of real faces."""
    raw = tiny_params_dict()
    raw["stargan"]["data"].update(image_size=16, test_count=100)
    raw["stargan"]["classifier"].update(conv_dim=16, iterations=200, batch=32)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(tmp_path / "params.yaml")
    write_celeba_sample(tmp_path / "raw", 400, seed=0)
    prepare_stargan(tmp_path / "raw", tmp_path / "prepared", params.stargan.data, max_bad_fraction=0.0)
    data = load_stargan(tmp_path / "prepared")
    train_classifier(params.stargan.classifier, data, RunPaths(tmp_path / "classifier"), {"test": "inputs"},
                     Compute(torch.device("cpu")))
    classifier = load_judge(tmp_path / "classifier" / "model.pt", data.attribute_names, "cpu")

    train = np.asarray(data.images[data.indices("train")])
    test = np.asarray(data.images[data.indices("test")])
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 256, test.shape, dtype=np.uint8)
    matched = np.clip(rng.normal(test.mean(), test.std(), test.shape), 0, 255).astype(np.uint8)

    def distance(images):
        return classifier_fd([images], [test], classifier=classifier)["fd_classifier"]

    floor = distance(train[: len(test)])
    print({"floor": floor, "uniform": distance(uniform), "matched": distance(matched)})  # with -s: the margins
    assert distance(uniform) > 20 * floor and distance(matched) > 20 * floor
