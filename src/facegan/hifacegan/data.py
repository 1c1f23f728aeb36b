"""HiFaceGAN's degradations with imgaug, and the packed (degraded, clean) pairs (the
official HiFaceGAN code's five degradation types).

Five types, with the reference's parameter ranges (HiFaceGAN's degradation scripts, which
degrade 512 px faces):

- `down`: resize by one factor in [0.125, 0.25], then back to the training size (cubic);
- `noise`: one of Gaussian (scale 20-40), Laplace (scale 20-40), Poisson (lambda 15-30),
  each drawn per channel;
- `blur`: one of motion blur (kernel 10-20 px) and Gaussian blur (sigma 3-8 px);
- `jpeg`: JPEG compression 50-85 (imgaug's scale: quality 17-51);
- `full`: blur, noise, jpeg and down, all four, in random order.

The blur's ranges are lengths in pixels of a 512 px face. With `scale_ranges` they are
scaled by size / 512, so a smaller face is blurred over the same fraction of itself (at
512 px exactly the reference's ranges; a motion kernel is at least 3 px); without it
they apply in pixels of whatever size the faces are. The other ranges have no length:
`down`'s factors are fractions of the size, noise and JPEG act per pixel and per block.

Every image is first resized to the training size (the centred square, Lanczos), then
degraded by an augmenter seeded from the run's seed and the image's name alone
(`image_entropy`). So the same params give byte-identical pairs on any machine, with any
number of workers, and `facegan degrade` on a file reproduces the stage's pair for it.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from facegan.data.decode import decode_file
from facegan.data.packed import read_manifest, truncate_npy, write_manifest
from facegan.data.parallel import ordered_map
from facegan.errors import UserError
from facegan.hifacegan.params import DEGRADATIONS
from facegan.images import square_resized
from facegan.io import staged
from facegan.progress import progress

FFHQ_SPLITS = ("train", "test")
CHUNK = 16  # images per worker task: large enough to amortise the pickling, small for a smooth bar


REFERENCE_SIZE = 512  # the face size the reference's ranges are given for
MOTION_KERNEL, GAUSSIAN_SIGMA = (10, 20), (3.0, 8.0)  # the reference's blur ranges, pixels at 512


def blur_ranges(size: int, scale_ranges: bool) -> tuple[tuple[int, int], tuple[float, float]]:
    """The motion-blur kernel and Gaussian-blur sigma ranges for `size` px faces."""
    factor = size / REFERENCE_SIZE if scale_ranges else 1.0
    kernel = tuple(max(3, round(k * factor)) for k in MOTION_KERNEL)
    return kernel, (GAUSSIAN_SIGMA[0] * factor, GAUSSIAN_SIGMA[1] * factor)


def build_degradation(kind: str, size: int, scale_ranges: bool = False):
    """The imgaug augmenter of one degradation type for `size` x `size` images (unseeded)."""
    import imgaug.augmenters as iaa  # imported here: only the degradation needs it (and it is slow)

    def down():
        return iaa.Sequential([iaa.Resize((0.125, 0.25)), iaa.Resize({"height": size, "width": size})])

    def noise():
        return iaa.OneOf([
            iaa.AdditiveGaussianNoise(scale=(20, 40), per_channel=True),
            iaa.AdditiveLaplaceNoise(scale=(20, 40), per_channel=True),
            iaa.AdditivePoissonNoise(lam=(15, 30), per_channel=True),
        ])  # fmt: skip

    def blur():
        kernel, sigma = blur_ranges(size, scale_ranges)
        return iaa.OneOf([iaa.MotionBlur(k=kernel), iaa.GaussianBlur(sigma=sigma)])

    def jpeg():
        return iaa.JpegCompression(compression=(50, 85))

    if kind == "full":
        return iaa.Sequential([blur(), noise(), jpeg(), down()], random_order=True)
    makers = {"down": down, "noise": noise, "blur": blur, "jpeg": jpeg}
    if kind not in makers:
        raise UserError(f"degradation {kind!r}: must be one of {', '.join(DEGRADATIONS)}")
    return makers[kind]()


@functools.lru_cache(maxsize=4)
def _augmenter(kind: str, size: int, scale_ranges: bool):
    return build_degradation(kind, size, scale_ranges)  # one per process: building costs more than using


def image_entropy(seed: int, name: str) -> int:
    """The seed of one image's degradation, from the run's seed and the image's name."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:8], "little")


