"""StarGAN evaluation on the test split (Choi et al. 2018, section 5; REFERENCE 3).

- `real_accuracy`: the attribute classifier on real test images: how far to trust it.
- `attr_accuracy`: for each attribute, every test face is edited the way the paper's
  figures do (that hair colour on, the others off; any other attribute flipped) and the
  classifier judges whether the edited face has the target value; `mean` over attributes.
- `reconstruction_l1`: mean |x - G(G(x, c_trg), c_org)| over the same edits, in [-1, 1] units.
- `fid`: edited faces (all attributes pooled) against the real test faces, when the
  Inception weights are present; otherwise None with the reason under `missing`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from facegan.images import save_png, to_float, to_uint8
from facegan.metrics.fid import FIDInceptionV3, fid
from facegan.models.stargan import AttributeClassifier, Generator, edit_targets
from facegan.params import StarGANEvalParams
from facegan.training.stargan import edit_grid


def _batches(images: np.ndarray, labels: np.ndarray, batch: int, device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for start in range(0, len(images), batch):
        yield (to_float(images[start : start + batch]).to(device),
               torch.from_numpy(np.asarray(labels[start : start + batch], np.float32)).to(device))


@torch.no_grad()
def _edited(G: Generator, images: np.ndarray, labels: np.ndarray, attributes: list[str],
            batch: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(attribute index, reals, their labels, target labels, edited) per batch and attribute."""
    device = next(G.parameters()).device
    for reals, c_org in _batches(images, labels, batch, device):
        for index, c_trg in enumerate(edit_targets(c_org, attributes)):
            yield index, reals, c_org, c_trg, G(reals, c_trg)


@torch.no_grad()
def evaluate_stargan(G: Generator, classifier: AttributeClassifier, images: np.ndarray, labels: np.ndarray,
                     attributes: list[str], params: StarGANEvalParams, out_dir: Path,
                     fid_model: FIDInceptionV3 | None = None, fid_missing: str = "no FID network given") -> dict:
    """Measure the edits of uint8 NHWC test `images` with 0/1 `labels`; save a grid of edits."""
    G, classifier = G.eval(), classifier.eval()
    device = next(G.parameters()).device
    real_hits = np.zeros(len(attributes))
    for reals, c_org in _batches(images, labels, params.batch, device):
        real_hits += ((classifier(reals) > 0) == (c_org > 0.5)).double().sum(0).cpu().numpy()
    edit_hits, l1_sum, fid_edits, kept = np.zeros(len(attributes)), 0.0, [], 0
    for index, reals, c_org, c_trg, edited in _edited(G, images, labels, attributes, params.batch):
        edit_hits[index] += ((classifier(edited)[:, index] > 0) == (c_trg[:, index] > 0.5)).sum().item()
        l1_sum += (reals - G(edited, c_org)).abs().mean((1, 2, 3)).sum().item()
        if fid_model is not None and kept < params.fid_images:  # every attribute's edits, batch by batch
            fid_edits.append(to_uint8(edited[: params.fid_images - kept]))
            kept += len(fid_edits[-1])
    count = len(images)
    accuracy = {name: float(edit_hits[i] / count) for i, name in enumerate(attributes)}
    result = {
        "attr_accuracy": {**accuracy, "mean": float(np.mean(list(accuracy.values())))},
        "real_accuracy": {**{name: float(real_hits[i] / count) for i, name in enumerate(attributes)},
                          "mean": float(real_hits.mean() / count)},
        "reconstruction_l1": l1_sum / (count * len(attributes)),
        "fid": None,
        "images": {"test": count, "edits": count * len(attributes)},
        "missing": {},
    }  # fmt: skip
    if fid_model is not None:
        real_count = min(params.fid_images, count)
        result["fid"] = fid(fid_edits, [images[:real_count]], model=fid_model)["fid"]
        result["images"]["fid"] = [kept, real_count]
    else:
        result["missing"]["fid"] = fid_missing
    save_png(edit_grid(G, images[:8], labels[:8], attributes), out_dir / "edits.png", min_side=512)
    return result
