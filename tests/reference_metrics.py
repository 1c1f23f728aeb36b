"""Independent numpy/scipy transcriptions of the SWD and MS-SSIM protocols.

The tests check `facegan.metrics` against these; `benchmarks/bench_metrics.py` times them
as the plain in-memory implementation of each protocol.

SWD: the reference follows `metrics/sliced_wasserstein.py` of Karras et al. (2018) in
float64: scipy.ndimage.convolve with mode='mirror' (the official code's own call; scipy's
'mirror' is d c b | a b c d | c b a, cv2's BORDER_REFLECT_101, which the official
comment says it matches; scipy's 'reflect' would repeat the edge pixel), explicit loops
over patches, per-set normalisation with np.std, and per-repeat sort-and-compare. Only
the random draws (patch centres, directions) are taken from the module, so both sides
see the same patches and directions. `numpy_swd` is the same protocol vectorised for
benchmark sizes: the loops over patches are one fancy index, and every descriptor of
both sets is held in memory at once, as the official code does.

MS-SSIM: the reference follows PGAN's `metrics/ms_ssim.py`: a 2-D fspecial-style window
built with mgrid, scipy.signal.convolve over the 4-D NHWC arrays with a (1, s, s, 1)
window in 'valid' mode, the 2x2 average by strided slices, clipping at 0, in float64.
`separable_blur` is the same filter as two 1-D passes, fast enough for benchmark sizes.
"""
import numpy as np
from scipy import ndimage, signal

from facegan.metrics import swd

KERNEL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1])[None, None] / 256.0
WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
PATCH_DIM = 3 * 7 * 7
CHUNK = 256  # images per pyramid pass in numpy_swd: bounds the pyramid, not the descriptors


def ref_pyramid(images, levels, mode="mirror"):
    """images: uint8 NHWC -> list of float64 NCHW levels, finest first."""
    pyramid = [images.transpose(0, 3, 1, 2).astype(np.float64)]
    for _ in range(1, levels):
        coarse = ndimage.convolve(pyramid[-1], KERNEL, mode=mode)[:, :, ::2, ::2]
        stuffed = np.zeros_like(pyramid[-1])
        stuffed[:, :, ::2, ::2] = coarse
        pyramid[-1] = pyramid[-1] - ndimage.convolve(stuffed, 4 * KERNEL, mode=mode)
        pyramid.append(coarse)
    return pyramid


def ref_descriptors(level, centres):
    rows = []
    for image, image_centres in zip(level, centres):
        for y, x in image_centres:
            rows.append(image[:, y - 3 : y + 4, x - 3 : x + 4].ravel())
    return np.array(rows)


def ref_normalise(desc):
    desc = desc.reshape(len(desc), 3, 49)
    desc = (desc - desc.mean(axis=(0, 2), keepdims=True)) / desc.std(axis=(0, 2), keepdims=True)
    return desc.reshape(len(desc), -1)


def ref_distance(a, b, dirs, repeats):
    results = []
    for part in np.split(dirs, repeats, axis=1):
        projected_a, projected_b = np.sort(a @ part, axis=0), np.sort(b @ part, axis=0)
        results.append(np.mean(np.abs(projected_a - projected_b)))
    return np.mean(results)


def ref_swd(real, fake, seed_real, seed_fake, seed_dirs, per_image, directions=128, repeats=4):
    """The whole protocol in memory, with the module's random draws."""
    shapes = swd.pyramid_shapes(*real.shape[1:3])
    result = {}
    levels = zip(ref_pyramid(real, len(shapes)), ref_pyramid(fake, len(shapes)))
    for index, (level_real, level_fake) in enumerate(levels):
        h, w = level_real.shape[2:]
        desc = []
        for level, seed in ((level_real, seed_real), (level_fake, seed_fake)):
            centres = swd.sample_centres(swd.generator(seed, index), len(level), h, w, per_image).numpy()
            desc.append(ref_normalise(ref_descriptors(level, centres)))
        dirs = swd.random_directions(swd.generator(seed_dirs, index), 147, directions * repeats).numpy()
        result[swd.level_key(h, w)] = 1e3 * ref_distance(*desc, dirs, repeats)
    result["avg"] = np.mean(list(result.values()))
    return result


def gather_descriptors(level, centres):
    """ref_descriptors as one fancy index: every 7x7 patch of every image at once."""
    offsets = np.arange(-3, 4)
    rows = (centres[..., 0, None] + offsets)[:, :, None, :, None]
    cols = (centres[..., 1, None] + offsets)[:, :, None, None, :]
    image = np.arange(len(level))[:, None, None, None, None]
    channel = np.arange(level.shape[1])[None, None, :, None, None]
    return level[image, channel, rows, cols].reshape(-1, PATCH_DIM)


def channel_sums(desc):
    """(2, 3) float64 sum and sum of squares per channel: float32 sums of millions of values drift."""
    channels = desc.reshape(len(desc), 3, 49)
    return np.stack([channels.sum(axis=(0, 2), dtype=np.float64),
                     np.square(channels, dtype=np.float64).sum(axis=(0, 2))])