@dataclass(frozen=True)
class Degrader:
    """Resize to the training size, then degrade: `pair(name, image)` -> (degraded, clean)."""

    kind: str
    size: int
    seed: int
    scale_ranges: bool  # the blur's ranges times size / 512 (`blur_ranges`)

    def pair(self, name: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        clean = square_resized(image, self.size, Image.Resampling.LANCZOS)
        augmenter = _augmenter(self.kind, self.size, self.scale_ranges)
        augmenter.seed_(image_entropy(self.seed, name))
        return augmenter(image=clean), clean

    def load_pairs(self, items: Sequence[tuple[str, Path]]) -> list[tuple[np.ndarray | None, str, bytes]]:
        """(pair stacked (2, S, S, 3) or None, why it is unusable, sha256 of the file) per (name, path)."""
        results = []
        for name, path in items:
            image, reason, digest = decode_file(path, lambda opened: np.asarray(opened.convert("RGB")))
            results.append((None if image is None else np.stack(self.pair(name, image)), reason, digest))
        return results


def degrade_files(paths: Sequence[Path], degrader: Degrader,
                  workers: int) -> Iterator[tuple[Path, np.ndarray | None, str]]:
    """(path, (2, S, S, 3) degraded and clean or None, why unusable) for each file, in order;
    each file's degradation is seeded by its name without the suffix."""
    chunks = [list(paths[start : start + CHUNK]) for start in range(0, len(paths), CHUNK)]
    loaded = ordered_map(degrader.load_pairs, [[(p.stem, p) for p in chunk] for chunk in chunks], workers, True)
    for chunk, results in progress(zip(chunks, loaded), total=len(chunks), desc=f"degrade ({CHUNK} images/step)"):
        for path, (pair, reason, _) in zip(chunk, results):
            yield path, pair, reason


def degrade_ffhq(images: dict[str, dict[str, Path]], out_dir: Path, degrader: Degrader, *,
                 max_bad_fraction: float, workers: int, sources_sha256: dict[str, str] | None = None) -> dict:
    """Pack the pairs of `images` ({split: {name: path}}, names in order) into `out_dir`:
    `<split>.npy` of shape (N, 2, S, S, 3) uint8 ([:, 0] degraded, [:, 1] clean) and a
    manifest. Unusable files are skipped and listed; more than `max_bad_fraction` of
    them stops the stage."""
    total = sum(len(named) for named in images.values())
    skipped: list[dict[str, str]] = []
    kept: dict[str, list[str]] = {}
    images_sha256 = hashlib.sha256()
    with staged(out_dir, folder=True) as staging:
        for split, named in images.items():
            items = list(named.items())
            path = staging / f"{split}.npy"
            packed = np.lib.format.open_memmap(path, "w+", np.uint8, (len(items), 2, degrader.size, degrader.size, 3))
            chunks = [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]
            kept[split] = []
            results = ordered_map(degrader.load_pairs, chunks, workers, processes=True)
            for chunk, loaded in progress(zip(chunks, results), total=len(chunks),
                                          desc=f"degrade FFHQ {split} ({CHUNK} images/step)"):
                for (name, _), (pair, reason, digest) in zip(chunk, loaded):
                    images_sha256.update(digest)
                    if pair is None:
                        skipped.append({"file": name, "reason": reason})
                    else:
                        packed[len(kept[split])] = pair
                        kept[split].append(name)
                if len(skipped) > max_bad_fraction * total:
                    raise UserError(_too_many_bad(skipped, total, max_bad_fraction))
            packed.flush()
            del packed
            truncate_npy(path, len(kept[split]))
        manifest = {
            "dataset": "ffhq",
            "degradation": {"type": degrader.kind, "seed": degrader.seed, "library": imgaug_version(),
                            "scale_ranges": degrader.scale_ranges,
                            "per_image_seed": "sha256(f'{seed}/{name}')[:8], little-endian"},
            "image_size": degrader.size,
            "resize": "centred square, Lanczos (PIL)",
            "layout": "<split>.npy: (N, 2, S, S, 3) uint8, [:, 0] degraded, [:, 1] clean",
            "counts": {split: len(names) for split, names in kept.items()} | {"skipped": len(skipped)},
            "files": kept,
            "skipped": skipped,
            "sha256": {"images": images_sha256.hexdigest(), **(sources_sha256 or {})},
        }
        write_manifest(staging, manifest)
    return manifest


def _too_many_bad(skipped: list[dict[str, str]], total: int, max_bad_fraction: float) -> str:
    first = "; ".join(f"{entry['file']} ({entry['reason']})" for entry in skipped[:5])
    return (f"{len(skipped)} of {total} FFHQ images are unusable, more than hifacegan.data.max_bad_fraction = "
            f"{max_bad_fraction} allows. First: {first}. Fix or re-download the raw data, or raise the fraction.")


def imgaug_version() -> str:
    import imgaug

    return f"imgaug {imgaug.__version__}"


@dataclass(frozen=True)
class PreparedFFHQ:
    """A folder written by `degrade_ffhq`: memory-mapped pairs per split and the manifest."""

    root: Path
    manifest: dict
    pairs: dict[str, np.ndarray]  # split -> (N, 2, S, S, 3) uint8 memmap

    @property
    def image_size(self) -> int:
        return self.manifest["image_size"]


def load_ffhq_pairs(out_dir: Path) -> PreparedFFHQ:
    root = Path(out_dir)
    manifest = read_manifest(root, "degrade_ffhq")
    pairs = {split: np.load(root / f"{split}.npy", mmap_mode="r") for split in manifest["files"]}
    return PreparedFFHQ(root, manifest, pairs)
