"""Sliced Wasserstein distance between two image sets, per Laplacian pyramid level.

Karras et al., "Progressive Growing of GANs", ICLR 2018, section 5.1 and appendix D;
protocol of the official `metrics/sliced_wasserstein.py`:

- uint8 images; Laplacian pyramid with the 5x5 binomial kernel [1,4,6,4,1] x [1,4,6,4,1]
  / 256 and mirror padding (scipy 'mirror' = torch 'reflect' = cv2 BORDER_REFLECT_101);
  down = blur, keep every 2nd pixel; up = zero-stuff, blur with 4x the kernel. Levels from
  the image resolution halving down to 16 px (while the size is even), the last one the
  Gaussian residual; images under 32 px give one level, the image itself.
- 128 random 7x7x3 patches (147-d descriptors) per image and level, centres uniform over
  every position where the whole patch fits.
- Each set normalised on its own: per-channel mean and (population) std over all its
  descriptors and pixels. A zero std (a constant level) is taken as 1, where the
  official code would give NaN.
- 4 repeats x 128 random unit directions: project both sets, sort each projection, mean
  absolute difference, averaged. Reported x1e3 per level and the mean over levels.

Streaming: `DescriptorSet` spills each level's descriptors (float16 by default) to a
temporary file and keeps only per-channel sums in memory; at 16,384 images of 128 px
that is 617 MB per level per set, 4.9 GB of temporary disk for both sets (TMPDIR, or
`directory=`). The distance is then computed one level and one chunk of directions at a
time, reading the files back in blocks with plain reads (no mmap, so the page cache is
not counted as ours), so memory stays at about `PROJECTION_BYTES` plus a block whatever
the number of images. A filled set can be compared with several others (a real set
once, many fake sets).

Seeds: patch positions and directions come from `torch.Generator`s seeded per level from
`(seed, stream, level)`, one draw per patch in image order, so the result depends on
neither the batch size nor the device.
"""
from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

PATCH = 7
RADIUS = PATCH // 2
MIN_RESOLUTION = 16
BLOCK_ROWS = 1 << 14
# On CPU the pyramid and patches are made at most this many images at a time: a pass's
# levels stay in cache and its buffers are reused, not freshly mapped (3x faster than 256).
CPU_IMAGES_PER_PASS = 32
# Both sets' projections of one chunk of directions. Every chunk reads and converts every
# descriptor again, a cost that grows as N^2 / PROJECTION_BYTES: 1 GiB keeps 64 directions
# per chunk at 16,384 images of 128 px (32 took a third longer), within 2 GB of peak RSS.
PROJECTION_BYTES = 1 << 30
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # 1-D factor of the 5x5 kernel


def subseed(seed: int, *keys: int) -> int:
    """An independent 32-bit seed for the stream `keys` of `seed`."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def generator(seed: int, *keys: int) -> torch.Generator:
    return torch.Generator().manual_seed(subseed(seed, *keys))


def pyramid_shapes(height: int, width: int) -> list[tuple[int, int]]:
    """Level sizes: halve while the half is still at least 16 px (and the size is even)."""
    shapes = [(height, width)]
    while all(s % 2 == 0 and s // 2 >= MIN_RESOLUTION for s in shapes[-1]):
        shapes.append((shapes[-1][0] // 2, shapes[-1][1] // 2))
    return shapes


def level_key(height: int, width: int) -> str:
    return str(height) if height == width else f"{height}x{width}"


def _blur_matrix(length: int, gain: float = 1.0) -> torch.Tensor:
    """(length, length) float64 matrix of the 1-D binomial blur with mirror padding.

    The 5x5 kernel is separable and mirror padding acts on each axis alone, so the 2-D
    blur of X is M X M^T. Matrix products instead of depthwise convs: BLAS is faster here
    and does not stall when another process holds a core."""
    signals = F.pad(torch.eye(length, dtype=torch.float64)[:, None, :], (2, 2), mode="reflect")
    columns = F.conv1d(signals, (_BINOMIAL * gain).to(torch.float64).view(1, 1, 5))[:, 0, :]
    return columns.T  # column j is the blur of the unit impulse at j


def _apply(matrix_h: torch.Tensor, images: torch.Tensor, matrix_w: torch.Tensor) -> torch.Tensor:
    """matrix_h @ image @ matrix_w^T for every channel of NCHW `images`."""
    return matrix_h.to(images) @ images @ matrix_w.to(images).T


def pyr_down(images: torch.Tensor) -> torch.Tensor:
    """Blur, then keep every 2nd row and column."""
    h, w = images.shape[-2:]
    return _apply(_blur_matrix(h)[::2], images, _blur_matrix(w)[::2])


def pyr_up(images: torch.Tensor) -> torch.Tensor:
    """Zero-stuff to twice the size, then blur with 4x the kernel (2x per axis)."""
    h, w = images.shape[-2:]
    # Blurring a zero-stuffed signal only reads the even columns of the blur matrix.
    return _apply(_blur_matrix(2 * h, 2.0)[:, ::2], images, _blur_matrix(2 * w, 2.0)[:, ::2])


def laplacian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels of float NCHW images, finest first; the last is the Gaussian residual."""
    pyramid = [images]
    for _ in range(1, levels):
        coarse = pyr_down(pyramid[-1])
        pyramid[-1] = pyramid[-1] - pyr_up(coarse)
        pyramid.append(coarse)
    return pyramid


