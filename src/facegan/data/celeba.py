"""CelebA crop and pack: the "celeba_cropped" preprocessing of PGAN (official `dataset_tool.py`).

Each aligned 178x218 image is cropped to the 128 px box centred at x 89, y 121 (rows
57..184, columns 25..152) and reduced by exact box averaging to every power-of-two
resolution down to 4. Like the official `dataset_tool.py`, which keeps the running
average in float32 and quantises each level once with `np.rint`, every level here is the
exact mean of its block of crop pixels rounded half to even; integer block sums give
bit-identical results without float error. The output is one memory-mappable uint8 NHWC
`.npy` per resolution, the attributes, the partition and a manifest, which
`facegan.data.prepared_celeba` reads.

The other crop, `center_square` (data.celeba.crop), takes photos of any size, as
stylegan3's `dataset_tool.py --transform=center-crop` does: each photo, turned upright by
its EXIF orientation, gives its largest centred square (left = (width - side) // 2, top
likewise), which PIL's Lanczos filter resizes to `crop_size` when it is another size;
the pyramid is then reduced from that square exactly as from the box.

The same machinery serves StarGAN (`facegan.stargan.data`): each crop is resized once
with PIL's bilinear filter, as torchvision's `T.Resize` does on PIL images, and that single
resolution is packed.

What is packed is a `Listing`: CelebA's (every image of `list_attr_celeba.txt`, which must
exist: a missing file is a broken download, reported with its line before anything is
decoded), or a folder source's (`facegan.data.folder`). A file that is present but
unusable (truncated, not an image, of another size than the CelebA box needs) is skipped
and recorded, up to `max_bad_fraction` of the listing.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageOps

from facegan.data.celeba_params import CROPS
from facegan.data.celeba_format import (
    CELEBA_ATTR, CELEBA_IMAGES, CELEBA_PARTITION, SPLITS, attribute_columns, read_attributes, read_partition,
)  # fmt: skip
from facegan.data.decode import Unusable, decode_file
from facegan.data.folder import FOLDER_CSV, FOLDER_IMAGES, list_images, read_attribute_csv
from facegan.data.packed import truncate_npy, write_manifest
from facegan.data.parallel import ordered_map
from facegan.digests import file_digest
from facegan.errors import UserError
from facegan.io import staged
from facegan.progress import progress

log = logging.getLogger(__name__)

CELEBA_IMAGE_SIZE = (178, 218)  # width, height of img_align_celeba
CHUNK = 256  # images decoded and reduced together
OTHER_SIZE = re.compile(r"size (\d+x\d+), expected")  # how `_CropLoader` skips an image of another size


class BadImagesError(UserError):
    """More unusable source images than `max_bad_fraction` allows."""


class MissingImagesError(UserError):
    """Images listed in list_attr_celeba.txt that are not on disk; `missing` holds (line, file name)."""

    def __init__(self, message: str, missing: list[tuple[int, str]]):
        super().__init__(message)
        self.missing = missing


def crop_box(center_x: float, center_y: float, side: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), right/bottom exclusive, of the `side` square about the centre.

    left = floor(center_x - side / 2 + 0.5), i.e. rounded half up: (89, 121, 128) gives
    (25, 57, 153, 185); the half-resolution box (44.5, 60.5, 64) gives (13, 29, 77, 93).
    """
    left, top = (math.floor(c - side / 2 + 0.5) for c in (center_x, center_y))
    return left, top, left + side, top + side


def pyramid(images: np.ndarray, resolutions: Iterable[int]) -> dict[int, np.ndarray]:
    """{resolution: images reduced to it}; one pass of 2x2 block sums, each level rounded once (exact)."""
    wanted = sorted(set(resolutions), reverse=True)
    size, count, sums = images.shape[-2], 1, images.astype(np.uint32)
    levels = {}
    while wanted and size >= wanted[-1]:
        if size == wanted[0]:
            levels[wanted.pop(0)] = _rounded_mean(sums, count)
        elif size % 2:
            break
        sums, size, count = _sum_2x2(sums), size // 2, count * 4
    if wanted:
        raise ValueError(f"cannot reduce {images.shape[-2]} px images to {wanted} by halving")
    return levels


