"""`facegan restore`: HiFaceGAN blind face restoration of photos of any size.

The model restores faces at the size it was trained at. A photo of another size or
shape is resized (Lanczos) to the model's size, restored, and resized back to its own
size; no tiling: the model sees the whole face, as in training, so a photo much larger
than the model's size comes back with the model's level of detail.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facegan.errors import UserError
from facegan.training.hifacegan import load_generator, restore


def load_restorer(model: Path, device: torch.device) -> tuple[torch.nn.Module, int]:
    """The generator (a train_hifacegan model.pt, or an exported generator.ts with its .json) and its size."""
    model = Path(model)
    if not model.exists():
        raise UserError(f"{model} not found: run `dvc repro train_hifacegan` (or export_hifacegan) first, "
                        "or pass --model")
    if model.suffix == ".ts":
        info_path = model.with_suffix(".json")
        if not info_path.exists():
            raise UserError(f"{info_path} not found: the exported .ts needs the .json written beside it")
        return torch.jit.load(str(model), map_location=device), json.loads(info_path.read_text())["resolution"]
    G, checkpoint = load_generator(model)
    return G.to(device), checkpoint["config"]["image_size"]


def restore_photo(G: torch.nn.Module, image: np.ndarray, size: int) -> np.ndarray:
    """uint8 HWC `image` of any size, restored at the model's `size` and returned at its own size."""
    height, width = image.shape[:2]
    square = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))
    restored = restore(G, square[None])[0]
    if (height, width) == (size, size):
        return restored
    return np.asarray(Image.fromarray(restored).resize((width, height), Image.Resampling.LANCZOS))
