"""StarGAN evaluation on the test split (Choi et al. 2018, section 5).

Every test face is edited once per attribute, the way the paper's figures edit faces
(that hair colour on and the other hair colours off; any other attribute flipped):

- `real_accuracy`: the attribute classifier on real test images: how far to trust it.
- `attr_accuracy`: for each attribute, the fraction of edited faces the classifier judges
  to have the target value; `mean` over attributes (the paper's classification error, as
  an accuracy).
- `reconstruction_l1`: mean |x - G(G(x, c_trg), c_org)| over the same edits, in [-1, 1] units.
- `self_reconstruction_psnr`: PSNR of G(x, c_org) against x (RGB in [0, 1], per image,
  then the mean): asked for no change, G should change nothing.
- `fd_classifier`: the Frechet distance between the edited faces and the real test faces
  in the classifier's features (`classifier_fd.py`; not FID), and
  `fd_classifier_real_floor` the same between as many real training faces (all of them
  when there are fewer) and the real test faces. A classifier can call noise "blond";
  noise cannot come near the real faces here.
- `untrained`: the seeded generator before its first step, on the same numbers, so that
  what training gained is visible.
- `fid`: edited faces (all attributes pooled) against the real test faces, when the
  Inception weights are present; otherwise None with the reason under `missing`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import torch

from facegan.images import array_batches, save_image, to_float, to_uint8
from facegan.inference import TrainedModel
from facegan.metrics.fid import fid
from facegan.metrics.frechet import FeatureStats
from facegan.metrics.psnr_ssim import psnr_ssim_pairs
from facegan.stargan.classifier_fd import classifier_features, classifier_stats, stats_distance
from facegan.stargan.data import PreparedStarGAN
from facegan.stargan.inference import untrained_generator
from facegan.stargan.model import AttributeClassifier, Generator, edit_grid, edit_targets
from facegan.stargan.params import StarGANEvalParams

if TYPE_CHECKING:
    from facegan.metrics.inception import FIDInceptionV3


# metrics/stargan.json: what changes with the model (per attribute, baselines and counts in the details).
HEADLINE = ("attr_accuracy.mean", "fd_classifier", "fid", "reconstruction_l1", "self_reconstruction_psnr")


def _batches(images: np.ndarray, labels: np.ndarray, batch: int, device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for start in range(0, len(images), batch):
        yield (to_float(images[start : start + batch]).to(device),
               torch.from_numpy(np.asarray(labels[start : start + batch], np.float32)).to(device))


@dataclass
class EditScores:
    """What one generator's edits of the test faces add up to."""

    edit_hits: np.ndarray
    edit_stats: FeatureStats
    cycle_l1_sum: float = 0.0
    self_psnr: list[np.ndarray] = field(default_factory=list)  # per image, G(x, c_org) against x
    fid_edits: list[np.ndarray] = field(default_factory=list)


@torch.no_grad()
def score_edits(G: Generator, classifier: AttributeClassifier, images: np.ndarray, labels: np.ndarray,
                attributes: list[str], batch: int, fid_images: int = 0) -> EditScores:
    """Edit every face once per attribute; judge, cycle back, and keep the edits' classifier
    features (and up to `fid_images` edits for FID)."""
    device = next(G.parameters()).device
    scores = EditScores(np.zeros(len(attributes)), FeatureStats(classifier.feature_dim))
    kept = 0
    for (reals, c_org), start in zip(_batches(images, labels, batch, device), range(0, len(images), batch)):
        unchanged = to_uint8(G(reals, c_org))
        scores.self_psnr.append(psnr_ssim_pairs(unchanged, np.asarray(images[start : start + batch]))[0])
        for index, c_trg in enumerate(edit_targets(c_org, attributes)):
            edited = G(reals, c_trg)
            scores.edit_hits[index] += ((classifier(edited)[:, index] > 0) == (c_trg[:, index] > 0.5)).sum().item()
            scores.cycle_l1_sum += (reals - G(edited, c_org)).abs().mean((1, 2, 3)).sum().item()
            edited_uint8 = to_uint8(edited)
            scores.edit_stats.add(classifier_features(edited_uint8, classifier))
            if kept < fid_images:  # every attribute's edits, batch by batch
                scores.fid_edits.append(edited_uint8[: fid_images - kept])
                kept += len(scores.fid_edits[-1])
    return scores


def _mean_psnr(psnr: np.ndarray) -> float | None:
    """The mean PSNR; None when a face came back exactly (infinite PSNR, which JSON cannot hold)."""
    return float(psnr.mean()) if np.isfinite(psnr).all() else None


