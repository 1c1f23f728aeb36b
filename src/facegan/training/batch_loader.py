"""Training batches: which images each iteration trains on, read ahead by a DataLoader.

Batch t of a run is a pure function of the run's seed and t: its rows (drawn with
replacement) and horizontal flips come from a generator seeded with both. So a resumed
run needs no loader state, loader workers can read ahead, and every process knows the
whole global batch (StarGAN's target labels permute it) while reading only its share.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from facegan.training.compute import BatchShare, Compute


def iteration_generator(seed: int, iteration: int) -> torch.Generator:
    """A generator for one iteration's draws, independent of every other iteration's."""
    digest = hashlib.sha256(f"batch {seed} {iteration}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:7], "little"))


class TrainingBatches(Dataset):
    """Item t: this process's share of global batch t from a packed uint8 (N, ..., H, W, C)
    array, as {"images": uint8 tensor, "rows": the global batch's rows (all processes')}.
    Flips mirror every image of an item alike (HiFaceGAN's pairs); `rows` restricts the
    draws to a split without copying it out of the memory map."""

    def __init__(self, images: np.ndarray, share: BatchShare, seed: int, mirror: bool, rows: np.ndarray | None = None):
        self.images, self.batch, self.seed, self.mirror = images, share.size, seed, mirror
        self.positions, self.rows = share.positions.numpy(), rows

    def draw(self, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        """The global batch's rows and flips at `iteration`."""
        generator = iteration_generator(self.seed, iteration)
        count = len(self.images) if self.rows is None else len(self.rows)
        picks = torch.randint(count, (self.batch,), generator=generator).numpy()
        flips = (torch.rand(self.batch, generator=generator) < 0.5).numpy() & self.mirror
        return (picks if self.rows is None else self.rows[picks]), flips

    def __getitem__(self, iteration: int) -> dict[str, torch.Tensor]:
        rows, flips = self.draw(iteration)
        mine, flip = rows[self.positions], flips[self.positions]
        order = np.argsort(mine)  # sorted reads are kinder to a memory-mapped file
        items = np.empty((len(mine), *self.images.shape[1:]), np.uint8)
        items[order] = self.images[mine[order]]
        items[flip] = items[flip][..., ::-1, :]  # (..., H, W, C): mirror the width
        return {"images": torch.from_numpy(items), "rows": torch.from_numpy(rows)}


def batch_loader(batches: TrainingBatches, start: int, total: int, compute: Compute) -> Iterable[dict]:
    """Items `start` .. `total` - 1 in order, read ahead by `compute.loader_workers` processes
    (none: read in this process) into pinned memory when training on CUDA."""
    workers = compute.loader_workers
    return DataLoader(batches, batch_size=None, sampler=range(start, total), num_workers=workers,
                      pin_memory=compute.device.type == "cuda", prefetch_factor=4 if workers else None)
