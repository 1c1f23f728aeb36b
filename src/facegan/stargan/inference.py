"""StarGAN inference: attribute editing (Choi et al. 2018, figure 1), the paper's grid of
edits, the attribute classifier that judges them, and the generator as training starts it.

A photo is prepared as training prepared CelebA: the centred square of side
min(width, height) (the 178 px centre crop of an aligned 178x218 CelebA image), resized
bilinearly to the model's size. StarGAN's generator takes the full target label vector,
so a photo's own attributes are first estimated by the attribute classifier that the
pipeline trains; the requested changes are applied on top of them (setting a hair
colour clears the other hair colours, as in training's edits).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from facegan.errors import UserError
from facegan.images import ImageFolderError, read_image, square_resized, to_float, to_uint8
from facegan.inference import ExportSpec, InputSpec, TrainedModel, export_metadata, from_checkpoint, load_trained
from facegan.stargan.model import HAIR_COLORS, Generator, build_classifier, build_generator

GeneratorFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def load_photo(path: Path, size: int) -> np.ndarray:
    """uint8 HWC: the centred square of the photo, resized to `size` (as training's crop)."""
    return square_resized(read_image(path), size, Image.Resampling.BILINEAR)


def parse_changes(spec: str, attributes: list[str]) -> dict[str, float]:
    """'Blond_Hair,Male=0' -> {'Blond_Hair': 1.0, 'Male': 0.0}; unknown names are rejected by name."""
    changes = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        if name not in attributes:
            raise UserError(f"unknown attribute {name!r}: this model edits {', '.join(attributes)}")
        if value not in ("", "0", "1"):
            raise UserError(f"{item!r}: write NAME (to set it) or NAME=0 / NAME=1")
        changes[name] = 0.0 if value == "0" else 1.0
    if not changes:
        raise UserError(f"--attrs names no attribute; choose from {', '.join(attributes)}")
    return changes


def apply_changes(c_org: np.ndarray, changes: dict[str, float], attributes: list[str]) -> np.ndarray:
    """Target labels: `c_org` with `changes` applied; a hair colour set to 1 clears the others."""
    c_trg = c_org.copy()
    for name, value in changes.items():
        if value == 1.0 and name in HAIR_COLORS:
            for other in HAIR_COLORS:
                if other in attributes:
                    c_trg[:, attributes.index(other)] = 0.0
    for name, value in changes.items():
        c_trg[:, attributes.index(name)] = value
    return c_trg


def read_photos(paths: list[Path], size: int, warn: Callable[[str], None]) -> tuple[list[Path], np.ndarray]:
    """The readable photos (an unreadable one is reported through `warn` and left out)."""
    kept, images = [], []
    for path in paths:
        try:
            images.append(load_photo(path, size))
            kept.append(path)
        except ImageFolderError as error:
            warn(f"skipped: {error}")
    if not images:
        raise UserError("no readable photo to edit")
    return kept, np.stack(images)


@torch.no_grad()
def estimate_labels(judge: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """(N, c) 0/1 float32: the attributes the classifier sees in uint8 NHWC `images`."""
    reals = to_float(images).to(next(judge.parameters()).device)
    return (judge(reals) > 0).float().cpu().numpy()


@torch.no_grad()
def apply_edit(G: GeneratorFn, images: np.ndarray, c_trg: np.ndarray, device: torch.device) -> np.ndarray:
    """uint8 NHWC `images` translated to the target labels `c_trg`."""
    return to_uint8(G(to_float(images).to(device), torch.from_numpy(c_trg).to(device)))


def load_stargan(path: Path, device: torch.device | str, pipeline: bool = True) -> TrainedModel:
    """The generator of a train_stargan model.pt, or an exported generator.pt2; its config
    names the attributes it edits ("attributes") and its image size ("image_size").
    `pipeline`: as for `load_pgan`."""
    return load_trained(path, build_generator, "G", device, ("train_stargan", "export_stargan"), pipeline)


def load_judge(path: Path, attributes: list[str], device: torch.device | str, pipeline: bool = True) -> torch.nn.Module:
    """The attribute classifier (train_stargan_classifier's model.pt); it must judge the
    attributes the generator edits. `pipeline`: as for `load_pgan`."""
    judge = from_checkpoint(path, build_classifier, "C", "train_stargan_classifier" if pipeline else None)
    if judge.config["attributes"] != list(attributes):
        raise UserError(f"{path} judges {judge.config['attributes']}, the generator edits {list(attributes)}")
    return judge.network.to(device)


def untrained_generator(config: dict, seed: int) -> Generator:
    """G as training starts it (training seeds torch with the train seed and builds G
    first): the baseline the evaluation measures the trained G against."""
    torch.manual_seed(seed)
    return build_generator(config).eval()


def export_spec(model: TrainedModel, params_fingerprint: str) -> ExportSpec:
    """The generator, fed a face and the target labels."""
    size, attributes = model.config["image_size"], model.config["attributes"]
    inputs = [InputSpec("image", (3, size, size), "RGB face in [-1, 1], centre-cropped and resized as in training"),
              InputSpec("labels", (len(attributes),), f"target attributes, 0 or 1: {', '.join(attributes)}")]
    return ExportSpec(model.network, inputs, export_metadata(model, "stargan", params_fingerprint,
                                                             attributes=attributes, resolution=size))
