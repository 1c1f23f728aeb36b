"""A prepared CelebA folder, as `facegan.data.celeba.prepare_celeba` writes it, read: the
images of each resolution memory-mapped, the attributes, the partition, the manifest.

Apart from the writer so that PGAN's train and evaluate stages, which only read the
arrays, do not depend on the decoding and cropping that made them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facegan.data.celeba_format import SPLITS
from facegan.data.packed import read_manifest
from facegan.errors import UserError


@dataclass(frozen=True)
class PreparedCelebA:
    """A prepared CelebA folder: memory-mapped images per resolution, labels and manifest."""

    root: Path
    manifest: dict
    attributes: np.ndarray  # (N, A) int8, +1 / -1, columns as manifest["attributes"] (CelebA's 40; a folder's none)
    partition: np.ndarray  # (N,) uint8: 0 train, 1 val, 2 test

    @property
    def attribute_names(self) -> list[str]:
        return self.manifest["attributes"]

    def indices(self, split: str | None = None) -> np.ndarray:
        """Row numbers of `split` ('train', 'val', 'test'; None = all)."""
        if split is None:
            return np.arange(len(self.partition))
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        return np.flatnonzero(self.partition == SPLITS.index(split))

    def images(self, resolution: int, split: str | None = None) -> np.ndarray:
        """uint8 NHWC images of `split` at `resolution`: a memmap view when the split is contiguous.

        CelebA's official split is contiguous in file order, so no copy is made for it;
        a scattered split is gathered into memory.
        """
        if resolution not in self.manifest["resolutions"]:
            raise UserError(
                f"{self.root} holds resolutions {self.manifest['resolutions']}, not {resolution}: "
                "raise data.celeba.resolution and prepare again"
            )
        images = np.load(self.root / f"images_{resolution}.npy", mmap_mode="r")
        if split is None:
            return images
        rows = self.indices(split)
        if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
            return images[rows[0] : rows[-1] + 1]
        return images[rows]


def load_prepared(out_dir: Path) -> PreparedCelebA:
    """Open a folder written by `prepare_celeba` (arrays memory-mapped, nothing read eagerly)."""
    root = Path(out_dir)
    return PreparedCelebA(
        root=root,
        manifest=read_manifest(root, "prepare_celeba"),
        attributes=np.load(root / "attributes.npy", mmap_mode="r"),
        partition=np.load(root / "partition.npy"),
    )