def _summary(scores: EditScores, count: int, attributes: list[str], real_stats: FeatureStats) -> dict:
    accuracy = {name: float(scores.edit_hits[i] / count) for i, name in enumerate(attributes)}
    return {
        "attr_accuracy": {**accuracy, "mean": float(np.mean(list(accuracy.values())))},
        "reconstruction_l1": scores.cycle_l1_sum / (count * len(attributes)),
        "self_reconstruction_psnr": _mean_psnr(np.concatenate(scores.self_psnr)),
        "fd_classifier": stats_distance(scores.edit_stats, real_stats),
    }


@torch.no_grad()
def evaluate_stargan(G: Generator, untrained: Generator, classifier: AttributeClassifier, images: np.ndarray,
                     labels: np.ndarray, floor_images: np.ndarray, attributes: list[str],
                     params: StarGANEvalParams, out_dir: Path, fid_model: FIDInceptionV3 | None = None,
                     fid_missing: str = "no FID network given") -> dict:
    """Measure the edits of uint8 NHWC test `images` with 0/1 `labels` by `G` and by the
    `untrained` generator; `floor_images` are real faces outside the test split (as many as
    there are edits) for the real-vs-real floor of fd_classifier. Saves a grid of edits."""
    G, untrained, classifier = G.eval(), untrained.eval(), classifier.eval()
    device = next(G.parameters()).device
    count = len(images)
    real_hits = np.zeros(len(attributes))
    for reals, c_org in _batches(images, labels, params.batch, device):
        real_hits += ((classifier(reals) > 0) == (c_org > 0.5)).double().sum(0).cpu().numpy()
    real_stats = classifier_stats(array_batches(images, np.arange(len(images)), params.batch), classifier)
    floor_stats = classifier_stats(array_batches(floor_images, np.arange(len(floor_images)), params.batch), classifier)
    fid_images = params.fid_images if fid_model is not None else 0
    trained = score_edits(G, classifier, images, labels, attributes, params.batch, fid_images)
    baseline = _summary(score_edits(untrained, classifier, images, labels, attributes, params.batch),
                        count, attributes, real_stats)
    result = {
        **_summary(trained, count, attributes, real_stats),
        "fd_classifier_real_floor": stats_distance(floor_stats, real_stats),
        "real_accuracy": {**{name: float(real_hits[i] / count) for i, name in enumerate(attributes)},
                          "mean": float(real_hits.mean() / count)},
        "untrained": {"attr_accuracy": baseline["attr_accuracy"]["mean"],
                      "self_reconstruction_psnr": baseline["self_reconstruction_psnr"],
                      "fd_classifier": baseline["fd_classifier"]},
        "fid": None,
        "images": {"test": count, "edits": count * len(attributes), "fd_floor": floor_stats.count},
        "missing": {},
    }  # fmt: skip
    for name, value in (("self_reconstruction_psnr", result["self_reconstruction_psnr"]),
                        ("untrained.self_reconstruction_psnr", baseline["self_reconstruction_psnr"])):
        if value is None:
            result["missing"][name] = "some faces came back exactly: their PSNR is infinite"
    if fid_model is not None:
        real_count = min(params.fid_images, count)
        result["fid"] = fid(trained.fid_edits, [images[:real_count]], model=fid_model)["fid"]
        result["images"]["fid"] = [sum(len(edits) for edits in trained.fid_edits), real_count]
    else:
        result["missing"]["fid"] = fid_missing
    save_image(edit_grid(G, images[:8], labels[:8], attributes), out_dir / "edits.png", min_side=512)
    return result


def stargan_metrics(model: TrainedModel, judge: AttributeClassifier, data: PreparedStarGAN, seed: int,
                    params: StarGANEvalParams, out_dir: Path, fid_model: FIDInceptionV3 | None,
                    fid_missing: str) -> dict:
    """The record of metrics/stargan.json: `evaluate_stargan` on the test split, beside the
    generator training starts from with the train `seed`, and the iterations trained."""
    device = next(model.network.parameters()).device
    untrained = untrained_generator(model.config, seed).to(device)
    test, train = data.indices("test"), data.indices("train")
    floor = data.images[train[: len(test) * len(data.attribute_names)]]  # as many as the edits
    result = evaluate_stargan(model.network, untrained, judge, data.images[test], data.labels[test], floor,
                              data.attribute_names, params, out_dir, fid_model, fid_missing)
    return {**result, "iterations": model.iterations}


def summary(result: dict) -> str:
    untrained = result["untrained"]
    return (f"edit accuracy {result['attr_accuracy']['mean']:.3f} (real images: {result['real_accuracy']['mean']:.3f}), "
            f"self-reconstruction PSNR {result['self_reconstruction_psnr']} dB (untrained "
            f"{untrained['self_reconstruction_psnr']}), fd_classifier {result['fd_classifier']:.2f} (untrained "
            f"{untrained['fd_classifier']:.2f}, real floor {result['fd_classifier_real_floor']:.2f}), FID {result['fid']}")
