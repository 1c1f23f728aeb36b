"""StarGAN's CelebA (the official data loader): centre crop, bilinear resize, selected attributes, seeded test split.

The official loader (yunjey/stargan, `data_loader.py`) reads the rows of
`list_attr_celeba.txt` in file order, runs `random.seed(1234); random.shuffle(lines)` and
puts shuffled position i in test when i + 1 < 2000 (the first 1,999 rows), the rest in
train. Labels are the selected attributes as 0/1 floats ("1" -> 1). Images go through
`CenterCrop(178)` and `Resize(128)`, which on PIL images is PIL's bilinear resize.

`prepare_stargan` reproduces that: the crop and resize through the PGAN crop-and-pack
(`facegan.data.celeba.pack`, same strictness and skipping of bad files), then `labels.npy`
and `split.npy` for the kept images, all inside one atomic output folder. A folder of
photos (data.celeba.source: folder) takes the rows of its attribute file in place of
list_attr_celeba.txt's, and with data.celeba.crop: center_square each photo's centred
square in place of the CenterCrop.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from facegan.choices import CELEBA_ATTRIBUTES
from facegan.data.celeba import CELEBA_IMAGE_SIZE, pack, read_listing, square_crop
from facegan.data.packed import read_manifest, write_manifest
from facegan.errors import UserError
from facegan.io import staged
from facegan.stargan.params import StarGANData

STARGAN_SPLITS: tuple[str, ...] = ("train", "test")  # split codes 0, 1


def stargan_split(count: int, test_count: int, seed: int) -> np.ndarray:
    """(count,) uint8 split codes (0 train, 1 test) of the rows of list_attr_celeba.txt, in file order.

    The official `random.seed(seed); random.shuffle(rows)` with the first `test_count`
    shuffled rows in test (official: seed 1234, 1,999). The permutation depends only on
    the length, so shuffling row numbers gives the rows' permutation; a private
    `random.Random(seed)` draws the same sequence as `random.seed(seed)` and leaves the
    global generator alone.
    """
    order = list(range(count))
    random.Random(seed).shuffle(order)
    split = np.zeros(count, np.uint8)
    split[order[:test_count]] = STARGAN_SPLITS.index("test")
    return split


def attribute_labels(values: np.ndarray, attributes: Sequence[str],
                     names: Sequence[str] = CELEBA_ATTRIBUTES) -> np.ndarray:
    """(N, c) float32 0/1 labels of `attributes`, in that order, from +1/-1 `values` whose columns are `names`."""
    columns = [list(names).index(name) for name in attributes]
    return (np.asarray(values)[:, columns] == 1).astype(np.float32)


def center_crop_center(image_size: tuple[int, int], side: int) -> tuple[float, float]:
    """The `crop_center` whose `crop_box` is torchvision's CenterCrop(side) box on (width, height) images.

    torchvision takes left = round((width - side) / 2), top likewise, with Python's round
    (half to even); crop_box(left + side / 2, ...) gives back exactly that left and top.
    """
    left, top = (round((extent - side) / 2) for extent in image_size)
    return left + side / 2, top + side / 2


def prepare_stargan(
    raw_dir: Path, out_dir: Path, data: StarGANData, *, max_bad_fraction: float, workers: int = 1,
    image_size: tuple[int, int] = CELEBA_IMAGE_SIZE, crop: str = "celeba_box",
) -> dict:
    """Crop, resize and pack the labelled images of `raw_dir` for StarGAN into `out_dir`, with
    labels and split; return the manifest.

    Besides `pack`'s files (one `images_{image_size}.npy`, the listing's attributes, its
    partition): `labels.npy` ((N, c) float32 0/1, columns in `data.attributes` order) and
    `split.npy` ((N,) uint8, 0 train, 1 test), both for the kept images. The split is drawn
    over all listed rows, as the official code does, then restricted to the kept ones, so a
    skipped file never moves another image between train and test. `crop` is
    data.celeba.crop: celeba_box is torchvision's CenterCrop(data.crop_size) of images of
    `image_size` (data.celeba.image_size); center_square each image's centred square.
    """
    width, height = image_size
    if crop == "celeba_box" and data.crop_size > min(width, height):
        raise UserError(f"stargan.data.crop_size = {data.crop_size} does not fit the {width}x{height} aligned images")
    listing = read_listing(raw_dir, data.attributes)
    files = listing.files
    if data.test_count >= len(files):
        raise UserError(
            f"stargan.data.test_count = {data.test_count} leaves none of the {len(files)} listed images for training"
        )
    split = stargan_split(len(files), data.test_count, data.split_seed)
    labels = attribute_labels(listing.values, data.attributes, listing.attributes)
    square = square_crop(crop, crop_center=center_crop_center(image_size, data.crop_size), crop_size=data.crop_size,
                         image_size=image_size, resize=data.image_size)
    # Nested staging: pack's finished folder replaces our empty staging folder,
    # the labels and split join it, and only the whole then replaces out_dir.
    with staged(out_dir, folder=True) as staging:
        manifest = pack(listing, staging, square, [data.image_size], max_bad_fraction=max_bad_fraction,
                        workers=workers)
        row = {name: index for index, name in enumerate(files)}
        kept = np.array([row[name] for name in manifest["files"]], np.int64)
        np.save(staging / "labels.npy", labels[kept])
        np.save(staging / "split.npy", split[kept])
        manifest["stargan"] = {
            "attributes": list(data.attributes),
            "split_seed": data.split_seed,
            "test_count": data.test_count,
            "split_counts": {name: int((split[kept] == code).sum()) for code, name in enumerate(STARGAN_SPLITS)},
        }
        write_manifest(staging, manifest)
    return manifest


PREPARE_STAGE = "prepare_stargan"
RUN_PREPARE = f"run the {PREPARE_STAGE} stage (dvc repro {PREPARE_STAGE})"


@dataclass(frozen=True)
class PreparedStarGAN:
    """A folder written by `prepare_stargan`: memory-mapped images, labels, split and manifest."""

    root: Path
    manifest: dict
    images: np.ndarray  # (N, S, S, 3) uint8 memmap
    labels: np.ndarray  # (N, c) float32 0/1, columns as attribute_names
    split: np.ndarray  # (N,) uint8: 0 train, 1 test

    @property
    def attribute_names(self) -> list[str]:
        return self.manifest["stargan"]["attributes"]

    def indices(self, split: str) -> np.ndarray:
        """Row numbers of `split` ('train' or 'test')."""
        if split not in STARGAN_SPLITS:
            raise ValueError(f"split must be one of {STARGAN_SPLITS}, got {split!r}")
        return np.flatnonzero(self.split == STARGAN_SPLITS.index(split))


def load_stargan(out_dir: Path) -> PreparedStarGAN:
    """Open a folder written by `prepare_stargan` (images memory-mapped)."""
    root = Path(out_dir)
    manifest = read_manifest(root, PREPARE_STAGE)
    if "stargan" not in manifest:
        raise UserError(f"{root} was not prepared for StarGAN: {RUN_PREPARE} first")
    paths = [root / f"images_{manifest['resolutions'][0]}.npy", root / "labels.npy", root / "split.npy"]
    missing = [path.name for path in paths if not path.exists()]
    if missing:
        raise UserError(f"{root} lacks {', '.join(missing)}: {RUN_PREPARE} first")
    images, labels, split = np.load(paths[0], mmap_mode="r"), np.load(paths[1]), np.load(paths[2])
    if not len(images) == len(labels) == len(split) or labels.shape[1:] != (len(manifest["stargan"]["attributes"]),):
        raise UserError(
            f"{root}: images {images.shape}, labels {labels.shape} and split {split.shape} disagree: "
            f"{RUN_PREPARE} again"
        )
    return PreparedStarGAN(root=root, manifest=manifest, images=images, labels=labels, split=split)