def _sum_2x2(sums: np.ndarray) -> np.ndarray:
    return sums[..., 0::2, 0::2, :] + sums[..., 0::2, 1::2, :] + sums[..., 1::2, 0::2, :] + sums[..., 1::2, 1::2, :]


def _rounded_mean(sums: np.ndarray, count: int) -> np.ndarray:
    """sums / count rounded half to even, as np.rint rounds the official float means."""
    quotient, remainder = np.divmod(sums, count)
    round_up = (2 * remainder > count) | ((2 * remainder == count) & (quotient % 2 == 1))
    return (quotient + round_up).astype(np.uint8)


def prepared_resolutions(crop_size: int, resolution: int) -> list[int]:
    """[4, 8, ..., resolution]; `resolution` must be `crop_size` / 2^k and at least 4."""
    if resolution < 4 or crop_size % resolution or (crop_size // resolution) & (crop_size // resolution - 1):
        raise UserError(
            f"data.celeba.resolution = {resolution}: must be crop_size ({crop_size}) / 2^k and at least 4"
        )
    return [4 << k for k in range(int(math.log2(resolution // 4)) + 1)]


RE_DOWNLOAD = (f"Re-download the images (re-run the download stage), or remove their rows from {CELEBA_ATTR} "
               "and lower the count on its first line.")
FIX_ATTRIBUTE_FILE = ("Its first column holds each photo's path relative to data.celeba.folder, with / between "
                      "subfolders (such as {example}): correct or remove those rows in data.celeba.attributes_file, "
                      "then copy it in again: dvc repro -f download_celeba.")
NO_ATTRIBUTES = (
    "{folder} holds photos but no attributes (data.celeba.source: folder with data.celeba.attributes_file empty), "
    "and StarGAN learns to edit attributes: set data.celeba.attributes_file to a CSV of them (a file column, then one "
    "column of 1 or 0 per attribute; docs/data.md, \"Your own folder of faces\") and name its columns in "
    "stargan.data.attributes. To train PGAN alone: dvc repro evaluate_pgan."
)


@dataclass(frozen=True)
class Listing:
    """The images a prepare stage packs, in this order, and what is known of each."""

    dataset: str  # "celeba" (CelebA's layout) or "folder" (the folder source's)
    folder: Path  # the images' folder; `files` are paths relative to it
    files: list[str]
    attributes: list[str]  # the names of the columns of `values`
    values: np.ndarray  # (N, len(attributes)) int8, +1 / -1
    partition: np.ndarray  # (N,) uint8 split codes: 0 train, 1 val, 2 test
    sha256: dict[str, str]  # of the annotation files, by name


def read_listing(raw_dir: Path, attributes: Sequence[str] | None = None) -> Listing:
    """What the download stage brought into `raw_dir`: CelebA's layout, or a folder of photos.

    CelebA lists the images of list_attr_celeba.txt with its 40 attributes; with
    `attributes` (StarGAN's), those must be among them, which is checked before anything is
    read. A folder lists all its photos, with no attributes (PGAN); with `attributes`, the
    photos of its attribute file, whose columns must include them (the CSV's values are
    those columns alone).
    """
    raw_dir = Path(raw_dir)
    if (raw_dir / FOLDER_IMAGES).is_dir():
        return _folder_listing(raw_dir, attributes)
    if attributes is not None:
        attribute_columns(attributes)
    if not (raw_dir / CELEBA_ATTR).exists():
        raise UserError(f"{raw_dir} holds neither CelebA's {CELEBA_ATTR} nor a folder source's {FOLDER_IMAGES}/: "
                        "run the download stage (dvc repro download_celeba)")
    names, files, values = read_attributes(raw_dir / CELEBA_ATTR)
    splits = _partition_codes(raw_dir / CELEBA_PARTITION, files)
    folder = raw_dir / CELEBA_IMAGES
    if not folder.is_dir():
        raise UserError(f"{folder} is missing: re-run the download stage (dvc repro download_celeba)")
    _check_listed_images_exist(raw_dir / CELEBA_ATTR, files, _row_lines(files), set(os.listdir(folder)), folder,
                               RE_DOWNLOAD)  # one directory read rather than a stat per image
    sha256 = {name: file_digest(raw_dir / name, "sha256") for name in (CELEBA_ATTR, CELEBA_PARTITION)}
    return Listing("celeba", folder, files, names, values, splits, sha256)


def _folder_listing(raw_dir: Path, attributes: Sequence[str] | None) -> Listing:
    folder = raw_dir / FOLDER_IMAGES
    images, _ = list_images(folder)
    if not images:
        raise UserError(f"{folder} holds no photo: re-run the download stage (dvc repro -f download_celeba)")
    if attributes is None:
        return Listing("folder", folder, images, [], np.zeros((len(images), 0), np.int8),
                       np.zeros(len(images), np.uint8), {})
    path = next((raw_dir / name for name in (FOLDER_CSV, CELEBA_ATTR) if (raw_dir / name).exists()), None)
    if path is None:
        raise UserError(NO_ATTRIBUTES.format(folder=folder))
    if path.name == FOLDER_CSV:
        names, (files, lines, values) = list(attributes), read_attribute_csv(path, attributes)
    else:  # CelebA's format
        attribute_columns(attributes)
        names, files, values = read_attributes(path)
        lines = _row_lines(files)
    _check_listed_images_exist(path, files, lines, set(images), folder,
                               FIX_ATTRIBUTE_FILE.format(example=images[0]))
    if len(files) < len(images):
        log.warning("%d of the %d photos in %s have no row in %s: StarGAN leaves them out",
                    len(images) - len(files), len(images), folder, path.name)
    return Listing("folder", folder, files, names, values, np.zeros(len(files), np.uint8),
                   {path.name: file_digest(path, "sha256")})


def _row_lines(files: list[str]) -> list[int]:
    """The line of each row of list_attr_celeba.txt: row k (from 0) is line k + 3, after the count and names lines."""
    return list(range(3, len(files) + 3))


def square_crop(
    crop: str, *, crop_center: Sequence[float], crop_size: int, image_size: tuple[int, int], resize: int | None = None,
) -> SquareCrop:
    """The square that data.celeba.crop takes of each image, and its record in the manifest.

    celeba_box: the `crop_size` box about `crop_center` on images of `image_size` (others are
    skipped); center_square: each image's largest centred square. Then, with `resize`
    (StarGAN), PIL's bilinear resize to it; without, a centred square of another side than
    `crop_size` is resized to it with PIL's Lanczos filter.
    """
    if crop == "celeba_box":
        box = crop_box(*crop_center, crop_size)
        if box[0] < 0 or box[1] < 0 or box[2] > image_size[0] or box[3] > image_size[1]:
            raise UserError(f"crop box {box} (data.celeba.crop_center/crop_size) does not fit {image_size} images")
        record = {"center": list(crop_center), "size": crop_size, "box": list(box), "image_size": list(image_size)}
    elif crop == "center_square":
        box, record = None, {"mode": crop}
    else:
        raise UserError(f"data.celeba.crop = {crop!r}: must be one of {', '.join(CROPS)}")
    side, resample = (resize, Image.Resampling.BILINEAR) if resize else (crop_size, Image.Resampling.LANCZOS)
    if resize or box is None:  # PGAN's box is not resized, and its manifest stays as it was
        record["resize"] = {"size": side, "filter": f"{resample.name.lower()} (PIL)"}
    return SquareCrop(box, tuple(image_size), side, resample, record)


def prepare_celeba(
    raw_dir: Path,
    out_dir: Path,
    *,
    crop: str = "celeba_box",
    crop_center: Sequence[float] = (89, 121),
    crop_size: int = 128,
    resolution: int,
    max_bad_fraction: float,
    image_size: tuple[int, int] = CELEBA_IMAGE_SIZE,
    workers: int = 1,
) -> dict:
    """Crop, reduce and pack the images of `raw_dir` (CelebA's layout or a folder's) into `out_dir` for PGAN:
    the squares of `square_crop`, exactly box-reduced to 4, 8, ..., `resolution`. Return the manifest."""
    resolutions = prepared_resolutions(crop_size, resolution)
    square = square_crop(crop, crop_center=crop_center, crop_size=crop_size, image_size=image_size)
    return pack(read_listing(raw_dir), out_dir, square, resolutions, max_bad_fraction=max_bad_fraction,
                workers=workers)


def pack(listing: Listing, out_dir: Path, square: SquareCrop, resolutions: list[int], *, max_bad_fraction: float,
         workers: int = 1) -> dict:
    """Pack the `square` of each listed image, reduced to each of `resolutions`, into `out_dir`; return the manifest.

    Unreadable, truncated, non-image or wrong-size files are skipped and listed in the
    manifest with the reason; more than `max_bad_fraction` of them is a BadImagesError.
    """
    files = listing.files
    with staged(out_dir, folder=True) as staging:
        packer = _Packer(staging, len(files), resolutions, max_bad_fraction)
        loader = _CropLoader(listing.folder, square)
        chunks = [files[start : start + CHUNK] for start in range(0, len(files), CHUNK)]
        results = ordered_map(loader.load_chunk, chunks, workers)
        for chunk in progress(results, total=len(chunks), desc=f"prepare {listing.dataset} ({CHUNK} images/step)"):
            packer.add(chunk)
        kept = packer.close()
        np.save(staging / "attributes.npy", listing.values[kept])
        np.save(staging / "partition.npy", listing.partition[kept])
        manifest = {
            "dataset": listing.dataset,
            "crop": square.record,
            "resolutions": resolutions,
            "attributes": listing.attributes,
            **packer.summary(files, listing.partition[kept]),
            "sha256": listing.sha256 | {listing.folder.name: packer.images_sha256.hexdigest()},
        }
        write_manifest(staging, manifest)
    return manifest


def _check_listed_images_exist(listing: Path, files: list[str], lines: list[int], present: set[str], folder: Path,
                               fix: str, shown: int = 5) -> None:
    """Raise MissingImagesError, naming lines and files, when images that `listing` lists are not `present`."""
    missing = [(line, name) for line, name in zip(lines, files) if name not in present]
    if missing:
        first = ", ".join(f"line {line} ({name})" for line, name in missing[:shown])
        more = f" and {len(missing) - shown} more" if len(missing) > shown else ""
        raise MissingImagesError(
            f"{listing} lists {len(missing)} of {len(files)} images that are not in {folder}: {first}{more}. {fix}",
            missing,
        )


def _partition_codes(path: Path, files: list[str]) -> np.ndarray:
    if not path.exists():
        raise UserError(f"{path} is missing: re-run the download stage, which writes one")
    partition = read_partition(path)
    missing = [name for name in files if name not in partition]
    if missing:
        raise UserError(f"{path}: {len(missing)} images of {CELEBA_ATTR} have no split, e.g. {missing[0]}")
    return np.array([partition[name] for name in files], np.uint8)


@dataclass(frozen=True)
class SquareCrop:
    """How an image becomes a `side` x `side` square (`square_crop`)."""

    box: tuple[int, int, int, int] | None  # the box on images of `image_size`; None: each image's centred square
    image_size: tuple[int, int]
    side: int
    resample: Image.Resampling  # the filter that brings a square of another side to `side`
    record: dict  # what the manifest says of it

    def __call__(self, image: Image.Image) -> Image.Image:
        """The RGB square of a decoded `image` (of `image_size` when there is a box)."""
        if self.box is None:
            image = ImageOps.exif_transpose(image)  # the photo as a viewer shows it
        square = image.crop(self.box or center_square(*image.size)).convert("RGB")
        return square if square.size == (self.side, self.side) else square.resize((self.side, self.side), self.resample)


def center_square(width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest square centred in a `width` x `height` image,
    its margins rounded down (stylegan3's `dataset_tool.py`): 300x200 gives (50, 0, 250, 200)."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


@dataclass(frozen=True)
class _LoadedChunk:
    files: list[str]
    crops: np.ndarray  # (kept, side, side, 3) uint8
    kept: list[int]  # positions within the chunk of the crops
    bad: list[tuple[int, str]]  # (position, reason)
    digests: list[bytes]  # sha256 of each file's bytes, empty when unreadable


@dataclass(frozen=True)
class _CropLoader:
    folder: Path
    square: SquareCrop

    def load_chunk(self, files: list[str]) -> _LoadedChunk:
        crops, kept, bad, digests = [], [], [], []
        for position, name in enumerate(files):
            crop, reason, digest = self.load(name)
            digests.append(digest)
            if crop is None:
                bad.append((position, reason))
            else:
                crops.append(crop)
                kept.append(position)
        side = self.square.side
        return _LoadedChunk(files, np.array(crops, np.uint8).reshape(-1, side, side, 3), kept, bad, digests)

    def load(self, name: str) -> tuple[np.ndarray | None, str, bytes]:
        """(crop, "", sha256 digest) or (None, why it is unusable, digest)."""
        return decode_file(self.folder / name, self._crop)

    def _crop(self, image: Image.Image) -> np.ndarray:
        """The square of an opened image; one of another size than the box needs is unusable."""
        size = self.square.image_size
        if self.square.box is not None and image.size != size:
            raise Unusable(f"size {image.width}x{image.height}, expected {size[0]}x{size[1]}")
        image.load()  # decodes fully: a truncated JPEG raises here
        return np.asarray(self.square(image))


class _Packer:
    """Writes kept crops, reduced to every resolution (resized ones as they are), into `images_{res}.npy` memmaps."""

    def __init__(self, folder: Path, capacity: int, resolutions: list[int], max_bad_fraction: float):
        self.paths = {res: folder / f"images_{res}.npy" for res in resolutions}
        self.arrays = {
            res: np.lib.format.open_memmap(path, "w+", np.uint8, (capacity, res, res, 3))
            for res, path in self.paths.items()
        }
        self.capacity, self.max_bad_fraction = capacity, max_bad_fraction
        self.kept: list[int] = []  # listing index of each packed image
        self.skipped: list[dict[str, str]] = []
        self.seen = 0
        # sha256 over the per-file sha256 digests, in listing order: the source's fingerprint.
        self.images_sha256 = hashlib.sha256()

    def add(self, chunk: _LoadedChunk) -> None:
        start = len(self.kept)
        for res, images in pyramid(chunk.crops, self.arrays).items():
            self.arrays[res][start : start + len(images)] = images
        self.kept += [self.seen + position for position in chunk.kept]
        self.skipped += [{"file": chunk.files[position], "reason": reason} for position, reason in chunk.bad]
        for digest in chunk.digests:
            self.images_sha256.update(digest)
        self.seen += len(chunk.files)
        if len(self.skipped) > self.max_bad_fraction * self.capacity:
            raise BadImagesError(self._too_many_message())

    def _too_many_message(self) -> str:
        first = "; ".join(f"{entry['file']} ({entry['reason']})" for entry in self.skipped[:5])
        message = (f"{len(self.skipped)} of the first {self.seen} of {self.capacity} listed images are unusable, more "
                   f"than data.celeba.max_bad_fraction = {self.max_bad_fraction} allows. First: {first}. ")
        sizes = Counter(match.group(1) for entry in self.skipped if (match := OTHER_SIZE.match(entry["reason"])))
        if sum(sizes.values()) * 2 <= len(self.skipped):  # mostly damaged files, not photos of another size
            return message + "Fix or re-download the raw data, or raise data.celeba.max_bad_fraction."
        width, height = sizes.most_common(1)[0][0].split("x")
        return message + (
            f"{sum(sizes.values())} of them are of another size than data.celeba.image_size: for photos of "
            f"{width}x{height}, set data.celeba.image_size: [{width}, {height}] and a face box inside them, "
            "data.celeba.crop_center and crop_size (PGAN; StarGAN: stargan.data.crop_size); for photos of any "
            "size, data.celeba.crop: center_square takes the centred square of each. docs/data.md says more."
        )

    def close(self) -> np.ndarray:
        """Flush the arrays, cut them to the kept count, return the kept listing indices."""
        for array in self.arrays.values():
            array.flush()
        self.arrays.clear()  # drops the last references: the maps close before the files shrink
        for path in self.paths.values():
            truncate_npy(path, len(self.kept))
        return np.array(self.kept, np.int64)

    def summary(self, files: list[str], kept_splits: np.ndarray) -> dict:
        counts = {"listed": len(files), "kept": len(self.kept), "skipped": len(self.skipped)}
        counts |= {split: int((kept_splits == code).sum()) for code, split in enumerate(SPLITS)}
        return {"counts": counts, "files": [files[index] for index in self.kept], "skipped": self.skipped}