def normalise_in_place(desc, sums):
    """ref_normalise from channel sums, without copies of the descriptors; a zero std is taken as 1."""
    count = len(desc) * 49
    mean = sums[0] / count
    std = np.sqrt(np.maximum(sums[1] / count - mean**2, 0))
    std = np.where(std > 0, std, 1.0)
    channels = desc.reshape(len(desc), 3, 49)
    channels -= mean.astype(desc.dtype)[:, None]
    channels /= std.astype(desc.dtype)[:, None]
    return desc


def set_descriptors(images, seed, per_image, dtype):
    """Normalised (N * per_image, 147) descriptors of every pyramid level of one set."""
    shapes = swd.pyramid_shapes(*images.shape[1:3])
    centres = [swd.sample_centres(swd.generator(seed, index), len(images), h, w, per_image).numpy()
               for index, (h, w) in enumerate(shapes)]
    levels = [np.empty((len(images) * per_image, PATCH_DIM), dtype) for _ in shapes]
    sums = np.zeros((len(shapes), 2, 3))
    for start in range(0, len(images), CHUNK):
        stop = min(start + CHUNK, len(images))
        for index, level in enumerate(ref_pyramid(images[start:stop], len(shapes))):
            desc = levels[index][start * per_image : stop * per_image]
            desc[:] = gather_descriptors(level, centres[index][start:stop])
            sums[index] += channel_sums(desc)  # of the values as stored
    return [normalise_in_place(desc, level_sums) for desc, level_sums in zip(levels, sums)]


def sorted_projections(desc, dirs):
    """(directions, rows) projections, each row sorted in place: ~4x faster than np.sort(axis=0)."""
    projected = dirs.T @ desc.T
    projected.sort(axis=1)
    return projected


def numpy_distance(a, b, dirs, repeats):
    """ref_distance with projections in the descriptors' dtype, differenced in place."""
    results = []
    for part in np.split(dirs.astype(a.dtype), repeats, axis=1):
        difference = sorted_projections(a, part)
        difference -= sorted_projections(b, part)
        results.append(np.abs(difference, out=difference).mean(dtype=np.float64))
    return np.mean(results)


def numpy_swd(real, fake, seed_real, seed_fake, seed_dirs, per_image, directions=128, repeats=4,
              dtype=np.float32):
    """ref_swd vectorised: all descriptors of both sets held in memory as `dtype`."""
    shapes = swd.pyramid_shapes(*real.shape[1:3])
    desc_real = set_descriptors(real, seed_real, per_image, dtype)
    desc_fake = set_descriptors(fake, seed_fake, per_image, dtype)
    result = {}
    for index, ((h, w), a, b) in enumerate(zip(shapes, desc_real, desc_fake)):
        dirs = swd.random_directions(swd.generator(seed_dirs, index), PATCH_DIM, directions * repeats).numpy()
        result[swd.level_key(h, w)] = 1e3 * numpy_distance(a, b, dirs, repeats)
    result["avg"] = np.mean(list(result.values()))
    return result


def ref_window(size, sigma):
    radius, offset = size // 2, (0.5 if size % 2 == 0 else 0.0)
    stop = radius if size % 2 == 0 else radius + 1
    x, y = np.mgrid[offset - radius : stop, offset - radius : stop]
    window = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    return window / window.sum()


def direct_blur(maps, window):
    """The official filter: NHWC maps convolved with a (1, s, s, 1) window, 'valid'."""
    return signal.convolve(maps, window[None, :, :, None], mode="valid", method="direct")


def separable_blur(maps, window):
    """direct_blur as two 1-D passes, 2s taps a pixel instead of s^2 (~70x faster at s = 11).

    The window is the outer product of its row sums. It is symmetric, so correlating is
    convolving; ndimage centres a window of size s at s // 2, where the 'valid' part starts."""
    factor = window.sum(axis=1)
    start = len(factor) // 2

    def valid(length):
        return slice(start, start + length - len(factor) + 1)

    maps = ndimage.correlate1d(maps, factor, axis=1)[:, valid(maps.shape[1])]
    return ndimage.correlate1d(maps, factor, axis=2)[:, :, valid(maps.shape[2])]


def ref_ssim_cs(a, b, blur=direct_blur):
    size = min(11, *a.shape[1:3])
    window = ref_window(size, size * 1.5 / 11)
    mu_a, mu_b = blur(a, window), blur(b, window)
    var_a, var_b = blur(a * a, window) - mu_a**2, blur(b * b, window) - mu_b**2
    cov = blur(a * b, window) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    ssim = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1) * cs
    return ssim.mean(axis=(1, 2, 3)), cs.mean(axis=(1, 2, 3))


def ref_ms_ssim(a, b, blur=direct_blur, dtype=np.float64):
    """Per-pair scores (N,) of uint8 NHWC arrays, computed in `dtype`."""
    a, b = a.astype(dtype), b.astype(dtype)
    ssims, css = [], []
    for _ in range(5):
        ssim, cs = ref_ssim_cs(a, b, blur)
        ssims.append(ssim)
        css.append(cs)
        a, b = [(x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]) / 4 for x in (a, b)]
    ssims, css = np.clip(ssims, 0, None), np.clip(css, 0, None)
    return np.prod(css[:-1] ** WEIGHTS[:-1, None], axis=0) * ssims[-1] ** WEIGHTS[-1]
