"""Folders of PNG/JPEG images read as uint8 NHWC RGB batches, for the metrics CLI.

Files are taken from the folder itself (not sub-folders), sorted by file name, so a
`--limit N` and the MS-SSIM pairing are repeatable. Every error names the file.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from facegan.errors import UserError

SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageFolderError(UserError, ValueError):
    """A folder without images, or an image that cannot be read or has another size."""


def list_images(directory: Path) -> list[Path]:
    """The PNG/JPEG files directly in `directory`, sorted by name; raises if there are none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ImageFolderError(f"{directory} is not a folder")
    paths = sorted((p for p in directory.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()),
                   key=lambda p: p.name)
    if not paths:
        raise ImageFolderError(f"no PNG or JPEG images in {directory}")
    return paths


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
        raise ImageFolderError(f"{path} is {size[0]}x{size[1]} (HxW) but {first} is {expected[0]}x{expected[1]}")


def read_image(path: Path) -> np.ndarray:
    """One image as uint8 HWC RGB (grey and RGBA converted)."""
    with _opened(path) as image:
        return np.asarray(image.convert("RGB"))


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
