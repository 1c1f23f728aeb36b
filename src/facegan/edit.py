"""`facegan edit`: StarGAN attribute editing of face photos (Choi et al. 2018, figure 1).

A photo is prepared as training prepared CelebA: the centred square of side
min(width, height) (the 178 px centre crop of an aligned 178x218 CelebA image), resized
bilinearly to the model's size. StarGAN's generator takes the full target label vector,
so the photo's own attributes are first estimated by the attribute classifier that the
pipeline trains; the requested changes are applied on top of them (setting a hair
colour clears the other hair colours, as in training's edits).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from facegan.errors import UserError
from facegan.images import to_float, to_uint8
from facegan.imagefolder import ImageFolderError, read_image, square_resized
from facegan.models.stargan import HAIR_COLORS
from facegan.training.classifier import load_classifier
from facegan.training.stargan import load_generator

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


def load_editor(model: Path, device: torch.device) -> tuple[GeneratorFn, list[str], int]:
    """The generator (a train_stargan model.pt, or an exported generator.ts with its .json),
    its attribute names and its image size."""
    model = Path(model)
    if not model.exists():
        raise UserError(f"{model} not found: run `dvc repro train_stargan` (or export_stargan) first, or pass --model")
    if model.suffix == ".ts":
        info_path = model.with_suffix(".json")
        if not info_path.exists():
            raise UserError(f"{info_path} not found: the exported .ts needs the .json written beside it")
        info = json.loads(info_path.read_text())
        return torch.jit.load(str(model), map_location=device), info["attributes"], info["resolution"]
    G, checkpoint = load_generator(model)
    return G.to(device), checkpoint["config"]["attributes"], checkpoint["config"]["image_size"]


def load_judge(path: Path, attributes: list[str], device: torch.device) -> torch.nn.Module:
    """The attribute classifier that estimates a photo's own labels; same attributes as G."""
    if not Path(path).exists():
        raise UserError(f"{path} not found: run `dvc repro train_stargan_classifier` first, or pass --classifier")
    classifier, checkpoint = load_classifier(path)
    if checkpoint["config"]["attributes"] != attributes:
        raise UserError(f"{path} judges {checkpoint['config']['attributes']}, the generator edits {attributes}")
    return classifier.to(device)


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