def sample_centres(gen: torch.Generator, count: int, height: int, width: int, per_image: int) -> torch.Tensor:
    """(count, per_image, 2) patch centres (y, x), uniform over all full-patch positions.

    One draw per patch, image after image, so batches of any size give the same centres."""
    span_y, span_x = height - 2 * RADIUS, width - 2 * RADIUS
    flat = torch.randint(0, span_y * span_x, (count, per_image), generator=gen)
    return torch.stack([flat // span_x, flat % span_x], dim=-1) + RADIUS


def extract_patches(level: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(N*P, C*49) descriptors, flattened channel, row, column like the official code."""
    n, c, h, w = level.shape
    # One gather from the flat level (twice as fast as indexing by four index tensors).
    offsets = torch.arange(-RADIUS, RADIUS + 1, device=level.device)
    in_patch = (offsets[:, None] * w + offsets[None, :]).reshape(-1)  # (49,) row-major
    centre = centres[..., 0] * w + centres[..., 1]  # (N, P)
    image = torch.arange(n, device=level.device) * (c * h * w)
    channel = torch.arange(c, device=level.device) * (h * w)
    index = image[:, None, None, None] + centre[:, :, None, None] + channel[:, None] + in_patch
    return torch.take(level.contiguous(), index).reshape(-1, c * PATCH * PATCH)


def random_directions(gen: torch.Generator, dim: int, count: int) -> torch.Tensor:
    """(dim, count) float64 directions, each column of unit length."""
    directions = torch.randn(dim, count, generator=gen, dtype=torch.float64)
    return directions / directions.norm(dim=0, keepdim=True)


def sorted_distance_sum(a: torch.Tensor, b: torch.Tensor, offset: torch.Tensor) -> float:
    """The sum over rows i of sum |sort(a_i) - sort(b_i) - offset_i| for (d, n) float32
    projections (`a` and `b` are sorted in place, and overwritten on CPU)."""
    if a.device.type != "cpu":
        difference = a.sort(dim=1).values - b.sort(dim=1).values - offset.float().to(a.device)[:, None]
        return float(difference.abs().sum(dim=1).double().sum())
    # On CPU: numpy sorts in place, several times faster than torch.sort and without int64
    # indices; it releases the GIL, so row groups go in parallel threads, and each row pair
    # is differenced right after its sort, while it is still in cache.
    rows_a, rows_b, offsets = a.numpy(), b.numpy(), offset.numpy()

    def rows_sum(rows: range) -> float:
        total = 0.0
        for i in rows:
            row = rows_a[i]
            row.sort()
            rows_b[i].sort()
            np.subtract(row, rows_b[i], out=row)
            row -= np.float32(offsets[i])
            total += float(np.abs(row, out=row).sum(dtype=np.float64))
        return total

    groups = [range(start, len(rows_a), torch.get_num_threads()) for start in range(torch.get_num_threads())]
    with ThreadPoolExecutor(len(groups)) as pool:
        return sum(pool.map(rows_sum, groups))


class LevelDescriptors:
    """One pyramid level's descriptors of one set: a temporary file plus per-channel sums."""

    def __init__(self, path: Path, key: str, gen: torch.Generator, dtype: torch.dtype):
        self.path, self.key, self.gen, self.dtype = path, key, gen, dtype
        self.rows = 0
        self.dim = 3 * PATCH * PATCH
        self.sums = torch.zeros(2, 3, dtype=torch.float64)  # sum and sum of squares per channel
        self._numpy_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        self._file = open(path, "wb")

    def add(self, level: torch.Tensor, per_image: int) -> None:
        n, _, h, w = level.shape
        centres = sample_centres(self.gen, n, h, w, per_image).to(level.device)
        stored = extract_patches(level, centres).to(self.dtype)
        # Statistics of the values as stored, so they normalise exactly what is read back.
        per_channel = stored.float().view(-1, 3, PATCH * PATCH)
        sums = torch.stack([per_channel.sum(2), per_channel.square().sum(2)])  # float32 over 49 pixels
        self.sums += sums.sum(1, dtype=torch.float64).cpu()
        self._file.write(stored.cpu().numpy())
        self.rows += stored.shape[0]

    def finish(self) -> None:
        self._file.close()

    def normalisation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-component mean and std (147,), from the per-channel statistics."""
        count = self.rows * PATCH * PATCH
        mean = self.sums[0] / count
        std = (self.sums[1] / count - mean.square()).clamp_min(0).sqrt()
        std = torch.where(std > 0, std, torch.ones_like(std))
        return mean.repeat_interleave(PATCH * PATCH), std.repeat_interleave(PATCH * PATCH)

    def blocks(self, device: torch.device) -> Iterator[torch.Tensor]:
        """The stored descriptors in blocks of rows, read with plain file reads (reading ends writing)."""
        self.finish()
        buffer = np.empty((BLOCK_ROWS, self.dim), dtype=self._numpy_dtype)
        with open(self.path, "rb") as handle:
            while nbytes := handle.readinto(buffer):
                yield torch.from_numpy(buffer[: nbytes // buffer[0].nbytes]).to(device)

    def projections(self, directions: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Into `out` (directions, rows) float32: the descriptors projected through the
        normalisation; returns (directions,) float64, what each row is above the normalised
        descriptors' projection. (x - mean) / std . d == x . (d / std) - mean . (d / std):
        the mean's term is a constant per direction, which sorting leaves in place, so it is
        taken off once per row pair (`sorted_distance_sum`) instead of off every descriptor."""
        mean, std = self.normalisation()
        scaled = directions / std[:, None]  # (147, d) float64
        weights = scaled.T.contiguous().float().to(out.device)
        start = 0
        for block in self.blocks(out.device):
            # weights (d, 147) @ block.T (147, r): lands as (d, r), ready for the row-wise sort.
            torch.mm(weights, block.float().T, out=out[:, start : start + len(block)])
            start += len(block)
        return mean @ scaled


class DescriptorSet:
    """Streams uint8 NHWC batches of one image set into per-level descriptor files."""

    def __init__(self, *, seed: int, patches_per_image: int = 128, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float16, directory: str | Path | None = None):
        self.seed, self.patches_per_image, self.dtype = seed, patches_per_image, dtype
        self.device = torch.device(device)
        self.count = 0
        self.shape: tuple[int, int] | None = None
        self.levels: list[LevelDescriptors] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="swd-", dir=directory)

    def add(self, images: np.ndarray) -> None:
        images = _check_images(images, self.shape)
        if len(images) == 0:
            return
        if self.shape is None:
            self._start(*images.shape[1:3])
        passes = -(-len(images) // CPU_IMAGES_PER_PASS) if self.device.type == "cpu" else 1
        for part in np.array_split(images, passes):  # equal passes: 100 images go as 4 x 25, not 3 x 32 + 4
            batch = torch.from_numpy(part).to(self.device).permute(0, 3, 1, 2).float()
            for store, level in zip(self.levels, laplacian_pyramid(batch, len(self.levels))):
                store.add(level, self.patches_per_image)
        self.count += len(images)

    def extend(self, batches: Iterable[np.ndarray]) -> "DescriptorSet":
        for images in batches:
            self.add(images)
        return self

    def _start(self, height: int, width: int) -> None:
        self.shape = (height, width)
        for index, (h, w) in enumerate(pyramid_shapes(height, width)):
            path = Path(self._tmp.name) / f"level{index}.bin"
            self.levels.append(LevelDescriptors(path, level_key(h, w), generator(self.seed, index), self.dtype))

    def close(self) -> None:
        for store in self.levels:
            store.finish()
        self._tmp.cleanup()

    def __enter__(self) -> "DescriptorSet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_images(images: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray:
    images = np.ascontiguousarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"SWD expects uint8 NHWC RGB images, got {images.dtype} {images.shape}")
    if min(images.shape[1:3]) < PATCH:
        raise ValueError(f"SWD needs images of at least {PATCH}x{PATCH} px, got {images.shape[1:3]}")
    if shape is not None and images.shape[1:3] != shape:
        raise ValueError(f"image size {images.shape[1:3]} differs from the set's {shape}")
    return images


def level_distance(a: LevelDescriptors, b: LevelDescriptors, directions: torch.Tensor,
                   device: torch.device) -> float:
    """Mean over directions and descriptors of |sorted projection a - sorted projection b|."""
    chunk = max(1, PROJECTION_BYTES // (8 * a.rows))
    # Two buffers for the whole level: fresh ones per chunk would cost a page fault per 4 KiB.
    buffers = torch.empty(2, min(chunk, directions.shape[1]), a.rows, dtype=torch.float32, device=device)
    total = 0.0
    for part in directions.split(chunk, dim=1):
        projected_a, projected_b = buffers[:, : part.shape[1]]
        offset = a.projections(part, projected_a) - b.projections(part, projected_b)
        total += sorted_distance_sum(projected_a, projected_b, offset)
    return total / (a.rows * directions.shape[1])


def swd_from_descriptors(real: DescriptorSet, fake: DescriptorSet, *, seed: int,
                         directions: int = 128, repeats: int = 4) -> dict[str, float]:
    """SWD x1e3 per level key and their mean ("avg") between two filled descriptor sets."""
    if real.count == 0 or real.shape != fake.shape or real.count != fake.count:
        raise ValueError(f"SWD needs two non-empty sets of equal count and size, got "
                         f"{real.count} x {real.shape} and {fake.count} x {fake.shape}")
    result = {}
    for index, (a, b) in enumerate(zip(real.levels, fake.levels)):
        # Repeats x directions drawn at once: the mean over all equals the mean of repeat means.
        dirs = random_directions(generator(seed, index), a.dim, directions * repeats)
        result[a.key] = 1e3 * level_distance(a, b, dirs, real.device)
    result["avg"] = float(np.mean(list(result.values())))
    return result


def sliced_wasserstein(real_batches: Iterable[np.ndarray], fake_batches: Iterable[np.ndarray], *,
                       seed: int, patches_per_image: int = 128, directions: int = 128,
                       repeats: int = 4, device: str | torch.device = "cpu") -> dict[str, float]:
    """SWD x1e3 per pyramid level ("128", "64", ...) and "avg" between two uint8 NHWC streams.

    The two sets draw their patches from independent streams of `seed`, so two identical
    sets give the sampling noise floor (small, not 0), as a real-vs-real pass does."""
    options = dict(patches_per_image=patches_per_image, device=device)
    with DescriptorSet(seed=subseed(seed, 0), **options) as real, \
            DescriptorSet(seed=subseed(seed, 1), **options) as fake:
        real.extend(real_batches)
        fake.extend(fake_batches)
        return swd_from_descriptors(real, fake, seed=subseed(seed, 2),
                                    directions=directions, repeats=repeats)
