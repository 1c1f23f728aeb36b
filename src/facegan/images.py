"""Image conversions and grids shared by training, evaluation and the CLI.

Generators output float images in [-1, 1], NCHW. Metrics follow the PGAN protocol
and see uint8 images: x * 127.5 + 127.5, rounded and clipped (Karras et al. 2018,
official `convert_to_uint8`).

torch is imported by the two functions that need it, so that the `facegan` commands can
check their output paths (IMAGE_FORMATS) before they load it.
"""
from __future__ import annotations

import math
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
from PIL import Image

from facegan.io import atomic_write_bytes

if TYPE_CHECKING:
    import torch

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}  # what Pillow writes for each extension
GIF_FORMATS = {".gif": "GIF"}
JPEG_QUALITY = 95  # Pillow's default 75 shows blocks on faces


def image_format(path: Path) -> str:
    """The Pillow format written for `path`'s extension (PNG for any other)."""
    return {**IMAGE_FORMATS, **GIF_FORMATS}.get(Path(path).suffix.lower(), "PNG")


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] float NCHW tensor -> uint8 NHWC array."""
    import torch

    scaled = (images.detach().float() * 127.5 + 127.5).round().clamp(0, 255)
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 NHWC images -> [-1, 1] float NCHW tensor (the inverse of `to_uint8`), on the
    device of a tensor given; any leading dimensions stay as they are."""
    import torch

    tensor = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images))  # memmaps: a copy
    return tensor.movedim(-1, -3).float() / 127.5 - 1.0


def array_batches(images: np.ndarray, indices: np.ndarray, batch: int) -> Iterator[np.ndarray]:
    """Rows of a (memory-mapped) uint8 array, `batch` at a time, read in sorted order."""
    for start in range(0, len(indices), batch):
        yield images[np.sort(indices[start : start + batch])]


def grid(images: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile uint8 NHWC images into one HWC image, row-major, with `pad` black pixels."""
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    out = np.zeros((rows * (height + pad) + pad, columns * (width + pad) + pad, channels), np.uint8)
    for index, image in enumerate(images):
        top = pad + (index // columns) * (height + pad)
        left = pad + (index % columns) * (width + pad)
        out[top : top + height, left : left + width] = image
    return out


def _upscaled(image: np.ndarray, min_side: int) -> Image.Image:
    """An HWC uint8 image as PIL, enlarged by a whole factor (nearest) to at least `min_side`."""
    pil = Image.fromarray(image)
    if min_side and min(pil.size) < min_side:
        factor = math.ceil(min_side / min(pil.size))
        pil = pil.resize((pil.width * factor, pil.height * factor), Image.NEAREST)
    return pil


def save_image(image: np.ndarray, path: Path, min_side: int = 0) -> None:
    """Write an HWC uint8 image atomically, as JPEG for .jpg/.jpeg and PNG otherwise;
    upscale (nearest) to at least `min_side`."""
    buffer = BytesIO()
    kind = image_format(path)
    _upscaled(image, min_side).save(buffer, format=kind, **({"quality": JPEG_QUALITY} if kind == "JPEG" else {}))
    atomic_write_bytes(path, buffer.getvalue())


def save_gif(frames: list[np.ndarray], path: Path, min_side: int = 0, frame_ms: int = 120) -> None:
    """Write HWC uint8 `frames` as a looping GIF atomically (one palette per frame), upscaled
    as `save_image` does."""
    images = [_upscaled(frame, min_side) for frame in frames]
    buffer = BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    atomic_write_bytes(path, buffer.getvalue())
