"""HiFaceGAN inference: blind face restoration of degraded faces, at the size the model was
trained at, from a train_hifacegan model.pt or an exported generator.pt2.

The generator runs in inference mode (`facegan.hifacegan.model.restore`): its SPADE
batch norms use the running statistics gathered in training, so a face's restoration
does not depend on the other faces in its batch (the reference's test script keeps batch
statistics instead).

A photo of another size or shape is resized (Lanczos) to the model's size, restored, and
resized back to its own size; no tiling: the model sees the whole face, as in training,
so a photo much larger than the model's size comes back with the model's level of detail.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facegan.inference import ExportSpec, InputSpec, TrainedModel, export_metadata, load_trained
from facegan.hifacegan.model import baked, build_generator, restore


def load_hifacegan(path: Path, device: torch.device | str, pipeline: bool = True) -> TrainedModel:
    """The generator of a train_hifacegan model.pt, or an exported generator.pt2; its config
    holds the size it restores at ("image_size"). `pipeline`: as for `load_pgan`."""
    return load_trained(path, build_generator, "G", device, ("train_hifacegan", "export_hifacegan"), pipeline)


def restore_photo(G: torch.nn.Module, image: np.ndarray, size: int) -> np.ndarray:
    """uint8 HWC `image` of any size, restored at the model's `size` and returned at its own size."""
    height, width = image.shape[:2]
    square = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))
    restored = restore(G, square[None])[0]
    if (height, width) == (size, size):
        return restored
    return np.asarray(Image.fromarray(restored).resize((width, height), Image.Resampling.LANCZOS))


def export_spec(model: TrainedModel, params_fingerprint: str) -> ExportSpec:
    """The generator with its weights baked for tracing, fed one degraded face."""
    size = model.config["image_size"]
    inputs = [InputSpec("image", (3, size, size), "degraded RGB face in [-1, 1], resized to the model's size")]
    return ExportSpec(baked(model.network), inputs, export_metadata(
        model, "hifacegan", params_fingerprint, resolution=size,
        normalisation="SPADE batch norm with the running averages gathered in training (inference mode)"))
