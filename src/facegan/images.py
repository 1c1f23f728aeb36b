"""Images: tensor conversions and grids shared by training, evaluation and the CLI; image
files read (one, a folder of them, two folders paired by name) and written.

Generators output float images in [-1, 1], NCHW. Metrics follow the PGAN protocol
and see uint8 images: x * 127.5 + 127.5, rounded and clipped (Karras et al. 2018,
official `convert_to_uint8`).

Folders are read from the folder itself (not sub-folders), sorted by file name, so a
seeded subset and the MS-SSIM pairing are repeatable; every reading error names the file.

torch is imported by the two functions that need it, so that the `facegan` commands can
check their paths (IMAGE_FORMATS) before they load it.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
from PIL import Image

from facegan.errors import UserError
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


class ImageFolderError(UserError, ValueError):
    """A folder without images, or an image that cannot be read or has another size."""


def list_images(directory: Path) -> list[Path]:
    """The PNG/JPEG files directly in `directory`, sorted by name; raises if there are none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ImageFolderError(f"{directory} is not a folder")
    paths = sorted((p for p in directory.iterdir() if p.suffix.lower() in IMAGE_FORMATS and p.is_file()),
                   key=lambda p: p.name)
    if not paths:
        raise ImageFolderError(f"no PNG or JPEG images in {directory}")
    return paths


def image_paths(source: Path) -> list[Path]:
    """A folder's images (as `list_images`), or [source] for one file."""
    return list_images(source) if Path(source).is_dir() else [Path(source)]


def select_images(paths: Sequence[Path], limit: int | None, seed: int) -> list[Path]:
    """`limit` of `paths` drawn at random with `seed`, kept in their order; all when `limit`
    is None or not smaller. A random subset, not the first N: file names often follow
    an order (an identity, a training step) that would bias a metric."""
    if limit is None or limit >= len(paths):
        return list(paths)
    chosen = np.random.default_rng(seed).choice(len(paths), size=limit, replace=False)
    return [paths[index] for index in sorted(chosen)]


def paired_images(first: Path, second: Path) -> list[tuple[Path, Path]]:
    """Images of two folders paired by file name without its suffix (a.png with a.jpg),
    sorted by name; raises naming the files that have no partner."""
    named = []
    for directory in (first, second):
        by_stem: dict[str, Path] = {}
        for path in list_images(directory):
            if path.stem in by_stem:
                raise ImageFolderError(f"{by_stem[path.stem].name} and {path.name} in {directory} share a name")
            by_stem[path.stem] = path
        named.append(by_stem)
    for directory, names, other in ((first, named[0], named[1]), (second, named[1], named[0])):
        unpaired = sorted(names.keys() - other.keys())
        if unpaired:
            shown = ", ".join(names[stem].name for stem in unpaired[:5]) + (" ..." if len(unpaired) > 5 else "")
            raise ImageFolderError(f"{len(unpaired)} image(s) in {directory} have no partner of the same name "
                                   f"in the other folder: {shown}")
    return [(named[0][stem], named[1][stem]) for stem in sorted(named[0])]


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """Image.open, with any decoding error (PIL raises several kinds) naming the file."""
    try:
        with Image.open(path) as image:
            yield image
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageFolderError(f"cannot read image {path}: {error}") from error


def image_size(paths: Sequence[Path]) -> tuple[int, int]:
    """(height, width) shared by all `paths`, from their headers only (fast, fails early)."""
    size = None
    for path in paths:
        with _opened(path) as image:
            width, height = image.size
        size = size or (height, width)
        _check_size(path, (height, width), paths[0], size)
    if size is None:
        raise ImageFolderError("no images given")
    return size


def _check_size(path: Path, size: tuple[int, int], first: Path, expected: tuple[int, int]) -> None:
    if tuple(size) != tuple(expected):
        raise ImageFolderError(f"{path} is {size[1]}x{size[0]} but {first} is {expected[1]}x{expected[0]} "
                               "(width x height)")


def read_image(path: Path) -> np.ndarray:
    """One image as uint8 HWC RGB (grey and RGBA converted)."""
    with _opened(path) as image:
        return np.asarray(image.convert("RGB"))


def square_resized(image: np.ndarray, size: int, resample: Image.Resampling) -> np.ndarray:
    """uint8 HWC: the centred square of side min(height, width), resized to `size` x `size`."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((size, size), resample))


def iter_image_batches(paths: Sequence[Path], batch_size: int) -> Iterator[np.ndarray]:
    """uint8 NHWC batches of the images in `paths`, in order; all must have one size."""
    size = None
    for start in range(0, len(paths), batch_size):
        images = []
        for path in paths[start : start + batch_size]:
            image = read_image(path)
            size = size or image.shape[:2]
            _check_size(path, image.shape[:2], paths[0], size)
            images.append(image)
        yield np.stack(images)
