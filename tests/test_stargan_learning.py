"""A real learning check: a few hundred iterations on the sample make StarGAN's edits
convincing to the separately trained attribute classifier, far more than the untrained
generator's (which the classifier judges the same whatever the target)."""
import torch
import yaml

from conftest import tiny_params_dict
from facegan.data.stargan import load_stargan, prepare_stargan
from facegan.data.synthetic import write_celeba_sample
from facegan.evaluation.stargan import evaluate_stargan
from facegan.params import load_params
from facegan.training.classifier import load_classifier, train_classifier
from facegan.training.compute import Compute
from facegan.training.loop import RunPaths
from facegan.training.stargan import build_generator, load_generator, network_config, train_stargan

ON_CPU = Compute(torch.device("cpu"))


def test_training_raises_the_classifiers_accuracy_on_edited_faces(tmp_path):
    raw = tiny_params_dict()
    stargan = raw["stargan"]
    stargan["data"].update(image_size=16, test_count=100)
    stargan["model"].update(g_conv_dim=16, d_conv_dim=16)
    # 3e-4 rather than the paper's 1e-4: the edits become visible within 600 iterations.
    stargan["train"].update(iterations=600, decay_start=300, g_lr=3e-4, d_lr=3e-4, batch=16, checkpoint_every=1000,
                            log_every=100)
    stargan["classifier"].update(conv_dim=16, iterations=300, batch=32)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(tmp_path / "params.yaml")
    write_celeba_sample(tmp_path / "raw", 400, seed=0)
    prepare_stargan(tmp_path / "raw", tmp_path / "prepared", params.stargan.data, max_bad_fraction=0.0)
    data = load_stargan(tmp_path / "prepared")
    train_classifier(params.stargan.classifier, data, RunPaths(tmp_path / "classifier"), ON_CPU)
    train_stargan(params.stargan, data, RunPaths(tmp_path / "stargan"), ON_CPU)

    classifier, _ = load_classifier(tmp_path / "classifier" / "model.pt")
    trained, _ = load_generator(tmp_path / "stargan" / "model.pt")
    torch.manual_seed(params.stargan.train.seed)  # the generator training started from
    untrained = build_generator(network_config(params.stargan))
    test = data.indices("test")

    def measure(G, name):
        return evaluate_stargan(G, classifier, data.images[test], data.labels[test], data.attribute_names,
                                params.eval.stargan, tmp_path / name)

    before, after = measure(untrained, "untrained"), measure(trained, "trained")
    assert after["real_accuracy"]["mean"] > 0.8, "the classifier must recognise real faces to judge edits"
    assert after["attr_accuracy"]["mean"] > before["attr_accuracy"]["mean"] + 0.25, (before, after)
    assert after["reconstruction_l1"] < before["reconstruction_l1"]
